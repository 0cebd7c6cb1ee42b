//! Hot paths, one group each: frame encode/decode, JWT verification, fan-out through the hub,
//! appending messages (one commit each, and grouped commits), receipt aggregation.
//!
//! `cargo bench -p parley-micro` (add `-- fanout` to run one group). The store benchmarks boot
//! a real appliance on a temp dir (durable commits on), so they measure fsync too.

// The embedded database's query futures are deep; their layout (release builds) needs this.
#![recursion_limit = "256"]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use divan::{Bencher, counter::ItemsCount};
use parley_core::hub::{self, Hub};
use parley_core::tokens::TokenService;
use parley_core::{AuthContext, Core};
use parley_testkit::{TestAppliance, TestUser};
use parley_types::api::SendMessageRequest;
use parley_types::protocol::{ClientFrame, Message, MessageKind, ReceiptKind, ServerFrame};
use parley_types::{ChatId, MessageId, ServerName, SessionId, UserId};

fn main() {
    divan::main();
}

fn server() -> ServerName {
    ServerName::parse("bench.local").expect("server name")
}

fn sample_message(seq: u64) -> Message {
    let s = server();
    Message {
        id: MessageId::generate(&s),
        chat_id: ChatId::generate(&s),
        seq,
        sender: UserId::parse("ana@bench.local").expect("user id"),
        kind: MessageKind::Text,
        text: Some("See you at 8? The usual place, by the river, bring the maps and the lantern.".into()),
        reply_to: None,
        target: None,
        event: None,
        client_id: Some("01J9Z3M9N4P5Q6R7S8T9V0W1X2".into()),
        created_at: 1_732_212_345_678,
        edited_at: None,
        deleted: false,
        media: None,
    }
}

mod frames {
    use super::*;

    /// A `message` frame as the server writes it (once per entry, shared by every recipient).
    #[divan::bench]
    fn encode_message(b: Bencher) {
        let frame = ServerFrame::Message { message: sample_message(42) };
        b.bench(|| hub::encode(black_box(&frame)));
    }

    /// A client's `send` frame as the server reads it.
    #[divan::bench]
    fn decode_send(b: Bencher) {
        let text = r#"{"type":"send","chat_id":"01J9Z3K8Q4W5E6R7T8Y9V0X1M2@bench.local","client_id":"01J9Z3M9N4P5Q6R7S8T9V0W1X2","text":"See you at 8? The usual place, by the river, bring the maps and the lantern."}"#;
        b.bench(|| serde_json::from_str::<ClientFrame>(black_box(text)).expect("frame"));
    }

    /// A `message` frame as a Rust client reads it.
    #[divan::bench]
    fn decode_message(b: Bencher) {
        let text = hub::encode(&ServerFrame::Message { message: sample_message(42) });
        b.bench(|| serde_json::from_str::<ServerFrame>(black_box(&text)).expect("frame"));
    }
}

mod jwt {
    use super::*;

    fn service() -> (tempfile::TempDir, TokenService, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        let svc = TokenService::load(&dir.path().join("jwt.json"), &server(), 900).expect("keys");
        let token =
            svc.issue(&UserId::parse("ana@bench.local").expect("id"), SessionId::generate()).expect("issue");
        (dir, svc, token)
    }

    /// Every `auth` frame and every REST call verifies one access token.
    #[divan::bench]
    fn verify(b: Bencher) {
        let (_dir, svc, token) = service();
        b.bench(|| svc.verify(black_box(&token)).expect("valid"));
    }

    #[divan::bench]
    fn issue(b: Bencher) {
        let (_dir, svc, _) = service();
        let user = UserId::parse("ana@bench.local").expect("id");
        b.bench(|| svc.issue(black_box(&user), SessionId::generate()).expect("issue"));
    }
}

mod fanout {
    use super::*;

    /// One entry pushed to every member's connection queue (the queues are drained as a
    /// client task would, inside the measurement).
    #[divan::bench(args = [10, 100, 1000])]
    fn send_entry(b: Bencher, members: usize) {
        let hub = Hub::default();
        let users: Vec<UserId> =
            (0..members).map(|i| UserId::parse(&format!("user{i}@bench.local")).expect("id")).collect();
        let mut regs: Vec<_> = users.iter().map(|u| hub.register(u, SessionId::generate(), 4096)).collect();
        let chat = ChatId::generate(&server());
        let frame = hub::encode(&ServerFrame::Message { message: sample_message(1) });
        let mut seq = 0;
        b.counter(ItemsCount::new(members)).bench_local(|| {
            seq += 1;
            hub.send_entry(&users, &chat, seq, &frame, None, Instant::now());
            for r in &mut regs {
                while r.rx.try_recv().is_ok() {}
            }
        });
    }
}

/// A running appliance with a chat between users, for the benchmarks that go to the store.
struct Fixture {
    rt: tokio::runtime::Runtime,
    app: Option<TestAppliance>,
    core: Core,
    users: Vec<(TestUser, AuthContext)>,
    chat: ChatId,
}

impl Fixture {
    /// An appliance with `members` users in one group (a 1:1 chat when `members` is 2).
    fn new(members: usize) -> Self {
        let rt =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        let (app, users, chat) = rt.block_on(async {
            let app = TestAppliance::start().await;
            let mut users = Vec::new();
            for i in 0..members {
                let u = app.register(&format!("user{i}")).await;
                let ctx = app.core.authenticate(&u.token).await.expect("auth");
                users.push((u, ctx));
            }
            let chat = if members == 2 {
                app.direct(&users[0].0, &users[1].0).await
            } else {
                let others: Vec<&TestUser> = users[1..].iter().map(|(u, _)| u).collect();
                app.group(&users[0].0, "bench", &others).await
            };
            (app, users, ChatId::parse(&chat).expect("chat id"))
        });
        let core = app.core.clone();
        Self { rt, app: Some(app), core, users, chat }
    }

    fn send(&self, user: usize, n: u64) -> impl Future<Output = ()> + '_ {
        let req = SendMessageRequest {
            client_id: format!("c{n}"),
            text: format!(
                "message {n} of the benchmark, about a hundred characters long to look like chat........"
            ),
            reply_to: None,
            media_id: None,
        };
        async move {
            self.core.send(&self.users[user].1, &self.chat, &req, None).await.expect("send");
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(mut app) = self.app.take() {
            self.rt.block_on(async move { app.shutdown().await });
        }
    }
}

static NEXT: AtomicU64 = AtomicU64::new(0);

mod append {
    use super::*;

    /// One message at a time: each send waits for its own commit (one fsync each).
    #[divan::bench(sample_count = 30, sample_size = 1)]
    fn single(b: Bencher) {
        let f = Fixture::new(2);
        b.bench_local(|| f.rt.block_on(f.send(0, NEXT.fetch_add(1, Ordering::Relaxed))));
    }

    /// `n` sends at once: the writer groups them into few commits.
    #[divan::bench(args = [16, 256], sample_count = 10, sample_size = 1)]
    fn grouped(b: Bencher, n: usize) {
        let f = Fixture::new(2);
        b.counter(ItemsCount::new(n)).bench_local(|| {
            f.rt.block_on(futures_util::future::join_all(
                (0..n).map(|i| f.send(i % 2, NEXT.fetch_add(1, Ordering::Relaxed))),
            ))
        });
    }
}

mod receipts {
    use super::*;

    /// A 50-member group with 300 messages and every member's marks at different seqs.
    fn group() -> Fixture {
        let f = Fixture::new(50);
        f.rt.block_on(async {
            futures_util::future::join_all((0..300).map(|i| f.send(i as usize % 5, 1_000_000 + i))).await;
            for (i, (_, ctx)) in f.users.iter().enumerate() {
                f.core.mark(ctx, &f.chat, ReceiptKind::Delivered, 10 + i as u64 * 3).await.expect("mark");
                f.core.mark(ctx, &f.chat, ReceiptKind::Read, 5 + i as u64 * 2).await.expect("mark");
            }
        });
        f
    }

    /// `GET .../messages/{seq}/info`: per-member times and the overall state of one message.
    #[divan::bench(sample_count = 50)]
    fn message_info(b: Bencher) {
        let f = group();
        b.bench_local(|| f.rt.block_on(f.core.message_info(&f.users[0].1, &f.chat, 100)).expect("info"));
    }

    /// A chat summary: the minimum delivered/read marks over the other members.
    #[divan::bench(sample_count = 50)]
    fn chat_summary(b: Bencher) {
        let f = group();
        b.bench_local(|| f.rt.block_on(f.core.chat(&f.users[0].1, &f.chat)).expect("chat"));
    }

    /// A `read` frame that moves a mark: one commit plus a `receipt` to every member.
    #[divan::bench(sample_count = 30, sample_size = 1)]
    fn advance_read_mark(b: Bencher) {
        let f = group();
        let mut seq = 200;
        b.bench_local(|| {
            seq += 1;
            f.rt.block_on(f.core.mark(&f.users[1].1, &f.chat, ReceiptKind::Read, seq)).expect("mark")
        });
    }
}
