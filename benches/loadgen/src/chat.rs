//! The chat engine behind the 1:1, group and search scenarios: one connection per user, senders
//! that keep a window of unacknowledged messages (optionally paced to a total rate), and a
//! delivery ledger that proves every acknowledged message reached every member exactly once
//! and in seq order.
//!
//! The ledger: for each chat the senders' acks give the set of entries (seq, message id). Each
//! connection checks that the entries it gets (as `message`, or as `ack` for its own sends)
//! follow each other without gap or repeat, and sums a fingerprint of each. At the end every
//! member must hold the chat's highest acked seq, as many entries as were acked, and the same
//! fingerprint sum: nothing lost, nothing doubled, nothing out of order.
//!
//! With federation the members of a chat live on two appliances; each connection goes to its
//! user's appliance, the ledger is the same (a chat has the same IDs and seqs on both), and the
//! rates and latencies are also kept per direction (by the side the sender or receiver is on).

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc, watch};

use crate::client::{self, Chat, Frame, Sources};
use crate::report::{Direction, Lat, Outcome};
use crate::transport::Conn;
use crate::{Ctx, now_ns};

/// Words the messages are made of, so that search has something to find.
pub const WORDS: &[&str] = &[
    "apple", "bridge", "candle", "desert", "engine", "forest", "garden", "harbor", "island", "jacket",
    "kettle", "lantern", "meadow", "needle", "orchard", "pepper", "quarry", "river", "saddle", "temple",
    "umbrella", "valley", "window", "yellow", "zephyr", "anchor", "basket", "cactus", "dolphin", "falcon",
];

/// How a chat run sends.
#[derive(Debug, Clone)]
pub struct Load {
    /// (user index, chat index) of every sender.
    pub senders: Vec<(usize, usize)>,
    /// Most unacknowledged sends per sender.
    pub window: usize,
    /// Total messages per second over all senders; 0 sends as fast as the window allows.
    pub rate: f64,
    pub warmup: Duration,
    pub duration: Duration,
    pub text_len: usize,
    /// Users connected (and synced) without taking part, like the rest of a busy server.
    pub bystanders: Vec<usize>,
    /// The window closes over the delivery to the chat partner instead of the ack (1:1 chats
    /// only). Federation needs it: the home server acks its users' messages before relaying
    /// them, so an ack window would let its outbox grow without bound.
    pub until_delivered: bool,
}

pub fn fingerprint(seq: u64, id: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (seq, id).hash(&mut h);
    h.finish()
}

#[derive(Debug, Default)]
struct Tally {
    hash: AtomicU64,
    count: AtomicU64,
    max_seq: AtomicU64,
}

struct Shared {
    chat_index: HashMap<String, usize>,
    tallies: Vec<Tally>,
    permits: Vec<Semaphore>,
    inflight: AtomicI64,
    applied: AtomicU64,
    window_from: u64,
    window_to: u64,
    acked_in_window: AtomicU64,
    delivered_in_window: AtomicU64,
    /// The same per appliance (federation): acks received by senders on side i, deliveries
    /// received by users on side i.
    acked_in_window_by_side: [AtomicU64; 2],
    delivered_in_window_by_side: [AtomicU64; 2],
    stop_sending: AtomicBool,
    until_delivered: bool,
}

#[derive(Debug, Default)]
struct Lane {
    last: u64,
    hash: u64,
    count: u64,
}

/// What one connection saw.
#[derive(Default)]
struct ConnResult {
    user: usize,
    /// The appliance of the user: 0, or 1 for the federation peer.
    side: usize,
    lanes: HashMap<usize, Lane>,
    ack: Lat,
    deliver: Lat,
    acks: u64,
    deliveries: u64,
    problems: Vec<String>,
    errors: Vec<String>,
    error_count: u64,
}

impl ConnResult {
    fn problem(&mut self, p: String) {
        if self.problems.len() < 5 {
            self.problems.push(p);
        }
    }

    fn apply(&mut self, shared: &Shared, chat: usize, seq: u64, id: &str) {
        let user = self.user;
        let Some(lane) = self.lanes.get_mut(&chat) else {
            self.problem(format!("user {user} got seq {seq} of a chat outside the scenario"));
            return;
        };
        let last = lane.last;
        if seq <= last {
            self.problem(format!("user {user} got chat {chat} seq {seq} again (already at {last})"));
            return;
        }
        if seq != last + 1 {
            lane.last = seq;
            self.problem(format!("user {user} got chat {chat} seq {seq} after {last} (gap)"));
            return;
        }
        lane.last = seq;
        lane.hash = lane.hash.wrapping_add(fingerprint(seq, id));
        lane.count += 1;
        shared.applied.fetch_add(1, Ordering::Relaxed);
    }
}

/// The send time the sender wrote into the text (`t<ns>`).
fn sent_at(text: Option<&str>) -> Option<u64> {
    text?.split_whitespace().find_map(|w| w.strip_prefix('t')?.parse().ok())
}

/// A message text: a word (for search), the sender index and message number, the send time,
/// then padding up to `len` characters.
fn compose(word: &str, sender: usize, n: u64, sent_ns: u64, len: usize) -> String {
    let mut text = format!("{word} u{sender}x{n} t{sent_ns} ");
    let pad = len.saturating_sub(text.len());
    text.extend(std::iter::repeat_n('x', pad));
    text
}

/// The sender index the sender wrote into the text (`u<sender>x<n>`).
fn sender_of(text: Option<&str>) -> Option<usize> {
    text?.split_whitespace().find_map(|w| w.strip_prefix('u')?.split_once('x')?.0.parse().ok())
}

/// Opens one connection per user in `users`, in parallel (at most 64 handshakes at a time),
/// each synced with its cursors; returns them in order with the connect→synced latencies.
pub async fn connect_all(
    ctx: &Ctx,
    users: &[usize],
    cursors: &[BTreeMap<String, u64>],
    sources: &Arc<Sources>,
) -> anyhow::Result<(Vec<Conn>, Lat)> {
    let sem = Arc::new(Semaphore::new(64));
    let mut tasks = Vec::with_capacity(users.len());
    for &u in users {
        let (sem, sources, dialer) = (sem.clone(), sources.clone(), ctx.dialer_for(u).clone());
        let token = ctx.users[u].token.clone();
        let frame = client::sync_frame(&cursors[u]);
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await?;
            let t = Instant::now();
            let mut conn = dialer.connect(sources.next(), &token).await?;
            conn.send(frame).await?;
            loop {
                let text = conn
                    .next_text(Duration::from_secs(60))
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("closed during sync"))?;
                if let Frame::SyncDone { .. } = client::parse(&text) {
                    break;
                }
            }
            anyhow::Ok((conn, t.elapsed()))
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    let mut lat = Lat::default();
    for t in tasks {
        let (conn, d) = t.await??;
        lat.record(d);
        out.push(conn);
    }
    Ok((out, lat))
}

/// Runs a chat load over `chats` and fills `out` (rates, latencies, the delivery check).
pub async fn run(ctx: &mut Ctx, chats: &[Chat], load: &Load, out: &mut Outcome) -> anyhow::Result<()> {
    let setup = Instant::now();
    if load.until_delivered && chats.iter().any(|c| c.members.len() != 2) {
        anyhow::bail!("a window closed by delivery needs 1:1 chats");
    }
    // One connection per member.
    let mut members: Vec<usize> = chats.iter().flat_map(|c| c.members.iter().copied()).collect();
    members.extend(&load.bystanders);
    members.sort_unstable();
    members.dedup();
    for c in chats {
        for &m in &c.members {
            ctx.cursors[m].insert(c.id.clone(), c.base_seq);
        }
    }
    crate::debug(format_args!("connecting {} users", members.len()));
    let (sockets, connect_lat) = connect_all(ctx, &members, &ctx.cursors, &ctx.sources).await?;
    crate::debug(format_args!("connected"));
    if let Some(p) = connect_lat.summary() {
        out.latencies.insert("connect→synced (setup)".into(), p);
    }

    let start_ns = now_ns() + 200_000_000;
    let window_from = start_ns + load.warmup.as_nanos() as u64;
    let window_to = window_from + load.duration.as_nanos() as u64;
    let shared = Arc::new(Shared {
        chat_index: chats.iter().enumerate().map(|(i, c)| (c.id.clone(), i)).collect(),
        tallies: chats.iter().map(|_| Tally::default()).collect(),
        permits: load.senders.iter().map(|_| Semaphore::new(load.window)).collect(),
        inflight: AtomicI64::new(0),
        applied: AtomicU64::new(0),
        window_from,
        window_to,
        acked_in_window: AtomicU64::new(0),
        delivered_in_window: AtomicU64::new(0),
        acked_in_window_by_side: Default::default(),
        delivered_in_window_by_side: Default::default(),
        stop_sending: AtomicBool::new(false),
        until_delivered: load.until_delivered,
    });
    for (i, c) in chats.iter().enumerate() {
        shared.tallies[i].max_seq.store(c.base_seq, Ordering::Relaxed);
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    // `LOADGEN_TRACE_USER=N`: every frame user N's connection gets, on stderr (diagnosis).
    let trace: Option<usize> = std::env::var("LOADGEN_TRACE_USER").ok().and_then(|v| v.parse().ok());
    let mut writers: HashMap<usize, mpsc::Sender<String>> = HashMap::new();
    let mut readers = Vec::new();
    for (conn, &user) in sockets.into_iter().zip(&members) {
        let (mut sink, mut stream) = conn.split();
        let (tx, mut rx) = mpsc::channel::<String>(load.window.max(1) * 4);
        writers.insert(user, tx);
        tokio::spawn(async move {
            while let Some(f) = rx.recv().await {
                if sink.send(f).await.is_err() {
                    return;
                }
            }
            sink.close().await;
        });
        let mut res = ConnResult { user, side: ctx.side_of(user), ..Default::default() };
        for (i, c) in chats.iter().enumerate() {
            if c.members.contains(&user) {
                res.lanes.insert(i, Lane { last: c.base_seq, ..Default::default() });
            }
        }
        let (shared, mut stop) = (shared.clone(), stop_rx.clone());
        readers.push(tokio::spawn(async move {
            loop {
                // Stop first: once stopped, the writer task closes the connection, which a
                // WebTransport read reports at once.
                let msg = tokio::select! {
                    biased;
                    _ = stop.changed() => break,
                    m = stream.recv() => m,
                };
                let text = match msg {
                    Ok(Some(t)) => t,
                    Ok(None) => {
                        res.problem(format!("user {}: connection closed", res.user));
                        break;
                    }
                    Err(e) => {
                        res.problem(format!("user {}: {e:#}", res.user));
                        break;
                    }
                };
                if trace == Some(res.user) {
                    eprintln!(
                        "loadgen: user {} got [{:.3}] {text}",
                        res.user,
                        crate::epoch().elapsed().as_secs_f64()
                    );
                }
                reader_frame(&shared, &mut res, &text);
            }
            res
        }));
    }

    // Senders.
    out.setup_secs = setup.elapsed().as_secs_f64();
    let usage = ctx.usage_begin();
    // Idempotency keys are per user: a key reused in a later run would be taken for a resend.
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let run_no = RUNS.fetch_add(1, Ordering::Relaxed);
    let interval = if load.rate > 0.0 { Some(load.senders.len() as f64 / load.rate) } else { None };
    let mut sender_tasks = Vec::new();
    for (s, &(user, chat)) in load.senders.iter().enumerate() {
        let tx = writers[&user].clone();
        let shared = shared.clone();
        let chat_id = chats[chat].id.clone();
        let text_len = load.text_len;
        let stagger = interval.map(|i| i * s as f64 / load.senders.len() as f64).unwrap_or(0.0);
        sender_tasks.push(tokio::spawn(async move {
            let epoch = crate::epoch();
            let mut next = start_ns + (stagger * 1e9) as u64;
            for n in 0u64.. {
                let intended = if let Some(i) = interval {
                    let at = next;
                    next += (i * 1e9) as u64;
                    tokio::time::sleep_until((epoch + Duration::from_nanos(at)).into()).await;
                    at
                } else {
                    if n == 0 {
                        tokio::time::sleep_until((epoch + Duration::from_nanos(start_ns)).into()).await;
                    }
                    0
                };
                if now_ns() >= shared.window_to || shared.stop_sending.load(Ordering::Relaxed) {
                    break;
                }
                // A full window waits for an ack, but never past the end of the measurement.
                let until = epoch + Duration::from_nanos(shared.window_to);
                match tokio::time::timeout_at(until.into(), shared.permits[s].acquire()).await {
                    Ok(Ok(p)) => p.forget(),
                    _ => break,
                }
                if now_ns() >= shared.window_to {
                    break;
                }
                let t = if intended > 0 { intended } else { now_ns() };
                let word = WORDS[(n as usize + s) % WORDS.len()];
                let text = compose(word, s, n, t, text_len);
                let frame = serde_json::json!({
                    "type": "send", "chat_id": chat_id, "client_id": format!("{s}.{n}.{run_no}"), "text": text,
                })
                .to_string();
                shared.inflight.fetch_add(1, Ordering::Relaxed);
                if tx.send(frame).await.is_err() {
                    shared.inflight.fetch_sub(1, Ordering::Relaxed);
                    break;
                }
            }
        }));
    }
    for t in sender_tasks {
        let _ = t.await;
    }
    let sending_done = Instant::now();
    crate::debug(format_args!("sending done"));
    // Every send acknowledged (or refused)...
    let deadline = Instant::now() + Duration::from_secs(60);
    while shared.inflight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let unacked = shared.inflight.load(Ordering::Relaxed);
    if unacked > 0 {
        out.fail(format!("{unacked} sends were neither acknowledged nor refused within 60 s"));
    }
    // ...and every acked entry applied at every member.
    let expected: u64 = chats
        .iter()
        .enumerate()
        .map(|(i, c)| shared.tallies[i].count.load(Ordering::Relaxed) * c.members.len() as u64)
        .sum();
    let deadline = Instant::now() + Duration::from_secs(60);
    while shared.applied.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out.figures.insert("drain after sending (s)".into(), sending_done.elapsed().as_secs_f64());
    let acked_total: u64 = shared.tallies.iter().map(|t| t.count.load(Ordering::Relaxed)).sum();
    ctx.usage_end(usage, out, Some(acked_total));
    crate::debug(format_args!("drained"));
    let _ = stop_tx.send(true);
    drop(writers);

    let mut ack = Lat::default();
    let mut deliver = Lat::default();
    let (mut acks, mut deliveries) = (0, 0);
    // Per side of the connection (federation): acks of senders there, deliveries to users there.
    let mut side_ack = [Lat::default(), Lat::default()];
    let mut side_deliver = [Lat::default(), Lat::default()];
    let mut side_acks = [0u64; 2];
    for r in readers {
        let r = r.await?;
        ack.add(&r.ack);
        deliver.add(&r.deliver);
        acks += r.acks;
        deliveries += r.deliveries;
        side_ack[r.side].add(&r.ack);
        side_deliver[r.side].add(&r.deliver);
        side_acks[r.side] += r.acks;
        for p in r.problems {
            out.fail(p);
        }
        out.errors += r.error_count;
        for e in r.errors {
            if out.error_samples.len() < 10 {
                out.error_samples.push(e);
            }
        }
        for (chat, lane) in &r.lanes {
            let t = &shared.tallies[*chat];
            let (count, hash, max) = (
                t.count.load(Ordering::Relaxed),
                t.hash.load(Ordering::Relaxed),
                t.max_seq.load(Ordering::Relaxed),
            );
            if lane.count != count || lane.hash != hash || lane.last != max {
                out.fail(format!(
                    "user {} in chat {chat}: holds {} entries up to seq {}, the senders had {count} acked up to {max}{}",
                    r.user,
                    lane.count,
                    lane.last,
                    if lane.count == count { " (different entries)" } else { "" }
                ));
            }
            ctx.cursors[r.user].insert(chats[*chat].id.clone(), lane.last);
        }
    }
    if out.errors > 0 {
        out.fail(format!("{} sends were refused", out.errors));
    }
    let secs = load.duration.as_secs_f64();
    out.measured_secs = secs;
    let in_window = shared.acked_in_window.load(Ordering::Relaxed);
    out.acked = Some(acks);
    out.deliveries = Some(deliveries);
    out.acked_per_sec = Some(in_window as f64 / secs);
    out.deliveries_per_sec = Some(shared.delivered_in_window.load(Ordering::Relaxed) as f64 / secs);
    out.send_ack = ack.summary();
    out.send_deliver = deliver.summary();
    if let Some(f) = &ctx.fed {
        // Side i sends to side 1 - i: its acks, and the deliveries on the other side.
        let names = [f.home_name.as_str(), f.peer_name.as_str()];
        out.directions = (0..2)
            .map(|i| Direction {
                name: format!("{} → {}", names[i], names[1 - i]),
                senders: load.senders.iter().filter(|(u, _)| ctx.side_of(*u) == i).count(),
                acked: side_acks[i],
                acked_per_sec: shared.acked_in_window_by_side[i].load(Ordering::Relaxed) as f64 / secs,
                deliveries_per_sec: shared.delivered_in_window_by_side[1 - i].load(Ordering::Relaxed) as f64
                    / secs,
                send_ack: side_ack[i].summary(),
                send_deliver: side_deliver[1 - i].summary(),
            })
            .collect();
    }
    ctx.stored_messages += acks;
    Ok(())
}

fn reader_frame(shared: &Shared, res: &mut ConnResult, text: &str) {
    let now = now_ns();
    match client::parse(text) {
        Frame::Ack { client_id, entry } => {
            let Some(&chat) = shared.chat_index.get(entry.chat_id.as_ref()) else {
                res.problem(format!("ack for an unknown chat: {text}"));
                return;
            };
            if !shared.until_delivered
                && let Some(s) = client_id.split('.').next().and_then(|s| s.parse::<usize>().ok())
                && let Some(p) = shared.permits.get(s)
            {
                p.add_permits(1);
            }
            shared.inflight.fetch_sub(1, Ordering::Relaxed);
            let t = &shared.tallies[chat];
            t.hash.fetch_add(fingerprint(entry.seq, &entry.id), Ordering::Relaxed);
            t.count.fetch_add(1, Ordering::Relaxed);
            t.max_seq.fetch_max(entry.seq, Ordering::Relaxed);
            res.acks += 1;
            if (shared.window_from..shared.window_to).contains(&now) {
                shared.acked_in_window.fetch_add(1, Ordering::Relaxed);
                shared.acked_in_window_by_side[res.side].fetch_add(1, Ordering::Relaxed);
            }
            if let Some(sent) = sent_at(entry.text.as_deref())
                && sent >= shared.window_from
            {
                res.ack.record_us(now.saturating_sub(sent) / 1000);
            }
            res.apply(shared, chat, entry.seq, &entry.id);
        }
        Frame::Message(entry) => {
            let Some(&chat) = shared.chat_index.get(entry.chat_id.as_ref()) else {
                res.problem(format!("user {} got a message of an unknown chat: {text}", res.user));
                return;
            };
            res.deliveries += 1;
            if shared.until_delivered
                && let Some(p) = sender_of(entry.text.as_deref()).and_then(|s| shared.permits.get(s))
            {
                p.add_permits(1);
            }
            if (shared.window_from..shared.window_to).contains(&now) {
                shared.delivered_in_window.fetch_add(1, Ordering::Relaxed);
                shared.delivered_in_window_by_side[res.side].fetch_add(1, Ordering::Relaxed);
            }
            if let Some(sent) = sent_at(entry.text.as_deref())
                && sent >= shared.window_from
            {
                res.deliver.record_us(now.saturating_sub(sent) / 1000);
            }
            res.apply(shared, chat, entry.seq, &entry.id);
        }
        Frame::Error { code, reference, message } => {
            res.error_count += 1;
            if res.errors.len() < 3 {
                res.errors.push(format!("{code}: {message}"));
            }
            if let Some(r) = reference {
                if let Some(s) = r.split('.').next().and_then(|s| s.parse::<usize>().ok())
                    && let Some(p) = shared.permits.get(s)
                {
                    p.add_permits(1);
                }
                shared.inflight.fetch_sub(1, Ordering::Relaxed);
            }
        }
        Frame::Malformed(e) => res.problem(format!("malformed frame: {e}")),
        Frame::Ready | Frame::SyncDone { .. } | Frame::Other => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_the_sender_wrote() {
        let text = compose("umbrella", 12, 7, 123_456, 100);
        assert_eq!(text.len(), 100);
        assert!(text.starts_with("umbrella u12x7 t123456 x"));
        assert_eq!(sender_of(Some(&text)), Some(12));
        assert_eq!(sent_at(Some(&text)), Some(123_456));
        // Longer than asked: not cut.
        assert_eq!(compose("temple", 3, 1, 9, 4), "temple u3x1 t9 ");
        assert_eq!(sender_of(Some("temple u3 t9")), None);
        assert_eq!(sent_at(Some("temple u3x1")), None);
        assert_eq!(sender_of(None), None);
    }
}
