//! Queries. User input is never handed to a query grammar: it is split into quoted phrases and
//! words, run through the index's analyzer, and turned into term, phrase and prefix queries,
//! so no input can produce a syntax error.

use std::ops::Bound;

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{
    BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Order as TOrder, Searcher, TantivyDocument, Term};

use crate::index::{ANALYZER, Shared, message_from};
use crate::{MessageHit, MessageHits, MessageQuery, Order, Result, SearchError, Snippet, Visible};

/// Longest query considered, in characters, and most words used from it.
const MAX_QUERY_CHARS: usize = 256;
const MAX_CLAUSES: usize = 12;
/// Most index terms a prefix expands to (the most frequent are not chosen; the first are).
const MAX_EXPANSIONS: usize = 64;
const SNIPPET_CHARS: usize = 160;

#[derive(Debug, PartialEq)]
enum Clause {
    Word { token: String, prefix: bool },
    Phrase(Vec<String>),
}

fn analyze(shared: &Shared, text: &str) -> Vec<String> {
    let Some(mut analyzer) = shared.messages.tokenizers().get(ANALYZER) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// Splits input into clauses. A word ending in `*`, or the last word while still being typed
/// (no trailing space), matches as a prefix. An unclosed quote runs to the end.
fn parse(shared: &Shared, input: &str, all_prefix: bool) -> Vec<Clause> {
    let input: String = input.chars().take(MAX_QUERY_CHARS).collect();
    let typing = !input.ends_with(char::is_whitespace) && !input.ends_with('"');
    let mut clauses = Vec::new();
    let segments: Vec<&str> = input.split('"').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        if i % 2 == 1 {
            let tokens = analyze(shared, seg);
            match tokens.len() {
                0 => {}
                1 => clauses.push(Clause::Word { token: tokens[0].clone(), prefix: false }),
                _ => clauses.push(Clause::Phrase(tokens)),
            }
            continue;
        }
        let words: Vec<&str> = seg.split_whitespace().collect();
        for (j, w) in words.iter().enumerate() {
            let star = w.ends_with('*');
            let tokens = analyze(shared, w.trim_end_matches('*'));
            let is_last = i == last && j + 1 == words.len();
            match tokens.len() {
                0 => {}
                1 => clauses.push(Clause::Word {
                    token: tokens[0].clone(),
                    prefix: star || all_prefix || (is_last && typing),
                }),
                _ => clauses.push(Clause::Phrase(tokens)),
            }
        }
    }
    clauses.truncate(MAX_CLAUSES);
    clauses
}

/// Index terms of `field` starting with `prefix`, across all segments.
fn expand(searcher: &Searcher, field: Field, prefix: &str) -> Vec<Term> {
    let mut terms: Vec<String> = Vec::new();
    for segment in searcher.segment_readers() {
        let Ok(inverted) = segment.inverted_index(field) else { continue };
        let Ok(mut stream) = inverted.terms().range().ge(prefix.as_bytes()).into_stream() else { continue };
        while stream.advance() && terms.len() < MAX_EXPANSIONS {
            let Ok(key) = std::str::from_utf8(stream.key()) else { continue };
            if !key.starts_with(prefix) {
                break;
            }
            if !terms.iter().any(|t| t == key) {
                terms.push(key.to_owned());
            }
        }
    }
    terms.into_iter().map(|t| Term::from_field_text(field, &t)).collect()
}

fn term_query(t: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs))
}

fn boosted(q: Box<dyn Query>, boost: f32) -> (Occur, Box<dyn Query>) {
    (Occur::Should, Box::new(BoostQuery::new(q, boost)))
}

/// A word as a query on `field`: exact, or exact plus every term it is a prefix of.
fn word_query(searcher: &Searcher, field: Field, token: &str, prefix: bool) -> Box<dyn Query> {
    let exact = Term::from_field_text(field, token);
    if !prefix {
        return term_query(exact);
    }
    let mut should: Vec<(Occur, Box<dyn Query>)> = vec![boosted(term_query(exact.clone()), 2.0)];
    for t in expand(searcher, field, token).into_iter().filter(|t| *t != exact) {
        should.push((Occur::Should, term_query(t)));
    }
    Box::new(BooleanQuery::new(should))
}

fn clause_query(searcher: &Searcher, field: Field, c: &Clause) -> Box<dyn Query> {
    match c {
        Clause::Word { token, prefix } => word_query(searcher, field, token, *prefix),
        Clause::Phrase(tokens) => {
            Box::new(PhraseQuery::new(tokens.iter().map(|t| Term::from_field_text(field, t)).collect()))
        }
    }
}

fn visibility(shared: &Shared, visible: &[Visible]) -> Box<dyn Query> {
    let f = &shared.m;
    let chats = visible
        .iter()
        .map(|v| {
            let chat = term_query(Term::from_field_text(f.chat, &v.chat_id));
            let q: Box<dyn Query> = if v.from_seq <= 1 {
                chat
            } else {
                let from = RangeQuery::new(
                    Bound::Included(Term::from_field_u64(f.seq, v.from_seq)),
                    Bound::Unbounded,
                );
                Box::new(BooleanQuery::new(vec![(Occur::Must, chat), (Occur::Must, Box::new(from))]))
            };
            (Occur::Should, q)
        })
        .collect();
    Box::new(BooleanQuery::new(chats))
}

pub fn messages(shared: &Shared, q: &MessageQuery, visible: &[Visible]) -> Result<MessageHits> {
    let started = std::time::Instant::now();
    let clauses = parse(shared, &q.text, false);
    if clauses.is_empty() {
        return Err(SearchError::EmptyQuery);
    }
    if visible.is_empty() {
        return Ok(MessageHits { total: 0, hits: Vec::new() });
    }
    let searcher = shared.m_reader.searcher();
    let f = &shared.m;
    let mut must: Vec<(Occur, Box<dyn Query>)> =
        clauses.iter().map(|c| (Occur::Must, clause_query(&searcher, f.text, c))).collect();
    must.push((Occur::Must, visibility(shared, visible)));
    let query = BooleanQuery::new(must);
    let limit = q.limit.clamp(1, 100);
    let top = TopDocs::with_limit(limit).and_offset(q.offset);
    let (total, addrs): (usize, Vec<DocAddress>) = match q.order {
        Order::Newest => {
            let (n, docs) =
                searcher.search(&query, &(Count, top.order_by_fast_field::<i64>("time", TOrder::Desc)))?;
            (n, docs.into_iter().map(|(_, a)| a).collect())
        }
        Order::Best => {
            let (n, docs) = searcher.search(&query, &(Count, top.order_by_score()))?;
            (n, docs.into_iter().map(|(_, a)| a).collect())
        }
    };
    let mut snippets = SnippetGenerator::create(&searcher, &query, f.text)?;
    snippets.set_max_num_chars(SNIPPET_CHARS);
    let mut hits = Vec::with_capacity(addrs.len());
    for a in addrs {
        let d: TantivyDocument = searcher.doc(a)?;
        let Some(m) = message_from(f, &d) else { continue };
        let s = snippets.snippet(&m.text);
        let snippet = if s.fragment().is_empty() {
            Snippet { text: m.text.chars().take(SNIPPET_CHARS).collect(), highlights: Vec::new() }
        } else if m.text.chars().count() <= SNIPPET_CHARS {
            // The whole message fits: show all of it (fragments stop at the last word).
            let shift = s.fragment_range().start;
            Snippet {
                highlights: s.highlighted().iter().map(|r| (r.start + shift, r.end + shift)).collect(),
                text: m.text.clone(),
            }
        } else {
            Snippet {
                text: s.fragment().to_owned(),
                highlights: s.highlighted().iter().map(|r| (r.start, r.end)).collect(),
            }
        };
        hits.push(MessageHit { chat_id: m.chat_id, seq: m.seq, sender: m.sender, time: m.time, snippet });
    }
    tracing::debug!(took_us = started.elapsed().as_micros() as u64, total, "message search");
    Ok(MessageHits { total, hits })
}

pub fn users(shared: &Shared, input: &str, limit: usize) -> Result<Vec<String>> {
    let clauses = parse(shared, input, true);
    let raw = input.trim().to_lowercase();
    if clauses.is_empty() && raw.is_empty() {
        return Err(SearchError::EmptyQuery);
    }
    let searcher = shared.u_reader.searcher();
    let f = &shared.u;
    let mut words: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for c in &clauses {
        let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, weight) in [(f.username, 4.0), (f.display_name, 3.0)] {
            any.push(boosted(clause_query(&searcher, field, c), weight));
            // Typos: one edit away, as a prefix while typing; short words would match everything.
            if let Clause::Word { token, .. } = c
                && token.chars().count() >= 3
            {
                let t = Term::from_field_text(field, token);
                any.push(boosted(Box::new(FuzzyTermQuery::new_prefix(t, 1, true)), weight / 4.0));
            }
        }
        words.push((Occur::Must, Box::new(BooleanQuery::new(any))));
    }
    let mut either: Vec<(Occur, Box<dyn Query>)> =
        vec![boosted(term_query(Term::from_field_text(f.contact, &raw)), 8.0)];
    if !words.is_empty() {
        either.push((Occur::Should, Box::new(BooleanQuery::new(words))));
    }
    let query = BooleanQuery::new(vec![
        (Occur::Must, term_query(Term::from_field_u64(f.active, 1))),
        (Occur::Must, Box::new(BooleanQuery::new(either))),
    ]);
    let docs = searcher.search(&query, &TopDocs::with_limit(limit.clamp(1, 100)).order_by_score())?;
    let mut out = Vec::with_capacity(docs.len());
    for (_, a) in docs {
        let d: TantivyDocument = searcher.doc(a)?;
        if let Some(id) = d.get_first(f.user_id).and_then(|v| v.as_str()) {
            out.push(id.to_owned());
        }
    }
    Ok(out)
}

pub fn max_seq(shared: &Shared, chat_id: &str) -> Result<u64> {
    let searcher = shared.m_reader.searcher();
    let q = TermQuery::new(Term::from_field_text(shared.m.chat, chat_id), IndexRecordOption::Basic);
    let top = TopDocs::with_limit(1).order_by_fast_field::<u64>("seq", TOrder::Desc);
    Ok(searcher.search(&q, &top)?.first().and_then(|(s, _)| *s).unwrap_or(0))
}
