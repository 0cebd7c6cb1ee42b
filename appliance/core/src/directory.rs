//! The directory as admins manage it: organizational units (a tree) and groups (sets of
//! users that can seed a group chat). Units and groups that came from LDAP are read-only here;
//! the sync owns them.

use std::collections::HashMap;

use parley_store::records::{GroupRec, UnitRec, UserRec};
use parley_types::api::{
    CreateUnitRequest, DirectoryView, Group, GroupChat, GroupRef, GroupRequest, RenameRequest, Unit,
};
use parley_types::{ChatId, UserId};

use crate::chats::{MAX_GROUP_MEMBERS, chat_of, clean_description, clean_group_name};
use crate::error::{CoreError, Result};
use crate::writer::Op;
use crate::{AuthContext, Core, tokens};

fn clean_name(n: &str, what: &str) -> Result<String> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 100 || n.contains('/') {
        return Err(CoreError::invalid(format!("{what} name must be 1-100 characters, without '/'")));
    }
    Ok(n.to_owned())
}

fn read_only(what: &str) -> CoreError {
    CoreError::Conflict(format!("this {what} comes from the LDAP directory; change it there"))
}

/// Units and groups, loaded once per request to decorate user rows.
pub(crate) struct DirectoryIndex {
    units: HashMap<String, UnitRec>,
    groups: Vec<GroupRec>,
}

impl DirectoryIndex {
    /// Unit names from the root to `id` (cycles cut off).
    pub fn path(&self, id: &str) -> Vec<String> {
        let mut path = Vec::new();
        let mut cur = self.units.get(id);
        while let Some(u) = cur {
            if path.len() > 64 {
                break;
            }
            path.push(u.name.clone());
            cur = u.parent_id.as_deref().and_then(|p| self.units.get(p));
        }
        path.reverse();
        path
    }

    pub fn groups_of(&self, user: &str) -> Vec<GroupRef> {
        self.groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == user))
            .map(|g| GroupRef { group_id: g.group_id.clone(), name: g.name.clone() })
            .collect()
    }
}

fn group_view(g: GroupRec) -> Result<Group> {
    Ok(Group {
        members: g.members.iter().filter_map(|m| UserId::parse(m).ok()).collect(),
        chat_id: g
            .chat_id
            .as_deref()
            .map(ChatId::parse)
            .transpose()
            .map_err(|e| CoreError::Internal(e.to_string()))?,
        group_id: g.group_id,
        name: g.name,
        description: g.description,
        source: g.source,
    })
}

impl Core {
    pub(crate) async fn directory_index(&self) -> Result<DirectoryIndex> {
        let units = self.inner.store.units().await?.into_iter().map(|u| (u.unit_id.clone(), u)).collect();
        Ok(DirectoryIndex { units, groups: self.inner.store.groups().await? })
    }

    /// `GET /api/admin/directory`
    pub async fn directory(&self, ctx: &AuthContext) -> Result<DirectoryView> {
        self.require_admin(ctx).await?;
        let index = self.directory_index().await?;
        let counts: HashMap<String, u64> = self.inner.store.unit_user_counts().await?.into_iter().collect();
        let mut units: Vec<Unit> = index
            .units
            .values()
            .map(|u| Unit {
                unit_id: u.unit_id.clone(),
                name: u.name.clone(),
                parent_id: u.parent_id.clone(),
                path: index.path(&u.unit_id),
                source: u.source.clone(),
                user_count: counts.get(&u.unit_id).copied().unwrap_or(0),
            })
            .collect();
        units.sort_by(|a, b| a.path.cmp(&b.path));
        let groups = index.groups.into_iter().map(group_view).collect::<Result<_>>()?;
        Ok(DirectoryView { units, groups })
    }

    async fn unit_rec(&self, id: &str) -> Result<UnitRec> {
        self.inner.store.unit(id).await?.ok_or(CoreError::NotFound("unit"))
    }

    /// Checks that `unit_id` names an existing unit (an empty string means none).
    pub(crate) async fn check_unit(&self, unit_id: Option<&str>) -> Result<Option<String>> {
        match unit_id.map(str::trim) {
            None | Some("") => Ok(None),
            Some(id) => Ok(Some(self.unit_rec(id).await?.unit_id)),
        }
    }

    /// `POST /api/admin/units`
    pub async fn create_unit(&self, ctx: &AuthContext, req: CreateUnitRequest) -> Result<Unit> {
        self.require_admin(ctx).await?;
        let name = clean_name(&req.name, "unit")?;
        let parent_id = self.check_unit(req.parent_id.as_deref()).await?;
        let unit = UnitRec {
            unit_id: tokens::random_code(9),
            name,
            parent_id,
            source: "local".into(),
            ldap_key: None,
        };
        self.inner.store.put_unit(&unit).await?;
        self.inner
            .audit_by(
                ctx,
                "unit.created",
                Some(unit.unit_id.clone()),
                serde_json::json!({ "name": unit.name }),
            )
            .await;
        self.unit_view(&unit.unit_id).await
    }

    async fn unit_view(&self, id: &str) -> Result<Unit> {
        let index = self.directory_index().await?;
        let u = index.units.get(id).ok_or(CoreError::NotFound("unit"))?;
        let count =
            self.inner.store.unit_user_counts().await?.into_iter().find(|(k, _)| k == id).map_or(0, |c| c.1);
        Ok(Unit {
            unit_id: u.unit_id.clone(),
            name: u.name.clone(),
            parent_id: u.parent_id.clone(),
            path: index.path(id),
            source: u.source.clone(),
            user_count: count,
        })
    }

    /// `PATCH /api/admin/units/{id}`
    pub async fn rename_unit(&self, ctx: &AuthContext, id: &str, req: RenameRequest) -> Result<Unit> {
        self.require_admin(ctx).await?;
        let mut unit = self.unit_rec(id).await?;
        if unit.source == "ldap" {
            return Err(read_only("unit"));
        }
        let old = std::mem::replace(&mut unit.name, clean_name(&req.name, "unit")?);
        self.inner.store.put_unit(&unit).await?;
        let details = serde_json::json!({ "from": old, "to": unit.name });
        self.inner.audit_by(ctx, "unit.renamed", Some(id.to_owned()), details).await;
        self.unit_view(id).await
    }

    /// `DELETE /api/admin/units/{id}`: only an empty unit.
    pub async fn delete_unit(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.require_admin(ctx).await?;
        let unit = self.unit_rec(id).await?;
        if unit.source == "ldap" {
            return Err(read_only("unit"));
        }
        if !self.inner.store.delete_unit_if_empty(id).await? {
            return Err(CoreError::Conflict("move its users and sub-units out first".into()));
        }
        self.inner
            .audit_by(ctx, "unit.deleted", Some(id.to_owned()), serde_json::json!({ "name": unit.name }))
            .await;
        Ok(())
    }

    async fn group_rec(&self, id: &str) -> Result<GroupRec> {
        self.inner.store.group(id).await?.ok_or(CoreError::NotFound("group"))
    }

    /// `POST /api/admin/groups`
    pub async fn create_dir_group(&self, ctx: &AuthContext, req: GroupRequest) -> Result<Group> {
        self.require_admin(ctx).await?;
        let group = GroupRec {
            group_id: tokens::random_code(9),
            name: clean_name(req.name.as_deref().unwrap_or(""), "group")?,
            description: clean_description(req.description.as_deref().unwrap_or(""))?,
            source: "local".into(),
            ldap_key: None,
            members: Vec::new(),
            chat_id: None,
        };
        self.inner.store.put_group(&group).await?;
        self.inner
            .audit_by(
                ctx,
                "group.created",
                Some(group.group_id.clone()),
                serde_json::json!({ "name": group.name }),
            )
            .await;
        group_view(group)
    }

    /// `PATCH /api/admin/groups/{id}`
    pub async fn update_dir_group(&self, ctx: &AuthContext, id: &str, req: GroupRequest) -> Result<Group> {
        self.require_admin(ctx).await?;
        let mut group = self.group_rec(id).await?;
        if group.source == "ldap" && req.name.is_some() {
            return Err(read_only("group"));
        }
        if let Some(n) = &req.name {
            group.name = clean_name(n, "group")?;
        }
        if let Some(d) = &req.description {
            group.description = clean_description(d)?;
        }
        self.inner.store.put_group(&group).await?;
        self.inner
            .audit_by(ctx, "group.updated", Some(id.to_owned()), serde_json::json!({ "name": group.name }))
            .await;
        group_view(group)
    }

    /// `DELETE /api/admin/groups/{id}`: its chat, if any, stays.
    pub async fn delete_dir_group(&self, ctx: &AuthContext, id: &str) -> Result<()> {
        self.require_admin(ctx).await?;
        let group = self.group_rec(id).await?;
        if group.source == "ldap" {
            return Err(read_only("group"));
        }
        self.inner.store.delete_group(id).await?;
        self.inner
            .audit_by(ctx, "group.deleted", Some(id.to_owned()), serde_json::json!({ "name": group.name }))
            .await;
        Ok(())
    }

    /// `PUT|DELETE /api/admin/groups/{id}/members/{user}`
    pub async fn set_group_member(
        &self,
        ctx: &AuthContext,
        id: &str,
        user: &UserId,
        member: bool,
    ) -> Result<Group> {
        self.require_admin(ctx).await?;
        let mut group = self.group_rec(id).await?;
        if group.source == "ldap" {
            return Err(read_only("group"));
        }
        let u = self.user_rec(user).await?;
        if u.is_deleted() {
            return Err(CoreError::NotFound("user"));
        }
        let present = group.members.iter().any(|m| m == user.as_str());
        if member == present {
            return group_view(group);
        }
        if member {
            if group.members.len() >= MAX_GROUP_MEMBERS {
                return Err(CoreError::Conflict(format!("a group has at most {MAX_GROUP_MEMBERS} members")));
            }
            group.members.push(user.to_string());
            group.members.sort();
        } else {
            group.members.retain(|m| m != user.as_str());
        }
        self.inner.store.put_group(&group).await?;
        let action = if member { "group.member_added" } else { "group.member_removed" };
        self.inner.audit_by(ctx, action, Some(id.to_owned()), serde_json::json!({ "user": user })).await;
        group_view(group)
    }

    /// `POST /api/admin/groups/{id}/chat`: creates the group's chat with the caller as its
    /// admin, or adds the members that are missing from it.
    pub async fn seed_group_chat(&self, ctx: &AuthContext, id: &str) -> Result<GroupChat> {
        self.require_admin(ctx).await?;
        let mut group = self.group_rec(id).await?;
        let users = self.inner.store.users(&group.members).await?;
        let active: Vec<UserId> = users
            .iter()
            .filter(|u: &&UserRec| !u.disabled && !u.is_deleted())
            .filter_map(|u| UserId::parse(&u.user_id).ok())
            .collect();
        let existing = match group.chat_id.as_deref().map(ChatId::parse) {
            Some(Ok(chat)) => self.inner.chat_state(&chat).await?.map(|s| (chat, s)),
            _ => None,
        };
        let (chat, added) = match existing {
            Some((chat, state)) => {
                // Add as the caller when they admin the chat, else as one of its admins.
                let actor = match state.member(&ctx.user) {
                    Some(m) if m.role == parley_types::api::Role::Admin => ctx.user.clone(),
                    _ => state
                        .members
                        .iter()
                        .find(|(_, m)| m.role == parley_types::api::Role::Admin)
                        .map(|(u, _)| u.clone())
                        .ok_or_else(|| CoreError::Conflict("the group's chat has no admin left".into()))?,
                };
                let missing: Vec<UserId> = active.into_iter().filter(|u| state.member(u).is_none()).collect();
                for user in &missing {
                    self.inner
                        .submit(
                            Op::AddMember { chat: chat.clone(), actor: actor.clone(), user: user.clone() },
                            None,
                        )
                        .await?;
                }
                (chat, missing.len())
            }
            None => {
                let members: Vec<UserId> = active.into_iter().filter(|u| u != &ctx.user).collect();
                let n = members.len();
                let op = Op::CreateGroup {
                    creator: ctx.user.clone(),
                    name: clean_group_name(&group.name)?,
                    description: group.description.clone(),
                    members,
                };
                let chat = chat_of(self.inner.submit(op, None).await?)?;
                group.chat_id = Some(chat.to_string());
                self.inner.store.put_group(&group).await?;
                (chat, n)
            }
        };
        let details = serde_json::json!({ "chat": chat, "added": added });
        self.inner.audit_by(ctx, "group.chat_seeded", Some(id.to_owned()), details).await;
        Ok(GroupChat { chat_id: chat })
    }
}
