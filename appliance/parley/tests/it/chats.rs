use parley_testkit::TestAppliance;
use reqwest::StatusCode;
use serde_json::json;

/// Two users chat over WebSocket and see all three receipt states.
#[tokio::test]
async fn direct_chat_with_sent_delivered_read() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;
    // The same pair always gets the same chat, whoever asks.
    assert_eq!(app.direct(&bob, &ana).await, chat);

    let mut a = app.ws(&ana).await;
    let mut b = app.ws(&bob).await;
    assert!(a.sync(json!({})).await.is_empty());
    assert!(b.sync(json!({})).await.is_empty());

    a.send(json!({ "type": "send", "chat_id": chat, "client_id": "c1", "text": "hi bob" })).await;
    let ack = a.next_of("ack").await;
    assert_eq!(ack["client_id"], "c1");
    let seq = ack["message"]["seq"].as_u64().unwrap();
    assert_eq!(seq, 1);
    // Sent: durable, nobody has it yet.
    let (_, info) = app.get(&format!("/api/chats/{chat}/messages/{seq}/info"), &ana.token).await;
    assert_eq!(info["state"], "sent", "{info}");

    let m = b.next_of("message").await;
    assert_eq!(m["message"]["text"], "hi bob");
    assert_eq!(m["message"]["sender"], ana.id);
    b.send(json!({ "type": "received", "chat_id": chat, "seq": seq })).await;
    let r = a.next_of("receipt").await;
    assert_eq!(
        (r["kind"].as_str().unwrap(), r["user_id"].as_str().unwrap(), r["seq"].as_u64().unwrap()),
        ("delivered", bob.id.as_str(), 1)
    );
    let (_, info) = app.get(&format!("/api/chats/{chat}/messages/{seq}/info"), &ana.token).await;
    assert_eq!(info["state"], "delivered");
    assert!(info["members"][0]["delivered_at"].is_i64() && info["members"][0]["read_at"].is_null());

    b.send(json!({ "type": "read", "chat_id": chat, "seq": seq })).await;
    let r = a.next_of("receipt").await;
    assert_eq!(r["kind"], "read");
    let (_, info) = app.get(&format!("/api/chats/{chat}/messages/{seq}/info"), &ana.token).await;
    assert_eq!(info["state"], "read");

    // The chat list shows ticks and unread counts from each side.
    let (_, list) = app.get("/api/chats", &ana.token).await;
    assert_eq!(list[0]["others_read_seq"], 1);
    assert_eq!(list[0]["name"], "bob");
    let (_, list) = app.get("/api/chats", &bob.token).await;
    assert_eq!(list[0]["unread"], 0);
    assert_eq!(list[0]["last_message"]["text"], "hi bob");

    // Bob replies; Ana's unread goes to 1 until she reads.
    b.send(json!({ "type": "send", "chat_id": chat, "client_id": "b1", "text": "hello ana", "reply_to": 1 }))
        .await;
    b.next_of("ack").await;
    let m = a.next_of("message").await;
    assert_eq!(m["message"]["reply_to"], 1);
    let (_, list) = app.get("/api/chats", &ana.token).await;
    assert_eq!(list[0]["unread"], 1);
    assert_eq!(
        app.post(&format!("/api/chats/{chat}/read"), &ana.token, json!({ "seq": 2 })).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, list) = app.get("/api/chats", &ana.token).await;
    assert_eq!(list[0]["unread"], 0);
}

#[tokio::test]
async fn resends_are_idempotent() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;
    let first = app.send(&ana, &chat, "same-key", "once").await;
    let again = app.send(&ana, &chat, "same-key", "once").await;
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["seq"], again["seq"]);
    // Over the socket too, including a resend in the same burst.
    let mut a = app.ws(&ana).await;
    a.sync(json!({})).await;
    for _ in 0..3 {
        a.send(json!({ "type": "send", "chat_id": chat, "client_id": "burst", "text": "x" })).await;
    }
    a.send(json!({ "type": "send", "chat_id": chat, "client_id": "same-key", "text": "once" })).await;
    let mut seqs = Vec::new();
    for _ in 0..4 {
        let ack = a.next_of("ack").await;
        seqs.push((ack["client_id"].as_str().unwrap().to_owned(), ack["message"]["seq"].as_u64().unwrap()));
    }
    assert!(seqs.iter().filter(|(k, _)| k == "burst").all(|(_, s)| *s == 2), "{seqs:?}");
    assert!(seqs.contains(&("same-key".to_owned(), 1)), "{seqs:?}");
    let (_, page) = app.get(&format!("/api/chats/{chat}/messages"), &bob.token).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 2, "no duplicates stored: {page}");
    // Keys are scoped to their chat: the same key in another chat is a new message there.
    let cleo = app.register("cleo").await;
    let other = app.direct(&ana, &cleo).await;
    let elsewhere = app.send(&ana, &other, "same-key", "once").await;
    assert_eq!(
        (elsewhere["chat_id"].as_str().unwrap(), elsewhere["seq"].as_u64()),
        (other.as_str(), Some(1))
    );
    assert_ne!(elsewhere["id"], first["id"]);
    // Another sender's key is their own.
    let from_bob = app.send(&bob, &chat, "same-key", "mine").await;
    assert_eq!((from_bob["seq"].as_u64(), from_bob["text"].as_str()), (Some(3), Some("mine")));
}

#[tokio::test]
async fn edits_deletes_and_history_paging() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let chat = app.direct(&ana, &bob).await;
    for i in 1..=7 {
        app.send(&ana, &chat, &format!("k{i}"), &format!("message {i}")).await;
    }
    let (s, page) = app.get(&format!("/api/chats/{chat}/messages?limit=3"), &bob.token).await;
    assert_eq!(s, StatusCode::OK);
    let seqs: Vec<u64> =
        page["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![7, 6, 5]);
    let (_, page2) = app
        .get(&format!("/api/chats/{chat}/messages?limit=3&before={}", page["next_before"]), &bob.token)
        .await;
    let seqs: Vec<u64> =
        page2["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![4, 3, 2]);

    // Only the sender edits or deletes, and the change is itself a log entry.
    let (s, b) = app
        .call(
            "PATCH",
            &format!("/api/chats/{chat}/messages/2"),
            Some(&bob.token),
            Some(json!({ "text": "hacked" })),
        )
        .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, e) = app
        .call(
            "PATCH",
            &format!("/api/chats/{chat}/messages/2"),
            Some(&ana.token),
            Some(json!({ "text": "message two" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{e}");
    assert_eq!((e["kind"].as_str().unwrap(), e["target"].as_u64().unwrap()), ("edit", 2));
    let (s, d) = app.call("DELETE", &format!("/api/chats/{chat}/messages/3"), Some(&ana.token), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(d["kind"], "delete");
    let (s, _) = app.call("DELETE", &format!("/api/chats/{chat}/messages/3"), Some(&ana.token), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "already deleted");
    let (_, page) = app.get(&format!("/api/chats/{chat}/messages?limit=20"), &bob.token).await;
    let msgs = page["messages"].as_array().unwrap();
    let two = msgs.iter().find(|m| m["seq"] == 2).unwrap();
    assert_eq!(two["text"], "message two");
    assert!(two["edited_at"].is_i64());
    let three = msgs.iter().find(|m| m["seq"] == 3).unwrap();
    assert_eq!((three["deleted"].as_bool().unwrap(), three["text"].is_null()), (true, true));
    // Bad input is refused with a clear error and stores nothing.
    let (s, b) = app
        .post(&format!("/api/chats/{chat}/messages"), &ana.token, json!({ "client_id": "e", "text": "   " }))
        .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (StatusCode::BAD_REQUEST, "invalid_input"));
    let (s, _) = app
        .post(&format!("/api/chats/{chat}/messages"), &ana.token, json!({ "client_id": "", "text": "x" }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            &ana.token,
            json!({ "client_id": "r", "text": "x", "reply_to": 99 }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let long = "x".repeat(20_000);
    let (s, _) = app
        .post(&format!("/api/chats/{chat}/messages"), &ana.token, json!({ "client_id": "l", "text": long }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, page) = app.get(&format!("/api/chats/{chat}/messages?limit=1"), &ana.token).await;
    assert_eq!(page["messages"][0]["seq"], 9, "nothing was stored by the refused sends");
}

/// Every chat route refuses a user who is not a member.
#[tokio::test]
async fn non_members_are_refused_on_every_chat_route() {
    let app = TestAppliance::start().await;
    let ana = app.register("ana").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let chat = app.direct(&ana, &bob).await;
    let group = app.group(&ana, "team", &[&bob]).await;
    app.send(&ana, &chat, "k1", "secret").await;
    for c in [&chat, &group] {
        let routes: Vec<(&str, String, Option<serde_json::Value>)> = vec![
            ("GET", format!("/api/chats/{c}"), None),
            ("GET", format!("/api/chats/{c}/messages"), None),
            ("POST", format!("/api/chats/{c}/messages"), Some(json!({ "client_id": "x", "text": "hi" }))),
            ("PATCH", format!("/api/chats/{c}/messages/1"), Some(json!({ "text": "x" }))),
            ("DELETE", format!("/api/chats/{c}/messages/1"), None),
            ("GET", format!("/api/chats/{c}/messages/1/info"), None),
            ("POST", format!("/api/chats/{c}/read"), Some(json!({ "seq": 1 }))),
            ("PATCH", format!("/api/chats/{c}"), Some(json!({ "name": "mine" }))),
            ("POST", format!("/api/chats/{c}/members"), Some(json!({ "user_id": eve.id }))),
            ("DELETE", format!("/api/chats/{c}/members/{}", bob.id), None),
            ("PUT", format!("/api/chats/{c}/admins/{}", eve.id), None),
            ("DELETE", format!("/api/chats/{c}/admins/{}", ana.id), None),
            ("POST", format!("/api/chats/{c}/leave"), None),
        ];
        for (method, path, body) in routes {
            let (s, b) = app.call(method, &path, Some(&eve.token), body).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}: {b}");
            assert_eq!(b["code"], "not_member", "{method} {path}");
        }
    }
    // Over the socket as well, and nothing leaks through sync.
    let mut e = app.ws(&eve).await;
    assert!(e.sync(json!({ chat.clone(): 0 })).await.is_empty());
    for frame in [
        json!({ "type": "send", "chat_id": chat, "client_id": "x", "text": "hi" }),
        json!({ "type": "typing", "chat_id": chat, "active": true }),
        json!({ "type": "read", "chat_id": chat, "seq": 1 }),
    ] {
        e.send(frame.clone()).await;
        let err = e.next_of("error").await;
        assert_eq!(err["code"], "not_member", "{frame}");
    }
    // Unknown chats look the same as chats you are not in.
    let fake = "01ARZ3NDEKTSV4RRFFQ69G5FAV@test.local";
    assert_eq!(app.get(&format!("/api/chats/{fake}/messages"), &eve.token).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/api/chats/not-a-chat/messages", &eve.token).await.0, StatusCode::BAD_REQUEST);
    // And a 1:1 with yourself is refused.
    let (s, _) = app.post("/api/chats/direct", &eve.token, json!({ "user_id": eve.id })).await;
    assert_eq!(s, StatusCode::CONFLICT);
}
