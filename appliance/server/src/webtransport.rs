//! WebTransport (HTTP/3 over QUIC, `wtransport`): the same protocol as the WebSocket, as
//! newline-delimited JSON frames on one bidirectional stream opened by the client. Origin
//! check, authentication and limits are the session's, shared with the WebSocket.
//!
//! Certificates: with `http.tls_cert` configured, browsers validate it normally. Otherwise the
//! appliance makes ECDSA P-256 certificates valid for 10 days (browsers accept a pinned
//! self-signed certificate only under 14 days) and rotates them every
//! `webtransport.cert_rotate_secs`; live sessions keep their connection. The hashes of the
//! current and previous certificates are published at `GET /api/webtransport`.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use parking_lot::RwLock;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::sync::CancellationToken;
use wtransport::{Endpoint, Identity, RecvStream, SendStream, ServerConfig, VarInt};

use parley_core::Core;

use crate::session::{self, Incoming, Transport};

/// Hard cap on one frame (a line); the configured frame limit below it gets an error frame.
const HARD_MAX_LINE: usize = 4 << 20;
const CERT_VALID_DAYS: u32 = 10;
const PATH: &str = "/api/wt";

/// What clients need to connect: the UDP port and the pinned certificate hashes (none when a
/// CA-issued certificate is used).
#[derive(Debug, Clone, Default)]
pub struct Info {
    pub port: u16,
    pub certificate_hashes: Vec<[u8; 32]>,
}

/// Shared between the listener (which rotates certificates) and `GET /api/webtransport`.
#[derive(Debug, Clone, Default)]
pub struct InfoCell(Arc<RwLock<Option<Info>>>);

impl InfoCell {
    pub fn get(&self) -> Option<Info> {
        self.0.read().clone()
    }
}

/// A running WebTransport listener.
#[derive(Debug)]
pub struct Listener {
    pub info: InfoCell,
    pub addr: SocketAddr,
    rotate: Arc<tokio::sync::Notify>,
}

impl Listener {
    /// Rotates the self-signed certificate now (tests; the schedule does it otherwise).
    pub fn rotate_now(&self) {
        self.rotate.notify_one();
    }
}

fn self_signed(core: &Core) -> std::io::Result<Identity> {
    let sans = ["localhost", "127.0.0.1", "::1", core.server_name().as_str()];
    Identity::self_signed_builder()
        .subject_alt_names(sans)
        .from_now_utc()
        .validity_days(CERT_VALID_DAYS)
        .build()
        .map_err(|e| std::io::Error::other(format!("webtransport certificate: {e}")))
}

fn server_config(socket: Option<UdpSocket>, identity: &Identity) -> std::io::Result<ServerConfig> {
    let builder = match socket {
        Some(s) => ServerConfig::builder().with_bind_socket(s),
        // Reloads ignore the bind address.
        None => ServerConfig::builder().with_bind_default(0),
    };
    Ok(builder
        .with_identity(identity.clone_identity())
        // A vanished browser is noticed (and shown offline) within the idle timeout.
        .keep_alive_interval(Some(Duration::from_secs(10)))
        .max_idle_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .build())
}

fn hash(identity: &Identity) -> Option<[u8; 32]> {
    identity.certificate_chain().as_slice().first().map(|c| *c.hash().as_ref())
}

/// Starts serving WebTransport sessions on `socket` until `shutdown` is cancelled.
pub async fn start(core: Core, socket: UdpSocket, shutdown: CancellationToken) -> std::io::Result<Listener> {
    let settings = core.settings().clone();
    let ca_issued = settings.tls_enabled();
    let identity = if ca_issued {
        Identity::load_pemfiles(&settings.http.tls_cert, &settings.http.tls_key).await.map_err(|e| {
            std::io::Error::other(format!("webtransport: cannot load http.tls_cert/tls_key: {e}"))
        })?
    } else {
        self_signed(&core)?
    };
    let addr = socket.local_addr()?;
    let endpoint = Endpoint::server(server_config(Some(socket), &identity)?)?;
    let info = InfoCell::default();
    let hashes = if ca_issued { Vec::new() } else { hash(&identity).into_iter().collect() };
    *info.0.write() = Some(Info { port: addr.port(), certificate_hashes: hashes });
    let rotate = Arc::new(tokio::sync::Notify::new());
    let endpoint = Arc::new(endpoint);

    if !ca_issued {
        let (endpoint, info, rotate, core, shutdown) =
            (endpoint.clone(), info.clone(), rotate.clone(), core.clone(), shutdown.clone());
        let every = Duration::from_secs(settings.webtransport.cert_rotate_secs.max(1));
        tokio::spawn(async move {
            let mut previous = hash(&identity);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                    _ = rotate.notified() => {}
                }
                let rotated = self_signed(&core).and_then(|id| {
                    endpoint.reload_config(server_config(None, &id)?, false)?;
                    Ok(id)
                });
                match rotated {
                    Ok(id) => {
                        let current = hash(&id);
                        // Publish the previous hash too, for clients that fetched it just before.
                        let hashes = current.into_iter().chain(previous).collect();
                        if let Some(i) = info.0.write().as_mut() {
                            i.certificate_hashes = hashes;
                        }
                        previous = current;
                        tracing::info!("webtransport certificate rotated");
                    }
                    Err(e) => tracing::error!(error = %e, "webtransport certificate rotation failed"),
                }
            }
        });
    }

    let state = crate::state(core, shutdown.clone(), info.clone());
    tokio::spawn(async move {
        loop {
            let incoming = tokio::select! {
                _ = shutdown.cancelled() => break,
                i = endpoint.accept() => i,
            };
            let state = state.clone();
            tokio::spawn(async move {
                let failures = state.core.metrics().handshake_failures.with_label_values(&["webtransport"]);
                let Ok(request) = incoming.await else {
                    failures.inc();
                    return;
                };
                if request.path() != PATH {
                    request.not_found().await;
                    return;
                }
                if !origin_allowed(
                    request.origin(),
                    request.authority(),
                    &state.core.runtime().allowed_origins,
                ) {
                    failures.inc();
                    request.forbidden().await;
                    return;
                }
                let Ok(connection) = request.accept().await else {
                    failures.inc();
                    return;
                };
                let Ok((send, recv)) = connection.accept_bi().await else {
                    failures.inc();
                    return;
                };
                let transport = Wt {
                    connection: connection.clone(),
                    send,
                    lines: FramedRead::new(recv, LinesCodec::new_with_max_length(HARD_MAX_LINE)),
                };
                session::run(state, transport).await;
            });
        }
        endpoint.close(VarInt::from_u32(u32::from(session::CLOSE_GOING_AWAY)), b"server shutting down");
    });
    Ok(Listener { info, addr, rotate })
}

/// The WebSocket's rule, except that the page's port need not be the UDP port.
fn origin_allowed(origin: Option<&str>, authority: &str, allowed: &[String]) -> bool {
    session::origin_allowed(origin, authority, allowed, false)
}

/// The WebTransport side of a session: one bidirectional stream of JSON lines.
struct Wt {
    connection: wtransport::Connection,
    send: SendStream,
    lines: FramedRead<RecvStream, LinesCodec>,
}

impl Transport for Wt {
    const LABEL: &'static str = "webtransport";

    async fn recv(&mut self) -> Incoming {
        match self.lines.next().await {
            Some(Ok(line)) => Incoming::Text(line),
            Some(Err(LinesCodecError::MaxLineLengthExceeded)) => Incoming::TooLarge,
            Some(Err(_)) | None => Incoming::Closed,
        }
    }

    async fn send(&mut self, frames: &[Arc<str>]) -> bool {
        let mut buf = Vec::with_capacity(frames.iter().map(|f| f.len() + 1).sum());
        for f in frames {
            buf.extend_from_slice(f.as_bytes());
            buf.push(b'\n');
        }
        self.send.write_all(&buf).await.is_ok()
    }

    async fn ping(&mut self) -> bool {
        // QUIC keep-alives hold the path open, and a dead connection fails the next read.
        true
    }

    async fn close(&mut self, code: u16, reason: &str) {
        let _ = self.send.finish().await;
        self.connection.close(VarInt::from_u32(u32::from(code)), reason.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::origin_allowed;

    #[test]
    fn origins_match_by_host() {
        assert!(origin_allowed(None, "chat.example.org:443", &[]));
        assert!(origin_allowed(Some("https://chat.example.org"), "chat.example.org:8443", &[]));
        assert!(origin_allowed(Some("http://127.0.0.1:8080"), "127.0.0.1:8080", &[]));
        assert!(!origin_allowed(Some("https://evil.example"), "chat.example.org:443", &[]));
        let allowed = vec!["https://app.example.org".to_string()];
        assert!(!origin_allowed(Some("https://chat.example.org"), "chat.example.org", &allowed));
    }
}
