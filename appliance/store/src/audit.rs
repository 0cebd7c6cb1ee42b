//! The audit log: appended by the core, read by admins, never changed.

use serde_json::json;

use crate::records::AuditRec;
use crate::{Result, Store, doc};

/// What to list; absent fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// Exact, or a prefix when it ends with `.` (`user.` matches `user.created`, ...).
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl Store {
    pub async fn append_audit(&self, rec: &AuditRec) -> Result<()> {
        self.exec("CREATE audit CONTENT $r;", json!({ "r": doc(rec)? })).await
    }

    /// Newest first: (total matching, this page).
    pub async fn audit_page(
        &self,
        f: &AuditFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(u64, Vec<AuditRec>)> {
        let mut cond = vec!["true".to_owned()];
        if f.actor.is_some() {
            cond.push("actor = $actor".into());
        }
        match &f.action {
            Some(a) if a.ends_with('.') => cond.push("string::starts_with(action, $action)".into()),
            Some(_) => cond.push("action = $action".into()),
            None => {}
        }
        if f.target.is_some() {
            cond.push("target = $target".into());
        }
        if f.from.is_some() {
            cond.push("at >= $from".into());
        }
        if f.to.is_some() {
            cond.push("at < $to".into());
        }
        let filter = cond.join(" AND ");
        let vars = doc(&json!({
            "actor": f.actor, "action": f.action, "target": f.target, "from": f.from, "to": f.to,
            "offset": offset, "limit": limit,
        }))?;
        #[derive(serde::Deserialize)]
        struct Count {
            n: u64,
        }
        let total = self
            .fetch_one::<Count>(
                &format!("SELECT count() AS n FROM audit WHERE {filter} GROUP ALL"),
                vars.clone(),
                0,
            )
            .await?
            .map_or(0, |c| c.n);
        let rows = self
            .fetch(
                &format!(
                    "SELECT at, actor, action, target, ip, details FROM audit WHERE {filter} \
                     ORDER BY at DESC LIMIT $limit START $offset"
                ),
                vars,
                0,
            )
            .await?;
        Ok((total, rows))
    }
}
