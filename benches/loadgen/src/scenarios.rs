//! The scenarios: each sets up its chats, measures, checks, and returns an [`Outcome`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::SinkExt;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::chat::{self, Load, WORDS, fingerprint};
use crate::client::{self, Chat, Frame};
use crate::report::{Lat, Outcome};
use crate::{Ctx, wait_ready};

pub async fn run(ctx: &mut Ctx, name: &str) -> anyhow::Result<Outcome> {
    match name {
        "pairs" => pairs(ctx).await,
        "group10" => group(ctx, name, 10, 1, 4).await,
        "group100" => group(ctx, name, 100, 2, 4).await,
        "group1000" => group(ctx, name, 1000, 4, 2).await,
        "storm" => storm(ctx).await,
        "history" => history(ctx).await,
        "search" => search(ctx).await,
        "idle" => idle(ctx).await,
        "restart" => restart(ctx).await,
        _ => bail!("unknown scenario {name} (known: {})", crate::STANDARD),
    }
}

/// Creates (or finds) the 1:1 chats of these pairs, many at a time.
async fn directs(ctx: &Ctx, pairs: &[(usize, usize)]) -> anyhow::Result<Vec<Chat>> {
    let sem = Arc::new(Semaphore::new(32));
    let tasks: Vec<_> = pairs
        .iter()
        .map(|&(a, b)| {
            let (api, sem) = (ctx.api.clone(), sem.clone());
            let (ua, ub) = (ctx.users[a].clone(), ctx.users[b].clone());
            tokio::spawn(async move {
                let _p = sem.acquire_owned().await?;
                let (id, base_seq) = api.direct(&ua, &ub).await?;
                anyhow::Ok(Chat { id, members: vec![a, b], base_seq })
            })
        })
        .collect();
    let mut chats = Vec::with_capacity(tasks.len());
    for t in tasks {
        chats.push(t.await??);
    }
    Ok(chats)
}

fn load(ctx: &Ctx, senders: Vec<(usize, usize)>, window: usize, rate: f64) -> Load {
    Load {
        senders,
        window,
        rate,
        warmup: ctx.args.warmup(),
        duration: ctx.args.duration(),
        text_len: ctx.args.text_len,
        bystanders: Vec::new(),
    }
}

/// 1:1 chat: `--pairs` pairs chat (both sides send) while every other user is connected.
async fn pairs(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let n = ctx.users.len();
    let p = ctx.args.pairs.min(n / 2);
    let mut out = Outcome::new(
        "pairs",
        "1:1 chat: both users of each pair send, each keeping `window` messages unacknowledged; every \
         registered user is connected and synced.",
    );
    let t = Instant::now();
    let pairs: Vec<(usize, usize)> = (0..p).map(|i| (2 * i, 2 * i + 1)).collect();
    let chats = directs(ctx, &pairs).await?;
    let senders: Vec<(usize, usize)> = (0..p).flat_map(|i| [(2 * i, i), (2 * i + 1, i)]).collect();
    let mut l = load(ctx, senders, ctx.args.window, ctx.args.rate);
    l.bystanders = (2 * p..n).collect();
    out.param("pairs", p);
    out.param("connected", n);
    out.param("window", l.window);
    out.param(
        "rate",
        if l.rate > 0.0 { serde_json::json!(l.rate) } else { serde_json::json!("closed loop") },
    );
    out.param("text_len", l.text_len);
    let chat_setup = t.elapsed().as_secs_f64();
    chat::run(ctx, &chats, &l, &mut out).await?;
    out.setup_secs += chat_setup;
    Ok(out)
}

/// Group fan-out: groups of `size` members (as many as the users allow), `senders` senders each.
async fn group(
    ctx: &mut Ctx,
    name: &str,
    size: usize,
    senders: usize,
    window: usize,
) -> anyhow::Result<Outcome> {
    let n = ctx.users.len();
    let size = size.min(n);
    let groups = (n / size).max(1);
    let mut out = Outcome::new(
        name,
        "Group fan-out: every registered user is in one group and connected; a few members of each group \
         send, each keeping `window` messages unacknowledged; every other member receives each message.",
    );
    out.param("groups", groups);
    out.param("members", size);
    out.param("senders_per_group", senders);
    out.param("window", window);
    out.param("text_len", ctx.args.text_len);
    let t = Instant::now();
    let sem = Arc::new(Semaphore::new(8));
    let mut tasks = Vec::new();
    for g in 0..groups {
        let members: Vec<usize> = (g * size..(g + 1) * size).collect();
        let ids: Vec<String> = members[1..].iter().map(|&m| ctx.users[m].id.clone()).collect();
        let (api, sem, admin) = (ctx.api.clone(), sem.clone(), ctx.users[members[0]].clone());
        let gname = format!("{name} {g}");
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await?;
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let (id, base_seq) = api.group(&admin, &gname, &refs).await?;
            anyhow::Ok(Chat { id, members, base_seq })
        }));
    }
    let mut chats = Vec::new();
    for t in tasks {
        chats.push(t.await??);
    }
    let senders: Vec<(usize, usize)> =
        (0..groups).flat_map(|g| (0..senders.min(size)).map(move |s| (g * size + s, g))).collect();
    let mut l = load(ctx, senders, window, 0.0);
    l.bystanders = (groups * size..n).collect();
    let chat_setup = t.elapsed().as_secs_f64();
    chat::run(ctx, &chats, &l, &mut out).await?;
    out.setup_secs += chat_setup;
    Ok(out)
}

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
async fn storm(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
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
    for mut ws in sockets {
        let _ = ws.close(None).await;
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
        let (addr, source) = (ctx.api.addr, ctx.sources.next());
        let token = ctx.users[u].token.clone();
        let frame = client::sync_frame(&ctx.cursors[u]);
        let chat_of = chat_of.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let mut ws = client::connect(addr, source, &token).await?;
            let connected = t.elapsed();
            ws.send(WsMessage::Text(frame.into())).await?;
            let mut got: Vec<(usize, u64, u64)> = Vec::new();
            loop {
                let text = client::next_text(&mut ws, Duration::from_secs(60))
                    .await?
                    .context("closed during sync")?;
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
            let _ = ws.close(None).await;
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
async fn history(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
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

/// Search under load: pairs chat at a fixed rate while searchers query message text.
async fn search(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let n = ctx.users.len();
    let p = ctx.args.pairs.min(n / 2);
    let rate = if ctx.args.quick { 200.0 } else { 2000.0 };
    let searchers = 8;
    let search_rate = if ctx.args.quick { 20.0 } else { 100.0 };
    let mut out = Outcome::new(
        "search",
        "Search under load: pairs chat at a fixed total rate while searchers run \
         `GET /api/search/messages?q=<word>&limit=20` at a fixed total rate (a query that comes late \
         counts its lateness in its latency).",
    );
    let t = Instant::now();
    // Other pairs than `pairs`, so these chats are new.
    let pairs: Vec<(usize, usize)> = (0..p).map(|i| (2 * i + 1, (2 * i + 2) % n)).collect();
    let chats = directs(ctx, &pairs).await?;
    let senders: Vec<(usize, usize)> = (0..p).flat_map(|i| [(pairs[i].0, i), (pairs[i].1, i)]).collect();
    let l = load(ctx, senders, 8, rate);
    out.param("pairs", p);
    out.param("chat_rate", rate);
    out.param("searchers", searchers);
    out.param("search_rate", search_rate);
    let chat_setup = t.elapsed().as_secs_f64();

    let start_at = Instant::now() + Duration::from_millis(500) + l.warmup;
    let end_at = start_at + l.duration;
    let queries = Arc::new(AtomicU64::new(0));
    let empty = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for s in 0..searchers {
        let (api, token) = (ctx.api.clone(), ctx.users[pairs[s % p.max(1)].0].token.clone());
        let (queries, empty) = (queries.clone(), empty.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start_at.into()).await;
            let mut lat = Lat::default();
            let mut errors = Vec::new();
            let mut i = s;
            let every = Duration::from_secs_f64(searchers as f64 / search_rate);
            let mut next = Instant::now() + every.mul_f64(s as f64 / searchers as f64);
            while next < end_at {
                tokio::time::sleep_until(next.into()).await;
                let t = next;
                next += every;
                let word = WORDS[i % WORDS.len()];
                i += 7;
                match api.get(&format!("/api/search/messages?q={word}&limit=20"), &token).await {
                    Ok(v) => {
                        lat.record(t.elapsed());
                        queries.fetch_add(1, Ordering::Relaxed);
                        if v["hits"].as_array().is_none_or(|h| h.is_empty()) {
                            empty.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) => errors.push(format!("{e:#}")),
                }
            }
            (lat, errors)
        }));
    }
    chat::run(ctx, &chats, &l, &mut out).await?;
    out.setup_secs += chat_setup;
    let mut lat = Lat::default();
    for t in tasks {
        let (l, errors) = t.await?;
        lat.add(&l);
        for e in errors {
            out.error(e);
        }
    }
    if out.errors > 0 {
        out.fail(format!("{} searches failed", out.errors));
    }
    out.figures
        .insert("searches/s".into(), queries.load(Ordering::Relaxed) as f64 / l.duration.as_secs_f64());
    out.figures.insert("searches with no hit".into(), empty.load(Ordering::Relaxed) as f64);
    if let Some(p) = lat.summary() {
        out.latencies.insert("search query".into(), p);
    }
    Ok(out)
}

/// Idle connections: how much server memory each authenticated, synced WebSocket holds.
async fn idle(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let mut want = ctx.args.idle();
    let mut out = Outcome::new(
        "idle",
        "Idle connections: many authenticated, synced WebSockets (several per user, spread over \
         127.0.0.x source addresses) held open on a freshly restarted server; server memory per \
         connection is the RSS growth divided by the number of connections.",
    );
    // Each connection is a file descriptor here and in the server.
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))?
                .split_whitespace()
                .nth(3)?
                .parse::<usize>()
                .ok()
        })
        .unwrap_or(1024);
    if want + 500 > limit {
        let capped = limit.saturating_sub(500);
        out.figures.insert("connections wanted (capped by the open files limit)".into(), want as f64);
        want = capped;
    }
    out.param("connections", want);
    out.param("sources", ctx.args.sources);
    let setup = Instant::now();
    // Memory freed by earlier scenarios is reused by the allocator without growing RSS, so
    // measure on a freshly started server when we own it (same data dir, same users).
    if let Some(server) = ctx.server.as_mut() {
        server.stop()?;
        server.restart()?;
        let addr = server.addr;
        ctx.retarget(addr);
        wait_ready(&ctx.api, Duration::from_secs(120)).await?;
        out.param("fresh_server", true);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let usage = ctx.usage_begin();
    let rss0 = ctx.pid.and_then(crate::procfs::rss);
    let start = Instant::now();
    let sem = Arc::new(Semaphore::new(128));
    let mut tasks = Vec::with_capacity(want);
    for i in 0..want {
        let u = i % ctx.users.len();
        let (addr, source, sem) = (ctx.api.addr, ctx.sources.next(), sem.clone());
        let token = ctx.users[u].token.clone();
        let frame = client::sync_frame(&ctx.cursors[u]);
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await?;
            let t = Instant::now();
            let mut ws = client::connect(addr, source, &token).await?;
            ws.send(WsMessage::Text(frame.into())).await?;
            loop {
                let text = client::next_text(&mut ws, Duration::from_secs(60))
                    .await?
                    .context("closed during sync")?;
                match client::parse(&text) {
                    Frame::SyncDone { messages: 0 } => break,
                    Frame::SyncDone { messages } => {
                        bail!("sync replayed {messages} messages; the cursors say none")
                    }
                    _ => {}
                }
            }
            anyhow::Ok((ws, t.elapsed()))
        }));
    }
    let mut sockets = Vec::with_capacity(want);
    let mut lat = Lat::default();
    for t in tasks {
        match t.await? {
            Ok((ws, d)) => {
                lat.record(d);
                sockets.push(ws);
            }
            Err(e) => out.error(format!("{e:#}")),
        }
    }
    let connect_secs = start.elapsed().as_secs_f64();
    out.setup_secs = setup.elapsed().as_secs_f64() - connect_secs;
    // Let allocations settle, then read memory while every socket is open.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss1 = ctx.pid.and_then(crate::procfs::rss);
    // Still alive: a ping on a sample of the connections gets its pong.
    let mut alive = 0;
    let step = (sockets.len() / 50).max(1);
    for ws in sockets.iter_mut().step_by(step) {
        ws.send(WsMessage::Text(r#"{"type":"ping","nonce":1}"#.into())).await?;
        loop {
            let text = client::next_text(ws, Duration::from_secs(30)).await?.context("closed while idle")?;
            if text.contains(r#""type":"pong""#) {
                alive += 1;
                break;
            }
        }
    }
    ctx.usage_end(usage, &mut out, None);
    out.measured_secs = start.elapsed().as_secs_f64();
    out.figures.insert("connections".into(), sockets.len() as f64);
    out.figures.insert("connections/s while opening".into(), sockets.len() as f64 / connect_secs);
    out.figures.insert("sampled connections answering ping".into(), alive as f64);
    if let (Some(a), Some(b)) = (rss0, rss1)
        && !sockets.is_empty()
    {
        out.figures.insert("server RSS growth (MiB)".into(), (b as f64 - a as f64) / crate::MIB);
        out.figures
            .insert("server bytes per connection".into(), (b as f64 - a as f64) / sockets.len() as f64);
    }
    if let Some(p) = lat.summary() {
        out.latencies.insert("connect→sync_done".into(), p);
    }
    if out.errors > 0 {
        out.fail(format!("{} connections failed", out.errors));
    }
    let close = sockets.into_iter().map(|mut ws| tokio::spawn(async move { ws.close(None).await }));
    for c in close.collect::<Vec<_>>() {
        let _ = c.await;
    }
    Ok(out)
}

/// Restart: fill the store to `--restart-messages`, then time a clean restart and a restart
/// after `kill -9` in the middle of a chat load; every message acked before the kill must be
/// there afterwards. Needs `--spawn`.
async fn restart(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let mut out = Outcome::new(
        "restart",
        "Restart: chatting pairs fill the store, then the appliance is stopped (SIGTERM) and started; then \
         killed with SIGKILL in the middle of a chat load and started again. Ready = `/health/ready` \
         answers 200. After the kill, every message acknowledged before it must be in the history.",
    );
    if ctx.server.is_none() {
        bail!("restart needs --spawn (the load generator must own the server process)");
    }
    let target = ctx.args.restart_messages();
    out.param("target_stored_messages", target);
    let setup = Instant::now();
    let n = ctx.users.len();
    let p = ctx.args.pairs.min(n / 2);
    // Fill with chatting pairs (unmeasured), a chunk at a time, until enough messages are stored.
    let pairs: Vec<(usize, usize)> = (0..p).map(|i| (i, i + n / 2)).collect();
    let chats = directs(ctx, &pairs).await?;
    let fill_started = Instant::now();
    while ctx.stored_messages < target && fill_started.elapsed().as_secs_f64() < ctx.args.fill_limit {
        let mut chats = chats.clone();
        for c in &mut chats {
            c.base_seq = ctx.cursors[c.members[0]].get(&c.id).copied().unwrap_or(c.base_seq);
        }
        let senders: Vec<(usize, usize)> = (0..p).flat_map(|i| [(pairs[i].0, i), (pairs[i].1, i)]).collect();
        let mut l = load(ctx, senders, 16, 0.0);
        l.warmup = Duration::ZERO;
        l.duration = Duration::from_secs(10);
        let mut fill = Outcome::new("fill", "");
        chat::run(ctx, &chats, &l, &mut fill).await?;
        if !fill.passed {
            out.fail(format!("filling: {}", fill.problems.join("; ")));
            return Ok(out);
        }
        eprintln!("loadgen: restart: {} messages stored", ctx.stored_messages);
    }
    out.figures.insert("stored messages".into(), ctx.stored_messages as f64);
    out.setup_secs = setup.elapsed().as_secs_f64();
    let start = Instant::now();

    // A clean restart.
    let server = ctx.server.as_mut().context("server")?;
    let stop = server.stop()?;
    let t = Instant::now();
    server.restart()?;
    let addr = server.addr;
    ctx.retarget(addr);
    wait_ready(&ctx.api, Duration::from_secs(120)).await?;
    let ready_total = t.elapsed().as_secs_f64();
    out.figures.insert("stop (SIGTERM) took (s)".into(), stop.as_secs_f64());
    out.figures.insert("restart: ready after (s)".into(), ready_total);

    // kill -9 in the middle of a load: a few senders per pair, acked messages remembered.
    let acked: Arc<std::sync::Mutex<Vec<(usize, u64, u64)>>> = Arc::default();
    let mut tasks = Vec::new();
    let stop_at = Instant::now() + Duration::from_secs(2);
    for (ci, c) in chats.iter().enumerate() {
        let (addr, source) = (ctx.api.addr, ctx.sources.next());
        let token = ctx.users[c.members[0]].token.clone();
        let (chat_id, acked) = (c.id.clone(), acked.clone());
        let sync = client::sync_frame(&ctx.cursors[c.members[0]]);
        tasks.push(tokio::spawn(async move {
            let mut ws = client::connect(addr, source, &token).await?;
            // Acks come through the live stream, which starts with the first sync.
            ws.send(WsMessage::Text(sync.into())).await?;
            while let Some(text) = client::next_text(&mut ws, Duration::from_secs(60)).await? {
                if let Frame::SyncDone { .. } = client::parse(&text) {
                    break;
                }
            }
            let mut n = 0u64;
            loop {
                for _ in 0..4 {
                    let f = serde_json::json!({"type": "send", "chat_id": chat_id, "client_id": format!("k{ci}.{n}"), "text": format!("before the kill {n}")});
                    n += 1;
                    if ws.send(WsMessage::Text(f.to_string().into())).await.is_err() {
                        return anyhow::Ok(());
                    }
                }
                let mut pending = 4;
                while pending > 0 {
                    let Ok(Some(text)) = client::next_text(&mut ws, Duration::from_secs(30)).await else {
                        return Ok(());
                    };
                    if let Frame::Ack { entry, .. } = client::parse(&text) {
                        acked.lock().expect("lock").push((ci, entry.seq, fingerprint(entry.seq, &entry.id)));
                        pending -= 1;
                    }
                }
                if Instant::now() > stop_at + Duration::from_secs(30) {
                    return Ok(());
                }
            }
        }));
    }
    tokio::time::sleep_until(stop_at.into()).await;
    let server = ctx.server.as_mut().context("server")?;
    server.kill9()?;
    let t = Instant::now();
    for task in tasks {
        let _ = task.await;
    }
    let server = ctx.server.as_mut().context("server")?;
    server.restart()?;
    let addr = server.addr;
    ctx.retarget(addr);
    wait_ready(&ctx.api, Duration::from_secs(120)).await?;
    out.figures.insert("kill -9: ready after (s)".into(), t.elapsed().as_secs_f64());
    let acked = std::mem::take(&mut *acked.lock().expect("lock"));
    out.figures.insert("messages acked before the kill".into(), acked.len() as f64);
    // Every acked message is in the history at its seq.
    let mut by_chat: BTreeMap<usize, Vec<(u64, u64)>> = BTreeMap::new();
    for (ci, seq, fp) in acked {
        by_chat.entry(ci).or_default().push((seq, fp));
    }
    for (ci, mut want) in by_chat {
        want.sort_unstable();
        let lowest = want[0].0;
        let token = &ctx.users[chats[ci].members[0]].token;
        let mut have: HashMap<u64, u64> = HashMap::new();
        let mut before: Option<u64> = None;
        loop {
            let path = match before {
                Some(b) => format!("/api/chats/{}/messages?limit=200&before={b}", chats[ci].id),
                None => format!("/api/chats/{}/messages?limit=200", chats[ci].id),
            };
            let page = ctx.api.get(&path, token).await?;
            let mut min = u64::MAX;
            for m in page["messages"].as_array().context("messages")? {
                let seq = m["seq"].as_u64().unwrap_or(0);
                have.insert(seq, fingerprint(seq, m["id"].as_str().unwrap_or("")));
                min = min.min(seq);
            }
            match page["next_before"].as_u64() {
                Some(b) if min > lowest => before = Some(b),
                _ => break,
            }
        }
        let lost = want.iter().filter(|(s, fp)| have.get(s) != Some(fp)).count();
        if lost > 0 {
            out.fail(format!("chat {ci}: {lost} messages acked before the kill are missing after it"));
        }
        // Later scenarios would start from what the devices hold; move them to the end.
        if let Some(top) = have.keys().max() {
            for &m in &chats[ci].members {
                ctx.cursors[m].insert(chats[ci].id.clone(), *top);
            }
        }
    }
    out.measured_secs = start.elapsed().as_secs_f64();
    Ok(out)
}
