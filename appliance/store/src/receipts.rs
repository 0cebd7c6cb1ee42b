//! Receipt high-water marks and the log of their advances.

use serde_json::json;

use crate::records::{MemberRec, ReceiptTime};
use crate::{Result, Store};

impl Store {
    /// Moves the member's `kind` mark ("delivered" or "read") up to `seq` if it is below, and
    /// logs the advance in the same transaction. A read also counts as delivered. Returns the
    /// member record after the change, or `None` when nothing moved.
    pub async fn advance_receipt(
        &self,
        chat_id: &str,
        user_id: &str,
        kind: &str,
        seq: i64,
        at: i64,
    ) -> Result<Option<MemberRec>> {
        let sql = if kind == "read" {
            "BEGIN TRANSACTION;
             LET $rows = UPDATE type::record('member', [$c, $u])
                 SET read_seq = $s, read_at = $at,
                     delivered_at = IF delivered_seq < $s THEN $at ELSE delivered_at END,
                     delivered_seq = math::max([delivered_seq, $s])
                 WHERE active = true AND read_seq < $s RETURN AFTER;
             IF array::len($rows) > 0 {
                 CREATE receipt SET chat_id = $c, user_id = $u, kind = 'read', seq = $s, at = $at;
                 IF $rows[0].delivered_at = $at {
                     CREATE receipt SET chat_id = $c, user_id = $u, kind = 'delivered', seq = $s, at = $at;
                 };
             };
             RETURN $rows;
             COMMIT TRANSACTION;"
        } else {
            "BEGIN TRANSACTION;
             LET $rows = UPDATE type::record('member', [$c, $u])
                 SET delivered_seq = $s, delivered_at = $at
                 WHERE active = true AND delivered_seq < $s RETURN AFTER;
             IF array::len($rows) > 0 {
                 CREATE receipt SET chat_id = $c, user_id = $u, kind = 'delivered', seq = $s, at = $at;
             };
             RETURN $rows;
             COMMIT TRANSACTION;"
        };
        // Statements: BEGIN, LET, IF, RETURN, COMMIT; the RETURN is second to last.
        let values = self.checked(sql, json!({ "c": chat_id, "u": user_id, "s": seq, "at": at })).await?;
        let rows = match values.into_iter().rev().nth(1) {
            Some(serde_json::Value::Array(rows)) => rows,
            _ => Vec::new(),
        };
        rows.into_iter().find(|r| !r.is_null()).map(serde_json::from_value).transpose().map_err(Into::into)
    }

    /// For each member and kind, the first time its mark reached `seq`.
    pub async fn receipt_times(&self, chat_id: &str, seq: i64) -> Result<Vec<ReceiptTime>> {
        self.fetch(
            "SELECT user_id, kind, math::min(at) AS at FROM receipt
             WHERE chat_id = $c AND seq >= $s GROUP BY user_id, kind",
            json!({ "c": chat_id, "s": seq }),
            0,
        )
        .await
    }
}
