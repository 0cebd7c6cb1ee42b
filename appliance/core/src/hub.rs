//! Live connections: who is connected, fan-out of frames to them, presence and closing.
//!
//! Each connection owns a bounded queue of [`Outbound`] items that its transport task drains.
//! A frame is serialized once and shared (`Arc<str>`) by every recipient. A connection whose
//! queue is full is closed rather than allowed to grow without bound: its client reconnects
//! and syncs from its cursor, so nothing is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::sync::{Notify, mpsc};

use parley_types::protocol::ServerFrame;
use parley_types::{ChatId, ErrorCode, Seq, SessionId, UserId};

pub type ConnId = u64;

/// Something for a connection to send. Small on purpose (24 bytes): every connection's queue
/// allocates its first block of 32 slots up front, idle or not.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A chat log entry, one allocation shared by every recipient; the connection drops it if
    /// already sent and fills gaps before it.
    Entry(Arc<Delivery>),
    /// The ack of this connection's own send (stands in for the entry on this connection).
    Ack(Box<Delivery>),
    /// Any other frame (receipts, typing, presence, chat changes, errors, out-of-order acks).
    Frame(Arc<str>),
}

/// A log entry on its way to a connection.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub chat: ChatId,
    pub seq: Seq,
    pub frame: Arc<str>,
    /// When the core received the send (for the send→deliver latency).
    pub received: Instant,
}

/// Lets anyone close a connection with a reason, even when its queue is full.
#[derive(Debug, Default)]
pub struct Closer {
    reason: Mutex<Option<(ErrorCode, String)>>,
    notify: Notify,
}

impl Closer {
    pub fn close(&self, code: ErrorCode, reason: impl Into<String>) {
        self.reason.lock().get_or_insert((code, reason.into()));
        self.notify.notify_one();
    }
    /// Resolves once `close` was called; returns the reason.
    pub async fn closed(&self) -> (ErrorCode, String) {
        loop {
            if let Some(r) = self.reason.lock().clone() {
                return r;
            }
            self.notify.notified().await;
        }
    }
}

#[derive(Debug, Clone)]
struct ConnHandle {
    id: ConnId,
    session: SessionId,
    tx: mpsc::Sender<Outbound>,
    closer: Arc<Closer>,
}

/// A presence subscription: the subscriber's connection and whether it may see the target.
#[derive(Debug, Clone)]
struct Watcher {
    conn: ConnId,
    visible: bool,
    tx: mpsc::Sender<Outbound>,
}

#[derive(Debug, Default)]
pub struct Hub {
    next_id: AtomicU64,
    conns: DashMap<UserId, Vec<ConnHandle>>,
    /// target user -> watchers
    watchers: DashMap<UserId, Vec<Watcher>>,
    /// conn -> targets it watches (to unsubscribe)
    watching: DashMap<ConnId, Vec<UserId>>,
}

/// What a transport task gets when it registers a connection.
#[derive(Debug)]
pub struct Registration {
    pub id: ConnId,
    pub rx: mpsc::Receiver<Outbound>,
    pub closer: Arc<Closer>,
    /// True when this is the user's first live connection (they just came online).
    pub first: bool,
}

pub fn encode(frame: &ServerFrame) -> Arc<str> {
    // Serializing our own enum cannot fail.
    serde_json::to_string(frame).unwrap_or_default().into()
}

impl Hub {
    pub fn register(&self, user: &UserId, session: SessionId, queue: usize) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = mpsc::channel(queue);
        let closer = Arc::new(Closer::default());
        let mut entry = self.conns.entry(user.clone()).or_default();
        let first = entry.is_empty();
        entry.push(ConnHandle { id, session, tx, closer: closer.clone() });
        Registration { id, rx, closer, first }
    }

    /// Removes the connection; returns true when it was the user's last (they went offline).
    pub fn unregister(&self, user: &UserId, id: ConnId) -> bool {
        self.unwatch(id);
        let mut last = false;
        if let Some(mut list) = self.conns.get_mut(user) {
            list.retain(|c| c.id != id);
            last = list.is_empty();
        }
        if last {
            self.conns.remove_if(user, |_, l| l.is_empty());
        }
        last
    }

    pub fn is_online(&self, user: &UserId) -> bool {
        self.conns.get(user).is_some_and(|l| !l.is_empty())
    }

    /// Users with at least one live connection.
    pub fn online_users(&self) -> usize {
        self.conns.iter().filter(|e| !e.value().is_empty()).count()
    }

    pub fn connection_count(&self) -> usize {
        self.conns.iter().map(|e| e.value().len()).sum()
    }

    fn push(c: &ConnHandle, item: Outbound) {
        if let Err(mpsc::error::TrySendError::Full(_)) = c.tx.try_send(item) {
            c.closer.close(ErrorCode::Unavailable, "client too slow; reconnect and sync");
        }
    }

    /// Sends a log entry to every connection of `users`, except that connection `origin`
    /// gets `ack` instead.
    pub fn send_entry(
        &self,
        users: &[UserId],
        chat: &ChatId,
        seq: Seq,
        frame: &Arc<str>,
        origin: Option<(ConnId, Arc<str>)>,
        received: Instant,
    ) {
        let entry = Arc::new(Delivery { chat: chat.clone(), seq, frame: frame.clone(), received });
        for u in users {
            if let Some(list) = self.conns.get(u) {
                for c in list.iter() {
                    let item = match &origin {
                        Some((id, ack)) if *id == c.id => Outbound::Ack(Box::new(Delivery {
                            chat: chat.clone(),
                            seq,
                            frame: ack.clone(),
                            received,
                        })),
                        _ => Outbound::Entry(entry.clone()),
                    };
                    Self::push(c, item);
                }
            }
        }
    }

    /// Sends a frame to every connection of `users` (optionally skipping one connection).
    pub fn send_frame(&self, users: &[UserId], frame: &Arc<str>, skip: Option<ConnId>) {
        for u in users {
            if let Some(list) = self.conns.get(u) {
                for c in list.iter().filter(|c| Some(c.id) != skip) {
                    Self::push(c, Outbound::Frame(frame.clone()));
                }
            }
        }
    }

    /// Sends to one connection of `user`.
    pub fn send_to_conn(&self, user: &UserId, conn: ConnId, item: Outbound) {
        if let Some(list) = self.conns.get(user)
            && let Some(c) = list.iter().find(|c| c.id == conn)
        {
            Self::push(c, item);
        }
    }

    /// Closes the connections of these sessions (revocation).
    pub fn close_sessions(&self, user: &UserId, sessions: &[SessionId], code: ErrorCode, reason: &str) {
        if let Some(list) = self.conns.get(user) {
            for c in list.iter().filter(|c| sessions.contains(&c.session)) {
                c.closer.close(code, reason);
            }
        }
    }

    /// Replaces the presence subscriptions of a connection. `targets` pairs each user with
    /// whether this subscriber may see their presence.
    pub fn watch(&self, conn: ConnId, tx: mpsc::Sender<Outbound>, targets: Vec<(UserId, bool)>) {
        self.unwatch(conn);
        let mut list = Vec::with_capacity(targets.len());
        for (t, visible) in targets {
            self.watchers.entry(t.clone()).or_default().push(Watcher { conn, visible, tx: tx.clone() });
            list.push(t);
        }
        self.watching.insert(conn, list);
    }

    fn unwatch(&self, conn: ConnId) {
        if let Some((_, targets)) = self.watching.remove(&conn) {
            for t in targets {
                if let Some(mut w) = self.watchers.get_mut(&t) {
                    w.retain(|w| w.conn != conn);
                }
                self.watchers.remove_if(&t, |_, w| w.is_empty());
            }
        }
    }

    /// Tells the watchers of `user` about a presence change; hidden watchers learn nothing.
    pub fn publish_presence(&self, user: &UserId, online: bool, last_seen: Option<i64>) {
        let visible = encode(&ServerFrame::Presence { user_id: user.clone(), online, last_seen });
        if let Some(list) = self.watchers.get(user) {
            for w in list.iter().filter(|w| w.visible) {
                let _ = w.tx.try_send(Outbound::Frame(visible.clone()));
            }
        }
    }

    /// The sender half of a registered connection's queue (for subscriptions).
    pub fn sender(&self, user: &UserId, conn: ConnId) -> Option<mpsc::Sender<Outbound>> {
        self.conns.get(user)?.iter().find(|c| c.id == conn).map(|c| c.tx.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each connection's queue allocates 32 slots up front: keep a slot small.
    #[test]
    fn a_queued_item_stays_small() {
        assert!(std::mem::size_of::<Outbound>() <= 24, "{}", std::mem::size_of::<Outbound>());
    }
}
