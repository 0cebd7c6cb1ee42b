//! Schemas, opening (and recovering) the two indexes, and the indexer thread.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::TermQuery;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

use crate::{COMMIT_EVERY, Cmd, MessageDoc, Op, Result, UserDoc};

/// The analyzer for message text and names: words, lower-cased, accents folded ("José" finds
/// "jose").
pub const ANALYZER: &str = "parley";
/// Memory for each index writer (Tantivy needs at least 15 MB per indexing thread).
const WRITER_BYTES: usize = 32 << 20;

/// How an index directory was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// An existing index; entries newer than `through_ms` may be missing.
    Existing { through_ms: i64 },
    /// A new, empty index (it was missing or unreadable): rebuild it from the database.
    Fresh,
}

pub struct MsgFields {
    pub id: Field,
    pub chat: Field,
    pub seq: Field,
    pub sender: Field,
    pub time: Field,
    pub text: Field,
}

pub struct UserFields {
    pub user_id: Field,
    pub username: Field,
    pub display_name: Field,
    pub contact: Field,
    pub active: Field,
}

pub struct Shared {
    pub messages: Index,
    pub m_reader: IndexReader,
    pub m: MsgFields,
    pub u_reader: IndexReader,
    pub u: UserFields,
    pub stopped: AtomicBool,
}

pub struct Writers {
    messages: IndexWriter,
    users: IndexWriter,
}

fn text_options(stored: bool) -> TextOptions {
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(ANALYZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let o = TextOptions::default().set_indexing_options(indexing);
    if stored { o.set_stored() } else { o }
}

fn message_schema() -> (Schema, MsgFields) {
    let mut b = Schema::builder();
    let f = MsgFields {
        id: b.add_text_field("id", STRING),
        chat: b.add_text_field("chat", STRING | STORED),
        seq: b.add_u64_field("seq", INDEXED | FAST | STORED),
        sender: b.add_text_field("sender", STRING | STORED),
        time: b.add_i64_field("time", INDEXED | FAST | STORED),
        text: b.add_text_field("text", text_options(true)),
    };
    (b.build(), f)
}

fn user_schema() -> (Schema, UserFields) {
    let mut b = Schema::builder();
    let f = UserFields {
        user_id: b.add_text_field("user_id", STRING | STORED),
        username: b.add_text_field("username", text_options(false)),
        display_name: b.add_text_field("display_name", text_options(false)),
        contact: b.add_text_field("contact", STRING),
        active: b.add_u64_field("active", INDEXED),
    };
    (b.build(), f)
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

fn open_one(dir: &Path, schema: Schema) -> Result<(Index, bool)> {
    std::fs::create_dir_all(dir)?;
    let mmap = MmapDirectory::open(dir).map_err(|e| std::io::Error::other(e.to_string()))?;
    let existed = Index::exists(&mmap).map_err(|e| std::io::Error::other(e.to_string()))?;
    let opened = if existed {
        Index::open_in_dir(dir).and_then(|i| {
            if i.schema() == schema {
                Ok(i)
            } else {
                Err(tantivy::TantivyError::SchemaError("schema changed".into()))
            }
        })
    } else {
        Index::create_in_dir(dir, schema.clone())
    };
    let (index, fresh) = match opened {
        Ok(i) => (i, !existed),
        Err(e) => {
            tracing::warn!(error = %e, dir = %dir.display(), "search index unreadable; recreating it");
            std::fs::remove_dir_all(dir)?;
            std::fs::create_dir_all(dir)?;
            (Index::create_in_dir(dir, schema)?, true)
        }
    };
    index.tokenizers().register(ANALYZER, analyzer());
    Ok((index, fresh))
}

pub fn open(dir: &Path) -> Result<(Shared, Writers, Opened)> {
    let (ms, m) = message_schema();
    let (us, u) = user_schema();
    let (messages, m_fresh) = open_one(&dir.join("messages"), ms)?;
    let (users, u_fresh) = open_one(&dir.join("users"), us)?;
    let m_reader = messages.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
    let u_reader = users.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
    let opened = if m_fresh || u_fresh {
        Opened::Fresh
    } else {
        let payload = messages.load_metas()?.payload.unwrap_or_default();
        let through_ms = payload.trim().parse().unwrap_or(0);
        Opened::Existing { through_ms }
    };
    let writers = Writers {
        messages: messages.writer_with_num_threads(1, WRITER_BYTES)?,
        users: users.writer_with_num_threads(1, WRITER_BYTES)?,
    };
    Ok((Shared { messages, m_reader, m, u_reader, u, stopped: AtomicBool::new(false) }, writers, opened))
}

pub fn message_key(chat: &str, seq: u64) -> String {
    format!("{chat}#{seq}")
}

/// The indexer thread: applies ops, commits every `COMMIT_EVERY` when something changed.
pub fn run(s: &Shared, mut w: Writers, rx: &mpsc::Receiver<Cmd>) {
    let mut pending: HashMap<String, MessageDoc> = HashMap::new();
    let mut caught_up = false;
    let mut dirty = false;
    let mut through = 0i64;
    let mut last_commit = Instant::now();
    loop {
        let wait = COMMIT_EVERY.saturating_sub(last_commit.elapsed());
        let cmd = match rx.recv_timeout(wait) {
            Ok(c) => Some(c),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => Some(Cmd::Stop),
        };
        let mut reply = None;
        let mut stop = false;
        match cmd {
            Some(Cmd::Ops(ops)) => {
                for op in ops {
                    through = through.max(apply(s, &mut w, &mut pending, op, caught_up));
                }
                dirty = true;
            }
            Some(Cmd::CaughtUp) => caught_up = true,
            Some(Cmd::Flush(r)) => reply = Some(r),
            Some(Cmd::Stop) => stop = true,
            None => {}
        }
        let due = last_commit.elapsed() >= COMMIT_EVERY;
        if (dirty && (due || stop)) || reply.is_some() {
            let result = commit(s, &mut w, through);
            if let Err(e) = &result {
                tracing::error!(error = %e, "search index commit failed");
            }
            pending.clear();
            dirty = false;
            last_commit = Instant::now();
            if let Some(r) = reply {
                let _ = r.send(result);
            }
        } else if due {
            last_commit = Instant::now();
        }
        if stop {
            s.stopped.store(true, Ordering::Relaxed);
            return;
        }
    }
}

fn commit(s: &Shared, w: &mut Writers, through: i64) -> Result<()> {
    w.users.commit()?;
    let mut prepared = w.messages.prepare_commit()?;
    prepared.set_payload(&through.to_string());
    prepared.commit()?;
    s.m_reader.reload()?;
    s.u_reader.reload()?;
    Ok(())
}

/// Applies one op; returns the entry time it covers.
fn apply(
    s: &Shared,
    w: &mut Writers,
    pending: &mut HashMap<String, MessageDoc>,
    op: Op,
    caught_up: bool,
) -> i64 {
    match op {
        Op::Message(d) => {
            let t = d.time;
            put_message(s, w, pending, d, true);
            t
        }
        Op::Appended(d) => {
            let t = d.time;
            // Catch-up may have read it too just before it ended; then it is still pending.
            let fresh = caught_up && !pending.contains_key(&message_key(&d.chat_id, d.seq));
            put_message(s, w, pending, d, !fresh);
            t
        }
        Op::Edit { chat_id, seq, text, at } => {
            let key = message_key(&chat_id, seq);
            if let Some(mut d) = pending.get(&key).cloned().or_else(|| stored_message(s, &key)) {
                d.text = text;
                put_message(s, w, pending, d, true);
            }
            at
        }
        Op::Delete { chat_id, seq, at } => {
            let key = message_key(&chat_id, seq);
            w.messages.delete_term(Term::from_field_text(s.m.id, &key));
            pending.remove(&key);
            at
        }
        Op::User(u) => {
            put_user(s, w, u);
            0
        }
    }
}

/// Indexes `d`, first deleting any older copy when `replace`.
fn put_message(
    s: &Shared,
    w: &mut Writers,
    pending: &mut HashMap<String, MessageDoc>,
    d: MessageDoc,
    replace: bool,
) {
    let key = message_key(&d.chat_id, d.seq);
    if replace {
        w.messages.delete_term(Term::from_field_text(s.m.id, &key));
    }
    let f = &s.m;
    let added = w.messages.add_document(doc!(
        f.id => key.as_str(),
        f.chat => d.chat_id.as_str(),
        f.seq => d.seq,
        f.sender => d.sender.as_str(),
        f.time => d.time,
        f.text => d.text.as_str(),
    ));
    if let Err(e) = added {
        tracing::error!(error = %e, "indexing a message failed");
    }
    pending.insert(key, d);
}

fn put_user(s: &Shared, w: &mut Writers, u: UserDoc) {
    let f = &s.u;
    w.users.delete_term(Term::from_field_text(f.user_id, &u.user_id));
    let mut d = doc!(
        f.user_id => u.user_id.as_str(),
        f.username => u.username.as_str(),
        f.display_name => u.display_name.as_str(),
        f.active => u64::from(u.active),
    );
    for c in [&u.email, &u.phone].into_iter().flatten() {
        d.add_text(f.contact, c.to_lowercase());
    }
    if let Err(e) = w.users.add_document(d) {
        tracing::error!(error = %e, "indexing a user failed");
    }
}

/// A committed message by key, for edits of messages indexed in an earlier commit.
fn stored_message(s: &Shared, key: &str) -> Option<MessageDoc> {
    let searcher = s.m_reader.searcher();
    let q = TermQuery::new(Term::from_field_text(s.m.id, key), IndexRecordOption::Basic);
    let (_, addr) = searcher.search(&q, &TopDocs::with_limit(1).order_by_score()).ok()?.into_iter().next()?;
    let d: TantivyDocument = searcher.doc(addr).ok()?;
    message_from(&s.m, &d)
}

pub fn message_from(f: &MsgFields, d: &TantivyDocument) -> Option<MessageDoc> {
    Some(MessageDoc {
        chat_id: d.get_first(f.chat)?.as_str()?.to_owned(),
        seq: d.get_first(f.seq)?.as_u64()?,
        sender: d.get_first(f.sender)?.as_str()?.to_owned(),
        time: d.get_first(f.time)?.as_i64()?,
        text: d.get_first(f.text)?.as_str()?.to_owned(),
    })
}
