//! The index on its own: privacy ranges, prefixes and phrases, edits and deletes, lenient
//! input, the user directory, and recovery of a corrupt index.

use super::*;

fn msg(chat: &str, seq: u64, text: &str) -> Op {
    Op::Message(MessageDoc {
        chat_id: chat.into(),
        seq,
        sender: "ana@x".into(),
        time: 1_000 + seq as i64,
        text: text.into(),
    })
}

fn vis(chat: &str, from: u64) -> Visible {
    Visible { chat_id: chat.into(), from_seq: from }
}

fn q(text: &str) -> MessageQuery {
    MessageQuery { text: text.into(), order: Order::Newest, offset: 0, limit: 20 }
}

fn seqs(h: &MessageHits) -> Vec<(String, u64)> {
    h.hits.iter().map(|h| (h.chat_id.clone(), h.seq)).collect()
}

fn open() -> (tempfile::TempDir, Search) {
    let dir = tempfile::tempdir().unwrap();
    let (s, opened) = Search::open(dir.path()).unwrap();
    assert_eq!(opened, Opened::Fresh);
    (dir, s)
}

#[test]
fn hits_only_inside_visible_ranges_with_right_counts() {
    let (_d, s) = open();
    s.submit(vec![
        msg("a", 1, "budget meeting"),
        msg("a", 5, "budget approved"),
        msg("b", 2, "budget secret"),
        msg("c", 1, "nothing here"),
    ]);
    s.flush().unwrap();
    let all = s.messages(&q("budget"), &[vis("a", 1), vis("b", 1)]).unwrap();
    assert_eq!(all.total, 3);
    // Joined chat `a` at seq 3: earlier messages are invisible, and the count says so.
    let h = s.messages(&q("budget"), &[vis("a", 3)]).unwrap();
    assert_eq!((h.total, seqs(&h)), (1, vec![("a".into(), 5)]));
    // No chats, no hits.
    assert_eq!(s.messages(&q("budget"), &[]).unwrap().total, 0);
    // Pages: newest first, offset respected.
    let mut page = q("budget");
    page.limit = 1;
    page.offset = 1;
    let h = s.messages(&page, &[vis("a", 1), vis("b", 1)]).unwrap();
    assert_eq!((h.total, seqs(&h)), (3, vec![("b".into(), 2)]));
}

#[test]
fn prefixes_phrases_snippets_and_accents() {
    let (_d, s) = open();
    s.submit(vec![
        msg("a", 1, "The quarterly report is late"),
        msg("a", 2, "report quarterly numbers"),
        msg("a", 3, "Café with José tomorrow"),
    ]);
    s.flush().unwrap();
    let v = [vis("a", 1)];
    // The word being typed matches as a prefix; a finished word must match whole.
    assert_eq!(s.messages(&q("quart"), &v).unwrap().total, 2);
    assert_eq!(s.messages(&q("quart "), &v).unwrap().total, 0);
    assert_eq!(s.messages(&q("quart* rep"), &v).unwrap().total, 2);
    assert_eq!(seqs(&s.messages(&q("\"quarterly report\""), &v).unwrap()), vec![("a".into(), 1)]);
    assert_eq!(s.messages(&q("jose cafe"), &v).unwrap().total, 1);
    let h = s.messages(&q("late"), &v).unwrap();
    let snip = &h.hits[0].snippet;
    let (a, b) = snip.highlights[0];
    assert_eq!(&snip.text[a..b], "late");
    assert_eq!(snip.text, "The quarterly report is late", "a short message is shown whole");
    let h = s.messages(&q("jose"), &v).unwrap();
    let snip = &h.hits[0].snippet;
    let (a, b) = snip.highlights[0];
    assert_eq!(&snip.text[a..b], "José", "byte ranges over accented text");
}

#[test]
fn edits_and_deletes_are_reflected() {
    let (_d, s) = open();
    s.submit(vec![msg("a", 1, "old words"), msg("a", 2, "keep me")]);
    s.flush().unwrap();
    s.submit(vec![
        Op::Edit { chat_id: "a".into(), seq: 1, text: "new words".into(), at: 5_000 },
        Op::Delete { chat_id: "a".into(), seq: 2, at: 5_001 },
    ]);
    s.flush().unwrap();
    let v = [vis("a", 1)];
    assert_eq!(s.messages(&q("old "), &v).unwrap().total, 0);
    assert_eq!(seqs(&s.messages(&q("new "), &v).unwrap()), vec![("a".into(), 1)]);
    assert_eq!(s.messages(&q("keep"), &v).unwrap().total, 0);
    // An edit in the same commit as the message it changes.
    s.submit(vec![
        msg("a", 3, "draft"),
        Op::Edit { chat_id: "a".into(), seq: 3, text: "final".into(), at: 1 },
    ]);
    s.flush().unwrap();
    assert_eq!(s.messages(&q("final"), &v).unwrap().total, 1);
    assert_eq!(s.messages(&q("draft"), &v).unwrap().total, 0);
    assert_eq!(s.max_seq("a").unwrap(), 3);
}

#[test]
fn appended_messages_are_indexed_once_around_catch_up() {
    let (_d, s) = open();
    let appended = |seq, text: &str| match msg("a", seq, text) {
        Op::Message(d) => Op::Appended(d),
        _ => unreachable!(),
    };
    let v = [vis("a", 1)];
    // During catch-up the writers' new messages may also be read from the log: one copy each,
    // in either order and across commits.
    s.submit(vec![msg("a", 1, "twice one"), appended(1, "twice one"), appended(2, "twice two")]);
    s.flush().unwrap();
    s.submit(vec![msg("a", 2, "twice two")]);
    s.caught_up();
    // After it: a message caught up just before the end and appended after it, in one commit.
    s.submit(vec![msg("a", 3, "twice three"), appended(3, "twice three"), appended(4, "twice four")]);
    s.flush().unwrap();
    let h = s.messages(&q("twice"), &v).unwrap();
    assert_eq!(seqs(&h), vec![("a".into(), 4), ("a".into(), 3), ("a".into(), 2), ("a".into(), 1)]);
    // An appended message is edited like any other.
    s.submit(vec![Op::Edit { chat_id: "a".into(), seq: 4, text: "changed".into(), at: 9_000 }]);
    s.flush().unwrap();
    assert_eq!(s.messages(&q("twice"), &v).unwrap().total, 3);
    assert_eq!(s.messages(&q("changed"), &v).unwrap().total, 1);
}

#[test]
fn any_input_is_a_query_or_a_clear_error() {
    let (_d, s) = open();
    s.submit(vec![msg("a", 1, "hello (world) AND or: not")]);
    s.flush().unwrap();
    let v = [vis("a", 1)];
    for input in ["\"unclosed hello", "AND OR NOT", "(world", "hello:*", "***", "a\"b\"c\"", "\u{0}\u{1f600}"]
    {
        match s.messages(&q(input), &v) {
            Ok(_) | Err(SearchError::EmptyQuery) => {}
            Err(e) => panic!("{input:?}: {e}"),
        }
    }
    assert!(matches!(s.messages(&q("  !!! "), &v), Err(SearchError::EmptyQuery)));
    assert_eq!(s.messages(&q("(world"), &v).unwrap().total, 1);
    let long = "word ".repeat(10_000);
    assert!(s.messages(&q(&long), &v).is_ok());
}

#[test]
fn directory_matches_prefixes_typos_and_contacts() {
    let (_d, s) = open();
    let user = |id: &str, name: &str, display: &str, active: bool| {
        Op::User(UserDoc {
            user_id: id.into(),
            username: name.into(),
            display_name: display.into(),
            email: Some(format!("{name}@example.org")),
            phone: None,
            active,
        })
    };
    s.submit(vec![
        user("alexandra@x", "alexandra", "Alexandra Silva", true),
        user("alex@x", "alex", "Alex Brown", true),
        user("bob@x", "bob", "Robert Alexson", true),
        user("gone@x", "alexgone", "Alex Gone", false),
    ]);
    s.flush().unwrap();
    let found = s.users("alex", 10).unwrap();
    assert_eq!(found[0], "alex@x", "exact username first: {found:?}");
    assert!(found.contains(&"alexandra@x".to_string()));
    assert!(!found.contains(&"gone@x".to_string()), "disabled users never match");
    assert_eq!(s.users("alexnadra", 10).unwrap().first().map(String::as_str), Some("alexandra@x"));
    assert_eq!(s.users("silva", 10).unwrap(), vec!["alexandra@x".to_string()]);
    assert_eq!(s.users("bob@example.org", 10).unwrap().first().map(String::as_str), Some("bob@x"));
    // Re-indexing a user replaces it.
    s.submit(vec![user("bob@x", "bob", "Bobby Tables", true)]);
    s.flush().unwrap();
    assert!(s.users("alexson", 10).unwrap().is_empty());
}

#[test]
fn a_corrupt_index_is_recreated_and_reported_fresh() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (s, _) = Search::open(dir.path()).unwrap();
        s.submit(vec![msg("a", 1, "hello")]);
        s.flush().unwrap();
        s.shutdown();
    }
    let (s, opened) = Search::open(dir.path()).unwrap();
    assert_eq!(opened, Opened::Existing { through_ms: 1_001 });
    s.shutdown();
    drop(s);
    std::fs::write(dir.path().join("messages").join("meta.json"), b"{ not json").unwrap();
    let (s, opened) = Search::open(dir.path()).unwrap();
    assert_eq!(opened, Opened::Fresh);
    assert_eq!(s.messages(&q("hello"), &[vis("a", 1)]).unwrap().total, 0);
}
