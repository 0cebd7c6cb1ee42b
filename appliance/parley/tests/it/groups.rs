use parley_testkit::TestAppliance;
use reqwest::StatusCode;
use serde_json::json;

/// A group of three: per-member receipts, message info, and an admin removing a member who
/// then can neither read nor send.
#[tokio::test]
async fn group_receipts_and_removal() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let cara = app.register("cara").await;
    let group = app.group(&ana, "Project", &[&bob, &cara]).await;

    let mut a = app.ws(&ana).await;
    let mut b = app.ws(&bob).await;
    let mut c = app.ws(&cara).await;
    // Seq 1 is the "created" entry: the members get it on sync; the creator's device made it.
    assert!(a.sync(json!({})).await.is_empty());
    for ws in [&mut b, &mut c] {
        let msgs = ws.sync(json!({})).await;
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0]["event"]["event"], "created");
    }
    a.send(json!({ "type": "send", "chat_id": group, "client_id": "g1", "text": "hello team" })).await;
    let seq = a.next_of("ack").await["message"]["seq"].as_u64().unwrap();
    assert_eq!(seq, 2);
    assert_eq!(b.next_of("message").await["message"]["text"], "hello team");
    assert_eq!(c.next_of("message").await["message"]["text"], "hello team");

    let info_path = format!("/api/chats/{group}/messages/{seq}/info");
    let info = || app.get(&info_path, &ana.token);
    b.send(json!({ "type": "received", "chat_id": group, "seq": seq })).await;
    a.next_of("receipt").await;
    let i = info().await.1;
    assert_eq!(i["state"], "sent", "one of two members has it: {i}");
    let members = i["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    let bob_r = members.iter().find(|m| m["user_id"] == bob.id).unwrap();
    let cara_r = members.iter().find(|m| m["user_id"] == cara.id).unwrap();
    assert!(bob_r["delivered_at"].is_i64() && cara_r["delivered_at"].is_null());

    c.send(json!({ "type": "read", "chat_id": group, "seq": seq })).await;
    a.next_of("receipt").await;
    assert_eq!(info().await.1["state"], "delivered");
    b.send(json!({ "type": "read", "chat_id": group, "seq": seq })).await;
    a.next_of("receipt").await;
    let i = info().await.1;
    assert_eq!(i["state"], "read");
    assert!(i["members"].as_array().unwrap().iter().all(|m| m["read_at"].is_i64()));

    // Only admins manage members.
    let (s, body) =
        app.call("DELETE", &format!("/api/chats/{group}/members/{}", cara.id), Some(&bob.token), None).await;
    assert_eq!((s, body["code"].as_str().unwrap()), (StatusCode::FORBIDDEN, "not_admin"));

    // Ana removes Cara: Cara gets the removal entry, then loses access.
    let (s, removal) =
        app.call("DELETE", &format!("/api/chats/{group}/members/{}", cara.id), Some(&ana.token), None).await;
    assert_eq!(s, StatusCode::OK, "{removal}");
    assert_eq!(removal["event"]["event"], "member_removed");
    let m = c.next_of("message").await;
    assert_eq!(m["message"]["event"]["user_id"], cara.id);
    c.next_of("chat_removed").await;
    for (method, path) in
        [("GET", format!("/api/chats/{group}/messages")), ("GET", format!("/api/chats/{group}"))]
    {
        assert_eq!(app.call(method, &path, Some(&cara.token), None).await.0, StatusCode::FORBIDDEN);
    }
    let (s, _) = app
        .post(
            &format!("/api/chats/{group}/messages"),
            &cara.token,
            json!({ "client_id": "c9", "text": "still here?" }),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    c.send(json!({ "type": "send", "chat_id": group, "client_id": "c10", "text": "let me in" })).await;
    let err = c.next_of("error").await;
    assert_eq!((err["code"].as_str().unwrap(), err["ref"].as_str().unwrap()), ("not_member", "c10"));
    // New messages no longer reach her; the others still chat.
    a.send(json!({ "type": "send", "chat_id": group, "client_id": "g2", "text": "after removal" })).await;
    a.next_of("ack").await;
    loop {
        let m = b.next_of("message").await;
        if m["message"]["text"] == "after removal" {
            break;
        }
    }
    while let Some(f) = c.next_within(std::time::Duration::from_millis(500)).await {
        assert_ne!(f["message"]["text"], "after removal", "removed member got a new message");
    }
    let (_, list) = app.get("/api/chats", &cara.token).await;
    assert!(list.as_array().unwrap().is_empty());
    // Message info no longer counts her.
    let (_, i) = app.get(&format!("/api/chats/{group}/messages/{seq}/info"), &ana.token).await;
    assert_eq!(i["members"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn admins_promote_and_the_last_admin_stays() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let dan = app.register("dan").await;
    let group = app.group(&ana, "Ops", &[&bob]).await;
    let (s, b) = app.post(&format!("/api/chats/{group}/leave"), &ana.token, json!({})).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::CONFLICT, "last_admin"));
    let (s, b) =
        app.call("DELETE", &format!("/api/chats/{group}/admins/{}", ana.id), Some(&ana.token), None).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::CONFLICT, "last_admin"));
    assert_eq!(
        app.call("PUT", &format!("/api/chats/{group}/admins/{}", bob.id), Some(&ana.token), None).await.0,
        StatusCode::OK
    );
    // Bob, now admin, adds Dan and renames the group.
    let (s, _) =
        app.post(&format!("/api/chats/{group}/members"), &bob.token, json!({ "user_id": dan.id })).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) =
        app.post(&format!("/api/chats/{group}/members"), &bob.token, json!({ "user_id": dan.id })).await;
    assert_eq!(s, StatusCode::CONFLICT, "already a member");
    let (s, g) = app
        .call(
            "PATCH",
            &format!("/api/chats/{group}"),
            Some(&bob.token),
            Some(json!({ "name": "Operations" })),
        )
        .await;
    assert_eq!((s, g["name"].as_str().unwrap()), (StatusCode::OK, "Operations"));
    let (s, _) = app
        .call("PATCH", &format!("/api/chats/{group}"), Some(&bob.token), Some(json!({ "name": "" })))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Dan joined after the first entries: he sees history only from his joining.
    let (_, page) = app.get(&format!("/api/chats/{group}/messages"), &dan.token).await;
    let kinds: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["event"]["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["renamed", "member_added"]);
    // Ana can leave now that Bob is admin too.
    let (s, left) = app.post(&format!("/api/chats/{group}/leave"), &ana.token, json!({})).await;
    assert_eq!((s, left["event"]["event"].as_str().unwrap()), (StatusCode::OK, "member_left"));
    let (_, g) = app.get(&format!("/api/chats/{group}"), &bob.token).await;
    let members: Vec<&str> =
        g["members"].as_array().unwrap().iter().map(|m| m["user_id"].as_str().unwrap()).collect();
    assert!(!members.contains(&ana.id.as_str()) && members.len() == 2);
    // Groups validate their input.
    let (s, _) = app
        .post("/api/chats/group", &ana.token, json!({ "name": "x", "members": ["ghost@test.local"] }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app.post("/api/chats/group", &ana.token, json!({ "name": "  " })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
