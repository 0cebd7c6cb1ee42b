//! The server's resources and lifecycle: idle connections and restarts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::Semaphore;

use super::*;
use crate::chat::{self, fingerprint};
use crate::client::{self, Frame};
use crate::report::{Lat, Outcome};
use crate::{Ctx, wait_ready};

/// Idle connections: how much server memory each authenticated, synced connection holds.
pub(super) async fn idle(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let mut want = ctx.args.idle();
    let mut out = Outcome::new(
        "idle",
        "Idle connections: many authenticated, synced connections (several per user, spread over \
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
        let (dialer, source, sem) = (ctx.dialer.clone(), ctx.sources.next(), sem.clone());
        let token = ctx.users[u].token.clone();
        let frame = client::sync_frame(&ctx.cursors[u]);
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await?;
            let t = Instant::now();
            let mut conn = dialer.connect(source, &token).await?;
            conn.send(frame).await?;
            loop {
                let text = conn.next_text(Duration::from_secs(60)).await?.context("closed during sync")?;
                match client::parse(&text) {
                    Frame::SyncDone { messages: 0 } => break,
                    Frame::SyncDone { messages } => {
                        bail!("sync replayed {messages} messages; the cursors say none")
                    }
                    _ => {}
                }
            }
            anyhow::Ok((conn, t.elapsed()))
        }));
    }
    let mut sockets = Vec::with_capacity(want);
    let mut lat = Lat::default();
    for t in tasks {
        match t.await? {
            Ok((conn, d)) => {
                lat.record(d);
                sockets.push(conn);
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
    for conn in sockets.iter_mut().step_by(step) {
        conn.send(r#"{"type":"ping","nonce":1}"#.into()).await?;
        loop {
            let text = conn.next_text(Duration::from_secs(30)).await?.context("closed while idle")?;
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
    let close = sockets.into_iter().map(|conn| tokio::spawn(conn.close()));
    for c in close.collect::<Vec<_>>() {
        let _ = c.await;
    }
    Ok(out)
}

/// Restart: fill the store to `--restart-messages`, then time a clean restart and a restart
/// after `kill -9` in the middle of a chat load; every message acked before the kill must be
/// there afterwards. Needs `--spawn`.
pub(super) async fn restart(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
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
        let (dialer, source) = (ctx.dialer.clone(), ctx.sources.next());
        let token = ctx.users[c.members[0]].token.clone();
        let (chat_id, acked) = (c.id.clone(), acked.clone());
        let sync = client::sync_frame(&ctx.cursors[c.members[0]]);
        tasks.push(tokio::spawn(async move {
            let mut conn = dialer.connect(source, &token).await?;
            // Acks come through the live stream, which starts with the first sync.
            conn.send(sync).await?;
            while let Some(text) = conn.next_text(Duration::from_secs(60)).await? {
                if let Frame::SyncDone { .. } = client::parse(&text) {
                    break;
                }
            }
            let mut n = 0u64;
            loop {
                for _ in 0..4 {
                    let f = serde_json::json!({"type": "send", "chat_id": chat_id, "client_id": format!("k{ci}.{n}"), "text": format!("before the kill {n}")});
                    n += 1;
                    if conn.send(f.to_string()).await.is_err() {
                        return anyhow::Ok(());
                    }
                }
                let mut pending = 4;
                while pending > 0 {
                    let Ok(Some(text)) = conn.next_text(Duration::from_secs(30)).await else {
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
    server.restart()?;
    let addr = server.addr;
    ctx.retarget(addr);
    wait_ready(&ctx.api, Duration::from_secs(120)).await?;
    out.figures.insert("kill -9: ready after (s)".into(), t.elapsed().as_secs_f64());
    // The senders have seen every ack they will get; over UDP nothing tells them the server
    // died (a QUIC connection only times out), so they are not waited for.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for task in tasks {
        task.abort();
    }
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
