//! Test support (feature `testing`, never enabled by the appliance): ways to send what a
//! well-behaved server never would, so tests can show how the receiver treats rule breakers.

use parley_types::ServerName;

use crate::error::{FederationError, Result};
use crate::ids::{Fingerprint, PeerId};
use crate::manager::Federation;
use crate::outbound::{conn_error, read_response, request};
use crate::tls::Expect;
use crate::wire::{self, Request, Response};

/// Test support: send raw bytes to a peer over its connection, bypassing every local
/// check, to show how the receiver treats rule breakers.
impl Federation {
    /// Writes `bytes` verbatim (length prefix included, or not) on a new stream and reads
    /// the answer.
    pub async fn testing_send_raw(&self, peer: &PeerId, bytes: &[u8]) -> Result<Response> {
        let conn = self.inner.connection(peer).await?;
        let exchange = async {
            let (mut send, mut recv) = conn.open_bi().await.map_err(conn_error)?;
            send.write_all(bytes).await.map_err(|e| FederationError::Stream(e.to_string()))?;
            let _ = send.finish();
            read_response(&conn, &mut recv).await
        };
        tokio::time::timeout(self.inner.config.request_timeout, exchange)
            .await
            .map_err(|_| FederationError::Timeout)?
    }

    /// `testing_send_raw` with a request serialized as a versioned frame.
    pub async fn testing_send_request(&self, peer: &PeerId, req: &Request) -> Result<Response> {
        let body = wire::encode(req);
        let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&body);
        self.testing_send_raw(peer, &bytes).await
    }

    /// Connects to `address` trusting `fingerprint` (no pin kept) and returns the connection's
    /// first answer to `req`: what an unpinned stranger gets.
    pub async fn testing_stranger_request(
        &self,
        address: &str,
        server_name: &ServerName,
        fingerprint: Fingerprint,
        req: &Request,
    ) -> Result<Response> {
        let conn = self.inner.connect_to(address, Expect::Pinned(fingerprint), server_name).await?;
        request(&conn, req, self.inner.config.request_timeout).await
    }
}

impl Federation {
    /// Opens one more connection to `peer` even though one is up (a simultaneous connect).
    pub async fn testing_connect_again(&self, peer: &PeerId) -> Result<()> {
        let record = self
            .inner
            .active_peer(peer.server_name())
            .ok_or_else(|| FederationError::NotPeered(peer.to_string()))?;
        let conn = self
            .inner
            .connect_to(&record.address, Expect::Pinned(record.fingerprint), peer.server_name())
            .await?;
        self.inner.register(peer.clone(), conn, true);
        Ok(())
    }
}
