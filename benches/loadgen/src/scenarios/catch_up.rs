//! Catching up: the reconnect storm and history paging, over chats filled through REST.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::Semaphore;

use super::*;
use crate::Ctx;
use crate::chat::{self, WORDS, fingerprint};
use crate::client::{self, Chat, Frame};
use crate::report::{Lat, Outcome};

/// Sends `per_chat` texts into each chat over REST (alternating members); returns per chat the
/// (seq, id) of every stored message.
async fn rest_fill(ctx: &Ctx, chats: &[Chat], per_chat: usize) -> anyhow::Result<Vec<Vec<(u64, String)>>> {
    static FILLS: AtomicU64 = AtomicU64::new(0);
    let fill = FILLS.fetch_add(1, Ordering::Relaxed);
    let sem = Arc::new(Semaphore::new(64));
    let mut tasks = Vec::new();
    for (ci, c) in chats.iter().enumerate() {
        // One task per chat and sender keeps each sender's messages in order.
        for (k, &m) in c.members.iter().enumerate() {
            let (api, sem, user, chat) = (ctx.api.clone(), sem.clone(), ctx.users[m].clone(), c.id.clone());
            let count = per_chat / c.members.len() + usize::from(k < per_chat % c.members.len());
            let run_id = ctx.run_id.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::with_capacity(count);
                for n in 0..count {
                    let _p = sem.acquire().await?;
                    let word = WORDS[(n + k) % WORDS.len()];
                    let text = format!("{word} history r{run_id} c{ci}m{k}n{n}");
                    got.push(api.send(&user, &chat, &format!("h{fill}.{ci}.{k}.{n}"), &text).await?);
                }
                anyhow::Ok((ci, got))
            }));
        }
    }
    let mut out = vec![Vec::new(); chats.len()];
    for t in tasks {
        let (ci, got) = t.await??;
        out[ci].extend(got);
    }
    for v in &mut out {
        v.sort_unstable();
    }
    Ok(out)
}

/// Reconnect storm: every user drops its connection, messages arrive meanwhile (over REST), then
/// everyone reconnects and syncs at once; each must get exactly what it missed.
pub(super) async fn storm(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let n = ctx.users.len();
    let per_chat = if ctx.args.quick { 4 } else { 10 };
    let mut out = Outcome::new(
        "storm",
        "Reconnect storm: all users are in 1:1 chats and connected; they disconnect, `missed` messages per \
         chat are sent over REST, then every user reconnects at the same moment (auth + sync with its \
         cursors). Each must receive exactly the messages it missed, in order.",
    );
    let setup = Instant::now();
    let half = n / 2;
    let pairs: Vec<(usize, usize)> = (0..half).map(|i| (i, i + half)).collect();
    let chats = directs(ctx, &pairs).await?;
    for c in &chats {
        for &m in &c.members {
            ctx.cursors[m].insert(c.id.clone(), c.base_seq);
        }
    }
    let everyone: Vec<usize> = (0..n).collect();
    let (sockets, _) = chat::connect_all(ctx, &everyone, &ctx.cursors, &ctx.sources).await?;
    for conn in sockets {
        conn.close().await;
    }
    let t = Instant::now();
    let stored = rest_fill(ctx, &chats, per_chat).await?;
    let sent: usize = stored.iter().map(Vec::len).sum();
    out.figures
        .insert("REST sends while disconnected (msg/s)".into(), sent as f64 / t.elapsed().as_secs_f64());
    ctx.stored_messages += sent as u64;
    out.param("users", n);
    out.param("missed_per_chat", per_chat);
    out.setup_secs = setup.elapsed().as_secs_f64();

    // The storm: every reconnect starts at once.
    let mut chat_of: HashMap<String, usize> = HashMap::new();
    for (i, c) in chats.iter().enumerate() {
        chat_of.insert(c.id.clone(), i);
    }
    let chat_of = Arc::new(chat_of);
    let usage = ctx.usage_begin();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for u in 0..n {
        let (dialer, source) = (ctx.dialer.clone(), ctx.sources.next());
        let token = ctx.users[u].token.clone();
        let frame = client::sync_frame(&ctx.cursors[u]);
        let chat_of = chat_of.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let mut conn = dialer.connect(source, &token).await?;
            let connected = t.elapsed();
            conn.send(frame).await?;
            let mut got: Vec<(usize, u64, u64)> = Vec::new();
            loop {
                let text = conn.next_text(Duration::from_secs(60)).await?.context("closed during sync")?;
                match client::parse(&text) {
                    Frame::Message(e) => {
                        let chat = *chat_of.get(e.chat_id.as_ref()).context("a message of another chat")?;
                        got.push((chat, e.seq, fingerprint(e.seq, &e.id)));
                    }
                    Frame::SyncDone { .. } => break,
                    Frame::Malformed(e) => bail!("malformed frame: {e}"),
                    _ => {}
                }
            }
            let done = t.elapsed();
            conn.close().await;
            anyhow::Ok((u, connected, done, got))
        }));
    }
    let mut connect_lat = Lat::default();
    let mut synced_lat = Lat::default();
    let mut replayed = 0u64;
    let mut results = Vec::new();
    for t in tasks {
        match t.await? {
            Ok(r) => results.push(r),
            Err(e) => out.fail(format!("a reconnect failed: {e:#}")),
        }
    }
    let storm_secs = start.elapsed().as_secs_f64();
    ctx.usage_end(usage, &mut out, None);
    for (u, connected, done, got) in results {
        connect_lat.record(connected);
        synced_lat.record(done);
        replayed += got.len() as u64;
        // What the user should have got: every stored message of its chats after its cursor.
        let mut want: BTreeMap<usize, Vec<(u64, u64)>> = BTreeMap::new();
        for (ci, c) in chats.iter().enumerate() {
            if c.members.contains(&u) {
                want.insert(ci, stored[ci].iter().map(|(s, id)| (*s, fingerprint(*s, id))).collect());
            }
        }
        let mut have: BTreeMap<usize, Vec<(u64, u64)>> = BTreeMap::new();
        for (ci, seq, fp) in got {
            have.entry(ci).or_default().push((seq, fp));
        }
        for (ci, w) in &want {
            let h = have.remove(ci).unwrap_or_default();
            if &h != w {
                out.fail(format!(
                    "user {u} chat {ci}: sync gave seqs {:?}, expected {:?}",
                    h.iter().map(|x| x.0).collect::<Vec<_>>(),
                    w.iter().map(|x| x.0).collect::<Vec<_>>()
                ));
            }
            if let Some(last) = w.last() {
                ctx.cursors[u].insert(chats[*ci].id.clone(), last.0);
            }
        }
        if !have.is_empty() {
            out.fail(format!("user {u} got messages of chats it should not have replayed"));
        }
    }
    out.measured_secs = storm_secs;
    out.figures.insert("reconnecting users".into(), n as f64);
    out.figures.insert("storm: all synced after (s)".into(), storm_secs);
    out.figures.insert("messages replayed".into(), replayed as f64);
    out.figures.insert("messages replayed/s".into(), replayed as f64 / storm_secs);
    if let Some(p) = connect_lat.summary() {
        out.latencies.insert("connect→ready".into(), p);
    }
    if let Some(p) = synced_lat.summary() {
        out.latencies.insert("connect→sync_done".into(), p);
    }
    Ok(out)
}

/// History paging: readers page through whole chats, newest first, 50 entries a page.
pub(super) async fn history(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let n = ctx.users.len();
    let (chats_n, per_chat) = if ctx.args.quick { (4, 300) } else { (10, 2000) };
    let mut out = Outcome::new(
        "history",
        "History paging: 1:1 chats filled over REST, then readers page through each whole chat \
         (`GET /api/chats/{id}/messages?before=&limit=50`), checking every page follows the last.",
    );
    let setup = Instant::now();
    let pairs: Vec<(usize, usize)> = (0..chats_n.min(n / 2)).map(|i| (i, n - 1 - i)).collect();
    let chats = directs(ctx, &pairs).await?;
    let t = Instant::now();
    let stored = rest_fill(ctx, &chats, per_chat).await?;
    let sent: usize = stored.iter().map(Vec::len).sum();
    ctx.stored_messages += sent as u64;
    out.figures.insert("REST sends while filling (msg/s)".into(), sent as f64 / t.elapsed().as_secs_f64());
    // The highest seq of each chat (the log may hold entries from earlier scenarios too).
    let last: Vec<u64> = stored.iter().map(|v| v.last().map(|x| x.0).unwrap_or(0)).collect();
    // The simulated devices are taken to hold these chats already (later syncs replay nothing).
    for (c, &top) in chats.iter().zip(&last) {
        for &m in &c.members {
            ctx.cursors[m].insert(c.id.clone(), top);
        }
    }
    out.setup_secs = setup.elapsed().as_secs_f64();
    let readers = 16;
    out.param("chats", chats.len());
    out.param("messages_per_chat", per_chat);
    out.param("readers", readers);
    out.param("page", 50);

    let deadline = Instant::now() + ctx.args.duration();
    let usage = ctx.usage_begin();
    let start = Instant::now();
    let pages = Arc::new(AtomicU64::new(0));
    let entries = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for r in 0..readers {
        let ci = r % chats.len();
        let (api, chat, top) = (ctx.api.clone(), chats[ci].id.clone(), last[ci]);
        let token = ctx.users[chats[ci].members[r % 2]].token.clone();
        let (pages, entries) = (pages.clone(), entries.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Lat::default();
            let mut problems = Vec::new();
            'outer: while Instant::now() < deadline {
                let mut before: Option<u64> = None;
                let mut expect = top;
                loop {
                    let path = match before {
                        Some(b) => format!("/api/chats/{chat}/messages?limit=50&before={b}"),
                        None => format!("/api/chats/{chat}/messages?limit=50&before={}", top + 1),
                    };
                    let t = Instant::now();
                    let page = api.get(&path, &token).await?;
                    lat.record(t.elapsed());
                    pages.fetch_add(1, Ordering::Relaxed);
                    let msgs = page["messages"].as_array().context("messages")?;
                    for m in msgs {
                        let seq = m["seq"].as_u64().unwrap_or(0);
                        if seq != expect {
                            problems.push(format!("chat {ci}: page gave seq {seq}, expected {expect}"));
                            break 'outer;
                        }
                        expect -= 1;
                    }
                    entries.fetch_add(msgs.len() as u64, Ordering::Relaxed);
                    match page["next_before"].as_u64() {
                        Some(b) => before = Some(b),
                        None => break,
                    }
                    if Instant::now() >= deadline {
                        break 'outer;
                    }
                }
                if expect != 0 {
                    problems.push(format!(
                        "chat {ci}: paging stopped at seq {}, not at the first entry",
                        expect + 1
                    ));
                    break;
                }
            }
            anyhow::Ok((lat, problems))
        }));
    }
    let mut lat = Lat::default();
    for t in tasks {
        let (l, problems) = t.await??;
        lat.add(&l);
        for p in problems {
            out.fail(p);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    ctx.usage_end(usage, &mut out, None);
    out.measured_secs = secs;
    out.figures.insert("pages/s".into(), pages.load(Ordering::Relaxed) as f64 / secs);
    out.figures.insert("entries read/s".into(), entries.load(Ordering::Relaxed) as f64 / secs);
    if let Some(p) = lat.summary() {
        out.latencies.insert("history page".into(), p);
    }
    Ok(out)
}
