//! What each part of the chat writer's batch costs inside SurrealDB, measured apart from the
//! rest of the server (the numbers in `BENCHMARKS.md`, "What the profile shows").
//!
//! Commits 60 batches of 200 messages shaped like the `pairs` scenario (50 1:1 chats, 100
//! senders) on one writer into a fresh SurrealKV database with `sync=every`, and prints
//! messages/s, CPU µs per message and ms per commit. The argument is a comma-separated list:
//!
//! - `old`: the message table as in schema v1 (SCHEMAFULL, unique `(chat_id, seq)` index,
//!   `media_id` index); `msgless`: schemaless, no index; `arr`: schemaless with record IDs
//!   `[chat, seq]`;
//! - `noidem` / `idemless`: no idempotency records / schemaless ones; `idemslim`: schemaless
//!   with only the entry's `[chat, seq]`; `idembatch`: one record per batch holding its keys;
//!   `idemkeys`: the same with the keys built by the caller;
//! - `nochat`: no chat head update per chat;
//! - `nomarks`: no sender mark update per sender; `markless`: marks in a schemaless table;
//! - `lookup`: the writer's idempotency lookup (one query for the batch's keys) before each
//!   commit; `slim`: entries without the fields their record ID or defaults already give;
//! - `uniq`: a unique index on the entries' `(sender, client_id)` (idempotency by index).
//!
//! ```sh
//! cargo build --release -p parley-store --example commit_shapes
//! for v in old old,nomarks old,nomarks,nochat arr,idemless,nomarks,nochat; do
//!     $CARGO_TARGET_DIR/release/examples/commit_shapes $v; done
//! ```
// The SurrealDB query future is deeper than the default limit allows.
#![recursion_limit = "256"]

use std::time::Instant;

use serde_json::{Value, json};
use surrealdb_cnf::ConfigMap;
use surrealdb_core::dbs::Session;
use surrealdb_core::kvs::Datastore;

const SCHEMA_OLD: &str = r#"
DEFINE TABLE chat SCHEMAFULL;
DEFINE FIELD chat_id ON chat TYPE string;
DEFINE FIELD kind ON chat TYPE string;
DEFINE FIELD name ON chat TYPE string;
DEFINE FIELD description ON chat TYPE string;
DEFINE FIELD created_by ON chat TYPE string;
DEFINE FIELD created_at ON chat TYPE int;
DEFINE FIELD last_seq ON chat TYPE int;
DEFINE FIELD last_activity ON chat TYPE int;
DEFINE FIELD avatar ON chat TYPE option<string>;
DEFINE TABLE member SCHEMAFULL;
DEFINE FIELD chat_id ON member TYPE string;
DEFINE FIELD user_id ON member TYPE string;
DEFINE FIELD role ON member TYPE string;
DEFINE FIELD active ON member TYPE bool;
DEFINE FIELD joined_at ON member TYPE int;
DEFINE FIELD joined_seq ON member TYPE int;
DEFINE FIELD left_seq ON member TYPE option<int>;
DEFINE FIELD delivered_seq ON member TYPE int;
DEFINE FIELD delivered_at ON member TYPE int;
DEFINE FIELD read_seq ON member TYPE int;
DEFINE FIELD read_at ON member TYPE int;
DEFINE INDEX member_user ON member FIELDS user_id, active;
DEFINE INDEX member_chat ON member FIELDS chat_id;
DEFINE TABLE message SCHEMAFULL;
DEFINE FIELD message_id ON message TYPE string;
DEFINE FIELD chat_id ON message TYPE string;
DEFINE FIELD seq ON message TYPE int;
DEFINE FIELD sender ON message TYPE string;
DEFINE FIELD kind ON message TYPE string;
DEFINE FIELD text ON message TYPE option<string>;
DEFINE FIELD reply_to ON message TYPE option<int>;
DEFINE FIELD target ON message TYPE option<int>;
DEFINE FIELD event ON message TYPE option<string>;
DEFINE FIELD client_id ON message TYPE option<string>;
DEFINE FIELD created_at ON message TYPE int;
DEFINE FIELD edited_at ON message TYPE option<int>;
DEFINE FIELD deleted ON message TYPE bool;
DEFINE FIELD media_id ON message TYPE option<string>;
DEFINE FIELD media ON message TYPE option<string>;
DEFINE INDEX message_chat_seq ON message FIELDS chat_id, seq UNIQUE;
DEFINE INDEX message_media ON message FIELDS media_id;
DEFINE TABLE idem SCHEMAFULL;
DEFINE FIELD key ON idem TYPE string;
DEFINE FIELD message_id ON idem TYPE string;
DEFINE FIELD chat_id ON idem TYPE string;
DEFINE FIELD seq ON idem TYPE int;
DEFINE TABLE msg SCHEMALESS;
DEFINE TABLE idem2 SCHEMALESS;
DEFINE TABLE mark SCHEMALESS;
"#;

const CHATS: usize = 50;
const BATCH: usize = 200;
const BATCHES: usize = 60;

async fn run(ds: &Datastore, s: &Session, sql: &str, vars: Value) {
    let vars = match surrealdb::types::SurrealValue::into_value(vars) {
        surrealdb::types::Value::Object(o) => surrealdb::types::Variables::from(o),
        _ => surrealdb::types::Variables::new(),
    };
    for r in ds.execute(sql, s, Some(vars)).await.unwrap() {
        r.result.unwrap();
    }
}

fn cpu() -> f64 {
    let t = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = t.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let variant = std::env::args().nth(1).unwrap_or_else(|| "old".into());
    let dir = tempfile::tempdir().unwrap();
    let url = format!("surrealkv://{}?sync=every", dir.path().join("db").display());
    let config = ConfigMap::empty()
        .with_key_value("surrealkv_block_cache_capacity", (256u64 << 20).to_string())
        .with_key_value("surrealkv_max_memtable_size", (64u64 << 20).to_string());
    let ds = Datastore::builder()
        .with_config(config)
        .without_maintenance_tasks()
        .build_with_path(&url)
        .await
        .unwrap();
    ds.bootstrap().await.unwrap();
    for r in
        ds.execute("DEFINE NAMESPACE n; USE NS n; DEFINE DATABASE d;", &Session::owner(), None).await.unwrap()
    {
        r.result.unwrap();
    }
    let s = Session::owner().with_ns("n").with_db("d");
    run(&ds, &s, SCHEMA_OLD, json!({})).await;
    if variant.split(',').any(|p| p == "uniq") {
        run(&ds, &s, "DEFINE INDEX msg_idem ON msg FIELDS sender, client_id UNIQUE;", json!({})).await;
    }
    // chats and members
    let mut chats = Vec::new();
    let mut members = Vec::new();
    for c in 0..CHATS {
        chats.push(json!({"id": format!("c{c}"), "chat_id": format!("c{c}"), "kind": "direct", "name": "", "description": "", "created_by": "u", "created_at": 1, "last_seq": 0, "last_activity": 1}));
        for u in [2 * c, 2 * c + 1] {
            members.push(json!({"id": [format!("c{c}"), format!("u{u}")], "chat_id": format!("c{c}"), "user_id": format!("u{u}"), "role": "member", "active": true, "joined_at": 1, "joined_seq": 0, "delivered_seq": 0, "delivered_at": 0, "read_seq": 0, "read_at": 0}));
        }
    }
    run(
        &ds,
        &s,
        "INSERT INTO chat $c RETURN NONE; INSERT INTO member $m RETURN NONE;",
        json!({"c": chats, "m": members}),
    )
    .await;

    let parts: Vec<&str> = variant.split(',').collect();
    let has = |p: &str| parts.contains(&p);
    let mut seqs = vec![0i64; CHATS];
    let text = "x".repeat(100);
    let c0 = cpu();
    let t0 = Instant::now();
    let mut n = 0usize;
    for b in 0..BATCHES {
        let mut msgs = Vec::new();
        let mut idem = Vec::new();
        let mut marks = Vec::new();
        let mut updates = Vec::new();
        for i in 0..BATCH {
            let c = i % CHATS;
            let u = 2 * c + (i / CHATS) % 2;
            seqs[c] += 1;
            let seq = seqs[c];
            let mid = format!("m{b}x{i}0123456789abcdef");
            let key = format!("u{u}|{mid}");
            let mut m = if has("slim") {
                json!({"sender": format!("u{u}"), "kind": "text", "text": text, "client_id": mid, "created_at": 1700000000000i64 + n as i64})
            } else {
                json!({"message_id": mid, "chat_id": format!("c{c}"), "seq": seq, "sender": format!("u{u}"), "kind": "text", "text": text, "client_id": mid, "created_at": 1700000000000i64 + n as i64, "deleted": false})
            };
            if has("arr") {
                m["id"] = json!([format!("c{c}"), seq]);
            } else {
                m["id"] = json!(mid);
            }
            msgs.push(m);
            idem.push(
                json!({"id": key, "key": key, "message_id": mid, "chat_id": format!("c{c}"), "seq": seq}),
            );
            marks.push(json!({"c": format!("c{c}"), "u": format!("u{u}"), "s": seq, "at": 5}));
            n += 1;
        }
        for (c, s) in seqs.iter().enumerate() {
            updates.push(json!({"c": format!("c{c}"), "s": s, "a": 7}));
        }
        // last mark per sender
        let mut seen = std::collections::HashSet::new();
        let marks: Vec<Value> = marks.into_iter().rev().filter(|m| seen.insert(m["u"].to_string())).collect();
        if has("lookup") {
            // The writer's idempotency lookup before it plans a batch.
            let keys: Vec<&Value> = idem.iter().map(|i| &i["key"]).collect();
            run(
                &ds,
                &s,
                "SELECT * FROM array::map($keys, |$k| type::record('idem', $k)) WHERE message_id != NONE",
                json!({ "keys": keys }),
            )
            .await;
        }
        let mut sql = String::from("BEGIN TRANSACTION;\n");
        let table = if has("arr") || has("msgless") { "msg" } else { "message" };
        sql.push_str(&format!("INSERT INTO {table} $msgs RETURN NONE;\n"));
        if has("idemslim") {
            sql.push_str("INSERT INTO idem2 (SELECT id, chat_id AS c, seq AS s FROM $idem) RETURN NONE;\n");
        } else if has("idembatch") {
            sql.push_str("CREATE type::record('idem2', [$b, 0]) SET k = $idem.map(|$i| [$i.key, $i.chat_id, $i.seq]) RETURN NONE;\n");
        } else if has("idemkeys") {
            sql.push_str("CREATE type::record('idem2', [$b, 0]) SET k = $k RETURN NONE;\n");
        } else if !has("noidem") {
            let t = if has("idemless") { "idem2" } else { "idem" };
            sql.push_str(&format!("INSERT INTO {t} $idem RETURN NONE;\n"));
        }
        if !has("nochat") {
            sql.push_str("FOR $u IN $updates { UPDATE type::record('chat', $u.c) SET last_seq = $u.s, last_activity = $u.a, name = $u.n ?? name, description = $u.d ?? description RETURN NONE; };\n");
        }
        if !has("nomarks") {
            if has("markless") {
                sql.push_str("INSERT INTO mark (SELECT [c, u] AS id, s AS r, at FROM $marks) ON DUPLICATE KEY UPDATE r = $input.r, at = $input.at RETURN NONE;\n");
            } else {
                sql.push_str("FOR $m IN $marks { UPDATE type::record('member', [$m.c, $m.u]) SET delivered_at = $m.at, delivered_seq = $m.s, read_at = $m.at, read_seq = $m.s WHERE read_seq < $m.s RETURN NONE; };\n");
            }
        }
        sql.push_str("COMMIT TRANSACTION;");
        run(&ds, &s, &sql, json!({"msgs": msgs, "k": idem.iter().map(|i| json!([i["key"], i["chat_id"], i["seq"]])).collect::<Vec<_>>(), "idem": idem, "updates": updates, "marks": marks, "b": b})).await;
    }
    let el = t0.elapsed().as_secs_f64();
    let c = cpu() - c0;
    println!(
        "{variant:40} {:8.0} msg/s  {:6.1} us CPU/msg  {:5.1} ms/commit",
        n as f64 / el,
        c * 1e6 / n as f64,
        el * 1e3 / BATCHES as f64
    );
    // check reads
    if has("arr") {
        run(&ds, &s, "SELECT * FROM msg:['c1', 10]..=['c1', 20]", json!({})).await;
    }
}
