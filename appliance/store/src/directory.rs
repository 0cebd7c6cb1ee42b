//! The directory: organizational units (a tree) and groups (sets of users), plus the
//! console's settings documents.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::records::{GroupRec, UnitRec, UserRec};
use crate::{Result, Store, doc};

#[derive(serde::Deserialize)]
struct Count {
    n: u64,
}

#[derive(serde::Deserialize)]
struct UnitCount {
    unit_id: String,
    n: u64,
}

#[derive(serde::Deserialize)]
struct SettingRow {
    json: String,
}

impl Store {
    pub async fn units(&self) -> Result<Vec<UnitRec>> {
        self.fetch("SELECT * FROM unit ORDER BY name ASC", json!({}), 0).await
    }

    pub async fn unit(&self, id: &str) -> Result<Option<UnitRec>> {
        self.fetch_one("SELECT * FROM type::record('unit', $id)", json!({ "id": id }), 0).await
    }

    /// Creates or replaces a unit.
    pub async fn put_unit(&self, unit: &UnitRec) -> Result<()> {
        self.exec("UPSERT type::record('unit', $u.unit_id) CONTENT $u", json!({ "u": doc(unit)? })).await
    }

    /// Deletes a unit that has no users and no sub-units; returns false if it had some.
    pub async fn delete_unit_if_empty(&self, id: &str) -> Result<bool> {
        let users = self
            .fetch_one::<Count>(
                "SELECT count() AS n FROM user WHERE unit_id = $id GROUP ALL",
                json!({ "id": id }),
                0,
            )
            .await?
            .map_or(0, |c| c.n);
        let children = self
            .fetch_one::<Count>(
                "SELECT count() AS n FROM unit WHERE parent_id = $id GROUP ALL",
                json!({ "id": id }),
                0,
            )
            .await?
            .map_or(0, |c| c.n);
        if users + children > 0 {
            return Ok(false);
        }
        self.exec("DELETE type::record('unit', $id)", json!({ "id": id })).await?;
        Ok(true)
    }

    /// Users per unit (units without users are absent).
    pub async fn unit_user_counts(&self) -> Result<Vec<(String, u64)>> {
        let rows: Vec<UnitCount> = self
            .fetch(
                "SELECT unit_id, count() AS n FROM user WHERE unit_id != NONE AND deleted != true GROUP BY unit_id",
                json!({}),
                0,
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.unit_id, r.n)).collect())
    }

    pub async fn groups(&self) -> Result<Vec<GroupRec>> {
        self.fetch("SELECT * FROM dir_group ORDER BY name ASC", json!({}), 0).await
    }

    pub async fn group(&self, id: &str) -> Result<Option<GroupRec>> {
        self.fetch_one("SELECT * FROM type::record('dir_group', $id)", json!({ "id": id }), 0).await
    }

    pub async fn put_group(&self, group: &GroupRec) -> Result<()> {
        self.exec("UPSERT type::record('dir_group', $g.group_id) CONTENT $g", json!({ "g": doc(group)? }))
            .await
    }

    pub async fn delete_group(&self, id: &str) -> Result<()> {
        self.exec("DELETE type::record('dir_group', $id)", json!({ "id": id })).await
    }

    /// Removes a user from every group (account deletion).
    pub async fn remove_from_all_groups(&self, user_id: &str) -> Result<()> {
        self.exec(
            "UPDATE dir_group SET members = array::complement(members, [$u]) WHERE members CONTAINS $u",
            json!({ "u": user_id }),
        )
        .await
    }

    /// Every user that came from the directory.
    pub async fn directory_users(&self) -> Result<Vec<UserRec>> {
        self.fetch("SELECT * FROM user WHERE source = 'ldap' AND deleted != true", json!({}), 0).await
    }

    /// A settings document (`runtime`, `ldap`, `backup_schedule`, ...), if stored.
    pub async fn setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let row: Option<SettingRow> =
            self.fetch_one("SELECT json FROM type::record('setting', $k)", json!({ "k": key }), 0).await?;
        row.map(|r| serde_json::from_str(&r.json).map_err(Into::into)).transpose()
    }

    pub async fn put_setting<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        self.exec(
            "UPSERT type::record('setting', $k) SET json = $v",
            json!({ "k": key, "v": serde_json::to_string(value)? }),
        )
        .await
    }
}
