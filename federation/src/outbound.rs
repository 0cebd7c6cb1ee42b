//! Outbound side: making and reusing the connection to a peer, and one request/response
//! exchange per stream.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use parley_types::ServerName;

use crate::error::{FederationError, Result};
use crate::identity::inspect_certificate;
use crate::ids::{Fingerprint, PeerId, PublicKey};
use crate::invite::unix_now;
use crate::manager::{Inner, PeerEvent};
use crate::peers::Link;
use crate::store::{PeerRecord, Trust};
use crate::tls::{self, Expect};
use crate::wire::{self, ErrorCode, MAX_FRAME_BYTES, Request, Response};

impl Inner {
    pub(crate) fn link(&self, peer: &PeerId) -> Arc<Link> {
        self.links
            .lock()
            .entry(peer.clone())
            .or_insert_with(|| Arc::new(Link::new(self.config.rate_burst)))
            .clone()
    }

    pub(crate) fn key_of(&self, name: &ServerName) -> Option<PublicKey> {
        if name == self.identity.server_name() {
            return Some(self.identity.public_key().clone());
        }
        self.table.read().key_of(name)
    }

    pub(crate) fn active_peer(&self, name: &ServerName) -> Option<PeerRecord> {
        self.table.read().active(name).cloned()
    }

    pub(crate) fn peer_by_fingerprint(&self, fp: &Fingerprint) -> Option<PeerRecord> {
        self.table.read().by_fingerprint(fp).cloned()
    }

    pub(crate) async fn add_peer(&self, record: PeerRecord) -> Result<()> {
        self.store.save_peer(&record).await?;
        self.table.write().insert(record.clone());
        tracing::info!(peer = %record.server_name, fingerprint = %record.fingerprint, "federation peer pinned");
        let _ = self.events.send(PeerEvent::Peered(record));
        Ok(())
    }

    /// Makes `conn` the peer's connection in use and serves its inbound streams.
    /// Makes `conn` the peer's connection in use (or not, see [`Link::add`]) and serves its
    /// inbound streams. `outbound`: this server opened it.
    pub(crate) fn register(self: &Arc<Self>, peer: PeerId, conn: quinn::Connection, outbound: bool) {
        let link = self.link(&peer);
        let we_win_ties = self.identity.server_name() < peer.server_name();
        let (was_down, loser) = link.add(conn.clone(), outbound, we_win_ties);
        if let Some(loser) = loser {
            // Let its in-flight requests finish; new ones already go to the winner.
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                loser.close(ErrorCode::Superseded.as_u32().into(), b"superseded");
            });
        }
        link.generation.send_modify(|g| *g += 1);
        if was_down {
            tracing::info!(%peer, "federation peer connected");
            let _ = self.events.send(PeerEvent::Connected(peer.clone()));
        }
        tokio::spawn(crate::inbound::serve_connection(self.clone(), peer, conn, link));
    }

    pub(crate) fn connection_closed(
        &self,
        peer: &PeerId,
        link: &Link,
        conn: &quinn::Connection,
        reason: String,
    ) {
        if link.remove(conn) {
            tracing::info!(%peer, %reason, "federation peer disconnected");
            let _ = self.events.send(PeerEvent::Disconnected { peer: peer.clone(), reason });
        }
    }

    pub(crate) fn cut_off(&self, peer: &PeerId, conn: &quinn::Connection, code: ErrorCode, reason: &str) {
        tracing::warn!(%peer, ?code, reason, "federation peer cut off");
        self.link(peer).cutoffs.fetch_add(1, Ordering::Relaxed);
        conn.close(code.as_u32().into(), reason.as_bytes());
        let _ = self.events.send(PeerEvent::CutOff { peer: peer.clone(), code, reason: reason.to_owned() });
    }

    pub(crate) async fn connect_to(
        &self,
        address: &str,
        expect: Expect,
        server_name: &ServerName,
    ) -> Result<quinn::Connection> {
        let addr = tokio::net::lookup_host(address)
            .await
            .map_err(|_| FederationError::Address(address.to_owned()))?
            .next()
            .ok_or_else(|| FederationError::Address(address.to_owned()))?;
        let config = tls::client_config(
            &self.identity,
            expect,
            self.table.clone(),
            self.ca.clone(),
            self.transport.clone(),
        )?;
        let connecting = self
            .endpoint
            .connect_with(config, addr, server_name.as_str())
            .map_err(|e| FederationError::Connect(e.to_string()))?;
        match tokio::time::timeout(self.config.connect_timeout, connecting).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(conn_error(e)),
            Err(_) => Err(FederationError::Timeout),
        }
    }

    /// The peer's connection in use, made if there is none.
    pub(crate) async fn connection(self: &Arc<Self>, peer: &PeerId) -> Result<quinn::Connection> {
        let link = self.link(peer);
        if let Some(c) = link.current() {
            return Ok(c);
        }
        let _one_at_a_time = link.connecting.lock().await;
        if let Some(c) = link.current() {
            return Ok(c);
        }
        let (expect, address) = match self.active_peer(peer.server_name()) {
            Some(r) => match r.trust {
                Trust::Pinned => (Expect::Pinned(r.fingerprint), r.address),
                Trust::Ca => (Expect::Ca(r.server_name.clone()), r.address),
            },
            None => match &self.ca {
                Some(ca) if ca.allowed.contains(peer.server_name()) => (
                    Expect::Ca(peer.server_name().clone()),
                    ca.address_of(peer.server_name(), self.config.default_port),
                ),
                _ => return Err(FederationError::NotPeered(peer.to_string())),
            },
        };
        let conn = self.connect_to(&address, expect.clone(), peer.server_name()).await?;
        if let Expect::Ca(_) = expect
            && self.active_peer(peer.server_name()).is_none()
        {
            let (fingerprint, info) = peer_certificate(&conn)?;
            let public_key = info
                .public_key
                .ok_or_else(|| FederationError::Certificate("peer key is not ECDSA P-256".into()))?;
            self.add_peer(PeerRecord {
                server_name: peer.server_name().clone(),
                fingerprint,
                public_key,
                address,
                trust: Trust::Ca,
                added_at: unix_now(),
                revoked_at: None,
            })
            .await?;
        }
        self.register(peer.clone(), conn.clone(), true);
        Ok(conn)
    }

    /// One request/response exchange with `peer`. A connection found dead when opening the
    /// stream (idle timeout, peer restart) is replaced once.
    pub(crate) async fn call(self: &Arc<Self>, peer: &PeerId, req: &Request) -> Result<Response> {
        let known = self.active_peer(peer.server_name()).is_some();
        if self.table.read().is_revoked_name(peer.server_name()) || (!known && self.ca.is_none()) {
            return Err(FederationError::NotPeered(peer.to_string()));
        }
        let link = self.link(peer);
        let mut conn = self.connection(peer).await?;
        if conn.close_reason().is_some() {
            conn = self.connection(peer).await?;
        }
        link.frames_out.fetch_add(1, Ordering::Relaxed);
        let resp = match request(&conn, req, self.config.request_timeout).await {
            Err(FederationError::Connection(_)) if conn.close_reason().is_some() => {
                let reason = conn.close_reason().map(|r| r.to_string()).unwrap_or_default();
                self.connection_closed(peer, &link, &conn, reason);
                let conn = self.connection(peer).await?;
                request(&conn, req, self.config.request_timeout).await
            }
            r => r,
        }?;
        link.frames_in.fetch_add(1, Ordering::Relaxed);
        Ok(resp)
    }
}

/// The verified certificate of a connection's peer.
pub(crate) fn peer_certificate(conn: &quinn::Connection) -> Result<(Fingerprint, crate::identity::CertInfo)> {
    let certs = conn
        .peer_identity()
        .and_then(|id| id.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>().ok())
        .ok_or_else(|| FederationError::Certificate("peer sent no certificate".into()))?;
    let leaf =
        certs.first().ok_or_else(|| FederationError::Certificate("peer sent no certificate".into()))?;
    Ok((Fingerprint::of_der(leaf), inspect_certificate(leaf)?))
}

pub(crate) fn conn_error(e: quinn::ConnectionError) -> FederationError {
    match e {
        quinn::ConnectionError::ApplicationClosed(c) => FederationError::ClosedByPeer {
            code: u32::try_from(c.error_code.into_inner())
                .ok()
                .and_then(ErrorCode::from_u32)
                .unwrap_or(ErrorCode::Internal),
            reason: String::from_utf8_lossy(&c.reason).into_owned(),
        },
        other => FederationError::Connection(other),
    }
}

pub(crate) async fn read_response(
    conn: &quinn::Connection,
    recv: &mut quinn::RecvStream,
) -> Result<Response> {
    match wire::read_frame::<_, Response>(recv, MAX_FRAME_BYTES).await {
        Ok(r) => Ok(r),
        // A reset stream or missing answer usually means the connection was closed: report
        // the close reason (the peer's cut-off code), which says more.
        Err(e) => Err(match conn.close_reason() {
            Some(reason) => conn_error(reason),
            None => FederationError::Frame(e.to_string()),
        }),
    }
}

/// Opens a stream, sends `req`, reads the one answer.
pub(crate) async fn request(conn: &quinn::Connection, req: &Request, timeout: Duration) -> Result<Response> {
    let exchange = async {
        let (mut send, mut recv) = conn.open_bi().await.map_err(conn_error)?;
        wire::write_frame(&mut send, req).await.map_err(|e| FederationError::Stream(e.to_string()))?;
        let _ = send.finish();
        read_response(conn, &mut recv).await
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err(FederationError::Timeout),
    }
}
