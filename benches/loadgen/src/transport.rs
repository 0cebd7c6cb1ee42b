//! The two ways a simulated device reaches the appliance, behind one [`Conn`] that carries text
//! frames in and out, so scenarios do not care which one they drive:
//!
//! - WebSocket: `/api/ws` over TCP bound to one of several `127.0.0.x` source addresses, one
//!   text message per frame.
//! - WebTransport: `GET /api/webtransport` (once per server) gives the UDP port and the pinned
//!   SHA-256 hashes of the self-signed certificate; one QUIC endpoint per source address then
//!   opens sessions to `https://<host>:<port>/api/wt`, each with one bidirectional stream of
//!   newline-terminated JSON frames (docs/protocol.md section 2.0).
//!
//! Either way the first frame is `auth` and the connection is handed out once `ready` came.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::OnceCell;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use wtransport::endpoint::endpoint_side::Client;
use wtransport::{ClientConfig, Endpoint, RecvStream, SendStream, VarInt};

use crate::client::{Api, Frame, parse};

type Ws = WebSocketStream<TcpStream>;

/// Which transport the simulated devices use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Websocket,
    Webtransport,
}

impl Transport {
    pub fn label(self) -> &'static str {
        match self {
            Transport::Websocket => "WebSocket",
            Transport::Webtransport => "WebTransport",
        }
    }
}

/// Opens authenticated connections to one server over one transport. Cheap to clone.
#[derive(Clone)]
pub struct Dialer {
    transport: Transport,
    api: Api,
    sources: usize,
    /// Filled by the first WebTransport connection (it needs a user's token to ask).
    wt: Arc<OnceCell<WtTarget>>,
    retries: Arc<AtomicU64>,
}

struct WtTarget {
    url: String,
    /// One client endpoint (UDP socket) per source address, 127.0.0.1 first.
    endpoints: Vec<Endpoint<Client>>,
}

impl Dialer {
    pub fn new(transport: Transport, api: Api, sources: usize) -> Self {
        Self { transport, api, sources: sources.max(1), wt: Arc::default(), retries: Arc::default() }
    }

    /// The same, for a restarted server (a new port and certificate); the retry count goes on.
    pub fn retarget(&self, api: Api) -> Self {
        Self { api, wt: Arc::default(), ..self.clone() }
    }

    /// Handshakes tried again so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Connects from `source`, sends `auth` and waits for `ready`. A failed WebTransport
    /// handshake is tried again, twice at most (counted in [`Dialer::retries`]).
    pub async fn connect(&self, source: Ipv4Addr, token: &str) -> anyhow::Result<Conn> {
        let mut conn = match self.transport {
            Transport::Websocket => ws_connect(self.api.addr, source).await?,
            Transport::Webtransport => {
                let mut attempt = 0;
                loop {
                    match self.wt_connect(source, token).await {
                        Ok(c) => break c,
                        Err(e) if attempt < 2 => {
                            attempt += 1;
                            self.retries.fetch_add(1, Ordering::Relaxed);
                            crate::debug(format_args!("webtransport handshake failed, again: {e:#}"));
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        };
        conn.send(json!({ "type": "auth", "token": token }).to_string()).await?;
        loop {
            let text = conn
                .next_text(Duration::from_secs(30))
                .await?
                .ok_or_else(|| anyhow!("closed before ready"))?;
            match parse(&text) {
                Frame::Ready => return Ok(conn),
                Frame::Error { code, message, .. } => bail!("auth refused: {code}: {message}"),
                _ => continue,
            }
        }
    }

    async fn wt_target(&self, token: &str) -> anyhow::Result<&WtTarget> {
        self.wt
            .get_or_try_init(|| async {
                let v = self.api.get("/api/webtransport", token).await?;
                let info: WtInfo = serde_json::from_value(v).context("GET /api/webtransport")?;
                let hashes = info.pinned()?;
                let endpoints = (0..self.sources)
                    .map(|i| {
                        let local = SocketAddr::new(Ipv4Addr::new(127, 0, 0, 1 + i as u8).into(), 0);
                        let config = ClientConfig::builder()
                            .with_bind_address(local)
                            .with_server_certificate_hashes(hashes.iter().map(|h| (*h).into()))
                            .build();
                        Endpoint::client(config).with_context(|| format!("UDP endpoint on {local}"))
                    })
                    .collect::<anyhow::Result<_>>()?;
                let url = format!("https://{}:{}{}", self.api.addr.ip(), info.port, info.path);
                crate::debug(format_args!("webtransport at {url}, {} pinned hashes", hashes.len()));
                anyhow::Ok(WtTarget { url, endpoints })
            })
            .await
    }

    async fn wt_connect(&self, source: Ipv4Addr, token: &str) -> anyhow::Result<Conn> {
        let target = self.wt_target(token).await?;
        let i = usize::from(source.octets()[3].saturating_sub(1)) % target.endpoints.len();
        let connection = target.endpoints[i]
            .connect(&target.url)
            .await
            .with_context(|| format!("connecting to {} from {source}", target.url))?;
        let (send, recv) = connection.open_bi().await?.await?;
        Ok(Conn {
            writer: Writer::Wt { connection, send },
            reader: Reader::Wt { recv, lines: LineBuf::default() },
        })
    }
}

/// What `GET /api/webtransport` answers.
#[derive(Debug, Deserialize)]
struct WtInfo {
    port: u16,
    path: String,
    certificate_hashes: Vec<CertHash>,
}

#[derive(Debug, Deserialize)]
struct CertHash {
    algorithm: String,
    value: String,
}

impl WtInfo {
    /// The SHA-256 hashes to pin, decoded from base64.
    fn pinned(&self) -> anyhow::Result<Vec<[u8; 32]>> {
        if self.certificate_hashes.is_empty() {
            bail!(
                "the server publishes no certificate hashes (a CA-issued certificate); only pinned self-signed certificates are supported"
            );
        }
        self.certificate_hashes
            .iter()
            .map(|h| {
                if h.algorithm != "sha-256" {
                    bail!("certificate hash algorithm {:?}, expected sha-256", h.algorithm);
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&h.value)
                    .with_context(|| format!("certificate hash {:?} is not base64", h.value))?;
                <[u8; 32]>::try_from(bytes.as_slice())
                    .map_err(|_| anyhow!("a sha-256 hash of {} bytes", bytes.len()))
            })
            .collect()
    }
}

/// Opens `/api/ws` from `source` (the caller sends `auth`).
async fn ws_connect(addr: SocketAddr, source: Ipv4Addr) -> anyhow::Result<Conn> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source.into(), 0)).with_context(|| format!("binding {source}"))?;
    let stream = socket.connect(addr).await.with_context(|| format!("connecting from {source}"))?;
    stream.set_nodelay(true)?;
    // Small buffers: tens of thousands of idle connections must fit in this process too.
    let config = WebSocketConfig::default().read_buffer_size(16 << 10).write_buffer_size(0);
    let url = format!("ws://{addr}/api/ws");
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?;
    let (sink, stream) = ws.split();
    Ok(Conn { writer: Writer::Ws(sink), reader: Reader::Ws(stream) })
}

/// An authenticated connection: text frames out, text frames in.
pub struct Conn {
    writer: Writer,
    reader: Reader,
}

impl Conn {
    pub async fn send(&mut self, text: String) -> anyhow::Result<()> {
        self.writer.send(text).await
    }

    /// The next frame, or `None` when the server closed the connection.
    pub async fn next_text(&mut self, wait: Duration) -> anyhow::Result<Option<String>> {
        match tokio::time::timeout(wait, self.reader.recv()).await {
            Err(_) => bail!("no frame within {wait:?}"),
            Ok(r) => r,
        }
    }

    pub async fn close(self) {
        self.writer.close().await;
    }

    /// Apart, for a writer task and a reader task.
    pub fn split(self) -> (Writer, Reader) {
        (self.writer, self.reader)
    }
}

/// The sending half of a [`Conn`].
pub enum Writer {
    Ws(SplitSink<Ws, WsMessage>),
    Wt { connection: wtransport::Connection, send: SendStream },
}

impl Writer {
    pub async fn send(&mut self, text: String) -> anyhow::Result<()> {
        match self {
            Writer::Ws(sink) => sink.send(WsMessage::Text(text.into())).await?,
            Writer::Wt { send, .. } => {
                let mut line = text.into_bytes();
                line.push(b'\n');
                send.write_all(&line).await?;
            }
        }
        Ok(())
    }

    pub async fn close(self) {
        match self {
            Writer::Ws(mut sink) => {
                let _ = sink.send(WsMessage::Close(None)).await;
            }
            Writer::Wt { connection, mut send } => {
                let _ = send.finish().await;
                connection.close(VarInt::from_u32(0), b"");
            }
        }
    }
}

/// The receiving half of a [`Conn`].
pub enum Reader {
    Ws(SplitStream<Ws>),
    Wt { recv: RecvStream, lines: LineBuf },
}

impl Reader {
    /// The next text frame; `None` when the connection ended cleanly. Cancel safe.
    pub async fn recv(&mut self) -> anyhow::Result<Option<String>> {
        match self {
            Reader::Ws(stream) => loop {
                match stream.next().await {
                    None | Some(Ok(WsMessage::Close(None))) => return Ok(None),
                    Some(Ok(WsMessage::Close(Some(c)))) => {
                        bail!("closed by the server: {} {}", u16::from(c.code), c.reason)
                    }
                    Some(Ok(WsMessage::Text(t))) => return Ok(Some(t.as_str().to_owned())),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e.into()),
                }
            },
            Reader::Wt { recv, lines } => {
                let mut chunk = [0u8; 4096];
                loop {
                    if let Some(line) = lines.next_line() {
                        return line.map(Some);
                    }
                    match recv.read(&mut chunk).await? {
                        Some(n) => lines.push(&chunk[..n]),
                        None if lines.is_empty() => return Ok(None),
                        None => bail!("the stream ended inside a frame"),
                    }
                }
            }
        }
    }
}

/// Splits the bytes of a stream, arriving in arbitrary pieces, into `\n`-terminated lines.
#[derive(Debug, Default)]
pub struct LineBuf {
    buf: Vec<u8>,
    /// Where the next line starts.
    start: usize,
    /// Bytes from `start` up to here hold no newline.
    scanned: usize,
}

impl LineBuf {
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line without its `\n` (empty lines are skipped).
    pub fn next_line(&mut self) -> Option<anyhow::Result<String>> {
        loop {
            let from = self.scanned.max(self.start);
            let Some(i) = self.buf[from..].iter().position(|&b| b == b'\n') else {
                self.scanned = self.buf.len();
                return None;
            };
            let (start, end) = (self.start, from + i);
            self.start = end + 1;
            self.scanned = self.start;
            if end > start {
                return Some(
                    String::from_utf8(self.buf[start..end].to_vec()).map_err(|e| anyhow!("a frame: {e}")),
                );
            }
        }
    }

    /// No partial line is waiting.
    pub fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(buf: &mut LineBuf) -> Vec<String> {
        std::iter::from_fn(|| buf.next_line()).map(|l| l.expect("utf-8")).collect()
    }

    #[test]
    fn splits_lines_across_reads() {
        let mut b = LineBuf::default();
        assert!(b.is_empty());
        b.push(br#"{"type":"ready"}"#);
        assert!(lines(&mut b).is_empty());
        assert!(!b.is_empty());
        b.push(b"\n{\"a\":\"x\\ny\"}\n{\"b\"");
        assert_eq!(lines(&mut b), [r#"{"type":"ready"}"#, r#"{"a":"x\ny"}"#]);
        b.push(b":1}\n\n");
        assert_eq!(lines(&mut b), [r#"{"b":1}"#]);
        assert!(b.is_empty());
        // One byte at a time, with a multi-byte character cut in two.
        let text = "{\"t\":\"é\"}\n";
        let mut got = Vec::new();
        for byte in text.as_bytes() {
            b.push(std::slice::from_ref(byte));
            got.extend(lines(&mut b));
        }
        assert_eq!(got, ["{\"t\":\"é\"}"]);
        assert!(b.next_line().is_none() && b.is_empty());
        b.push(b"\xff\n");
        assert!(b.next_line().is_some_and(|l| l.is_err()));
    }

    #[test]
    fn parses_the_pinned_hashes() {
        let hash = [7u8; 32];
        let b64 = base64::engine::general_purpose::STANDARD.encode(hash);
        let body = json!({ "port": 4433, "path": "/api/wt", "certificate_hashes": [
            { "algorithm": "sha-256", "value": b64 }, { "algorithm": "sha-256", "value": b64 },
        ]});
        let info: WtInfo = serde_json::from_value(body).expect("info");
        assert_eq!((info.port, info.path.as_str()), (4433, "/api/wt"));
        assert_eq!(info.pinned().expect("hashes"), [hash, hash]);

        let bad = |hashes: serde_json::Value| {
            let v = json!({ "port": 1, "path": "/api/wt", "certificate_hashes": hashes });
            serde_json::from_value::<WtInfo>(v).expect("info").pinned().unwrap_err().to_string()
        };
        assert!(bad(json!([])).contains("no certificate hashes"));
        assert!(bad(json!([{ "algorithm": "sha-1", "value": b64 }])).contains("sha-1"));
        assert!(bad(json!([{ "algorithm": "sha-256", "value": "AAEC" }])).contains("3 bytes"));
        assert!(bad(json!([{ "algorithm": "sha-256", "value": "not base64!" }])).contains("not base64"));
    }
}
