//! The durable outbox: one drain task per destination sends its queue in order, 50 events
//! per transaction, and removes an event only when the peer's answer for it is final. A peer
//! that is down is retried with `Backoff` (1 s doubling to 5 min), and at once when a
//! connection to it comes up. Nothing is ever dropped for being old.

use std::sync::Arc;
use std::time::Duration;

use parley_federation::{Backoff, EventContent, EventResult, SignedEvent, Transaction};
use tokio::sync::Notify;

use super::{FedOp, peer_id};
use crate::error::CoreError;
use crate::writer::idem_key;
use crate::{Core, Inner};

const BATCH: usize = 50;

pub(super) fn spawn(inner: Arc<Inner>, dest: String, wake: Arc<Notify>) {
    tokio::spawn(async move {
        let Some(fed) = inner.fed().cloned() else { return };
        let Ok(peer) = peer_id(&dest) else {
            tracing::error!(dest, "outbox for an invalid server name");
            return;
        };
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        let mut watch = fed.handle.watch_peer(&peer);
        loop {
            if inner.stop.is_cancelled() {
                return;
            }
            let recs = match inner.store.outbox_next(&dest, BATCH).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(dest, error = %e, "outbox read failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if recs.is_empty() {
                tokio::select! {
                    () = wake.notified() => continue,
                    () = inner.stop.cancelled() => return,
                }
            }
            let mut events = Vec::with_capacity(recs.len());
            let mut bad = Vec::new();
            for r in &recs {
                match serde_json::from_str::<SignedEvent>(&r.event) {
                    Ok(e) => events.push((r.n, e)),
                    Err(e) => {
                        tracing::error!(dest, n = r.n, error = %e, "undecodable outbox entry removed");
                        bad.push(r.n);
                    }
                }
            }
            if !bad.is_empty() {
                let _ = inner.store.outbox_remove(&dest, &bad).await;
            }
            if events.is_empty() {
                continue;
            }
            let txn =
                Transaction::new(inner.server_fed_name(), events.iter().map(|(_, e)| e.clone()).collect());
            let sent = tokio::select! {
                r = fed.handle.send_transaction(&peer, &txn) => r,
                () = inner.stop.cancelled() => return,
            };
            match sent {
                Ok(ack) => {
                    let mut done = Vec::new();
                    let mut blocked = false;
                    for ((n, ev), r) in events.iter().zip(ack.results.iter().map(|a| &a.result)) {
                        if r.is_final() || superseded(ev, r) {
                            done.push(*n);
                            settle(&inner, ev, r).await;
                        } else {
                            blocked = true;
                        }
                    }
                    if let Err(e) = inner.store.outbox_remove(&dest, &done).await {
                        tracing::warn!(dest, error = %e, "outbox cleanup failed");
                    }
                    if blocked {
                        tracing::debug!(dest, "peer asked to retry some events later");
                        tokio::select! {
                            _ = backoff.wait(&mut watch) => {}
                            () = inner.stop.cancelled() => return,
                        }
                    } else {
                        backoff.reset();
                    }
                }
                Err(e) => {
                    use parley_federation::FederationError as F;
                    let unreachable = match &e {
                        F::Connection(quinn_err) => !quinn_err.to_string().contains("closed by peer"),
                        F::Connect(_) | F::Timeout | F::Io(_) => true,
                        _ => false,
                    };
                    if unreachable {
                        // Down: wait, but go at once when a connection to it comes up.
                        tracing::debug!(dest, error = %e, "peer unreachable; will retry");
                        tokio::select! {
                            _ = backoff.wait(&mut watch) => {}
                            () = inner.stop.cancelled() => return,
                        }
                    } else {
                        // The peer answered but refused (slow down, cut off, revoked): wait the
                        // full delay. Reconnecting is not a sign it wants more right now.
                        tracing::warn!(dest, error = %e, "peer refused the transaction; backing off");
                        let delay = backoff.next_delay();
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            () = inner.stop.cancelled() => return,
                        }
                    }
                }
            }
        }
    });
}

/// A relayed receipt the peer cannot verify yet (it has not learned the origin's key) must not
/// hold up the queue behind it: marks are high-water marks, a later one carries it.
fn superseded(ev: &SignedEvent, r: &EventResult) -> bool {
    matches!(ev.event.content, EventContent::Receipt { .. })
        && matches!(r, EventResult::Rejected { code: parley_federation::ErrorCode::UnknownOrigin, .. })
}

/// After a final answer: a refused request of a local user fails its waiting caller.
async fn settle(inner: &Inner, ev: &SignedEvent, result: &EventResult) {
    let EventResult::Rejected { code, reason } = result else { return };
    let EventContent::MessageSend { message_id, body } = &ev.event.content else { return };
    tracing::info!(message_id = %message_id, ?code, reason, "home server refused a request");
    if let (Some(sender), Some(chat), Ok(FedOp::Send { client_id, .. })) =
        (&ev.event.sender, &ev.event.chat_id, serde_json::from_value::<FedOp>(body.clone()))
    {
        let _ = inner.store.fed_pending_remove(&idem_key(sender, chat, &client_id)).await;
    }
    let Some(fed) = inner.fed() else { return };
    if let Some((_, w)) = fed.waiters.remove(message_id.as_str()) {
        let e = match code {
            parley_federation::ErrorCode::NotMember => CoreError::NotMember,
            parley_federation::ErrorCode::UnknownChat | parley_federation::ErrorCode::NotFound => {
                CoreError::NotFound("chat")
            }
            parley_federation::ErrorCode::Forbidden => CoreError::Forbidden(reason.clone()),
            parley_federation::ErrorCode::Invalid => CoreError::InvalidInput(reason.clone()),
            _ => CoreError::Federation(reason.clone()),
        };
        w.resolve(Err(e));
    }
}

impl Inner {
    fn server_fed_name(&self) -> parley_federation::ServerName {
        self.fed().map(|f| f.handle.identity().server_name().clone()).unwrap_or_else(|| {
            parley_federation::ServerName::parse(self.server.as_str()).expect("validated at start")
        })
    }
}

/// Every 5 s: the per-peer metrics. Every day: forgets deduplication records older than a
/// week (a peer replays within its backoff, minutes, not weeks).
pub(super) fn spawn_upkeep(core: Core) {
    let metrics_core = core.clone();
    crate::spawn_periodic(metrics_core, 5, None, true, |core| async move {
        refresh_metrics(&core).await;
    });
    crate::spawn_periodic(core, 86_400, None, true, |core| async move {
        let week = 7 * 86_400_000;
        if let Err(e) = core.inner.store.prune_fed_dedup(parley_types::now_millis() - week).await {
            tracing::warn!(error = %e, "federation dedup pruning failed");
        }
    });
}

async fn refresh_metrics(core: &Core) {
    let inner = &core.inner;
    let Some(fed) = inner.fed() else { return };
    let m = &inner.metrics.fed;
    let depths = inner.store.outbox_depths().await.unwrap_or_default();
    let now = parley_types::now_millis();
    for s in fed.handle.stats() {
        let p = s.peer.as_str().to_owned();
        let l = [p.as_str()];
        m.connected.with_label_values(&l).set(i64::from(s.connected));
        m.rtt.with_label_values(&l).set(s.rtt.map_or(0.0, |r| r.as_secs_f64()));
        let last = s.last_delivery.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        m.last_delivery.with_label_values(&l).set(last.map_or(0, |d| d.as_secs() as i64));
        // The crate's counters are cumulative; Prometheus counters move by deltas.
        let mut prev = fed.counters.lock();
        for (name, counter, value) in [
            ("in", &m.frames_in, s.frames_in),
            ("out", &m.frames_out, s.frames_out),
            ("cut", &m.cutoffs, s.cutoffs),
        ] {
            let key = (p.clone(), name);
            let before = prev.insert(key, value).unwrap_or(0);
            counter.with_label_values(&l).inc_by(value.saturating_sub(before));
        }
        drop(prev);
        let d = depths.iter().find(|d| d.dest == p);
        m.queue_depth.with_label_values(&l).set(d.map_or(0, |d| d.depth as i64));
        let age = d.and_then(|d| d.oldest).map_or(0.0, |o| (now - o).max(0) as f64 / 1000.0);
        m.oldest_age.with_label_values(&l).set(age);
    }
}
