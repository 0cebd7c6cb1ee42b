//! Through a lossy, slow, then partitioned network (the UDP relay), transactions still
//! complete: QUIC retransmits, and after the partition outlives the idle timeout the manager
//! reconnects and the outbox-style retry loop delivers everything exactly once.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use parley_federation::*;

use crate::support::relay::UdpRelay;
use crate::support::{Node, bounded, peer, pinned, test_config};

#[tokio::test]
async fn transactions_complete_through_loss_delay_and_a_healed_partition() {
    bounded(Duration::from_secs(60), async {
        // B listens behind the relay: its invite names the relay's address.
        let b_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let relay = UdpRelay::start(b_socket.local_addr().unwrap()).await;
        let b_config = FederationConfig { public_address: Some(relay.addr().to_string()), ..test_config() };
        let b = Node::start_with("b.test", b_config, b_socket).await;
        let a = Node::start("a.test").await;
        peer(&b, &a).await;
        pinned(&b, &a).await;
        let chat = b.chat();

        // 15% loss and 20 ms each way: every transaction still gets acked.
        relay.set_drop_percent(15);
        relay.set_delay(Duration::from_millis(20));
        for i in 0..10 {
            let txn = a.txn(vec![a.message(&chat, "ana", &format!("lossy {i}"))]);
            let ack = send_until_acked(&a, &b.id(), &txn).await;
            assert!(matches!(ack.results[0].result, EventResult::Accepted { .. }));
        }
        assert_eq!(b.handler.count(), 10);

        // Partition longer than the idle timeout (2 s): the connection dies; A's outbox keeps
        // retrying with backoff; after healing it reconnects and delivers.
        relay.set_drop_percent(0);
        relay.set_delay(Duration::ZERO);
        relay.partition();
        let sender = {
            let (a_fed, txns) = (
                a.fed.clone(),
                (0..5).map(|i| a.txn(vec![a.message(&chat, "ana", &format!("cut {i}"))])).collect::<Vec<_>>(),
            );
            let b_id = b.id();
            tokio::spawn(async move {
                for txn in txns {
                    send_until_acked_fed(&a_fed, &b_id, &txn).await;
                }
            })
        };
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(b.handler.count(), 10, "nothing crosses a partition");
        let healed = Instant::now();
        relay.heal();
        sender.await.unwrap();
        assert!(healed.elapsed() < Duration::from_secs(15), "slow to recover: {:?}", healed.elapsed());
        b.handler.wait_for(15).await;
        // Exactly once, even though some transactions were sent several times.
        assert_eq!(b.handler.count(), 15);
        a.fed.shutdown().await;
        b.fed.shutdown().await;
    })
    .await;
}

async fn send_until_acked(a: &Node, peer: &PeerId, txn: &Transaction) -> Ack {
    send_until_acked_fed(&a.fed, peer, txn).await
}

/// What the core's outbox does for one transaction: retry with capped backoff, at once when
/// the peer is back.
async fn send_until_acked_fed(fed: &Federation, peer: &PeerId, txn: &Transaction) -> Ack {
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
    let mut back = fed.watch_peer(peer);
    loop {
        match fed.send_transaction(peer, txn).await {
            Ok(ack) => return ack,
            Err(e) if e.is_retryable() => {
                tracing::debug!(error = %e, "retrying");
                backoff.wait(&mut back).await;
            }
            Err(e) => panic!("not retryable: {e}"),
        }
    }
}
