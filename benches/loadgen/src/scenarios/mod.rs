//! The scenarios: each sets up its chats, measures, checks, and returns an [`Outcome`].
//! Chat traffic (pairs, groups, search under load) lives here; `catch_up` holds the
//! reconnect storm and history paging, `lifecycle` the idle and restart scenarios,
//! `federation` the chats between two peered appliances.

mod catch_up;
mod federation;
mod lifecycle;

use catch_up::{history, storm};
use federation::{Pace, federation};
use lifecycle::{idle, restart};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::sync::Semaphore;

use crate::Ctx;
use crate::chat::{self, Load, WORDS};
use crate::client::Chat;
use crate::report::{Lat, Outcome};

pub async fn run(ctx: &mut Ctx, name: &str) -> anyhow::Result<Outcome> {
    match name {
        "pairs" => pairs(ctx, "pairs", ctx.args.rate, ctx.args.window).await,
        // Latency at a fixed load below capacity: every sender sends on schedule, like a person
        // typing, with an outbox that does not hold messages back (the window only bounds it).
        "pairs-paced" => pairs(ctx, "pairs-paced", if ctx.args.quick { 500.0 } else { PACED_RATE }, 64).await,
        "group10" => group(ctx, name, 10, 1, 4, 0.0).await,
        "group100" => group(ctx, name, 100, 2, 4, 0.0).await,
        // The group target at its own load: just over 150,000 deliveries/s, on schedule.
        "group100-paced" => {
            group(ctx, name, 100, 2, 64, if ctx.args.quick { 50.0 } else { GROUP_PACED_RATE }).await
        }
        "group1000" => group(ctx, name, 1000, 4, 2, 0.0).await,
        "storm" => storm(ctx).await,
        "history" => history(ctx).await,
        "search" => search(ctx).await,
        "idle" => idle(ctx).await,
        "restart" => restart(ctx).await,
        "federation" => federation(ctx, Pace::Closed).await,
        "federation-paced" => federation(ctx, Pace::Rate).await,
        _ => bail!(
            "unknown scenario {name} (known: {}, and federation,federation-paced on their own)",
            crate::STANDARD
        ),
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
        until_delivered: false,
    }
}

/// Total send rate of `pairs-paced`, messages/s: a third of what `pairs` reaches closed-loop.
pub const PACED_RATE: f64 = 10_000.0;

/// Total send rate of `group100-paced`, messages/s: 99 deliveries each, so about 153,000
/// deliveries/s, just over the target's 150,000.
pub const GROUP_PACED_RATE: f64 = 1_550.0;

/// How the senders of a chat scenario send, for its description: on schedule at a total `rate`,
/// or closed loop when it is 0.
fn pacing(rate: f64) -> &'static str {
    if rate > 0.0 {
        "send together at a fixed total `rate`, evenly spread (a send that comes late counts its lateness \
         in its latencies; at most `window` unacknowledged per sender)"
    } else {
        "send, each keeping `window` messages unacknowledged"
    }
}

/// The `rate` parameter as reported.
fn rate_param(rate: f64) -> serde_json::Value {
    if rate > 0.0 { serde_json::json!(rate) } else { serde_json::json!("closed loop") }
}

/// 1:1 chat: `--pairs` pairs chat (both sides send) while every other user is connected;
/// closed loop when `rate` is 0, else at that total rate.
async fn pairs(ctx: &mut Ctx, name: &str, rate: f64, window: usize) -> anyhow::Result<Outcome> {
    let n = ctx.users.len();
    let p = ctx.args.pairs.min(n / 2);
    let how = pacing(rate);
    let mut out = Outcome::new(
        name,
        &format!("1:1 chat: both users of each pair {how}; every registered user is connected and synced."),
    );
    let t = Instant::now();
    let pairs: Vec<(usize, usize)> = (0..p).map(|i| (2 * i, 2 * i + 1)).collect();
    let chats = directs(ctx, &pairs).await?;
    let senders: Vec<(usize, usize)> = (0..p).flat_map(|i| [(2 * i, i), (2 * i + 1, i)]).collect();
    let mut l = load(ctx, senders, window, rate);
    l.bystanders = (2 * p..n).collect();
    out.param("pairs", p);
    out.param("connected", n);
    out.param("window", l.window);
    out.param("rate", rate_param(l.rate));
    out.param("text_len", l.text_len);
    let chat_setup = t.elapsed().as_secs_f64();
    chat::run(ctx, &chats, &l, &mut out).await?;
    out.setup_secs += chat_setup;
    Ok(out)
}

/// Group fan-out: groups of `size` members (as many as the users allow), `senders` senders each;
/// closed loop when `rate` is 0, else at that total rate.
async fn group(
    ctx: &mut Ctx,
    name: &str,
    size: usize,
    senders: usize,
    window: usize,
    rate: f64,
) -> anyhow::Result<Outcome> {
    let n = ctx.users.len();
    let size = size.min(n);
    let groups = (n / size).max(1);
    let how = pacing(rate);
    let mut out = Outcome::new(
        name,
        &format!(
            "Group fan-out: every registered user is in one group and connected; a few members of each \
             group {how}; every other member receives each message."
        ),
    );
    out.param("groups", groups);
    out.param("members", size);
    out.param("senders_per_group", senders);
    out.param("window", window);
    out.param("rate", rate_param(rate));
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
    let mut l = load(ctx, senders, window, rate);
    l.bystanders = (groups * size..n).collect();
    let chat_setup = t.elapsed().as_secs_f64();
    chat::run(ctx, &chats, &l, &mut out).await?;
    out.setup_secs += chat_setup;
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
