//! Accounts and their login names.

use serde_json::json;

use crate::records::UserRec;
use crate::{Result, Store, doc};

/// Login keys for a user: `u:username`, `e:email`, `p:phone`.
fn login_keys(u: &UserRec) -> Vec<String> {
    let mut keys = vec![format!("u:{}", u.username)];
    if let Some(e) = &u.email {
        keys.push(format!("e:{e}"));
    }
    if let Some(p) = &u.phone {
        keys.push(format!("p:{p}"));
    }
    keys
}

/// Which users the admin list shows, and in which order.
#[derive(Debug, Clone, Copy)]
pub struct UserFilter<'a> {
    pub q: Option<&'a str>,
    pub unit: Option<&'a str>,
    pub status: &'a str,
    pub sort: &'a str,
    pub descending: bool,
}

impl Store {
    /// Creates the user and its login names atomically; a taken name is
    /// `StoreError::Conflict("username" | "email" | "phone")`.
    pub async fn create_user(&self, user: &UserRec) -> Result<()> {
        self.exec(
            "BEGIN TRANSACTION;
             CREATE type::record('user', $user.user_id) CONTENT $user;
             FOR $k IN $keys { CREATE type::record('login', $k) SET user_id = $user.user_id; };
             COMMIT TRANSACTION;",
            json!({ "user": doc(user)?, "keys": login_keys(user) }),
        )
        .await
    }

    pub async fn user(&self, user_id: &str) -> Result<Option<UserRec>> {
        self.fetch_one("SELECT * FROM type::record('user', $id)", json!({ "id": user_id }), 0).await
    }

    pub async fn users(&self, user_ids: &[String]) -> Result<Vec<UserRec>> {
        self.fetch(
            "SELECT * FROM array::map($ids, |$i| type::record('user', $i)) WHERE user_id != NONE",
            json!({ "ids": user_ids }),
            0,
        )
        .await
    }

    /// Finds a user by a login key (`u:`, `e:` or `p:` prefixed).
    pub async fn user_by_login(&self, key: &str) -> Result<Option<UserRec>> {
        self.fetch_one(
            "SELECT * FROM type::record('user', (SELECT VALUE user_id FROM ONLY type::record('login', $k)))",
            json!({ "k": key }),
            0,
        )
        .await
    }

    /// Replaces the profile fields of `updated` (same user), moving login names that changed.
    pub async fn update_user(&self, old: &UserRec, updated: &UserRec) -> Result<()> {
        let old_keys = login_keys(old);
        let new_keys = login_keys(updated);
        let removed: Vec<&String> = old_keys.iter().filter(|k| !new_keys.contains(k)).collect();
        let added: Vec<&String> = new_keys.iter().filter(|k| !old_keys.contains(k)).collect();
        self.exec(
            "BEGIN TRANSACTION;
             FOR $k IN $removed { DELETE type::record('login', $k); };
             FOR $k IN $added { CREATE type::record('login', $k) SET user_id = $user.user_id; };
             UPDATE type::record('user', $user.user_id) CONTENT $user;
             COMMIT TRANSACTION;",
            json!({ "user": doc(updated)?, "removed": removed, "added": added }),
        )
        .await
    }

    /// Closes an account for good: frees its login names and stores the blanked record.
    pub async fn close_user(&self, old: &UserRec, closed: &UserRec) -> Result<()> {
        self.exec(
            "BEGIN TRANSACTION;
             FOR $k IN $keys { DELETE type::record('login', $k); };
             UPDATE type::record('user', $user.user_id) CONTENT $user;
             COMMIT TRANSACTION;",
            json!({ "user": doc(closed)?, "keys": login_keys(old) }),
        )
        .await
    }

    /// A directory user by the directory's key for the entry.
    pub async fn user_by_ldap_key(&self, key: &str) -> Result<Option<UserRec>> {
        self.fetch_one("SELECT * FROM user WHERE ldap_key = $k AND deleted != true", json!({ "k": key }), 0)
            .await
    }

    /// Users per state, for the dashboard: (total, active, disabled, admins).
    pub async fn user_stats(&self) -> Result<(u64, u64, u64, u64)> {
        #[derive(serde::Deserialize)]
        struct S {
            total: u64,
            disabled: u64,
            admins: u64,
        }
        let s = self
            .fetch_one::<S>(
                "SELECT count() AS total, math::sum(IF disabled THEN 1 ELSE 0 END) AS disabled, \
                 math::sum(IF is_admin AND !disabled THEN 1 ELSE 0 END) AS admins \
                 FROM user WHERE deleted != true AND source != 'remote' GROUP ALL",
                json!({}),
                0,
            )
            .await?;
        Ok(s.map_or((0, 0, 0, 0), |s| (s.total, s.total - s.disabled, s.disabled, s.admins)))
    }

    pub async fn set_last_seen(&self, user_id: &str, at: i64) -> Result<()> {
        self.exec("UPDATE type::record('user', $id) SET last_seen = $at", json!({ "id": user_id, "at": at }))
            .await
    }

    pub async fn count_users(&self) -> Result<u64> {
        #[derive(serde::Deserialize)]
        struct Count {
            count: u64,
        }
        Ok(self
            .fetch_one::<Count>("SELECT count() FROM user WHERE source != 'remote' GROUP ALL", json!({}), 0)
            .await?
            .map_or(0, |c| c.count))
    }

    /// Users ordered by ID after `after` (exclusive), at most `limit`: pages over everyone.
    pub async fn users_page(&self, after: &str, limit: usize) -> Result<Vec<UserRec>> {
        self.fetch(
            "SELECT * FROM user WHERE user_id > $a ORDER BY user_id ASC LIMIT $l",
            json!({ "a": after, "l": limit }),
            0,
        )
        .await
    }

    /// The admin user list: `q` matches username, display name, email or phone (substring,
    /// case-insensitive); `status` is `all`, `active`, `disabled` or `admins`; `sort` one of
    /// `username`, `display_name`, `created_at`, `last_seen`. Returns (total, page).
    pub async fn admin_users_page(
        &self,
        f: &UserFilter<'_>,
        offset: usize,
        limit: usize,
    ) -> Result<(u64, Vec<UserRec>)> {
        let UserFilter { q, unit, status, sort, descending } = *f;
        let mut cond = vec!["deleted != true", "source != 'remote'"];
        if unit.is_some() {
            cond.push("unit_id = $unit");
        }
        if q.is_some() {
            cond.push(
                "(string::contains(string::lowercase(username), $q) \
                 OR string::contains(string::lowercase(display_name), $q) \
                 OR string::contains(string::lowercase(email ?? ''), $q) \
                 OR string::contains(phone ?? '', $q))",
            );
        }
        match status {
            "active" => cond.push("disabled = false"),
            "disabled" => cond.push("disabled = true"),
            "admins" => cond.push("is_admin = true"),
            _ => {}
        }
        // Only known column names reach the query text.
        let sort = match sort {
            "display_name" => "display_name",
            "created_at" => "created_at",
            "last_seen" => "last_seen",
            _ => "username",
        };
        let dir = if descending { "DESC" } else { "ASC" };
        let filter = cond.join(" AND ");
        let vars = doc(&json!({ "q": q.map(str::to_lowercase), "unit": unit, "o": offset, "l": limit }))?;
        #[derive(serde::Deserialize)]
        struct Count {
            n: u64,
        }
        let total = self
            .fetch_one::<Count>(
                &format!("SELECT count() AS n FROM user WHERE {filter} GROUP ALL"),
                vars.clone(),
                0,
            )
            .await?
            .map_or(0, |c| c.n);
        let rows = self
            .fetch(
                &format!("SELECT * FROM user WHERE {filter} ORDER BY {sort} {dir} LIMIT $l START $o"),
                vars,
                0,
            )
            .await?;
        Ok((total, rows))
    }

    pub async fn count_admins(&self) -> Result<u64> {
        #[derive(serde::Deserialize)]
        struct Count {
            n: u64,
        }
        Ok(self
            .fetch_one::<Count>(
                "SELECT count() AS n FROM user WHERE is_admin = true AND disabled = false GROUP ALL",
                json!({}),
                0,
            )
            .await?
            .map_or(0, |c| c.n))
    }
}
