//! Per-peer state: the pin table the TLS verifiers read, and each peer's live connections,
//! counters and rate limiter.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use parley_types::ServerName;
use tokio::sync::watch;

use crate::ids::{Fingerprint, PublicKey, TxnId};
use crate::store::PeerRecord;

/// The pins the TLS verifiers consult (in memory; the core's store is the durable copy).
#[derive(Debug, Default)]
pub(crate) struct PeerTable {
    pub records: HashMap<ServerName, PeerRecord>,
    by_fp: HashMap<Fingerprint, ServerName>,
    revoked: HashSet<Fingerprint>,
    pub learned_keys: HashMap<ServerName, PublicKey>,
}

impl PeerTable {
    pub fn is_revoked(&self, fp: &Fingerprint) -> bool {
        self.revoked.contains(fp)
    }
    pub fn by_fingerprint(&self, fp: &Fingerprint) -> Option<&PeerRecord> {
        self.by_fp.get(fp).and_then(|n| self.records.get(n))
    }
    /// Revoked by the admin: not even CA trust brings it back (a revocation would otherwise
    /// be undone by a freshly issued certificate).
    pub fn is_revoked_name(&self, name: &ServerName) -> bool {
        self.records.get(name).is_some_and(PeerRecord::is_revoked)
    }
    pub fn active(&self, name: &ServerName) -> Option<&PeerRecord> {
        self.records.get(name).filter(|r| !r.is_revoked())
    }
    pub fn insert(&mut self, r: PeerRecord) {
        if r.is_revoked() {
            self.revoked.insert(r.fingerprint);
            self.by_fp.remove(&r.fingerprint);
        } else {
            if let Some(old) = self.records.get(&r.server_name) {
                self.by_fp.remove(&old.fingerprint);
            }
            self.by_fp.insert(r.fingerprint, r.server_name.clone());
        }
        self.records.insert(r.server_name.clone(), r);
    }
    pub fn key_of(&self, name: &ServerName) -> Option<PublicKey> {
        self.active(name).map(|r| r.public_key.clone()).or_else(|| self.learned_keys.get(name).cloned())
    }
}

/// A peer's live state.
#[derive(Debug)]
pub(crate) struct Link {
    /// Live connections, newest last; the newest carries outbound requests.
    conns: Mutex<Vec<LiveConn>>,
    pub connecting: tokio::sync::Mutex<()>,
    pub generation: watch::Sender<u64>,
    pub frames_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub cutoffs: AtomicU64,
    pub last_delivery: Mutex<Option<SystemTime>>,
    bucket: Mutex<Bucket>,
    pub in_flight: Mutex<HashSet<TxnId>>,
}

#[derive(Debug)]
struct LiveConn {
    conn: quinn::Connection,
    since: Instant,
    outbound: bool,
}

/// Two connections made within this window are a simultaneous connect (both sides had
/// something to send), settled by name; otherwise the newer one wins, since the older one may
/// be a dead connection to a peer that restarted.
const SIMULTANEOUS: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Outcome of asking the rate limiter.
pub(crate) enum Admit {
    Yes,
    SlowDown,
    CutOff,
}

impl Link {
    pub fn new(burst: f64) -> Self {
        Self {
            conns: Mutex::new(Vec::new()),
            connecting: tokio::sync::Mutex::new(()),
            generation: watch::channel(0).0,
            frames_in: AtomicU64::new(0),
            frames_out: AtomicU64::new(0),
            cutoffs: AtomicU64::new(0),
            last_delivery: Mutex::new(None),
            bucket: Mutex::new(Bucket { tokens: burst, at: Instant::now() }),
            in_flight: Mutex::new(HashSet::new()),
        }
    }

    /// The connection that carries outbound requests.
    pub fn current(&self) -> Option<quinn::Connection> {
        let mut conns = self.conns.lock();
        conns.retain(|c| c.conn.close_reason().is_none());
        conns.last().map(|c| c.conn.clone())
    }

    pub fn live_connections(&self) -> usize {
        let mut conns = self.conns.lock();
        conns.retain(|c| c.conn.close_reason().is_none());
        conns.len()
    }

    /// Adds a new connection. Returns whether the peer had none, and the connection that lost
    /// to it (to close once its in-flight streams are done): one connection per peer. Both sides
    /// pick the same winner in a simultaneous connect, the one opened by the server whose
    /// `outbound_wins_ties` is true (the smaller name).
    pub fn add(
        &self,
        conn: quinn::Connection,
        outbound: bool,
        outbound_wins_ties: bool,
    ) -> (bool, Option<quinn::Connection>) {
        let mut conns = self.conns.lock();
        conns.retain(|c| c.conn.close_reason().is_none());
        let new = LiveConn { conn, since: Instant::now(), outbound };
        let Some(old) = conns.last() else {
            conns.push(new);
            return (true, None);
        };
        let new_wins = if new.since.duration_since(old.since) < SIMULTANEOUS && new.outbound != old.outbound {
            new.outbound == outbound_wins_ties
        } else {
            true
        };
        if new_wins {
            let loser = old.conn.clone();
            conns.push(new);
            (false, Some(loser))
        } else {
            let loser = new.conn.clone();
            conns.insert(0, new);
            (false, Some(loser))
        }
    }

    pub fn remove(&self, conn: &quinn::Connection) -> bool {
        let mut conns = self.conns.lock();
        conns.retain(|c| c.conn.stable_id() != conn.stable_id() && c.conn.close_reason().is_none());
        conns.is_empty()
    }

    pub fn close_all(&self, code: u32, reason: &[u8]) {
        for c in self.conns.lock().drain(..) {
            c.conn.close(code.into(), reason);
        }
    }

    /// Token bucket. A peer told to slow down that keeps going until it owes a whole burst
    /// is cut off.
    pub fn admit(&self, rate: f64, burst: f64) -> Admit {
        let mut b = self.bucket.lock();
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        b.tokens -= 1.0;
        if b.tokens >= 0.0 {
            Admit::Yes
        } else if b.tokens > -burst {
            Admit::SlowDown
        } else {
            Admit::CutOff
        }
    }
}
