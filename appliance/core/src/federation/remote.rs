//! What this appliance learns about other appliances' users and servers: profiles (asked of
//! the user's server, cached as `source = "remote"` users) and the signing keys of servers it
//! does not peer with (asked of a chat's home server).

use parley_store::records::UserRec;
use parley_types::{ChatId, UserId, now_millis};

use super::events::ChatSnapshot;
use super::{parse_server, peer_id};
use crate::Core;
use crate::error::{CoreError, Result};

impl Core {
    /// A remote user's profile: the cached one, refreshed from their server when `refresh`
    /// (or when there is none yet).
    pub(crate) async fn remote_user(&self, user: &UserId, refresh: bool) -> Result<UserRec> {
        let inner = &self.inner;
        let cached = inner.store.user(user.as_str()).await?;
        if let Some(c) = &cached
            && !refresh
        {
            return Ok(c.clone());
        }
        let Some(fed) = inner.fed() else {
            return cached.ok_or(CoreError::NotFound("user"));
        };
        if !fed.is_peer(user.server()) {
            return cached.ok_or(CoreError::NotFound("user"));
        }
        let peer = peer_id(user.server())?;
        match fed.handle.query(&peer, parley_federation::Query::Profile { user: user.clone() }).await {
            Ok(parley_federation::Answer::Profile { display_name, avatar, extra, .. }) => {
                let rec = UserRec {
                    user_id: user.to_string(),
                    username: user.username().to_owned(),
                    display_name: display_name.unwrap_or_else(|| user.username().to_owned()),
                    about: extra.get("about").and_then(|a| a.as_str()).unwrap_or_default().to_owned(),
                    // Their server sends presence only for users who show it to everyone.
                    last_seen_visibility: "everyone".into(),
                    created_at: cached.as_ref().map_or_else(now_millis, |c| c.created_at),
                    last_seen: cached.as_ref().and_then(|c| c.last_seen),
                    source: Some("remote".into()),
                    // Only a picture of the user's own server (fetched from there on demand).
                    avatar: avatar.filter(|a| a.home_server() == user.server()).map(|a| a.to_string()),
                    ..Default::default()
                };
                // Two lookups of one user at once (a client and the profile learner) may clash
                // on the write; the answer is good either way.
                match inner.store.upsert_remote_user(&rec).await {
                    // Chat lists built before this show the address or an old name: whoever
                    // fetched it, the peers of 1:1 chats with this user get the new view.
                    Ok(())
                        if cached
                            .as_ref()
                            .is_none_or(|c| c.display_name != rec.display_name || c.avatar != rec.avatar) =>
                    {
                        inner.notify_profile_changed(user.clone())
                    }
                    Ok(()) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, user = %user, "remote profile not cached this time")
                    }
                }
                Ok(rec)
            }
            Ok(_) => {
                cached.ok_or_else(|| CoreError::Federation("unexpected answer to a profile query".into()))
            }
            Err(e) => match (cached, &e) {
                (Some(c), _) => Ok(c),
                (None, parley_federation::FederationError::Remote(w))
                    if w.code == parley_federation::ErrorCode::NotFound =>
                {
                    Err(CoreError::NotFound("user"))
                }
                (None, parley_federation::FederationError::Remote(w))
                    if w.code == parley_federation::ErrorCode::Forbidden =>
                {
                    Err(CoreError::Forbidden(format!(
                        "{} does not allow looking up its users",
                        user.server()
                    )))
                }
                (None, _) => Err(CoreError::Federation(format!("{}: {e}", user.server()))),
            },
        }
    }

    /// For a replica: asks the chat's home server for the signing keys of member servers this
    /// one does not peer with, so the events the home server relays from them (receipts,
    /// typing) verify here. Learned keys are kept in the database.
    pub(crate) async fn learn_keys(&self, chat: &ChatId, snapshot: &ChatSnapshot) {
        let inner = &self.inner;
        let Some(fed) = inner.fed() else { return };
        let home = chat.home_server();
        if inner.is_local(home) {
            return;
        }
        let known = inner.store.fed_keys().await.unwrap_or_default();
        let mut servers: Vec<&str> = snapshot.members.iter().map(|m| m.user_id.server()).collect();
        servers.sort_unstable();
        servers.dedup();
        for server in servers.into_iter().filter(|s| !inner.is_local(s)).map(str::to_owned) {
            if server == home || fed.is_peer(&server) || known.iter().any(|(s, _)| *s == server) {
                continue;
            }
            let (Ok(home_peer), Ok(name)) = (peer_id(home), parse_server(&server)) else { continue };
            let asked = fed
                .handle
                .query(&home_peer, parley_federation::Query::ServerKey { server_name: name.clone() });
            match asked.await {
                Ok(parley_federation::Answer::ServerKey { server_name, public_key, .. })
                    if server_name == name =>
                {
                    if let Err(e) = inner.store.save_fed_key(&server, &public_key.to_string()).await {
                        tracing::warn!(error = %e, server, "cannot store a learned key");
                    }
                    fed.handle.learn_origin_key(name, public_key);
                }
                other => tracing::debug!(server, ?other, "no key learned"),
            }
        }
    }
}
