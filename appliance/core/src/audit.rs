//! The audit log: admin actions and security events, with who, what, when and from where.
//! Appended here only; admins can read and filter it, nobody can change it through the API.

use parley_store::AuditFilter;
use parley_store::records::AuditRec;
use parley_types::api::{AuditEntry, AuditPage};
use parley_types::now_millis;

use crate::error::Result;
use crate::{AuthContext, Core, Inner};

impl Inner {
    /// Records an event. A failure to record is logged, not returned: the action it describes
    /// has already happened.
    pub(crate) async fn audit(
        &self,
        actor: Option<&str>,
        action: &str,
        target: Option<String>,
        ip: Option<&str>,
        details: serde_json::Value,
    ) {
        let rec = AuditRec {
            at: now_millis(),
            actor: actor.map(str::to_owned),
            action: action.to_owned(),
            target,
            ip: ip.map(str::to_owned),
            details: (!details.as_object().is_some_and(|o| o.is_empty())).then(|| details.to_string()),
        };
        tracing::info!(action, actor = ?rec.actor, target = ?rec.target, ip = ?rec.ip, "audit");
        if let Err(e) = self.store.append_audit(&rec).await {
            tracing::error!(error = %e, action, "could not write the audit log");
        }
    }

    /// Records an action of the authenticated caller.
    pub(crate) async fn audit_by(
        &self,
        ctx: &AuthContext,
        action: &str,
        target: Option<String>,
        details: serde_json::Value,
    ) {
        self.audit(Some(ctx.user.as_str()), action, target, ctx.ip.as_deref(), details).await;
    }
}

impl Core {
    /// `GET /api/admin/audit`: newest first, filtered by actor, action and time (ms).
    pub async fn audit_log(
        &self,
        ctx: &AuthContext,
        filter: AuditFilter,
        offset: usize,
        limit: usize,
    ) -> Result<AuditPage> {
        self.require_admin(ctx).await?;
        let (total, rows) = self.inner.store.audit_page(&filter, offset, limit.clamp(1, 500)).await?;
        let mut actors: Vec<String> = rows.iter().filter_map(|r| r.actor.clone()).collect();
        actors.sort();
        actors.dedup();
        let names: std::collections::HashMap<String, String> =
            self.inner.store.users(&actors).await?.into_iter().map(|u| (u.user_id, u.username)).collect();
        let entries = rows
            .into_iter()
            .map(|r| AuditEntry {
                at: r.at,
                actor_name: r.actor.as_ref().and_then(|a| names.get(a).cloned()),
                actor: r.actor,
                action: r.action,
                target: r.target,
                ip: r.ip,
                details: r
                    .details
                    .and_then(|d| serde_json::from_str(&d).ok())
                    .unwrap_or_else(|| serde_json::json!({})),
            })
            .collect();
        Ok(AuditPage { total, offset, entries })
    }

    /// Records an event from outside a request (the command line, the system).
    pub async fn audit_system(&self, action: &str, target: Option<String>, details: serde_json::Value) {
        self.inner.audit(None, action, target, None, details).await;
    }
}
