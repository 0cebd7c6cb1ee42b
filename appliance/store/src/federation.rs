//! Federation state: pinned peers and invite hashes (the federation crate's `PeerStore`),
//! transaction and event deduplication (`Dedup`), the durable outbox per destination, sends
//! waiting for a remote home server, and cached profiles of remote users.
//!
//! The crate's own records (peers, invites, acks, results) are stored as JSON strings: their
//! shape belongs to `parley-federation`, not to this schema.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::records::UserRec;
use crate::{Result, Store, doc};

/// One event waiting for its destination. `n` orders a destination's queue (it only grows).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutboxRec {
    pub dest: String,
    pub n: i64,
    /// The signed event, as JSON.
    pub event: String,
    pub created_at: i64,
}

/// Per destination: events waiting and the age of the oldest.
#[derive(Debug, Clone, Deserialize)]
pub struct OutboxDepth {
    pub dest: String,
    pub depth: u64,
    pub oldest: Option<i64>,
}

#[derive(Deserialize)]
struct Json {
    json: String,
}

impl Store {
    pub async fn fed_peers(&self) -> Result<Vec<String>> {
        let rows: Vec<Json> = self.fetch("SELECT json FROM fed_peer", json!({}), 0).await?;
        Ok(rows.into_iter().map(|r| r.json).collect())
    }

    pub async fn save_fed_peer(&self, server_name: &str, json: &str) -> Result<()> {
        self.exec(
            "UPSERT type::record('fed_peer', $n) SET json = $j RETURN NONE",
            json!({ "n": server_name, "j": json }),
        )
        .await
    }

    pub async fn save_fed_invite(&self, hash: &str, json: &str, expires_at: i64) -> Result<()> {
        self.exec(
            "CREATE type::record('fed_invite', $h) SET json = $j, expires_at = $e RETURN NONE",
            json!({ "h": hash, "j": json, "e": expires_at }),
        )
        .await
    }

    /// Removes and returns the invite: the delete is the claim, so an invite is used once.
    pub async fn take_fed_invite(&self, hash: &str) -> Result<Option<String>> {
        let rows: Vec<Json> = self
            .fetch("DELETE type::record('fed_invite', $h) RETURN BEFORE", json!({ "h": hash }), 0)
            .await?;
        Ok(rows.into_iter().next().map(|r| r.json))
    }

    pub async fn fed_txn_ack(&self, peer: &str, txn_id: &str) -> Result<Option<String>> {
        let rows: Vec<Json> = self
            .fetch("SELECT json FROM type::record('fed_txn', [$p, $t])", json!({ "p": peer, "t": txn_id }), 0)
            .await?;
        Ok(rows.into_iter().next().map(|r| r.json))
    }

    pub async fn record_fed_txn(&self, peer: &str, txn_id: &str, json: &str, at: i64) -> Result<()> {
        self.exec(
            "UPSERT type::record('fed_txn', [$p, $t]) SET json = $j, at = $at RETURN NONE",
            json!({ "p": peer, "t": txn_id, "j": json, "at": at }),
        )
        .await
    }

    /// For each event ID (same order), the result recorded for it.
    pub async fn fed_seen(&self, ids: &[String]) -> Result<Vec<Option<String>>> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
            json: String,
        }
        let rows: Vec<Row> = self
            .fetch(
                "SELECT record::id(id) AS id, json FROM array::map($ids, |$i| type::record('fed_event', $i)) \
                 WHERE json != NONE",
                json!({ "ids": ids }),
                0,
            )
            .await?;
        Ok(ids.iter().map(|i| rows.iter().find(|r| &r.id == i).map(|r| r.json.clone())).collect())
    }

    pub async fn record_fed_events(&self, results: &[(String, String)], at: i64) -> Result<()> {
        let rows: Vec<Value> =
            results.iter().map(|(id, j)| json!({ "id": id, "json": j, "at": at })).collect();
        self.exec(
            "FOR $r IN $rows { UPSERT type::record('fed_event', $r.id) SET json = $r.json, at = $r.at RETURN NONE; };",
            json!({ "rows": rows }),
        )
        .await
    }

    /// Forgets acks and event results older than `before` (replays that old are not expected).
    pub async fn prune_fed_dedup(&self, before: i64) -> Result<()> {
        self.exec(
            "DELETE fed_txn WHERE at < $b RETURN NONE; DELETE fed_event WHERE at < $b RETURN NONE;",
            json!({ "b": before }),
        )
        .await
    }

    pub async fn outbox_insert(&self, recs: &[OutboxRec]) -> Result<()> {
        if recs.is_empty() {
            return Ok(());
        }
        self.exec(
            "FOR $o IN $recs { CREATE type::record('fed_outbox', [$o.dest, $o.n]) CONTENT $o RETURN NONE; };",
            json!({ "recs": doc(&recs)? }),
        )
        .await
    }

    /// The oldest `limit` events for `dest`, in order.
    pub async fn outbox_next(&self, dest: &str, limit: usize) -> Result<Vec<OutboxRec>> {
        self.fetch(
            "SELECT dest, n, event, created_at FROM fed_outbox WHERE dest = $d ORDER BY n ASC LIMIT $l",
            json!({ "d": dest, "l": limit }),
            0,
        )
        .await
    }

    pub async fn outbox_remove(&self, dest: &str, ns: &[i64]) -> Result<()> {
        self.exec(
            "FOR $n IN $ns { DELETE type::record('fed_outbox', [$d, $n]) RETURN NONE; };",
            json!({ "d": dest, "ns": ns }),
        )
        .await
    }

    pub async fn outbox_depths(&self) -> Result<Vec<OutboxDepth>> {
        self.fetch(
            "SELECT dest, count() AS depth, math::min(created_at) AS oldest FROM fed_outbox GROUP BY dest",
            json!({}),
            0,
        )
        .await
    }

    /// The largest queue position in use (positions continue from it after a restart).
    pub async fn outbox_max_n(&self) -> Result<i64> {
        #[derive(Deserialize)]
        struct N {
            n: Option<i64>,
        }
        Ok(self
            .fetch_one::<N>("SELECT math::max(n) AS n FROM fed_outbox GROUP ALL", json!({}), 0)
            .await?
            .and_then(|r| r.n)
            .unwrap_or(0))
    }

    /// The message ID already given to a send forwarded to a remote home server (`key` is the
    /// sender and client ID), so a resend reuses it instead of sending twice.
    pub async fn fed_pending(&self, key: &str) -> Result<Option<String>> {
        #[derive(Deserialize)]
        struct P {
            message_id: String,
        }
        Ok(self
            .fetch_one::<P>("SELECT message_id FROM type::record('fed_pending', $k)", json!({ "k": key }), 0)
            .await?
            .map(|p| p.message_id))
    }

    /// (server name, key) of every learned origin key.
    pub async fn fed_keys(&self) -> Result<Vec<(String, String)>> {
        #[derive(Deserialize)]
        struct K {
            server: String,
            key: String,
        }
        let rows: Vec<K> =
            self.fetch("SELECT record::id(id) AS server, key FROM fed_key", json!({}), 0).await?;
        Ok(rows.into_iter().map(|k| (k.server, k.key)).collect())
    }

    pub async fn save_fed_key(&self, server: &str, key: &str) -> Result<()> {
        self.exec(
            "UPSERT type::record('fed_key', $s) SET key = $k RETURN NONE",
            json!({ "s": server, "k": key }),
        )
        .await
    }

    pub async fn fed_pending_remove(&self, key: &str) -> Result<()> {
        self.exec("DELETE type::record('fed_pending', $k) RETURN NONE", json!({ "k": key })).await
    }

    /// Queues an operation for a remote home server; with `pending`, records the send's
    /// message ID in the same transaction.
    pub async fn enqueue_remote_op(
        &self,
        pending: Option<(&str, &str)>,
        rec: &OutboxRec,
        at: i64,
    ) -> Result<()> {
        let mut sql = String::from("BEGIN TRANSACTION;");
        if pending.is_some() {
            sql.push_str("CREATE type::record('fed_pending', $k) SET message_id = $m, at = $at RETURN NONE;");
        }
        sql.push_str(
            "CREATE type::record('fed_outbox', [$o.dest, $o.n]) CONTENT $o RETURN NONE; COMMIT TRANSACTION;",
        );
        let (k, m) = pending.unwrap_or_default();
        self.exec(&sql, json!({ "k": k, "m": m, "at": at, "o": doc(rec)? })).await
    }

    /// Inserts or refreshes the cached profile of a remote user (`source = "remote"`). Local
    /// accounts are never overwritten.
    pub async fn upsert_remote_user(&self, user: &UserRec) -> Result<()> {
        self.exec(
            "LET $cur = (SELECT user_id, source FROM type::record('user', $u.user_id))[0];
             IF $cur = NONE OR $cur.source = 'remote' {
                 UPSERT type::record('user', $u.user_id) CONTENT $u RETURN NONE;
             };",
            json!({ "u": doc(user)? }),
        )
        .await
    }
}
