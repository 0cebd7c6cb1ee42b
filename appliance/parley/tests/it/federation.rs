//! Federation between real appliances in one process: each has its own embedded database and
//! its own QUIC endpoint on 127.0.0.1, and they peer by invite through the admin API.

use std::time::Duration;

use parley_testkit::{TestAppliance, TestUser, WsClient};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn appliance(name: &str) -> TestAppliance {
    TestAppliance::start_with(|s| {
        s.server_name = name.into();
        s.federation.enabled = true;
        s.federation.listen = "127.0.0.1:0".parse().unwrap();
    })
    .await
}

/// A's admin creates an invite; B's admin pastes it. Both then list each other as connected.
async fn peer(a: &TestAppliance, a_admin: &TestUser, b: &TestAppliance, b_admin: &TestUser) {
    let (s, inv) = a.post("/api/admin/federation/invites", &a_admin.token, json!({ "ttl_hours": 1 })).await;
    assert_eq!(s, StatusCode::CREATED, "{inv}");
    let invite = inv["invite"].as_str().unwrap();
    let (s, p) = b.post("/api/admin/federation/peers", &b_admin.token, json!({ "invite": invite })).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["server_name"], a.settings.server_name);
    assert_eq!(p["trust"], "pinned");
    let (_, info) = a.get("/api/admin/federation", &a_admin.token).await;
    let listed =
        info["peers"].as_array().unwrap().iter().find(|p| p["server_name"] == b.settings.server_name);
    assert!(listed.is_some_and(|p| p["connected"] == true), "{info}");
}

/// Waits for `frame_type` frames until `pred` holds (other frames are skipped).
async fn until(ws: &mut WsClient, frame_type: &str, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let f = ws.next_of(frame_type).await;
        if pred(&f) {
            return f;
        }
    }
}

async fn send_ws(ws: &mut WsClient, chat: &str, client_id: &str, text: &str) -> Value {
    ws.send(json!({ "type": "send", "chat_id": chat, "client_id": client_id, "text": text })).await;
    until(ws, "ack", |f| f["client_id"] == client_id).await["message"].clone()
}

/// Three organizations: a cross-org 1:1 chat, then a group spanning all three with
/// per-member receipts, typing, and an admin on one server removing a member on another.
#[tokio::test]
async fn three_appliances_chat_across_organizations() {
    let (a, b, c) = (appliance("a.test").await, appliance("b.test").await, appliance("c.test").await);
    let (aa, ba, ca) = (a.admin("root").await, b.admin("root").await, c.admin("root").await);
    peer(&a, &aa, &b, &ba).await;
    peer(&a, &aa, &c, &ca).await;
    peer(&b, &ba, &c, &ca).await;

    let ana = a.register("ana").await;
    let bob = b.register("bob").await;
    let cid = c.register("cid").await;
    assert_eq!((ana.id.as_str(), bob.id.as_str()), ("ana@a.test", "bob@b.test"));

    // Bob finds Ana by address: her server answers (its directory is open).
    let (s, p) = b.get("/api/users/lookup?username=ana@a.test", &bob.token).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!((p["user_id"].as_str(), p["display_name"].as_str()), (Some("ana@a.test"), Some("ana")));
    let (s, _) = b.get("/api/users/lookup?username=nobody@a.test", &bob.token).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // --- 1:1 across organizations, homed on a.test (Ana starts it).
    let mut wa = a.ws(&ana).await;
    let mut wb = b.ws(&bob).await;
    let mut wc = c.ws(&cid).await;
    for ws in [&mut wa, &mut wb, &mut wc] {
        ws.sync(json!({})).await;
    }
    let direct = a.direct(&ana, &bob).await;
    assert!(direct.ends_with("@a.test"));
    let m1 = send_ws(&mut wa, &direct, "a1", "hello Bob, from a.test").await;
    assert_eq!(m1["seq"], 1);
    let got = until(&mut wb, "message", |f| f["message"]["chat_id"] == direct.as_str()).await;
    assert_eq!(got["message"]["id"], m1["id"], "same message ID on both servers");
    assert_eq!(got["message"]["text"], "hello Bob, from a.test");
    // Bob sees the chat in his list, named after Ana.
    let (_, chats) = b.get("/api/chats", &bob.token).await;
    let listed = chats.as_array().unwrap().iter().find(|c| c["chat_id"] == direct.as_str()).cloned().unwrap();
    assert_eq!(listed["kind"], "direct");
    assert_eq!(listed["peer"], "ana@a.test");

    // Bob's read receipt crosses back to Ana.
    wb.send(json!({ "type": "read", "chat_id": direct, "seq": 1 })).await;
    let r = until(&mut wa, "receipt", |f| f["user_id"] == "bob@b.test").await;
    assert_eq!((r["kind"].as_str(), r["seq"].as_u64()), (Some("read"), Some(1)));
    let (_, info) = a.get(&format!("/api/chats/{direct}/messages/1/info"), &ana.token).await;
    assert_eq!(info["state"], "read", "{info}");

    // Bob answers: his server forwards to a.test, which orders it; the ack carries seq 2.
    let m2 = send_ws(&mut wb, &direct, "b1", "hi Ana, from b.test").await;
    assert_eq!(m2["seq"], 2);
    assert_eq!(m2["sender"], "bob@b.test");
    let got = until(&mut wa, "message", |f| f["message"]["seq"] == 2).await;
    assert_eq!(got["message"]["text"], "hi Ana, from b.test");
    // A resend with the same client ID is acknowledged again, not stored twice.
    let again = send_ws(&mut wb, &direct, "b1", "hi Ana, from b.test").await;
    assert_eq!(again["seq"], 2);

    // Ana's read receipt reaches Bob's server, and Bob's view of his message says "read".
    wa.send(json!({ "type": "read", "chat_id": direct, "seq": 2 })).await;
    let r = until(&mut wb, "receipt", |f| f["user_id"] == "ana@a.test").await;
    assert_eq!(r["seq"], 2);
    let (_, info) = b.get(&format!("/api/chats/{direct}/messages/2/info"), &bob.token).await;
    assert_eq!(info["state"], "read", "{info}");

    // Bob sends a picture: stored on b.test, fetched by a.test over federation when Ana
    // opens it, then served from a.test's cache; nobody outside the chat gets it.
    let png = crate::media::png(64, 48);
    let (s, up) = crate::media::upload(&b, &bob, "photo.png", png.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{up}");
    let media_id = up["media_id"].as_str().unwrap().to_owned();
    let (s, m) = b
        .post(
            &format!("/api/chats/{direct}/messages"),
            &bob.token,
            json!({ "client_id": "b-photo", "text": "our office", "media_id": media_id }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    until(&mut wa, "message", |f| f["message"]["media"]["media_id"] == media_id.as_str()).await;
    let res = crate::media::fetch(&a, &ana.token, &format!("/api/media/{media_id}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), png.as_slice());
    let thumb = crate::media::fetch(&a, &ana.token, &format!("/api/media/{media_id}/thumbnail")).await;
    assert_eq!(thumb.status(), StatusCode::OK);
    let eve = a.register("eve").await;
    let res = crate::media::fetch(&a, &eve.token, &format!("/api/media/{media_id}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = crate::media::fetch(&c, &cid.token, &format!("/api/media/{media_id}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "c.test has no member in that chat");

    // Typing crosses too.
    wb.send(json!({ "type": "typing", "chat_id": direct, "active": true })).await;
    let t = until(&mut wa, "typing", |f| f["user_id"] == "bob@b.test").await;
    assert_eq!(t["active"], true);

    // Presence: b.test learned that Ana is online when the chat reached it.
    let mut online = false;
    for _ in 0..30 {
        wb.send(json!({ "type": "subscribe_presence", "user_ids": ["ana@a.test"] })).await;
        let p = until(&mut wb, "presence", |f| f["user_id"] == "ana@a.test").await;
        if p["online"] == true {
            online = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(online, "Ana shows online on b.test");

    // Boxed: this test's future is already near the test thread's stack size in debug builds.
    Box::pin(renamed_profile_reaches_chat_lists(&a, &ana, &b, &bob, &mut wb, &direct)).await;

    // --- A group homed on a.test with members on all three servers.
    let (s, g) = a
        .post("/api/chats/group", &ana.token, json!({ "name": "Tri-org", "members": [bob.id, cid.id] }))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let group = g["chat_id"].as_str().unwrap().to_owned();
    for ws in [&mut wb, &mut wc] {
        let created = until(ws, "message", |f| f["message"]["chat_id"] == group.as_str()).await;
        assert_eq!(created["message"]["event"]["event"], "created");
    }
    let (_, cg) = c.get(&format!("/api/chats/{group}"), &cid.token).await;
    assert_eq!(cg["name"], "Tri-org");
    assert_eq!(cg["members"].as_array().unwrap().len(), 3, "{cg}");

    // Cid (c.test) writes; a.test orders it; Ana and Bob get it.
    let mc = send_ws(&mut wc, &group, "c1", "hello from c.test").await;
    let seq = mc["seq"].as_u64().unwrap();
    assert_eq!(seq, 2);
    for ws in [&mut wa, &mut wb] {
        let m =
            until(ws, "message", |f| f["message"]["chat_id"] == group.as_str() && f["message"]["seq"] == 2)
                .await;
        assert_eq!(m["message"]["sender"], "cid@c.test");
        assert_eq!(m["message"]["id"], mc["id"]);
    }
    // Per-member receipts: Bob has it (delivered), Ana read it. Cid sees both, per member.
    wb.send(json!({ "type": "received", "chat_id": group, "seq": seq })).await;
    wa.send(json!({ "type": "read", "chat_id": group, "seq": seq })).await;
    // Ana's comes straight from a.test, Bob's through it: either may come first.
    let (mut from_bob, mut from_ana) = (false, false);
    while !(from_bob && from_ana) {
        let r = until(&mut wc, "receipt", |f| f["chat_id"] == group.as_str()).await;
        from_bob |= r["user_id"] == "bob@b.test";
        from_ana |= r["user_id"] == "ana@a.test" && r["kind"] == "read";
    }
    let (_, info) = c.get(&format!("/api/chats/{group}/messages/{seq}/info"), &cid.token).await;
    let members = info["members"].as_array().unwrap();
    let of = |id: &str| members.iter().find(|m| m["user_id"] == id).cloned().unwrap();
    assert!(of("ana@a.test")["read_at"].is_i64(), "{info}");
    assert!(of("bob@b.test")["delivered_at"].is_i64() && of("bob@b.test")["read_at"].is_null(), "{info}");
    assert_eq!(info["state"], "delivered");

    // Ana makes Bob an admin; Bob, on b.test, removes Cid, who lives on c.test.
    let (s, _) =
        a.call("PUT", &format!("/api/chats/{group}/admins/{}", bob.id), Some(&ana.token), None).await;
    assert_eq!(s, StatusCode::OK);
    until(&mut wb, "message", |f| f["message"]["event"]["event"] == "admin_promoted").await;
    // Cid, not an admin, cannot remove anyone: the home server refuses.
    let (s, e) =
        c.call("DELETE", &format!("/api/chats/{group}/members/{}", bob.id), Some(&cid.token), None).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{e}");
    let (s, removal) =
        b.call("DELETE", &format!("/api/chats/{group}/members/{}", cid.id), Some(&bob.token), None).await;
    assert_eq!(s, StatusCode::OK, "{removal}");
    assert_eq!(removal["event"]["event"], "member_removed");
    let gone = until(&mut wc, "message", |f| f["message"]["event"]["event"] == "member_removed").await;
    assert_eq!(gone["message"]["event"]["user_id"], "cid@c.test");
    wc.next_of("chat_removed").await;
    // Cid can no longer write, on his server or anywhere.
    wc.send(json!({ "type": "send", "chat_id": group, "client_id": "c2", "text": "still here?" })).await;
    let err = until(&mut wc, "error", |f| f["ref"] == "c2").await;
    assert_eq!(err["code"], "not_member");
    let (_, ag) = a.get(&format!("/api/chats/{group}"), &ana.token).await;
    assert_eq!(ag["members"].as_array().unwrap().len(), 2);
    // Bob's server holds the same log as the home server.
    let (_, hist_a) = a.get(&format!("/api/chats/{group}/messages"), &ana.token).await;
    let (_, hist_b) = b.get(&format!("/api/chats/{group}/messages"), &bob.token).await;
    let ids = |h: &Value| -> Vec<Value> {
        h["messages"].as_array().unwrap().iter().map(|m| m["id"].clone()).collect()
    };
    assert_eq!(ids(&hist_a), ids(&hist_b));

    // Ana closes her last connection: Bob, subscribed to her presence, sees her go offline.
    drop(wa);
    let off = until(&mut wb, "presence", |f| f["user_id"] == "ana@a.test" && f["online"] == false).await;
    assert!(off["last_seen"].is_i64(), "{off}");

    // The console shows the queue drained and deliveries recorded.
    let (_, info) = a.get("/api/admin/federation", &aa.token).await;
    for p in info["peers"].as_array().unwrap() {
        assert_eq!(p["queue_depth"], 0, "{info}");
        assert!(p["last_delivery_at"].is_i64(), "{info}");
    }
    // Refreshed every 5 s.
    let mut metrics = String::new();
    for _ in 0..40 {
        metrics = a.core.metrics().render();
        if metrics.contains("parley_federation_peer_connected{peer=\"b.test\"} 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for line in [
        "parley_federation_peer_connected{peer=\"b.test\"} 1",
        "parley_federation_queue_depth{peer=\"c.test\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
}

/// B is down while Ana keeps writing: nothing is lost, and when B is back every message
/// arrives in order, exactly once, and Bob's receipts flow back.
#[tokio::test]
async fn outage_queues_and_delivers_in_order_once() {
    let a = appliance("a.test").await;
    let b = appliance("b.test").await;
    let (aa, ba) = (a.admin("root").await, b.admin("root").await);
    peer(&a, &aa, &b, &ba).await;
    let ana = a.register("ana").await;
    let bob = b.register("bob").await;
    let direct = a.direct(&ana, &bob).await;
    a.send(&ana, &direct, "m0", "before the outage").await;
    // Wait until b.test has it, so the rest is sent while it is really down.
    let mut wb = b.ws(&bob).await;
    let first = wb.sync(json!({})).await;
    let first = if first.is_empty() {
        vec![until(&mut wb, "message", |_| true).await["message"].clone()]
    } else {
        first
    };
    assert_eq!(first[0]["seq"], 1);
    drop(wb);

    let mut wa = a.ws(&ana).await;
    wa.sync(json!({})).await;
    let b = b
        .restart_after(|_| {
            let (wa, direct) = (&mut wa, &direct);
            async move {
                for i in 1..=20 {
                    let m = send_ws(wa, direct, &format!("m{i}"), &format!("message {i}")).await;
                    assert_eq!(m["seq"], i + 1);
                }
            }
        })
        .await;
    let mut wb = b.ws(&bob).await;
    let mut got = wb.sync(json!({ direct.clone(): 1 })).await;
    // What was not there at sync time arrives live.
    while got.len() < 20 {
        let f = wb.next_within(Duration::from_secs(30)).await.expect("queued messages arrive");
        if f["type"] == "message" {
            got.push(f["message"].clone());
        }
    }
    let seqs: Vec<u64> = got.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (2..=21).collect::<Vec<_>>(), "in order, exactly once");
    assert_eq!(got[19]["text"], "message 20");
    // Nothing more (no duplicates) comes after.
    while let Some(f) = wb.next_within(Duration::from_millis(500)).await {
        assert_ne!(f["type"], "message", "duplicate delivery: {f}");
    }
    wb.send(json!({ "type": "read", "chat_id": direct, "seq": 21 })).await;
    let r = until(&mut wa, "receipt", |f| f["user_id"] == "bob@b.test" && f["seq"] == 21).await;
    assert_eq!(r["kind"], "read");
    let (_, info) = a.get("/api/admin/federation", &aa.token).await;
    assert_eq!(info["peers"][0]["queue_depth"], 0, "{info}");
}

/// A revoked peer gets nothing more; the console refuses a revoke without the password; and
/// the admin routes answer 409 when federation is off.
#[tokio::test]
async fn revocation_and_console_rules() {
    let a = appliance("a.test").await;
    let b = appliance("b.test").await;
    let (aa, ba) = (a.admin("root").await, b.admin("root").await);
    let bad = a.post("/api/admin/federation/peers", &aa.token, json!({ "invite": "parley-fed:???" })).await;
    assert_eq!(
        (bad.0, bad.1["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_input")),
        "{}",
        bad.1
    );
    let (s, e) = a.post("/api/admin/federation/invites", &aa.token, json!({ "ttl_hours": 0 })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    peer(&a, &aa, &b, &ba).await;
    let ana = a.register("ana").await;
    let bob = b.register("bob").await;
    let user = a.register("eve").await;
    assert_eq!(a.get("/api/admin/federation", &user.token).await.0, StatusCode::FORBIDDEN);

    let path = "/api/admin/federation/peers/b.test";
    let (s, e) = a.call("DELETE", path, Some(&aa.token), Some(json!({ "password": "wrong" }))).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("reauth_required")));
    let (s, _) = a.call("DELETE", path, Some(&aa.token), Some(json!({ "password": "password-root" }))).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, info) = a.get("/api/admin/federation", &aa.token).await;
    assert!(info["peers"][0]["revoked_at"].is_i64(), "{info}");
    // No chat with b.test's users can start any more; the audit log has the revocation.
    let (s, _) = a.post("/api/chats/direct", &ana.token, json!({ "user_id": bob.id })).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, audit) = a.get("/api/admin/audit?action=federation.", &aa.token).await;
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(
        ["federation.revoked", "federation.invite_created", "federation.peered"]
            .iter()
            .all(|a| actions.contains(a)),
        "{actions:?}"
    );

    let off = TestAppliance::start().await;
    let root = off.admin("root").await;
    let (_, info) = off.get("/api/admin/federation", &root.token).await;
    assert_eq!(info["enabled"], false);
    let (s, e) = off.post("/api/admin/federation/invites", &root.token, json!({})).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
}

/// A pinned peer that breaks the chat rules gets refusals and changes nothing: acting in a
/// chat where it has no member, forging the home server's entries, receipts and typing for
/// strangers; a replayed transaction gets the first answer and is applied once.
#[tokio::test]
async fn a_peer_acting_outside_its_chats_is_refused_without_effect() {
    use parley_federation::{ErrorCode, Event, EventContent, EventResult, PeerId, ServerName, Transaction};
    use parley_types::{ChatId, MessageId, UserId};

    let a = appliance("a.test").await;
    let c = appliance("c.test").await;
    let (aa, ca) = (a.admin("root").await, c.admin("root").await);
    peer(&a, &aa, &c, &ca).await;
    let ana = a.register("ana").await;
    let bob = a.register("bob").await;
    c.register("cid").await;
    let group = a.group(&ana, "Internal", &[&bob]).await;
    let fed = c.core.federation_handle().unwrap();
    let to_a = PeerId::new(ServerName::parse("a.test").unwrap());
    let me = ServerName::parse("c.test").unwrap();
    let chat = ChatId::parse(&group).unwrap();
    let cid = UserId::parse("cid@c.test").unwrap();
    let c_name = parley_types::ServerName::parse("c.test").unwrap();
    let event = |content: EventContent| {
        Event::new(fed.identity(), Some(chat.clone()), Some(cid.clone()), content).sign(fed.identity())
    };
    let send = |client_id: &str, text: &str| {
        event(EventContent::MessageSend {
            message_id: MessageId::generate(&c_name),
            body: json!({ "op": "send", "client_id": client_id, "text": text }),
        })
    };
    let (_, before) = a.get(&format!("/api/chats/{group}/messages"), &ana.token).await;

    let (_, hist) = a.get(&format!("/api/chats/{group}/messages"), &ana.token).await;
    let mut forged = hist["messages"][0].clone();
    forged["text"] = json!("forged by c.test");
    forged["seq"] = json!(99);
    let entry = Event::new(
        fed.identity(),
        Some(chat.clone()),
        None,
        EventContent::Custom { custom_kind: "chat_entry".into(), body: json!({ "message": forged }) },
    )
    .sign(fed.identity());
    let txn = Transaction::new(
        me.clone(),
        vec![
            send("x1", "let me in"),
            event(EventContent::Receipt { delivered_seq: Some(1), read_seq: Some(1) }),
            event(EventContent::Typing { typing: true }),
            entry,
            event(EventContent::MessageSend {
                message_id: MessageId::generate(&c_name),
                body: json!({ "op": "remove_member", "user": bob.id }),
            }),
        ],
    );
    let ack = fed.send_transaction(&to_a, &txn).await.unwrap();
    let codes: Vec<Option<ErrorCode>> = ack
        .results
        .iter()
        .map(|r| match &r.result {
            EventResult::Rejected { code, .. } => Some(*code),
            _ => None,
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            Some(ErrorCode::NotMember),
            Some(ErrorCode::NotMember),
            Some(ErrorCode::NotMember),
            Some(ErrorCode::Forbidden),
            Some(ErrorCode::NotMember)
        ],
        "{ack:?}"
    );
    let (_, after) = a.get(&format!("/api/chats/{group}/messages"), &ana.token).await;
    assert_eq!(before, after, "nothing changed");

    // Once Cid is a member, the same kind of request works; replaying it changes nothing.
    let (s, _) = a.post(&format!("/api/chats/{group}/members"), &ana.token, json!({ "user_id": cid })).await;
    assert_eq!(s, StatusCode::OK);
    let txn = Transaction::new(me, vec![send("x2", "hello from c.test")]);
    let first = fed.send_transaction(&to_a, &txn).await.unwrap();
    let seq = match first.results[0].result {
        EventResult::Accepted { seq: Some(s) } => s,
        ref other => panic!("not accepted: {other:?}"),
    };
    let replay = fed.send_transaction(&to_a, &txn).await.unwrap();
    assert_eq!(first, replay);
    let (_, hist) = a.get(&format!("/api/chats/{group}/messages"), &ana.token).await;
    let texts: Vec<&str> =
        hist["messages"].as_array().unwrap().iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts.iter().filter(|t| **t == "hello from c.test").count(), 1);
    assert_eq!(hist["messages"][0]["seq"], seq);
}

/// b.test and c.test do not peer with each other, only with the group's home a.test: messages
/// and receipts still cross between them, relayed by a.test and verified with the keys b and
/// c learn from it.
#[tokio::test]
async fn members_on_servers_that_do_not_peer_each_other() {
    let (a, b, c) = (appliance("a.test").await, appliance("b.test").await, appliance("c.test").await);
    let (aa, ba, ca) = (a.admin("root").await, b.admin("root").await, c.admin("root").await);
    peer(&a, &aa, &b, &ba).await;
    peer(&a, &aa, &c, &ca).await;
    let ana = a.register("ana").await;
    let bob = b.register("bob").await;
    let cid = c.register("cid").await;
    let mut wb = b.ws(&bob).await;
    let mut wc = c.ws(&cid).await;
    wb.sync(json!({})).await;
    wc.sync(json!({})).await;
    let (s, g) =
        a.post("/api/chats/group", &ana.token, json!({ "name": "Relay", "members": [bob.id, cid.id] })).await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let group = g["chat_id"].as_str().unwrap().to_owned();
    for ws in [&mut wb, &mut wc] {
        until(ws, "message", |f| f["message"]["chat_id"] == group.as_str()).await;
    }
    let m = send_ws(&mut wc, &group, "c1", "from c, through a").await;
    let got = until(&mut wb, "message", |f| f["message"]["id"] == m["id"]).await;
    assert_eq!(got["message"]["sender"], "cid@c.test");
    // Bob reads: Cid sees it (c.test learned b.test's key from a.test with the snapshot).
    wb.send(json!({ "type": "read", "chat_id": group, "seq": m["seq"] })).await;
    let r = until(&mut wc, "receipt", |f| f["user_id"] == "bob@b.test").await;
    assert_eq!((r["kind"].as_str(), &r["seq"]), (Some("read"), &m["seq"]));
}

/// Ana renames herself; when b.test fetches her profile again (Bob looks her up), Bob's chat
/// list gets the chat under her new name, whoever triggered the fetch.
async fn renamed_profile_reaches_chat_lists(
    a: &TestAppliance,
    ana: &TestUser,
    b: &TestAppliance,
    bob: &TestUser,
    wb: &mut WsClient,
    direct: &str,
) {
    let (s, _) =
        a.call("PATCH", "/api/me", Some(&ana.token), Some(json!({ "display_name": "Ana Costa" }))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, p) = b.get("/api/users/lookup?username=ana@a.test", &bob.token).await;
    assert_eq!((s, p["display_name"].as_str()), (StatusCode::OK, Some("Ana Costa")), "{p}");
    until(wb, "chat", |f| f["chat"]["chat_id"] == direct && f["chat"]["name"] == "Ana Costa").await;
}
