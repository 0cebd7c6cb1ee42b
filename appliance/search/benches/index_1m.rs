//! Indexes 1,000,000 generated messages and measures the indexing rate and query latency
//! (p50/p99) of message search with a realistic privacy clause (the caller's 50 chats).
//!
//! `cargo bench -p parley-search --bench index_1m` (release). `PARLEY_BENCH_MESSAGES=N`
//! changes the count. Prints a Markdown table and a JSON line.

use std::time::{Duration, Instant};

use parley_search::{MessageDoc, MessageQuery, Op, Order, Search, Visible};
use rand::Rng;
use rand::seq::IndexedRandom;

const CHATS: u64 = 2_000;
const BATCH: usize = 1_000;
const QUERIES: usize = 1_000;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn main() {
    let total: u64 =
        std::env::var("PARLEY_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    // A Zipf-ish vocabulary: a few very common words and a long tail, as in chat.
    let mut rng = rand::rng();
    let vocab: Vec<String> = (0..20_000).map(|i| format!("w{i:x}")).collect();
    let common = ["ok", "thanks", "meeting", "tomorrow", "report", "lunch", "call", "yes", "no", "later"];
    let word = |rng: &mut rand::rngs::ThreadRng| -> String {
        if rng.random_bool(0.4) {
            common.choose(rng).unwrap().to_string()
        } else {
            let r: f64 = rng.random();
            vocab[((r * r * r) * vocab.len() as f64) as usize].clone()
        }
    };

    let dir = tempfile::tempdir().expect("temp dir");
    let (search, _) = Search::open(dir.path()).expect("open index");
    let started = Instant::now();
    let mut seqs = vec![0u64; CHATS as usize];
    let mut sent = 0u64;
    while sent < total {
        let n = BATCH.min((total - sent) as usize);
        let mut ops = Vec::with_capacity(n);
        for _ in 0..n {
            let chat = rng.random_range(0..CHATS);
            seqs[chat as usize] += 1;
            let len = rng.random_range(3..16);
            let text: Vec<String> = (0..len).map(|_| word(&mut rng)).collect();
            ops.push(Op::Message(MessageDoc {
                chat_id: format!("c{chat}"),
                seq: seqs[chat as usize],
                sender: format!("u{}", rng.random_range(0..500)),
                time: 1_700_000_000_000 + sent as i64,
                text: text.join(" "),
            }));
        }
        search.submit(ops);
        sent += n as u64;
    }
    search.flush().expect("flush");
    let indexing = started.elapsed();
    let rate = total as f64 / indexing.as_secs_f64();

    // A user in 50 chats, joined at seq 1 in most and later in some.
    let visible: Vec<Visible> = (0..50)
        .map(|i| Visible {
            chat_id: format!("c{}", i * 37 % CHATS),
            from_seq: if i % 5 == 0 { 100 } else { 1 },
        })
        .collect();
    let mut times = Vec::with_capacity(QUERIES);
    let mut hits = 0usize;
    for i in 0..QUERIES {
        let text = match i % 3 {
            0 => word(&mut rng),
            1 => format!("{} {}", word(&mut rng), word(&mut rng)),
            _ => format!("\"{} {}\"", common.choose(&mut rng).unwrap(), word(&mut rng)),
        };
        let order = if i % 2 == 0 { Order::Newest } else { Order::Best };
        let q = MessageQuery { text, order, offset: 0, limit: 20 };
        let t = Instant::now();
        hits += search.messages(&q, &visible).expect("query").total;
        times.push(t.elapsed());
    }
    times.sort();
    let (p50, p99) = (percentile(&times, 0.50), percentile(&times, 0.99));
    search.shutdown();
    println!("| messages | indexing (s) | messages/s | queries | query p50 (ms) | query p99 (ms) |");
    println!("|---|---|---|---|---|---|");
    println!("| {total} | {:.1} | {rate:.0} | {QUERIES} | {p50:.2} | {p99:.2} |", indexing.as_secs_f64());
    println!(
        "{{\"bench\":\"search_index\",\"messages\":{total},\"indexing_secs\":{:.3},\"messages_per_sec\":{rate:.0},\"queries\":{QUERIES},\"query_p50_ms\":{p50:.3},\"query_p99_ms\":{p99:.3},\"mean_hits\":{}}}",
        indexing.as_secs_f64(),
        hits / QUERIES
    );
}
