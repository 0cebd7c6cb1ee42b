//! The console's federation page: this appliance's identity, invites, peers, revocation.

use std::time::Duration;

use parley_federation::FederationError;
pub use parley_types::api::FederationInfo;
use parley_types::api::{FederationInvite, FederationPeer};
use serde_json::json;

use super::{Fed, peer_id};
use crate::error::{CoreError, Result};
use crate::{AuthContext, Core};

fn fed_error(e: FederationError) -> CoreError {
    match e {
        FederationError::Invite(i) => CoreError::InvalidInput(format!("invite: {i}")),
        other => CoreError::Federation(other.to_string()),
    }
}

impl Core {
    fn fed_required(&self) -> Result<&std::sync::Arc<Fed>> {
        self.inner.fed().ok_or_else(|| CoreError::Conflict("federation is not enabled".into()))
    }

    /// `GET /api/admin/federation`.
    pub async fn admin_federation(&self, ctx: &AuthContext) -> Result<FederationInfo> {
        self.require_admin(ctx).await?;
        let directory = match self.inner.settings.federation.directory {
            parley_config::DirectoryPolicy::Open => "open",
            parley_config::DirectoryPolicy::Closed => "closed",
        };
        let Some(fed) = self.inner.fed() else {
            return Ok(FederationInfo {
                enabled: false,
                server_name: self.inner.server.to_string(),
                address: None,
                fingerprint: None,
                directory: directory.into(),
                peers: Vec::new(),
            });
        };
        let depths = self.inner.store.outbox_depths().await?;
        let now = parley_types::now_millis();
        let records = fed.handle.peers();
        let mut peers: Vec<FederationPeer> = fed
            .handle
            .stats()
            .into_iter()
            .map(|s| {
                let rec = records.iter().find(|r| r.server_name == *s.peer.server_name());
                let d = depths.iter().find(|d| d.dest == s.peer.as_str());
                let ms = |t: std::time::SystemTime| {
                    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
                };
                FederationPeer {
                    server_name: s.peer.to_string(),
                    address: s.address,
                    fingerprint: s.fingerprint.to_string(),
                    trust: match s.trust {
                        parley_federation::Trust::Pinned => "pinned".into(),
                        parley_federation::Trust::Ca => "ca".into(),
                    },
                    added_at: rec.map_or(0, |r| r.added_at as i64 * 1000),
                    revoked_at: rec.and_then(|r| r.revoked_at).map(|t| t as i64 * 1000),
                    connected: s.connected,
                    rtt_ms: s.rtt.map(|r| r.as_secs_f64() * 1000.0),
                    last_delivery_at: s.last_delivery.map(ms),
                    queue_depth: d.map_or(0, |d| d.depth),
                    oldest_undelivered_age_secs: d
                        .and_then(|d| d.oldest)
                        .map(|o| (now - o).max(0) as f64 / 1000.0),
                    frames_in: s.frames_in,
                    frames_out: s.frames_out,
                    cutoffs: s.cutoffs,
                }
            })
            .collect();
        peers.sort_by(|a, b| a.server_name.cmp(&b.server_name));
        Ok(FederationInfo {
            enabled: true,
            server_name: self.inner.server.to_string(),
            address: Some(fed.handle.public_address().to_owned()),
            fingerprint: Some(fed.handle.identity().fingerprint().to_string()),
            directory: directory.into(),
            peers,
        })
    }

    /// `POST /api/admin/federation/invites`: a one-time invite for another appliance.
    pub async fn admin_federation_invite(
        &self,
        ctx: &AuthContext,
        ttl_hours: Option<u64>,
    ) -> Result<FederationInvite> {
        self.require_admin(ctx).await?;
        let fed = self.fed_required()?;
        let hours = ttl_hours.unwrap_or(24);
        if !(1..=720).contains(&hours) {
            return Err(CoreError::invalid("ttl_hours must be between 1 and 720"));
        }
        let invite = fed.handle.create_invite(Duration::from_secs(hours * 3600)).await.map_err(fed_error)?;
        self.inner.audit_by(ctx, "federation.invite_created", None, json!({ "ttl_hours": hours })).await;
        Ok(FederationInvite { invite: invite.encode(), expires_at: invite.expires_at as i64 * 1000 })
    }

    /// `POST /api/admin/federation/peers`: peers with the appliance that issued `invite`.
    pub async fn admin_federation_accept(&self, ctx: &AuthContext, invite: &str) -> Result<FederationPeer> {
        self.require_admin(ctx).await?;
        let fed = self.fed_required()?;
        let invite = invite.trim();
        if !invite.starts_with(parley_federation::INVITE_PREFIX) {
            return Err(CoreError::invalid(format!(
                "invite: must start with {}",
                parley_federation::INVITE_PREFIX
            )));
        }
        let rec = fed.handle.accept_invite(invite).await.map_err(fed_error)?;
        let name = rec.server_name.to_string();
        self.inner
            .audit_by(
                ctx,
                "federation.peered",
                Some(name.clone()),
                json!({ "fingerprint": rec.fingerprint.to_string() }),
            )
            .await;
        self.admin_federation(ctx)
            .await?
            .peers
            .into_iter()
            .find(|p| p.server_name == name)
            .ok_or(CoreError::NotFound("peer"))
    }

    /// `DELETE /api/admin/federation/peers/{name}`: revokes at once (needs the password).
    pub async fn admin_federation_revoke(
        &self,
        ctx: &AuthContext,
        name: &str,
        password: Option<&str>,
    ) -> Result<()> {
        self.require_admin(ctx).await?;
        let fed = self.fed_required()?;
        match fed.handle.peers().iter().find(|p| p.server_name.as_str() == name) {
            None => return Err(CoreError::NotFound("peer")),
            Some(p) if p.is_revoked() => {
                return Err(CoreError::Conflict(format!("{name} is already revoked")));
            }
            Some(_) => {}
        }
        self.reauthenticate(ctx, password).await?;
        fed.handle.revoke(&peer_id(name)?).await.map_err(fed_error)?;
        self.inner.audit_by(ctx, "federation.revoked", Some(name.to_owned()), json!({})).await;
        Ok(())
    }
}
