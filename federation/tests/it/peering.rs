//! Peering by invite, transactions, relaying between three servers, queries and media.

use std::time::Duration;

use parley_federation::*;
use parley_types::MediaId;
use tokio::io::AsyncReadExt;

use crate::support::{Node, bounded, peer, pinned};

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn two_servers_peer_by_invite_and_exchange_transactions() {
    bounded(LIMIT, async {
        let (a, b) = (Node::start("a.test").await, Node::start("b.test").await);
        let mut a_events = a.fed.subscribe();
        peer(&a, &b).await;
        pinned(&a, &b).await;
        // Both sides pinned the other's certificate fingerprint, and stored it.
        let a_sees_b = a.fed.peers().into_iter().find(|p| p.server_name == b.name).unwrap();
        assert_eq!(a_sees_b.fingerprint, b.fed.identity().fingerprint());
        assert_eq!(&a_sees_b.public_key, b.fed.identity().public_key());
        assert!(a.store.peers.lock().contains_key(&b.name));
        assert!(b.store.peers.lock().contains_key(&a.name));
        assert!(matches!(a_events.recv().await.unwrap(), PeerEvent::Peered(r) if r.server_name == b.name));

        // B's user writes in a chat homed on A: A sequences it and acks with the seq.
        let chat = a.chat();
        let txn = b.txn(vec![b.message(&chat, "bob", "hello")]);
        let ack = b.fed.send_transaction(&a.id(), &txn).await.unwrap();
        assert_eq!(ack.txn_id, txn.txn_id);
        assert_eq!(ack.results[0].result, EventResult::Accepted { seq: Some(1) });
        assert_eq!(a.handler.count(), 1);
        assert_eq!(a.handler.seen.lock()[0].0, b.id());

        // And back over the same connection: A fans the sequenced message out to B.
        let fanout = a.event(
            Some(&chat),
            None,
            EventContent::MessageSequenced { seq: 1, message: Box::new(txn.events[0].clone()) },
        );
        let ack = a.fed.send_transaction(&b.id(), &a.txn(vec![fanout])).await.unwrap();
        assert_eq!(ack.results[0].result, EventResult::accepted());
        assert_eq!(b.handler.count(), 1);

        let stats = b.fed.stats();
        let to_a = stats.iter().find(|s| s.peer == a.id()).unwrap();
        assert!(to_a.connected && to_a.rtt.is_some() && to_a.last_delivery.is_some());
        assert!(to_a.frames_out >= 2 && to_a.frames_in >= 2, "{to_a:?}");
        a.fed.shutdown().await;
        b.fed.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn invites_are_one_time_and_expire() {
    bounded(LIMIT, async {
        let (a, b, c) =
            (Node::start("a.test").await, Node::start("b.test").await, Node::start("c.test").await);
        let invite = a.fed.create_invite(Duration::from_secs(600)).await.unwrap().encode();
        b.fed.accept_invite(&invite).await.unwrap();
        // Second use of the same secret, by another server: refused, and nothing pinned.
        let err = c.fed.accept_invite(&invite).await.unwrap_err();
        assert!(matches!(err, FederationError::PeeringRefused(ref m) if m.contains("already used")), "{err}");
        pinned(&a, &b).await;
        assert!(!a.fed.peers().iter().any(|p| p.server_name == c.name));

        // An expired invite is refused by the invitee's parser...
        let stale = a.fed.create_invite(Duration::ZERO).await.unwrap().encode();
        assert!(matches!(
            c.fed.accept_invite(&stale).await,
            Err(FederationError::Invite(InviteError::Expired))
        ));
        // ...and by the inviter, whatever the invite string claims.
        let inv = a.fed.create_invite(Duration::from_secs(600)).await.unwrap();
        a.store.expire_invites();
        let err = c.fed.accept_invite(&inv.encode()).await.unwrap_err();
        assert!(matches!(err, FederationError::PeeringRefused(ref m) if m.contains("expired")), "{err}");
        assert!(!a.fed.peers().iter().any(|p| p.server_name == c.name));
        for n in [&a, &b, &c] {
            n.fed.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn three_servers_relay_signed_events_through_the_home_server() {
    bounded(LIMIT, async {
        let (a, b, c) = (Node::start("a.test").await, Node::start("b.test").await, Node::start("c.test").await);
        peer(&a, &b).await;
        peer(&a, &c).await;
        peer(&b, &c).await;
        pinned(&b, &c).await;

        // Carol (on C) writes in a group homed on A; A sequences and fans out to B, relaying
        // C's signed event inside its own.
        let chat = a.chat();
        let original = c.message(&chat, "carol", "hi all");
        let ack = c.fed.send_transaction(&a.id(), &c.txn(vec![original.clone()])).await.unwrap();
        let EventResult::Accepted { seq: Some(seq) } = ack.results[0].result else { panic!("{ack:?}") };
        let fanout = a.event(Some(&chat), None, EventContent::MessageSequenced { seq, message: Box::new(original) });
        // A also relays Carol's read receipt as it is (origin C, signed by C).
        let receipt =
            c.event(Some(&chat), Some(c.user("carol")), EventContent::Receipt { delivered_seq: Some(seq), read_seq: Some(seq) });
        let ack = a.fed.send_transaction(&b.id(), &a.txn(vec![fanout, receipt])).await.unwrap();
        assert!(ack.results.iter().all(|r| r.result == EventResult::accepted()), "{ack:?}");
        assert_eq!(b.handler.count(), 2);

        // B can ask A for C's key (how a server that never met C verifies C's events).
        let answer = b.fed.query(&a.id(), Query::ServerKey { server_name: c.name.clone() }).await.unwrap();
        assert!(matches!(answer, Answer::ServerKey { public_key, .. } if &public_key == c.fed.identity().public_key()));

        // Typing and presence go across too.
        let typing = b.event(Some(&chat), Some(b.user("bob")), EventContent::Typing { typing: true });
        let presence = b.event(
            None,
            Some(b.user("bob")),
            EventContent::Presence { presence: PresenceState::Online, last_active_ts: None },
        );
        let ack = b.fed.send_transaction(&c.id(), &b.txn(vec![typing, presence])).await.unwrap();
        assert_eq!(ack.results.len(), 2);
        assert_eq!(c.handler.count(), 2);
        for n in [&a, &b, &c] {
            n.fed.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn an_event_relayed_from_an_unknown_server_is_rejected_not_cut_off() {
    bounded(LIMIT, async {
        let (a, b, c) =
            (Node::start("a.test").await, Node::start("b.test").await, Node::start("c.test").await);
        peer(&a, &b).await;
        peer(&a, &c).await;
        pinned(&a, &c).await;
        let chat = a.chat();
        let from_c = c.event(Some(&chat), Some(c.user("carol")), EventContent::Typing { typing: true });
        let txn = a.txn(vec![from_c.clone()]);
        let ack = a.fed.send_transaction(&b.id(), &txn).await.unwrap();
        assert!(matches!(
            ack.results[0].result,
            EventResult::Rejected { code: ErrorCode::UnknownOrigin, .. }
        ));
        assert_eq!(b.handler.count(), 0);
        // Once B learns C's key from A, the same event verifies.
        let Answer::ServerKey { public_key, .. } =
            b.fed.query(&a.id(), Query::ServerKey { server_name: c.name.clone() }).await.unwrap()
        else {
            panic!()
        };
        b.fed.learn_origin_key(c.name.clone(), public_key);
        let ack = a.fed.send_transaction(&b.id(), &a.txn(vec![from_c])).await.unwrap();
        assert_eq!(ack.results[0].result, EventResult::accepted());
        for n in [&a, &b, &c] {
            n.fed.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn profile_lookup_and_media_fetch() {
    bounded(LIMIT, async {
        let (a, b) = (Node::start("a.test").await, Node::start("b.test").await);
        peer(&a, &b).await;
        let answer = b.fed.query(&a.id(), Query::Profile { user: a.user("ana") }).await.unwrap();
        assert!(matches!(answer, Answer::Profile { display_name: Some(ref n), .. } if n == "Ana"));
        let missing = b.fed.query(&a.id(), Query::Profile { user: a.user("nobody") }).await.unwrap_err();
        assert!(matches!(missing, FederationError::Remote(WireError { code: ErrorCode::NotFound, .. })));

        let media = MediaId::generate(&a.name);
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        a.handler.media.lock().insert(media.clone(), bytes.clone());
        let mut dl = b.fed.fetch_media(&a.id(), &media).await.unwrap();
        assert_eq!(dl.length, bytes.len() as u64);
        let mut got = Vec::new();
        dl.reader.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, bytes);
        a.fed.shutdown().await;
        b.fed.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn sending_to_a_stopped_peer_fails_retryably() {
    bounded(LIMIT, async {
        let (a, b) = (Node::start("a.test").await, Node::start("b.test").await);
        peer(&a, &b).await;
        pinned(&a, &b).await;
        a.fed.shutdown().await;
        let err = b.fed.send_transaction(&a.id(), &b.txn(vec![])).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        b.fed.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_simultaneous_connect_settles_on_one_connection_both_sides_agree_on() {
    bounded(LIMIT, async {
        let (a, b) = (Node::start("a.test").await, Node::start("b.test").await);
        peer(&a, &b).await; // B → A
        pinned(&a, &b).await;
        a.fed.testing_connect_again(&b.id()).await.unwrap(); // A → B, moments later
        let conns =
            |n: &Node, other: &Node| n.fed.stats().iter().find(|s| s.peer == other.id()).unwrap().connections;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!((conns(&a, &b), conns(&b, &a)), (2, 2));
        // The loser (opened by b.test, the larger name) is closed after its grace period.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!((conns(&a, &b), conns(&b, &a)), (1, 1));
        let chat = a.chat();
        b.fed.send_transaction(&a.id(), &b.txn(vec![b.message(&chat, "bob", "still here")])).await.unwrap();
        a.fed.send_transaction(&b.id(), &a.txn(vec![a.message(&chat, "ana", "me too")])).await.unwrap();
        assert_eq!((conns(&a, &b), conns(&b, &a)), (1, 1));
        a.fed.shutdown().await;
        b.fed.shutdown().await;
    })
    .await;
}
