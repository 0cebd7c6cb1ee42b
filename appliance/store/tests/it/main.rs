//! Store tests against a real embedded SurrealKV database in a temp dir.

use parley_store::records::*;
use parley_store::{Batch, ChatUpdate, Store, StoreError};

async fn open(dir: &std::path::Path) -> Store {
    let url = format!("surrealkv://{}?sync=every", dir.join("db").display());
    let limits = parley_store::EngineLimits { block_cache_bytes: 32 << 20, memtable_bytes: 16 << 20 };
    Store::open(&url, "parley", "parley", limits).await.expect("open store")
}

fn user(name: &str, email: Option<&str>) -> UserRec {
    UserRec {
        user_id: format!("{name}@example.org"),
        username: name.into(),
        display_name: name.into(),
        about: String::new(),
        email: email.map(Into::into),
        phone: None,
        password_hash: Some("x".into()),
        is_admin: false,
        disabled: false,
        last_seen_visibility: "everyone".into(),
        last_seen: None,
        created_at: 1,
        ..Default::default()
    }
}

fn msg(chat: &str, seq: i64, sender: &str) -> MessageRec {
    MessageRec {
        message_id: format!("m{seq}{chat}"),
        chat_id: chat.into(),
        seq,
        sender: sender.into(),
        kind: "text".into(),
        text: Some(format!("hello {seq}")),
        reply_to: None,
        target: None,
        event: None,
        client_id: Some(format!("k{seq}")),
        created_at: 10 + seq,
        edited_at: None,
        deleted: false,
        media_id: None,
        media: None,
    }
}

fn member(chat: &str, user: &str) -> MemberRec {
    MemberRec {
        chat_id: chat.into(),
        user_id: user.into(),
        role: "member".into(),
        active: true,
        joined_at: 1,
        joined_seq: 1,
        left_seq: None,
        delivered_seq: 0,
        delivered_at: 0,
        read_seq: 0,
        read_at: 0,
    }
}

#[tokio::test]
async fn users_logins_and_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    store.create_user(&user("ana", Some("ana@x.org"))).await.unwrap();
    store.create_user(&user("bob", None)).await.unwrap();
    store.create_user(&user("cid", None)).await.unwrap();
    let e = store.create_user(&user("ana", None)).await.unwrap_err();
    assert!(matches!(&e, StoreError::Conflict(k) if k == "username"), "{e}");
    let e = store.create_user(&user("dan", Some("ana@x.org"))).await.unwrap_err();
    assert!(matches!(&e, StoreError::Conflict(k) if k == "email"), "{e}");
    assert!(store.user("dan@example.org").await.unwrap().is_none(), "failed create left nothing");
    let found = store.user_by_login("e:ana@x.org").await.unwrap().unwrap();
    assert_eq!(found.username, "ana");
    assert!(store.user_by_login("e:nobody@x.org").await.unwrap().is_none());
    assert_eq!(store.count_users().await.unwrap(), 3);
    let got = store.users(&["ana@example.org".into(), "zzz@example.org".into()]).await.unwrap();
    assert_eq!(got.len(), 1);
}

#[tokio::test]
async fn batches_history_receipts_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let chat = "c1@example.org";
    {
        let store = open(dir.path()).await;
        let mut b = Batch {
            new_chats: vec![ChatRec {
                chat_id: chat.into(),
                kind: "group".into(),
                name: "g".into(),
                description: String::new(),
                created_by: "ana@example.org".into(),
                created_at: 1,
                last_seq: 0,
                last_activity: 1,
                avatar: None,
            }],
            members: vec![member(chat, "ana@example.org"), member(chat, "bob@example.org")],
            ..Default::default()
        };
        store.commit_batch(&b).await.unwrap();
        b = Batch::default();
        for s in 1..=5 {
            b.messages.push(msg(chat, s, "ana@example.org"));
            b.idem.push(IdemRec {
                key: format!("ana@example.org|k{s}"),
                message_id: format!("m{s}{chat}"),
                chat_id: chat.into(),
                seq: s,
            });
        }
        store.commit_batch(&b).await.unwrap();
        // Heads and senders' marks are written behind the log, and never move back.
        assert_eq!(store.log_end(chat, 0).await.unwrap(), 5);
        assert_eq!(store.log_end(chat, 5).await.unwrap(), 5);
        let head = ChatUpdate { chat_id: chat.into(), last_seq: 5, last_activity: 20, ..Default::default() };
        let mark = (chat.to_owned(), "ana@example.org".to_owned(), 5, 20);
        store.write_heads(std::slice::from_ref(&head), std::slice::from_ref(&mark)).await.unwrap();
        let older = ChatUpdate { last_seq: 3, last_activity: 10, ..head };
        store.write_heads(&[older], &[(chat.into(), "ana@example.org".into(), 3, 10)]).await.unwrap();

        let idem =
            store.idem_lookup(&["ana@example.org|k2".into(), "ana@example.org|nope".into()]).await.unwrap();
        assert_eq!(idem.len(), 1);
        assert_eq!(idem[0].seq, 2);
        assert_eq!(idem[0].key, "ana@example.org|k2");

        let moved = store.advance_receipt(chat, "bob@example.org", "delivered", 3, 100).await.unwrap();
        assert_eq!(moved.unwrap().delivered_seq, 3);
        assert!(store.advance_receipt(chat, "bob@example.org", "delivered", 2, 101).await.unwrap().is_none());
        let moved = store.advance_receipt(chat, "bob@example.org", "read", 5, 200).await.unwrap().unwrap();
        assert_eq!((moved.read_seq, moved.delivered_seq), (5, 5));
        let times = store.receipt_times(chat, 4).await.unwrap();
        assert_eq!(times.len(), 2, "{times:?}");
        assert!(times.iter().all(|t| t.at == 200));
        let times = store.receipt_times(chat, 2).await.unwrap();
        let d = times.iter().find(|t| t.kind == "delivered").unwrap();
        assert_eq!(d.at, 100);
        assert_eq!(store.unread_count(chat, 0, "bob@example.org").await.unwrap(), 5);
    }
    let store = open(dir.path()).await;
    let h = store.history(chat, 6, 1, 3).await.unwrap();
    assert_eq!(h.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![5, 4, 3]);
    let a = store.messages_after(chat, 2, 5, 100).await.unwrap();
    assert_eq!(a.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![3, 4, 5]);
    let c = store.chat(chat).await.unwrap().unwrap();
    assert_eq!((c.last_seq, c.last_activity), (5, 20));
    let m = store.member(chat, "ana@example.org").await.unwrap().unwrap();
    assert_eq!((m.read_seq, m.delivered_seq, m.read_at), (5, 5, 20));
    assert_eq!(store.memberships("bob@example.org").await.unwrap().len(), 1);
    assert_eq!(store.last_visible_message(chat, 1, 5).await.unwrap().unwrap().seq, 5);
    // A duplicate seq is refused by the record ID and the batch leaves nothing behind.
    let dup = Batch { messages: vec![msg(chat, 5, "bob@example.org")], ..Default::default() };
    assert!(store.commit_batch(&dup).await.is_err());
}

/// The memory limits reach the engine: a transaction larger than the memtable is refused
/// (SurrealKV's documented behaviour), and the same one fits in a larger memtable.
#[tokio::test]
async fn engine_limits_are_applied() {
    async fn write_big(memtable: u64) -> Result<(), StoreError> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("surrealkv://{}?sync=every", dir.path().join("db").display());
        let limits = parley_store::EngineLimits { block_cache_bytes: 16 << 20, memtable_bytes: memtable };
        let store = Store::open(&url, "parley", "parley", limits).await?;
        let mut big = user("big", None);
        big.about = "x".repeat(3 << 20);
        let r = store.create_user(&big).await;
        store.close().await;
        r
    }
    assert!(write_big(1 << 20).await.is_err(), "a 3 MiB transaction must not fit a 1 MiB memtable");
    write_big(64 << 20).await.expect("fits a 64 MiB memtable");
}

/// A data dir written by a newer release is refused with a clear error, and an older one is
/// migrated in place on open.
#[tokio::test]
async fn schema_versions_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path()).await.close().await;
    {
        // What a future release would leave behind, written without going through Store.
        let url = format!("surrealkv://{}?sync=every", dir.path().join("db").display());
        let db = surrealdb::engine::any::connect(url).await.unwrap();
        db.use_ns("parley").use_db("parley").await.unwrap();
        db.query("UPSERT meta:schema SET version = 99").await.unwrap().check().unwrap();
    }
    let url = format!("surrealkv://{}?sync=every", dir.path().join("db").display());
    let limits = parley_store::EngineLimits { block_cache_bytes: 32 << 20, memtable_bytes: 16 << 20 };
    let err = Store::open(&url, "parley", "parley", limits).await.unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("newer Parley"));
}
