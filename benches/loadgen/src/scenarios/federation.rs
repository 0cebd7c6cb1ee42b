//! Federation: 1:1 chats between the users of two peered appliances (`peering`), both sides
//! sending; the delivery check of `chat` across both, the rates and latencies per direction,
//! and each side's durable outbox (queue depth while sending, and until it drains).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::{Semaphore, watch};

use super::{directs, load};
use crate::Ctx;
use crate::chat;
use crate::client::{Api, Chat};
use crate::peering::{FederationInfo, federation_info};
use crate::report::Outcome;

/// How long the outboxes get to drain once every message has arrived.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// How the senders of a federation scenario pace themselves.
#[derive(Debug, Clone, Copy)]
pub(super) enum Pace {
    /// `--window` messages per sender not yet delivered to the partner (`federation`).
    Closed,
    /// `--fed-rate` messages/s over all senders (`federation-paced`).
    Rate,
}

/// Undelivered messages a paced sender may have before it waits: enough that
/// pacing, not the window, sets the rate unless the relay falls far behind.
const PACED_WINDOW: usize = 64;

pub(super) async fn federation(ctx: &mut Ctx, pace: Pace) -> anyhow::Result<Outcome> {
    let fed = ctx.fed.as_ref().context("federation needs two appliances (give it alone in --scenarios)")?;
    let n = fed.first_peer_user;
    let (home, peer) = (fed.home_name.clone(), fed.peer_name.clone());
    let (name, how, window, rate) = match pace {
        Pace::Closed => (
            "federation",
            "each keeping `window` messages that its partner has not received yet (closed loop over the \
             delivery: the home server acks before it relays, so a window of acks would not slow its \
             senders down to what the link carries)",
            ctx.args.window,
            0.0,
        ),
        Pace::Rate => (
            "federation-paced",
            "together at a fixed total `rate`, evenly spread (a send that comes late counts its lateness \
             in its latencies; at most `window` undelivered per sender); user i of the first appliance \
             chats with user i + 1 of the second",
            PACED_WINDOW,
            ctx.args.fed_rate(),
        ),
    };
    let mut out = Outcome::new(
        name,
        &format!(
            "Federation: 1:1 chats between a user of the first appliance (where the chats are homed) and a \
             user of the second, peered over mutual-TLS QUIC; both users of each pair send, {how}. The \
             home server acks its users' messages once durable and relays them to the second appliance, \
             which delivers them; the second appliance forwards its users' messages to the home server, \
             which orders them, and acks them only when the ordered entry has come back. Send→remote \
             deliver ends at the partner's `message` frame on the other appliance. Every acked message \
             must reach the partner exactly once, in order, and both outboxes must drain."
        ),
    );
    out.param("home", &home);
    out.param("peer", &peer);
    out.param("pairs", n);
    out.param("window", window);
    out.param("rate", if rate > 0.0 { serde_json::json!(rate) } else { serde_json::json!("closed loop") });
    out.param("text_len", ctx.args.text_len);
    let t = Instant::now();
    // User i of the first appliance with user i of the second; the paced run pairs user i with
    // user i + 1, so the two scenarios chat in different chats, whichever runs first.
    let shift = match pace {
        Pace::Closed => 0,
        Pace::Rate => 1,
    };
    let pairs: Vec<(usize, usize)> = (0..n).map(|i| (i, n + (i + shift) % n)).collect();
    // Opened by the first appliance's user, so homed there.
    let mut chats = directs(ctx, &pairs).await?;
    for c in &chats {
        if !c.id.ends_with(&format!("@{home}")) {
            bail!("chat {} is not homed on {home}", c.id);
        }
    }
    if let Err(e) = prime(ctx, &mut chats).await {
        // What the links looked like then is the first thing to know.
        let links = match Sides::of(ctx)?.read().await {
            Ok(l) => format!("{l:?}"),
            Err(e) => format!("unreadable: {e:#}"),
        };
        bail!("{e:#}; links ({home}'s to {peer}, {peer}'s to {home}): {links}");
    }
    let senders: Vec<(usize, usize)> =
        pairs.iter().enumerate().flat_map(|(i, &(a, b))| [(a, i), (b, i)]).collect();
    let mut l = load(ctx, senders, window, rate);
    l.until_delivered = true;
    out.setup_secs = t.elapsed().as_secs_f64();

    let sides = Sides::of(ctx)?;
    let before = sides.read().await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let sampler = tokio::spawn(sides.clone().sample(stop_rx));
    let chat_setup = out.setup_secs;
    chat::run(ctx, &chats, &l, &mut out).await?;
    out.setup_secs += chat_setup;
    let _ = stop_tx.send(true);
    let seen = sampler.await?;

    // Every message has arrived (or the check failed): what is still queued, and until when.
    let at_end = sides.read().await?;
    let t = Instant::now();
    let mut last = at_end.clone();
    while last.iter().any(|s| s.queue_depth > 0) && t.elapsed() < DRAIN_LIMIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = sides.read().await?;
    }
    let names = [home.as_str(), peer.as_str()];
    let acked_by =
        [out.directions.first().map_or(0, |d| d.acked), out.directions.get(1).map_or(0, |d| d.acked)];
    // A link counts the frames it sends: its requests and its answers to the other's requests, so
    // one side's count is every request of both. The home server relays every entry (its users'
    // and the partners'); the other side sends only its users' messages.
    let requests = last[0].frames_out.saturating_sub(before[0].frames_out);
    let carried = acked_by[0] + 2 * acked_by[1];
    out.figures.insert("federation requests, both directions".into(), requests as f64);
    if requests > 0 {
        out.figures
            .insert("messages carried per federation request".into(), carried as f64 / requests as f64);
    }
    out.figures.insert("outboxes empty after the last delivery (s)".into(), t.elapsed().as_secs_f64());
    // What went wrong with the links, and what they did: first in the problems of a failed run.
    let (mut wrong, mut health) = (Vec::new(), Vec::new());
    for i in 0..2 {
        let (from, to) = (names[i], names[1 - i]);
        let key = |what: &str| format!("{from} outbox to {to}: {what}");
        out.figures.insert(key("peak queue depth (sampled every 0.5 s)"), seen.peak[i] as f64);
        out.figures.insert(key("queue depth when every message had arrived"), at_end[i].queue_depth as f64);
        out.figures.insert(key("queue depth at the end"), last[i].queue_depth as f64);
        // Counted by the side that cuts: `from` closed the link because `to` broke a rule.
        let cutoffs = last[i].cutoffs.saturating_sub(before[i].cutoffs);
        out.figures.insert(format!("{from} cut {to} off (times)"), cutoffs as f64);
        out.figures.insert(format!("{from}: samples showing {to} disconnected"), seen.disconnected[i] as f64);
        if last[i].queue_depth > 0 {
            wrong.push(format!(
                "{from}'s outbox to {to} still holds {} events {:.0} s after the last delivery ({} then)",
                last[i].queue_depth,
                DRAIN_LIMIT.as_secs_f64(),
                at_end[i].queue_depth,
            ));
        }
        if cutoffs > 0 {
            wrong.push(format!(
                "{from} cut {to} off {cutoffs} times: two honest appliances broke a federation rule"
            ));
        }
        health.push(format!(
            "{from}'s outbox to {to}: peak {}, {} at the last delivery, {} at the end; {from} cut {to} off \
             {cutoffs} times; {} of the 0.5 s samples showed {to} disconnected",
            seen.peak[i], at_end[i].queue_depth, last[i].queue_depth, seen.disconnected[i]
        ));
    }
    if !out.passed || !wrong.is_empty() {
        // The figures go with a failed run; what the links did is the diagnosis, so keep it.
        out.passed = false;
        wrong.extend(health);
        wrong.push(format!(
            "federation requests (both directions): {requests} for {carried} messages carried; acked: {} by \
             {home}'s senders, {} by {peer}'s",
            acked_by[0], acked_by[1]
        ));
        // The delivery check's findings follow; a few show what they are like.
        let more = out.problems.len().saturating_sub(6);
        wrong.extend(out.problems.drain(..).take(6));
        if more > 0 {
            wrong.push(format!("… and {more} more like these (listed up to 20)"));
        }
        out.problems = wrong;
    }
    Ok(out)
}

/// A new chat exists only on its home server until its first entry reaches the other one: the
/// home user sends one message over REST, then each chat is awaited on the second appliance
/// (its partner can read it there at the chat's current seq), so the load starts from a known
/// seq on both sides.
async fn prime(ctx: &Ctx, chats: &mut [Chat]) -> anyhow::Result<()> {
    let fed = ctx.fed.as_ref().context("federation")?;
    let sem = Arc::new(Semaphore::new(32));
    let mut tasks = Vec::new();
    for c in chats.iter() {
        let (home_api, peer_api, sem) = (ctx.api.clone(), fed.peer_api.clone(), sem.clone());
        let (a, b) = (ctx.users[c.members[0]].clone(), ctx.users[c.members[1]].clone());
        let (chat, mut base) = (c.id.clone(), c.base_seq);
        // Idempotency keys are per user: one per chat (its ULID), or a user's second chat would
        // get the first one's message back.
        let client_id = format!("prime.{}", c.id.split('@').next().unwrap_or(&c.id));
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await?;
            if base == 0 {
                base = home_api.send(&a, &chat, &client_id, "hello from the other appliance").await?.0;
            }
            wait_for_seq(&peer_api, &b.token, &chat, base).await?;
            anyhow::Ok(base)
        }));
    }
    for (c, t) in chats.iter_mut().zip(tasks) {
        c.base_seq = t.await??;
    }
    Ok(())
}

/// Polls the chat's newest entry on `api` (as a member) until it reaches `seq` (30 s at most).
async fn wait_for_seq(api: &Api, token: &str, chat: &str, seq: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let path = format!("/api/chats/{chat}/messages?limit=1");
    loop {
        let (status, v) = api.call(reqwest::Method::GET, &path, Some(token), None).await?;
        let top = v["messages"].as_array().and_then(|m| m.iter().filter_map(|m| m["seq"].as_u64()).max());
        if status == 200 && top.is_some_and(|t| t >= seq) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("chat {chat} did not reach seq {seq} on {} within 30 s (HTTP {status}: {v})", api.base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each appliance's record of the other: (admin API, admin token, the other's name).
#[derive(Clone)]
struct Sides([(Api, String, String); 2]);

/// What the sampler saw while the load ran, per side.
#[derive(Debug, Default)]
struct Seen {
    peak: [u64; 2],
    disconnected: [u64; 2],
}

#[derive(Debug, Clone)]
struct Link {
    queue_depth: u64,
    frames_out: u64,
    cutoffs: u64,
    connected: bool,
}

impl Sides {
    fn of(ctx: &Ctx) -> anyhow::Result<Self> {
        let f = ctx.fed.as_ref().context("federation")?;
        Ok(Self([
            (ctx.api.clone(), f.home_admin.clone(), f.peer_name.clone()),
            (f.peer_api.clone(), f.peer_admin.clone(), f.home_name.clone()),
        ]))
    }

    /// Each side's link to the other, as its admin API shows it.
    async fn read(&self) -> anyhow::Result<[Link; 2]> {
        let (a, b) = tokio::try_join!(self.link(0), self.link(1))?;
        Ok([a, b])
    }

    async fn link(&self, i: usize) -> anyhow::Result<Link> {
        let (api, admin, other) = &self.0[i];
        let info: FederationInfo = federation_info(api, admin).await?;
        let p = info.peer(other).with_context(|| format!("{} lists no peer {other}", info.server_name))?;
        Ok(Link {
            queue_depth: p.queue_depth,
            frames_out: p.frames_out,
            cutoffs: p.cutoffs,
            connected: p.connected,
        })
    }

    /// Reads both sides every 0.5 s until `stop`: the highest queue depth, and disconnections.
    async fn sample(self, mut stop: watch::Receiver<bool>) -> Seen {
        let mut seen = Seen::default();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = tick.tick() => {}
            }
            for i in 0..2 {
                match self.link(i).await {
                    Ok(l) => {
                        seen.peak[i] = seen.peak[i].max(l.queue_depth);
                        seen.disconnected[i] += u64::from(!l.connected);
                    }
                    Err(e) => crate::debug(format_args!("federation info of side {i}: {e:#}")),
                }
            }
        }
        seen
    }
}
