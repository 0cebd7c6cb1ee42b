//! Rogue peers: each is refused or cut off, and the core (the handler) sees nothing of it.

use std::time::Duration;

use parley_federation::wire::{MAX_EVENTS_PER_TXN, MAX_FRAME_BYTES, Request, Response};
use parley_federation::*;

use crate::support::{Node, bounded, peer, pinned, test_config};

const LIMIT: Duration = Duration::from_secs(30);

fn closed_with(r: Result<Response, FederationError>, want: ErrorCode) {
    match r {
        Err(FederationError::ClosedByPeer { code, .. }) => assert_eq!(code, want),
        // The error frame may win the race with the close.
        Ok(Response::Error(e)) => assert_eq!(e.code, want),
        other => panic!("expected {want:?}, got {other:?}"),
    }
}

/// Two peered nodes, A the victim.
async fn pair() -> (Node, Node) {
    let (a, b) = (Node::start("a.test").await, Node::start("b.test").await);
    peer(&a, &b).await;
    pinned(&a, &b).await;
    (a, b)
}

#[tokio::test]
async fn an_unpinned_certificate_gets_nothing_but_the_peering_handshake() {
    bounded(LIMIT, async {
        let a = Node::start("a.test").await;
        let d = Node::start("d.test").await;
        let addr = a.fed.local_addr().unwrap().to_string();
        let txn = Request::Transaction(d.txn(vec![d.message(&a.chat(), "dan", "let me in")]));
        let r = d.fed.testing_stranger_request(&addr, &a.name, a.fed.identity().fingerprint(), &txn).await;
        closed_with(r, ErrorCode::Unpinned);
        // A wrong secret is refused too.
        let guess = Request::Peering { secret: InviteSecret::generate(), address: "127.0.0.1:1".into() };
        let r = d.fed.testing_stranger_request(&addr, &a.name, a.fed.identity().fingerprint(), &guess).await;
        closed_with(r, ErrorCode::PeeringFailed);
        assert_eq!(a.handler.count(), 0);
        assert!(a.fed.peers().is_empty());
        // And D cannot reach A as a peer at all without a pin.
        assert!(matches!(
            d.fed.send_transaction(&a.id(), &d.txn(vec![])).await,
            Err(FederationError::NotPeered(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn a_revoked_peer_is_disconnected_at_once_and_refused_afterwards() {
    bounded(LIMIT, async {
        let (a, b) = pair().await;
        let chat = a.chat();
        b.fed.send_transaction(&a.id(), &b.txn(vec![b.message(&chat, "bob", "1")])).await.unwrap();
        let mut b_events = b.fed.subscribe();
        a.fed.revoke(&b.id()).await.unwrap();
        // B hears the close right away (not at an idle timeout).
        let closed = tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                if let PeerEvent::Disconnected { reason, .. } = b_events.recv().await.unwrap() {
                    return reason;
                }
            }
        })
        .await
        .expect("B was not disconnected at revoke time");
        assert!(closed.contains("revoked"), "{closed}");
        // New connections from B are refused during the handshake.
        let err =
            b.fed.send_transaction(&a.id(), &b.txn(vec![b.message(&chat, "bob", "2")])).await.unwrap_err();
        assert!(!matches!(err, FederationError::Remote(_)), "{err}");
        assert_eq!(a.handler.count(), 1);
        // A sends nothing more to B, and the revocation is stored.
        assert!(matches!(
            a.fed.send_transaction(&b.id(), &a.txn(vec![])).await,
            Err(FederationError::NotPeered(_))
        ));
        assert!(a.store.peers.lock()[&b.name].is_revoked());
    })
    .await;
}

#[tokio::test]
async fn b_cannot_speak_as_c() {
    bounded(LIMIT, async {
        let (a, b) = pair().await;
        let c = ServerName::parse("c.test").unwrap();
        // Transaction origin other than the certificate's name.
        let mut txn = b.txn(vec![]);
        txn.origin = c.clone();
        closed_with(
            b.fed.testing_send_request(&a.id(), &Request::Transaction(txn)).await,
            ErrorCode::OriginMismatch,
        );
        // An event claiming origin C (signed by B) in B's transaction, for a chat B does not home.
        let mut ev =
            Event::new(b.fed.identity(), Some(a.chat()), None, EventContent::Typing { typing: true });
        ev.origin = c;
        let txn = b.txn(vec![ev.sign(b.fed.identity())]);
        closed_with(
            b.fed.testing_send_request(&a.id(), &Request::Transaction(txn)).await,
            ErrorCode::ForbiddenRelay,
        );
        assert_eq!(a.handler.count(), 0);
    })
    .await;
}

#[tokio::test]
async fn events_for_users_of_another_domain_are_refused() {
    bounded(LIMIT, async {
        let (a, b) = pair().await;
        let carol = parley_types::UserId::parse("carol@c.test").unwrap();
        let ev = b.event(Some(&a.chat()), Some(carol), EventContent::Typing { typing: true });
        let r = b.fed.send_transaction(&a.id(), &b.txn(vec![ev])).await;
        assert!(
            matches!(r, Err(FederationError::ClosedByPeer { code: ErrorCode::ForeignUser, .. })),
            "{r:?}"
        );
        assert_eq!(a.handler.count(), 0);
        assert_eq!(a.fed.stats().iter().find(|s| s.peer == b.id()).unwrap().cutoffs, 1);
    })
    .await;
}

#[tokio::test]
async fn a_replayed_transaction_reaches_the_core_once() {
    bounded(LIMIT, async {
        let (a, b) = pair().await;
        let chat = a.chat();
        let txn = b.txn(vec![b.message(&chat, "bob", "once")]);
        let first = b.fed.send_transaction(&a.id(), &txn).await.unwrap();
        let again = b.fed.send_transaction(&a.id(), &txn).await.unwrap();
        assert_eq!(first, again);
        // The same event in a new transaction (an outbox that re-batched): a duplicate.
        let rebatched = b.txn(txn.events.clone());
        let ack = b.fed.send_transaction(&a.id(), &rebatched).await.unwrap();
        assert_eq!(ack.results[0].result, EventResult::Duplicate { seq: Some(1) });
        assert_eq!(a.handler.count(), 1);
    })
    .await;
}

#[tokio::test]
async fn oversized_frames_events_and_transactions_cut_the_peer_off() {
    bounded(LIMIT, async {
        let (a, b) = pair().await;
        let chat = a.chat();
        // A frame declaring more than the cap: refused before its body is read.
        let mut raw = ((MAX_FRAME_BYTES + 1) as u32).to_be_bytes().to_vec();
        raw.extend_from_slice(&[b' '; 1024]);
        closed_with(b.fed.testing_send_raw(&a.id(), &raw).await, ErrorCode::FrameTooLarge);

        // An event over 64 KiB: refused locally by send_transaction, cut off if sent anyway.
        let big = b.event(
            Some(&chat),
            Some(b.user("bob")),
            EventContent::MessageSend {
                message_id: parley_types::MessageId::generate(&b.name),
                body: serde_json::json!({ "text": "x".repeat(70 * 1024) }),
            },
        );
        let txn = b.txn(vec![big]);
        assert!(matches!(b.fed.send_transaction(&a.id(), &txn).await, Err(FederationError::Caps(_))));
        closed_with(
            b.fed.testing_send_request(&a.id(), &Request::Transaction(txn)).await,
            ErrorCode::EventTooLarge,
        );

        // More than 50 events.
        let many: Vec<_> =
            (0..=MAX_EVENTS_PER_TXN).map(|i| b.message(&chat, "bob", &i.to_string())).collect();
        let txn = b.txn(many);
        assert!(matches!(b.fed.send_transaction(&a.id(), &txn).await, Err(FederationError::Caps(_))));
        closed_with(
            b.fed.testing_send_request(&a.id(), &Request::Transaction(txn)).await,
            ErrorCode::TooManyEvents,
        );

        // Not JSON at all.
        let mut junk = 9u32.to_be_bytes().to_vec();
        junk.extend_from_slice(b"{not json");
        closed_with(b.fed.testing_send_raw(&a.id(), &junk).await, ErrorCode::Malformed);
        assert_eq!(a.handler.count(), 0);
        // B behaves again: a new connection works.
        b.fed.send_transaction(&a.id(), &b.txn(vec![b.message(&chat, "bob", "sorry")])).await.unwrap();
        assert_eq!(a.handler.count(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_bad_signature_cuts_the_peer_off() {
    bounded(LIMIT, async {
        let (a, b) = pair().await;
        let mut ev = b.message(&a.chat(), "bob", "original");
        if let EventContent::MessageSend { body, .. } = &mut ev.event.content {
            *body = serde_json::json!({ "text": "tampered" });
        }
        let r = b.fed.send_transaction(&a.id(), &b.txn(vec![ev])).await;
        assert!(
            matches!(r, Err(FederationError::ClosedByPeer { code: ErrorCode::BadSignature, .. })),
            "{r:?}"
        );
        assert_eq!(a.handler.count(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_relayed_event_must_verify_against_its_claimed_origin() {
    bounded(LIMIT, async {
        let (a, b, c) =
            (Node::start("a.test").await, Node::start("b.test").await, Node::start("c.test").await);
        peer(&a, &b).await;
        peer(&b, &c).await;
        pinned(&b, &a).await;
        // A (home of the chat) forges Carol's message: origin C, signed with A's key.
        let chat = a.chat();
        let mut forged = Event::new(
            a.fed.identity(),
            Some(chat.clone()),
            Some(c.user("carol")),
            EventContent::Typing { typing: true },
        );
        forged.origin = c.name.clone();
        forged.event_id = EventId::generate(&c.name);
        let r = a.fed.send_transaction(&b.id(), &a.txn(vec![forged.sign(a.fed.identity())])).await;
        assert!(
            matches!(r, Err(FederationError::ClosedByPeer { code: ErrorCode::BadSignature, .. })),
            "{r:?}"
        );
        // Same inside a sequenced message.
        let mut inner = Event::new(
            a.fed.identity(),
            Some(chat.clone()),
            Some(c.user("carol")),
            EventContent::MessageSend {
                message_id: parley_types::MessageId::generate(&c.name),
                body: serde_json::json!({ "text": "forged" }),
            },
        );
        inner.origin = c.name.clone();
        inner.event_id = EventId::generate(&c.name);
        let outer = a.event(
            Some(&chat),
            None,
            EventContent::MessageSequenced { seq: 1, message: Box::new(inner.sign(a.fed.identity())) },
        );
        let r = a.fed.send_transaction(&b.id(), &a.txn(vec![outer])).await;
        assert!(
            matches!(r, Err(FederationError::ClosedByPeer { code: ErrorCode::BadSignature, .. })),
            "{r:?}"
        );
        assert_eq!(b.handler.count(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_peer_ignoring_the_rate_limit_is_told_to_slow_down_then_cut_off() {
    bounded(LIMIT, async {
        let config = FederationConfig { rate_per_sec: 1.0, rate_burst: 5.0, ..test_config() };
        let a = Node::start_with("a.test", config, std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).await;
        let b = Node::start("b.test").await;
        peer(&a, &b).await;
        pinned(&a, &b).await;
        let (mut ok, mut slow, mut cut) = (0, 0, 0);
        for _ in 0..20 {
            match b.fed.send_transaction(&a.id(), &b.txn(vec![])).await {
                Ok(_) => ok += 1,
                Err(FederationError::Remote(WireError { code: ErrorCode::SlowDown, .. })) => slow += 1,
                Err(FederationError::ClosedByPeer { code: ErrorCode::RateLimited, .. }) => {
                    cut += 1;
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(ok >= 4 && slow >= 1 && cut == 1, "ok {ok} slow {slow} cut {cut}");
    })
    .await;
}
