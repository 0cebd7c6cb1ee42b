//! Settings the console changes while the appliance runs: registration policy, upload limit,
//! login and frame rate limits, message retention and allowed web origins. They start from
//! the config file; console changes are stored in the database and win over it. Each use
//! reads the current value, so changes apply without a restart (a frame rate change applies
//! to connections opened after it).

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parley_config::{Registration, Settings};
use parley_types::api::{RuntimeSettings, RuntimeSettingsUpdate};
use parley_types::now_millis;

use crate::error::{CoreError, Result};
use crate::{AuthContext, Core, Inner};

const KEY: &str = "runtime";

pub(crate) fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

/// The login limiters, rebuilt when their rates change.
pub(crate) struct Limiters {
    pub by_account: DefaultKeyedRateLimiter<String>,
    pub by_ip: DefaultKeyedRateLimiter<String>,
}

impl Limiters {
    pub fn new(s: &RuntimeSettings) -> Self {
        Self {
            by_account: RateLimiter::keyed(per_minute(s.login_per_account_per_minute)),
            by_ip: RateLimiter::keyed(per_minute(s.login_per_ip_per_minute)),
        }
    }
}

fn registration_name(r: Registration) -> &'static str {
    match r {
        Registration::Open => "open",
        Registration::InviteOnly => "invite_only",
        Registration::Closed => "closed",
    }
}

pub(crate) fn parse_registration(s: &str) -> Result<Registration> {
    match s {
        "open" => Ok(Registration::Open),
        "invite_only" => Ok(Registration::InviteOnly),
        "closed" => Ok(Registration::Closed),
        _ => Err(CoreError::invalid("registration must be open, invite_only or closed")),
    }
}

/// The config file's values.
pub(crate) fn from_config(s: &Settings) -> RuntimeSettings {
    RuntimeSettings {
        registration: registration_name(s.auth.registration).to_owned(),
        max_upload_mib: s.media.max_upload_mib,
        login_per_account_per_minute: s.auth.login_per_account_per_minute,
        login_per_ip_per_minute: s.auth.login_per_ip_per_minute,
        ws_frames_per_second: s.limits.frames_per_second,
        retention_days: None,
        allowed_origins: s.http.allowed_origins.clone(),
    }
}

fn check_origin(o: &str) -> Result<String> {
    let o = o.trim().trim_end_matches('/');
    let ok = (o.starts_with("https://") || o.starts_with("http://"))
        && o.len() < 200
        && !o.contains(char::is_whitespace)
        && o.splitn(4, '/').nth(3).is_none();
    if ok {
        Ok(o.to_owned())
    } else {
        Err(CoreError::invalid(format!(
            "allowed_origins: {o:?} is not an origin like https://chat.example.org (scheme, host, optional port; no path)"
        )))
    }
}

/// Applies an update to `cur`, validating each field; returns the changed field names.
fn apply(cur: &mut RuntimeSettings, u: RuntimeSettingsUpdate) -> Result<Vec<&'static str>> {
    let mut changed = Vec::new();
    if let Some(r) = u.registration {
        parse_registration(&r)?;
        if r != cur.registration {
            cur.registration = r;
            changed.push("registration");
        }
    }
    if let Some(m) = u.max_upload_mib {
        if !(1..=4096).contains(&m) {
            return Err(CoreError::invalid("max_upload_mib must be 1-4096"));
        }
        if m != cur.max_upload_mib {
            cur.max_upload_mib = m;
            changed.push("max_upload_mib");
        }
    }
    for (value, slot, name) in [
        (
            u.login_per_account_per_minute,
            &mut cur.login_per_account_per_minute,
            "login_per_account_per_minute",
        ),
        (u.login_per_ip_per_minute, &mut cur.login_per_ip_per_minute, "login_per_ip_per_minute"),
        (u.ws_frames_per_second, &mut cur.ws_frames_per_second, "ws_frames_per_second"),
    ] {
        if let Some(v) = value {
            if !(1..=1_000_000).contains(&v) {
                return Err(CoreError::invalid(format!("{name} must be 1-1000000")));
            }
            if v != *slot {
                *slot = v;
                changed.push(name);
            }
        }
    }
    if let Some(d) = u.retention_days {
        let d = d.unwrap_or(0);
        if d > 36_500 {
            return Err(CoreError::invalid("retention_days must be 0 (keep forever) to 36500"));
        }
        let new = (d > 0).then_some(d);
        if new != cur.retention_days {
            cur.retention_days = new;
            changed.push("retention_days");
        }
    }
    if let Some(origins) = u.allowed_origins {
        if origins.len() > 50 {
            return Err(CoreError::invalid("allowed_origins holds at most 50 origins"));
        }
        let mut clean = origins.iter().map(|o| check_origin(o)).collect::<Result<Vec<_>>>()?;
        clean.dedup();
        if clean != cur.allowed_origins {
            cur.allowed_origins = clean;
            changed.push("allowed_origins");
        }
    }
    Ok(changed)
}

impl Inner {
    pub(crate) fn runtime(&self) -> Arc<RuntimeSettings> {
        self.runtime.read().clone()
    }

    pub(crate) fn registration(&self) -> Registration {
        parse_registration(&self.runtime().registration).unwrap_or(Registration::Closed)
    }

    pub(crate) fn limiters(&self) -> Arc<Limiters> {
        self.limiters.read().clone()
    }
}

impl Core {
    /// Loads the console's stored settings over the config file's (at start).
    pub(crate) async fn load_runtime(&self) -> Result<()> {
        let Some(stored) = self.inner.store.setting::<RuntimeSettings>(KEY).await? else { return Ok(()) };
        *self.inner.limiters.write() = Arc::new(Limiters::new(&stored));
        *self.inner.runtime.write() = Arc::new(stored);
        Ok(())
    }

    /// The current runtime settings (the server reads origins and frame rates here).
    pub fn runtime(&self) -> Arc<RuntimeSettings> {
        self.inner.runtime()
    }

    /// `GET /api/admin/settings`
    pub async fn admin_settings(&self, ctx: &AuthContext) -> Result<RuntimeSettings> {
        self.require_admin(ctx).await?;
        Ok((*self.inner.runtime()).clone())
    }

    /// `PATCH /api/admin/settings`
    pub async fn update_settings(
        &self,
        ctx: &AuthContext,
        u: RuntimeSettingsUpdate,
    ) -> Result<RuntimeSettings> {
        self.require_admin(ctx).await?;
        let _guard = self.inner.settings_lock.lock().await;
        let old = (*self.inner.runtime()).clone();
        let mut new = old.clone();
        let changed = apply(&mut new, u)?;
        if changed.is_empty() {
            return Ok(new);
        }
        self.inner.store.put_setting(KEY, &new).await?;
        if changed.iter().any(|c| c.starts_with("login_")) {
            *self.inner.limiters.write() = Arc::new(Limiters::new(&new));
        }
        *self.inner.runtime.write() = Arc::new(new.clone());
        let pick = |s: &RuntimeSettings| {
            let all = serde_json::to_value(s).unwrap_or_default();
            changed.iter().map(|k| (k.to_string(), all[*k].clone())).collect::<serde_json::Map<_, _>>()
        };
        let details = serde_json::json!({ "from": pick(&old), "to": pick(&new) });
        self.inner.audit_by(ctx, "settings.changed", None, details).await;
        if changed.contains(&"retention_days") {
            self.inner.retention_wake.notify_one();
        }
        Ok(new)
    }

    /// Applies the retention policy once: blanks messages older than `retention_days`, in
    /// batches, and drops them from the search index. Returns how many went.
    pub async fn apply_retention(&self) -> Result<usize> {
        let Some(days) = self.inner.runtime().retention_days else { return Ok(0) };
        let before = now_millis() - i64::from(days) * 86_400_000;
        let mut total = 0;
        loop {
            let expired = self.inner.store.expire_messages(before, 500).await?;
            if expired.is_empty() {
                break;
            }
            total += expired.len();
            let ops = expired
                .iter()
                .map(|e| parley_search::Op::Delete {
                    chat_id: e.chat_id.clone(),
                    seq: e.seq as u64,
                    at: now_millis(),
                })
                .collect();
            self.inner.search.submit(ops);
        }
        if total > 0 {
            self.inner.wake_media_gc();
            let details = serde_json::json!({ "messages": total, "older_than_days": days });
            self.inner.audit(None, "retention.applied", None, None, details).await;
        }
        Ok(total)
    }
}

/// Applies retention hourly, and at once when the setting changes.
pub(crate) fn spawn_retention(core: Core) {
    crate::spawn_periodic(core, 3600, Some(|i: &Inner| &i.retention_wake), true, |core| async move {
        if let Err(e) = core.apply_retention().await {
            tracing::warn!(error = %e, "message retention failed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> RuntimeSettings {
        RuntimeSettings {
            registration: "open".into(),
            max_upload_mib: 100,
            login_per_account_per_minute: 10,
            login_per_ip_per_minute: 60,
            ws_frames_per_second: 30,
            retention_days: None,
            allowed_origins: vec![],
        }
    }

    #[test]
    fn updates_are_validated_and_report_what_changed() {
        let mut s = base();
        let u = RuntimeSettingsUpdate {
            registration: Some("invite_only".into()),
            retention_days: Some(Some(30)),
            allowed_origins: Some(vec!["https://chat.example.org/".into()]),
            max_upload_mib: Some(100),
            ..Default::default()
        };
        assert_eq!(apply(&mut s, u).unwrap(), vec!["registration", "retention_days", "allowed_origins"]);
        assert_eq!(s.allowed_origins, vec!["https://chat.example.org"]);
        let bad = [
            RuntimeSettingsUpdate { registration: Some("sometimes".into()), ..Default::default() },
            RuntimeSettingsUpdate { max_upload_mib: Some(0), ..Default::default() },
            RuntimeSettingsUpdate {
                allowed_origins: Some(vec!["chat.example.org".into()]),
                ..Default::default()
            },
            RuntimeSettingsUpdate {
                allowed_origins: Some(vec!["https://x.org/path".into()]),
                ..Default::default()
            },
            RuntimeSettingsUpdate { retention_days: Some(Some(40_000)), ..Default::default() },
        ];
        for u in bad {
            let before = s.clone();
            assert!(apply(&mut s.clone(), u).is_err());
            assert_eq!(s, before);
        }
        let off = RuntimeSettingsUpdate { retention_days: Some(None), ..Default::default() };
        assert_eq!(apply(&mut s, off).unwrap(), vec!["retention_days"]);
        assert_eq!(s.retention_days, None);
    }
}
