//! The chat writers: every change to a chat's log or membership passes through the one writer
//! task that owns the chat, which makes ordering and authorization checks race-free (a removed
//! member cannot slip a message in after their removal) and groups many operations into one
//! commit.
//!
//! Loop: take one job, drain whatever else is queued (up to `storage.max_batch`), plan each
//! against a working copy of the chats it touches, commit the whole batch in one transaction
//! (one fsync), and only then answer the callers and fan out: nothing is acknowledged or
//! delivered before it is durable.
//!
//! Why several writers: executing a batch inside the database is CPU work on one thread (about
//! 0.2 ms per message, see `BENCHMARKS.md`), so one writer uses one core. Chats are split over
//! `shards()` writers by a hash of the chat ID; each chat still has exactly one writer, so its
//! order and membership checks are unchanged, and the writers' transactions touch disjoint
//! records. Concurrent commits share the engine's fsync.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot};

use parley_store::records::MemberRec;
use parley_store::{Batch, ChatUpdate};
use parley_types::api::ChatKind;
use parley_types::protocol::{Message, ServerFrame};
use parley_types::{ChatId, Seq, UserId, now_millis};

use crate::Inner;
use crate::chat_state::{ChatState, MemberInfo};
use crate::error::{CoreError, Result};
use crate::hub::{ConnId, Outbound, encode};

mod apply;
mod deferred;
mod plan;
mod recent;
pub(crate) use deferred::{Deferred, overlay, spawn_flusher};
pub(crate) use plan::idem_key;
use plan::plan;
use recent::Recent;

#[derive(Debug)]
pub(crate) enum Op {
    Send {
        chat: ChatId,
        sender: UserId,
        client_id: String,
        text: String,
        reply_to: Option<Seq>,
        media: Option<parley_types::protocol::Media>,
    },
    Edit {
        chat: ChatId,
        actor: UserId,
        target: Seq,
        text: String,
    },
    Delete {
        chat: ChatId,
        actor: UserId,
        target: Seq,
    },
    CreateDirect {
        a: UserId,
        b: UserId,
    },
    CreateGroup {
        creator: UserId,
        name: String,
        description: String,
        members: Vec<UserId>,
    },
    AddMember {
        chat: ChatId,
        actor: UserId,
        user: UserId,
    },
    RemoveMember {
        chat: ChatId,
        actor: UserId,
        user: UserId,
    },
    Leave {
        chat: ChatId,
        user: UserId,
    },
    SetRole {
        chat: ChatId,
        actor: UserId,
        user: UserId,
        admin: bool,
    },
    UpdateGroup {
        chat: ChatId,
        actor: UserId,
        name: Option<String>,
        description: Option<String>,
    },
    /// An entry of a chat homed on another appliance, sequenced there (replica side).
    Apply {
        entry: Box<crate::federation::ChatEntry>,
    },
}

impl Op {
    /// The chat an operation changes (`None` for creating one).
    pub(crate) fn chat(&self) -> Option<&ChatId> {
        match self {
            Op::Send { chat, .. }
            | Op::Edit { chat, .. }
            | Op::Delete { chat, .. }
            | Op::AddMember { chat, .. }
            | Op::RemoveMember { chat, .. }
            | Op::Leave { chat, .. }
            | Op::SetRole { chat, .. }
            | Op::UpdateGroup { chat, .. } => Some(chat),
            Op::Apply { entry } => Some(&entry.message.chat_id),
            Op::CreateDirect { .. } | Op::CreateGroup { .. } => None,
        }
    }
}

/// A remote member's operation as its home server received it: the message ID its server
/// chose and the signed event, relayed with the entry so other servers can check it.
#[derive(Debug)]
pub(crate) struct FedSource {
    pub message_id: parley_types::MessageId,
    pub source: Box<parley_federation::SignedEvent>,
}

#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    Entry(Box<Message>),
    Chat(ChatId),
}

pub(crate) struct Job {
    pub op: Op,
    /// The connection that sent it, which gets the ack in order with its other frames.
    pub origin: Option<ConnId>,
    pub reply: oneshot::Sender<Result<Outcome>>,
    /// When the core received it: the start of the send→ack and send→deliver latencies.
    pub received: std::time::Instant,
    /// Set when a remote member's server asked for this operation.
    pub fed: Option<FedSource>,
}

/// A chat as the writer is changing it within one batch.
struct Work {
    kind: ChatKind,
    last_seq: Seq,
    /// Active members.
    members: HashMap<UserId, MemberInfo>,
    /// All membership records, loaded only for membership changes.
    full: Option<HashMap<UserId, MemberRec>>,
    name: Option<String>,
    description: Option<String>,
    shared_seq: Arc<std::sync::atomic::AtomicU64>,
    stored_activity: Arc<std::sync::atomic::AtomicI64>,
    touched: bool,
    membership_changed: bool,
}

impl Work {
    fn from_state(state: &ChatState) -> Self {
        Work {
            kind: state.kind,
            last_seq: state.last_seq.load(Ordering::Acquire),
            members: state.members.clone(),
            full: None,
            name: None,
            description: None,
            shared_seq: state.last_seq.clone(),
            stored_activity: state.stored_activity.clone(),
            touched: false,
            membership_changed: false,
        }
    }
}

/// What to do after the commit for one planned job.
enum Planned {
    /// A new log entry; `index` into `Pending::entries`.
    Entry {
        index: usize,
    },
    /// Same as an entry already planned in this batch (an idempotent resend).
    Duplicate {
        index: usize,
    },
    /// Already durable before this batch (an idempotent resend of an old message).
    Existing(Box<Message>),
    Chat(ChatId),
    /// A replicated entry; `waiter` is the local send or command that waited for it.
    Applied {
        index: usize,
        waiter: Option<crate::federation::Waiter>,
    },
}

struct PendingEntry {
    message: Message,
    /// Everyone who should receive it (members after the change, plus anyone removed by it).
    recipients: Vec<UserId>,
    /// The remote operation that produced it, relayed to the other member servers.
    source: Option<Box<parley_federation::SignedEvent>>,
}

#[derive(Default)]
struct Pending {
    /// The timestamp of every entry and change in this batch.
    now: i64,
    batch: Batch,
    entries: Vec<PendingEntry>,
    /// Sends planned in this batch by (chat, key): a resend within the batch gets the same
    /// entry, and `Recent` remembers them all once the batch is committed.
    idem_in_batch: HashMap<(ChatId, u64), usize>,
    /// (chat, users whose chat list entry changed)
    chat_changes: Vec<(ChatId, Vec<UserId>)>,
    removed: Vec<(ChatId, UserId)>,
    /// (chat, sender, seq, at): senders have received and read their own entries.
    marks: Vec<(ChatId, UserId, Seq, i64)>,
    /// For the job being planned: the ID its remote server chose for the entry it produces.
    next_id: Option<parley_types::MessageId>,
    next_source: Option<Box<parley_federation::SignedEvent>>,
    /// Remote servers to wake after the commit (their outboxes grew).
    wake: HashSet<String>,
    /// Chats whose membership just reached (or came from) another appliance: their local
    /// members' presence is announced, and unknown remote members' profiles are fetched.
    federated_chats: Vec<ChatId>,
}

/// How many writer tasks: one per core (a batch executes on one thread), at most 4.
pub(crate) fn shards() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4)
}

/// The writer that owns an operation: by chat for changes to a chat; by the sorted pair for a
/// new 1:1 chat (so two requests for the same pair meet in one writer); by creator for a group.
pub(crate) fn shard_of(op: &Op, shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    // A fixed-key SipHash: the same chat maps to the same shard for the life of the process.
    let mut h = std::hash::DefaultHasher::new();
    match op {
        Op::CreateDirect { a, b } => (a.min(b).as_str(), a.max(b).as_str()).hash(&mut h),
        Op::CreateGroup { creator, .. } => creator.as_str().hash(&mut h),
        other => other.chat().map(|c| c.as_str()).hash(&mut h),
    }
    (h.finish() % shards as u64) as usize
}

pub(crate) fn spawn(inner: Arc<Inner>, mut rx: mpsc::Receiver<Job>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let max = inner.settings.storage.max_batch;
        let stop = inner.stop.clone();
        let mut recent = Recent::default();
        loop {
            // Biased: jobs already queued are committed before a shutdown takes effect.
            let first = tokio::select! {
                biased;
                job = rx.recv() => match job {
                    Some(j) => j,
                    None => break,
                },
                _ = stop.cancelled() => break,
            };
            let mut jobs = vec![first];
            while jobs.len() < max {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            run_batch(&inner, &mut recent, jobs).await;
        }
        tracing::debug!("chat writer stopped");
    })
}

/// `run_batch` behind a concrete boxed type, so it can call itself (the retry below) and still
/// be proven `Send`.
fn run_batch_boxed<'a>(
    inner: &'a Arc<Inner>,
    recent: &'a mut Recent,
    jobs: Vec<Job>,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(run_batch(inner, recent, jobs))
}

/// Plans, commits and answers one batch. If the commit fails and the batch held several jobs,
/// each is retried in a batch of its own, so one bad operation fails only itself.
async fn run_batch(inner: &Arc<Inner>, recent: &mut Recent, jobs: Vec<Job>) {
    let batch_start = std::time::Instant::now();
    let oldest = jobs.iter().map(|j| j.received).min().unwrap_or(batch_start);
    let mut works: HashMap<ChatId, Work> = HashMap::new();
    let mut pending = Pending { now: now_millis(), ..Default::default() };
    let mut planned: Vec<(Job, Planned)> = Vec::with_capacity(jobs.len());
    let now = pending.now;
    for job in jobs {
        pending.next_id = job.fed.as_ref().map(|f| f.message_id.clone());
        pending.next_source = job.fed.as_ref().map(|f| f.source.clone());
        let result = match &job.op {
            Op::Apply { entry } => apply::plan_apply(inner, entry, &mut works, &mut pending).await,
            op => plan(inner, op, recent, &mut works, &mut pending, now).await,
        };
        pending.next_id = None;
        pending.next_source = None;
        match result {
            Ok(p) => planned.push((job, p)),
            Err(e) => {
                let _ = job.reply.send(Err(e));
            }
        }
    }
    // Entries of chats homed here that have members on other appliances: queued for them in
    // this same transaction, so nothing committed can miss its remote members.
    apply::queue_entries(inner, &works, &mut pending).await;

    // Fold per-chat state into the batch: a head goes in only with a rename or when the one on
    // disk is stale; otherwise it is written behind the log (`deferred`).
    let mut heads_in_batch = HashSet::new();
    for (chat, w) in &works {
        let stale = now.saturating_sub(w.stored_activity.load(Ordering::Acquire)) > deferred::HEAD_STALE_MS;
        if w.touched && (stale || w.name.is_some() || w.description.is_some()) {
            heads_in_batch.insert(chat.clone());
            pending.batch.chat_updates.push(ChatUpdate {
                chat_id: chat.to_string(),
                last_seq: w.last_seq as i64,
                last_activity: now,
                name: w.name.clone(),
                description: w.description.clone(),
            });
        }
    }
    // Senders' own marks are written behind the log too; only the last per sender matters.
    let mut seen = HashSet::new();
    let marks: Vec<_> = std::mem::take(&mut pending.marks)
        .into_iter()
        .rev()
        .filter(|(c, u, _, _)| seen.insert((c.clone(), u.clone())))
        .collect();
    // The new-chat records carry their final last_seq.
    for c in &mut pending.batch.new_chats {
        if let Ok(id) = ChatId::parse(&c.chat_id)
            && let Some(w) = works.get(&id)
        {
            c.last_seq = w.last_seq as i64;
        }
    }

    let started = std::time::Instant::now();
    let committed = inner.store.commit_batch(&pending.batch).await;
    let took = started.elapsed();
    inner.metrics.db_commit.observe(took.as_secs_f64());
    let planned_ms = (started - batch_start).as_millis() as u64;
    if let Err(e) = committed {
        for chat in works.keys() {
            inner.chats.remove(chat);
        }
        tracing::error!(error = %e, "batch commit failed");
        if planned.len() > 1 {
            for (job, _) in planned {
                run_batch_boxed(inner, recent, vec![job]).await;
            }
            return;
        }
        for (job, _) in planned {
            let _ = job.reply.send(Err(CoreError::Internal("the message could not be stored".into())));
        }
        return;
    }

    // Durable: publish the new chat states, then answer and fan out in log order.
    let mut sends: Vec<_> = std::mem::take(&mut pending.idem_in_batch)
        .into_iter()
        .map(|((chat, key), i)| (chat, key, pending.entries[i].message.seq))
        .collect();
    sends.sort_unstable_by_key(|s| s.2);
    recent.committed(sends, now);
    for (chat, w) in works {
        if w.touched {
            if heads_in_batch.contains(&chat) {
                w.stored_activity.fetch_max(now, Ordering::AcqRel);
            } else {
                inner.deferred.head(&chat, w.last_seq, now);
            }
        }
        if w.touched || w.membership_changed {
            w.shared_seq.store(w.last_seq, Ordering::Release);
            inner.chats.insert(
                chat,
                Arc::new(ChatState {
                    kind: w.kind,
                    members: w.members,
                    last_seq: w.shared_seq,
                    stored_activity: w.stored_activity,
                }),
            );
        }
    }
    for (c, u, seq, at) in marks {
        inner.deferred.mark(&c, &u, seq, at);
    }
    inner.metrics.db_commit_entries.observe(pending.entries.len() as f64);
    let mut acks: HashMap<usize, (ConnId, String)> = HashMap::new();
    // Sends by entry: when each was received (system entries count from the batch start).
    let mut received: HashMap<usize, std::time::Instant> = HashMap::new();
    for (job, p) in &planned {
        if let (Planned::Entry { index }, Op::Send { client_id, .. }) = (p, &job.op) {
            received.insert(*index, job.received);
            if let Some(origin) = job.origin {
                acks.insert(*index, (origin, client_id.clone()));
            }
        }
        // A local send into a remote chat is acknowledged when its entry comes back.
        if let Planned::Applied { index, waiter: Some(w) } = p {
            received.insert(*index, w.received);
            if let Some((conn, client_id)) = &w.ack {
                acks.insert(*index, (*conn, client_id.clone()));
            }
        }
    }
    for (i, e) in pending.entries.iter().enumerate() {
        let frame = encode(&ServerFrame::Message { message: e.message.clone() });
        let origin = acks.get(&i).map(|(conn, client_id)| {
            (*conn, encode(&ServerFrame::Ack { client_id: client_id.clone(), message: e.message.clone() }))
        });
        let at = received.get(&i).copied().unwrap_or(started);
        inner.hub.send_entry(&e.recipients, &e.message.chat_id, e.message.seq, &frame, origin, at);
    }
    inner.metrics.messages_accepted.inc_by(received.len() as u64);
    inner.search.submit(crate::search::entry_ops(pending.entries.iter().map(|e| &e.message)));
    if pending.batch.patches.iter().any(|p| p.deleted) {
        // A deleted message may have released its media.
        inner.wake_media_gc();
    }
    let jobs = planned.len();
    for (job, p) in planned {
        if matches!(job.op, Op::Send { .. }) {
            inner.metrics.send_ack.observe(job.received.elapsed().as_secs_f64());
        }
        let outcome = match p {
            Planned::Entry { index } => Outcome::Entry(Box::new(pending.entries[index].message.clone())),
            Planned::Duplicate { index } => {
                let m = pending.entries[index].message.clone();
                ack_out_of_order(inner, &job, &m);
                Outcome::Entry(Box::new(m))
            }
            Planned::Existing(m) => {
                ack_out_of_order(inner, &job, &m);
                Outcome::Entry(m)
            }
            Planned::Chat(c) => Outcome::Chat(c),
            Planned::Applied { index, waiter } => {
                let m = pending.entries[index].message.clone();
                if let Some(w) = waiter {
                    w.resolve(Ok(Outcome::Entry(Box::new(m.clone()))));
                }
                Outcome::Entry(Box::new(m))
            }
        };
        let _ = job.reply.send(Ok(outcome));
    }
    for dest in pending.wake {
        crate::federation::wake(inner, &dest);
    }
    if !pending.federated_chats.is_empty() {
        crate::federation::chats_federated(inner, pending.federated_chats);
    }
    for (chat, users) in pending.chat_changes {
        inner.notify_chat_changed(chat, users);
    }
    for (chat, user) in pending.removed {
        let frame = encode(&ServerFrame::ChatRemoved { chat_id: chat });
        inner.hub.send_frame(&[user], &frame, None);
    }
    let total = oldest.elapsed();
    if total >= std::time::Duration::from_millis(40) {
        let waited = batch_start.saturating_duration_since(oldest);
        // Lines a stall up with the engine's own log (`RUST_LOG=surrealkv=debug`).
        tracing::debug!(
            total_ms = total.as_millis() as u64,
            queued_ms = waited.as_millis() as u64,
            plan_ms = planned_ms,
            commit_ms = took.as_millis() as u64,
            jobs,
            "slow batch"
        );
    }
}

/// Acks a resend on its connection without moving that connection's log position.
fn ack_out_of_order(inner: &Inner, job: &Job, m: &Message) {
    if let (Some(origin), Op::Send { sender, client_id, .. }) = (job.origin, &job.op) {
        let frame = encode(&ServerFrame::Ack { client_id: client_id.clone(), message: m.clone() });
        inner.hub.send_to_conn(sender, origin, Outbound::Frame(frame));
    }
}
