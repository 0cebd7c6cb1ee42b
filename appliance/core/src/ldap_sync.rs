//! LDAP in the appliance: the connection settings the console edits (the bind password is
//! stored but never shown), "test connection", the sync (now and on a schedule) that creates,
//! updates and disables directory users and mirrors units and groups, and login by bind.
//!
//! The sync refuses to disable anyone when the directory returns no users at all: a wrong
//! filter must not lock the whole organization out.

use std::collections::{HashMap, HashSet};

use parley_ldap::{Directory, DirectoryUser, LdapSettings};
use parley_store::records::{GroupRec, UnitRec, UserRec};
use parley_types::api::{LdapConfig, LdapConfigUpdate, SyncReport};
use parley_types::{UserId, now_millis};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::{AuthContext, Core, DirectoryLink, Inner, NewUser, tokens};

const KEY: &str = "ldap";

/// What is stored under `setting:ldap`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct LdapStored {
    pub enabled: bool,
    pub sync_interval_minutes: u32,
    /// The settings as the admin gave them, bind password included.
    pub settings: Option<serde_json::Value>,
    pub last_sync: Option<SyncReport>,
    /// Users the sync disabled because they left the directory (re-enabled if they return;
    /// users an admin disabled stay disabled).
    #[serde(default)]
    pub disabled_by_sync: Vec<String>,
}

fn parse_settings(v: &serde_json::Value) -> Result<LdapSettings> {
    let s: LdapSettings =
        serde_json::from_value(v.clone()).map_err(|e| CoreError::invalid(format!("LDAP settings: {e}")))?;
    s.validate()?;
    Ok(s)
}

/// The settings without the password, plus whether one is set.
fn redacted(v: &serde_json::Value) -> serde_json::Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        let set = o.remove("bind_password").and_then(|p| p.as_str().map(|s| !s.is_empty())).unwrap_or(false);
        o.insert("bind_password_set".into(), set.into());
    }
    v
}

fn directory_key(u: &DirectoryUser) -> String {
    u.unique_id.clone().unwrap_or_else(|| u.dn.to_lowercase())
}

impl Core {
    pub(crate) async fn ldap_stored(&self) -> Result<LdapStored> {
        Ok(self.inner.store.setting::<LdapStored>(KEY).await?.unwrap_or_default())
    }

    fn ldap_view(stored: &LdapStored) -> LdapConfig {
        LdapConfig {
            enabled: stored.enabled,
            sync_interval_minutes: stored.sync_interval_minutes,
            settings: stored.settings.as_ref().map(redacted).unwrap_or_else(|| serde_json::json!({})),
            last_sync: stored.last_sync.clone(),
        }
    }

    /// `GET /api/admin/ldap`
    pub async fn ldap_config(&self, ctx: &AuthContext) -> Result<LdapConfig> {
        self.require_admin(ctx).await?;
        Ok(Self::ldap_view(&self.ldap_stored().await?))
    }

    /// Merges settings from the console over the stored ones: the stored bind password is
    /// kept unless a new one is given.
    fn merge_settings(
        stored: Option<&serde_json::Value>,
        new: &serde_json::Value,
    ) -> Result<serde_json::Value> {
        let mut merged = new.clone();
        let Some(o) = merged.as_object_mut() else {
            return Err(CoreError::invalid("LDAP settings must be an object"));
        };
        o.remove("bind_password_set");
        if !o.contains_key("bind_password")
            && let Some(p) = stored.and_then(|s| s.get("bind_password"))
        {
            o.insert("bind_password".into(), p.clone());
        }
        Ok(merged)
    }

    /// `PUT /api/admin/ldap`: turning sync off asks for the password again.
    pub async fn update_ldap(&self, ctx: &AuthContext, req: LdapConfigUpdate) -> Result<LdapConfig> {
        self.require_admin(ctx).await?;
        let _guard = self.inner.ldap_lock.lock().await;
        let mut stored = self.ldap_stored().await?;
        if stored.enabled && req.enabled == Some(false) {
            self.reauthenticate(ctx, req.password.as_deref()).await?;
        }
        if let Some(new) = &req.settings {
            let merged = Self::merge_settings(stored.settings.as_ref(), new)?;
            parse_settings(&merged)?;
            stored.settings = Some(merged);
        }
        if let Some(m) = req.sync_interval_minutes {
            if m > 10_080 {
                return Err(CoreError::invalid("sync_interval_minutes must be 0-10080 (a week)"));
            }
            stored.sync_interval_minutes = m;
        }
        if let Some(e) = req.enabled {
            if e && stored.settings.is_none() {
                return Err(CoreError::invalid("configure the connection before enabling LDAP"));
            }
            stored.enabled = e;
        }
        self.inner.store.put_setting(KEY, &stored).await?;
        let details = serde_json::json!({
            "enabled": stored.enabled,
            "sync_interval_minutes": stored.sync_interval_minutes,
            "settings_changed": req.settings.is_some(),
        });
        self.inner.audit_by(ctx, "ldap.settings_changed", None, details).await;
        self.inner.ldap_wake.notify_one();
        Ok(Self::ldap_view(&stored))
    }

    /// `POST /api/admin/ldap/test`: the given settings (merged over the stored ones), or the
    /// stored settings.
    pub async fn test_ldap(
        &self,
        ctx: &AuthContext,
        settings: Option<serde_json::Value>,
    ) -> Result<serde_json::Value> {
        self.require_admin(ctx).await?;
        let stored = self.ldap_stored().await?;
        let raw = match &settings {
            Some(s) => Self::merge_settings(stored.settings.as_ref(), s)?,
            None => stored.settings.clone().ok_or_else(|| CoreError::invalid("LDAP is not configured"))?,
        };
        let report = parley_ldap::test_connection(&parse_settings(&raw)?).await;
        let details = match &report {
            Ok(r) => serde_json::json!({ "ok": true, "users": r.users, "groups": r.groups }),
            Err(e) => serde_json::json!({ "ok": false, "error": e.to_string() }),
        };
        self.inner.audit_by(ctx, "ldap.tested", None, details).await;
        let report = report?;
        let mut v = serde_json::to_value(&report).map_err(|e| CoreError::Internal(e.to_string()))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("summary".into(), report.to_string().into());
        }
        Ok(v)
    }

    /// `POST /api/admin/ldap/sync`: runs a sync now and waits for it.
    pub async fn sync_ldap_now(&self, ctx: &AuthContext) -> Result<SyncReport> {
        self.require_admin(ctx).await?;
        self.run_ldap_sync(Some(ctx)).await
    }

    /// One sync; `ctx` is the admin who asked, or `None` for the schedule. The report is
    /// stored and audited whether or not it succeeded.
    pub(crate) async fn run_ldap_sync(&self, ctx: Option<&AuthContext>) -> Result<SyncReport> {
        let _guard = self.inner.ldap_lock.lock().await;
        let mut stored = self.ldap_stored().await?;
        let raw = stored.settings.clone().ok_or_else(|| CoreError::invalid("LDAP is not configured"))?;
        let settings = parse_settings(&raw)?;
        let mut report = SyncReport { started_at: now_millis(), ..Default::default() };
        let outcome = match parley_ldap::fetch_directory(&settings).await {
            Ok(dir) => self.apply_directory(&dir, &mut stored, &mut report).await,
            Err(e) => Err(e.into()),
        };
        report.finished_at = now_millis();
        report.ok = outcome.is_ok();
        report.error = outcome.as_ref().err().map(ToString::to_string);
        report.summary = match &report.error {
            None => format!(
                "{} created, {} updated, {} disabled, {} re-enabled, {} units, {} groups, {} skipped",
                report.created,
                report.updated,
                report.disabled,
                report.reenabled,
                report.units,
                report.groups,
                report.skipped
            ),
            Some(e) => format!("sync failed: {e}"),
        };
        stored.last_sync = Some(report.clone());
        self.inner.store.put_setting(KEY, &stored).await?;
        self.inner.metrics.ldap_sync(report.ok);
        let details = serde_json::to_value(&report).unwrap_or_default();
        match ctx {
            Some(ctx) => self.inner.audit_by(ctx, "ldap.sync", None, details).await,
            None => self.inner.audit(None, "ldap.sync", None, None, details).await,
        }
        outcome.map(|()| report)
    }

    async fn apply_directory(
        &self,
        dir: &Directory,
        stored: &mut LdapStored,
        report: &mut SyncReport,
    ) -> Result<()> {
        let existing = self.inner.store.directory_users().await?;
        if dir.users.is_empty() && existing.iter().any(|u| !u.disabled) {
            return Err(CoreError::Conflict(
                "the directory returned no users; refusing to disable every directory account (check user_filter and base_dn)"
                    .into(),
            ));
        }
        let units = self.sync_units(dir, report).await?;
        let by_key: HashMap<String, UserRec> =
            existing.into_iter().filter_map(|u| u.ldap_key.clone().map(|k| (k, u))).collect();
        let mut seen = HashSet::new();
        let mut username_to_id: HashMap<String, String> = HashMap::new();
        for du in &dir.users {
            let key = directory_key(du);
            seen.insert(key.clone());
            let unit_id = units.get(&du.unit.join("/")).cloned();
            match by_key.get(&key) {
                Some(old) => {
                    username_to_id.insert(du.username.to_lowercase(), old.user_id.clone());
                    self.update_directory_user(old, du, unit_id, stored, report).await?;
                }
                None => match self.create_directory_user(du, key, unit_id).await {
                    Ok(id) => {
                        username_to_id.insert(du.username.to_lowercase(), id);
                        report.created += 1;
                    }
                    // A username Parley cannot use, or one a local account already has.
                    Err(e @ (CoreError::InvalidInput(_) | CoreError::Taken(_))) => {
                        tracing::warn!(dn = %du.dn, reason = %e, "directory user skipped");
                        report.skipped += 1;
                    }
                    Err(e) => return Err(e),
                },
            }
        }
        for (key, u) in &by_key {
            if !seen.contains(key) && !u.disabled {
                let mut d = u.clone();
                d.disabled = true;
                self.inner.store.update_user(u, &d).await?;
                self.inner.index_user(&d);
                let id = UserId::parse(&u.user_id).map_err(|e| CoreError::Internal(e.to_string()))?;
                self.revoke_all(&id, None, "left the directory").await?;
                stored.disabled_by_sync.push(u.user_id.clone());
                report.disabled += 1;
            }
        }
        report.skipped += dir.skipped.len() as u32;
        self.sync_groups(dir, &username_to_id, report).await
    }

    /// Mirrors the directory's unit tree; returns path ("A/B") → unit ID.
    async fn sync_units(&self, dir: &Directory, report: &mut SyncReport) -> Result<HashMap<String, String>> {
        let mut ids: HashMap<String, String> = self
            .inner
            .store
            .units()
            .await?
            .into_iter()
            .filter_map(|u| u.ldap_key.map(|k| (k, u.unit_id)))
            .collect();
        for path in dir.units() {
            let key = path.join("/");
            if ids.contains_key(&key) {
                continue;
            }
            let parent_id =
                (path.len() > 1).then(|| ids.get(&path[..path.len() - 1].join("/")).cloned()).flatten();
            let unit = UnitRec {
                unit_id: tokens::random_code(9),
                name: path.last().cloned().unwrap_or_default(),
                parent_id,
                source: "ldap".into(),
                ldap_key: Some(key.clone()),
            };
            self.inner.store.put_unit(&unit).await?;
            ids.insert(key, unit.unit_id);
        }
        report.units = dir.units().len() as u32;
        Ok(ids)
    }

    async fn create_directory_user(
        &self,
        du: &DirectoryUser,
        key: String,
        unit_id: Option<String>,
    ) -> Result<String> {
        let mut new = NewUser {
            username: du.username.to_lowercase(),
            display_name: du.display_name.clone(),
            email: du.email.clone(),
            phone: du.phone.clone(),
            unit_id,
            title: du.title.clone(),
            directory: Some(DirectoryLink { key, dn: du.dn.clone() }),
            ..Default::default()
        };
        // An email or phone another account already has: create without that one.
        let created = loop {
            match self.create_user(new.clone()).await {
                Err(CoreError::Taken("email")) if new.email.is_some() => new.email = None,
                Err(CoreError::Taken("phone")) if new.phone.is_some() => new.phone = None,
                Err(CoreError::InvalidInput(_)) if new.email.is_some() || new.phone.is_some() => {
                    new.email = None;
                    new.phone = None;
                }
                other => break other?,
            }
        };
        Ok(created.user_id.to_string())
    }

    async fn update_directory_user(
        &self,
        old: &UserRec,
        du: &DirectoryUser,
        unit_id: Option<String>,
        stored: &mut LdapStored,
        report: &mut SyncReport,
    ) -> Result<()> {
        let mut u = old.clone();
        if let Some(n) = du.display_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            u.display_name = n.chars().take(64).collect();
        }
        u.title = du.title.clone();
        u.unit_id = unit_id;
        u.ldap_dn = Some(du.dn.clone());
        // Normalized as at creation; an address another account has stays as it was.
        u.email = self
            .free_login(
                old,
                "e",
                crate::accounts::clean_email(du.email.as_deref().unwrap_or("")).ok().flatten(),
                &old.email,
            )
            .await?;
        u.phone = self
            .free_login(
                old,
                "p",
                crate::accounts::clean_phone(du.phone.as_deref().unwrap_or("")).ok().flatten(),
                &old.phone,
            )
            .await?;
        let mut reenabled = false;
        if u.disabled && stored.disabled_by_sync.contains(&u.user_id) {
            u.disabled = false;
            stored.disabled_by_sync.retain(|id| id != &u.user_id);
            reenabled = true;
        }
        if &u == old {
            return Ok(());
        }
        self.inner.store.update_user(old, &u).await?;
        self.inner.index_user(&u);
        if reenabled {
            report.reenabled += 1;
        } else {
            report.updated += 1;
        }
        Ok(())
    }

    /// `wanted` if no other account uses it as a login name (`kind` `e` or `p`), else `current`.
    async fn free_login(
        &self,
        user: &UserRec,
        kind: &str,
        wanted: Option<String>,
        current: &Option<String>,
    ) -> Result<Option<String>> {
        let Some(w) = wanted else { return Ok(None) };
        if current.as_deref() == Some(w.as_str()) {
            return Ok(Some(w));
        }
        match self.inner.store.user_by_login(&format!("{kind}:{w}")).await? {
            Some(other) if other.user_id != user.user_id => Ok(current.clone()),
            _ => Ok(Some(w)),
        }
    }

    async fn sync_groups(
        &self,
        dir: &Directory,
        username_to_id: &HashMap<String, String>,
        report: &mut SyncReport,
    ) -> Result<()> {
        let existing: HashMap<String, GroupRec> = self
            .inner
            .store
            .groups()
            .await?
            .into_iter()
            .filter_map(|g| g.ldap_key.clone().map(|k| (k, g)))
            .collect();
        let mut seen = HashSet::new();
        for dg in &dir.groups {
            let key = dg.unique_id.clone().unwrap_or_else(|| dg.dn.to_lowercase());
            seen.insert(key.clone());
            let mut members: Vec<String> =
                dg.members.iter().filter_map(|m| username_to_id.get(&m.to_lowercase()).cloned()).collect();
            members.sort();
            members.dedup();
            let group = match existing.get(&key) {
                Some(g) => GroupRec { name: dg.name.clone(), members, ..g.clone() },
                None => GroupRec {
                    group_id: tokens::random_code(9),
                    name: dg.name.clone(),
                    description: String::new(),
                    source: "ldap".into(),
                    ldap_key: Some(key),
                    members,
                    chat_id: None,
                },
            };
            if existing.get(group.ldap_key.as_deref().unwrap_or_default()) != Some(&group) {
                self.inner.store.put_group(&group).await?;
            }
        }
        for (key, g) in &existing {
            if !seen.contains(key) {
                self.inner.store.delete_group(&g.group_id).await?;
            }
        }
        report.groups = dir.groups.len() as u32;
        Ok(())
    }

    /// Checks a directory user's password by binding as them. Only for users that came from
    /// the directory, and only while LDAP is enabled.
    pub(crate) async fn directory_password_ok(&self, user: &UserRec, password: &str) -> Result<bool> {
        let stored = self.ldap_stored().await?;
        let (true, Some(raw)) = (stored.enabled, stored.settings.as_ref()) else {
            return Ok(false);
        };
        let settings = parse_settings(raw)?;
        let found = parley_ldap::authenticate(&settings, &user.username, password).await?;
        // The entry that accepted the password must be this account's entry.
        Ok(found.is_some_and(|du| Some(directory_key(&du)) == user.ldap_key))
    }
}

/// Runs the scheduled sync: checks every minute (and when the settings change) and syncs when
/// the interval has passed since the last run.
pub(crate) fn spawn_scheduler(core: Core) {
    crate::spawn_periodic(core, 60, Some(|i: &Inner| &i.ldap_wake), false, |core| async move {
        let Ok(stored) = core.ldap_stored().await else { return };
        let interval_ms = i64::from(stored.sync_interval_minutes) * 60_000;
        let due = stored.last_sync.as_ref().is_none_or(|r| now_millis() - r.started_at >= interval_ms);
        if stored.enabled
            && interval_ms > 0
            && due
            && let Err(e) = core.run_ldap_sync(None).await
        {
            tracing::warn!(error = %e, "scheduled LDAP sync failed");
        }
    });
}
