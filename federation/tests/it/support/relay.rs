//! A UDP relay between a QUIC client and one server, to simulate a bad network: drop a share
//! of datagrams, add delay, or cut everything (a partition) and heal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

#[derive(Debug)]
struct Faults {
    drop_percent: u64,
    delay: Duration,
    partitioned: bool,
    /// xorshift state: deterministic "randomness", no dependency.
    rng: u64,
}

impl Faults {
    /// Whether the next datagram goes through.
    fn pass(&mut self) -> bool {
        if self.partitioned {
            return false;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % 100 >= self.drop_percent
    }
}

pub struct UdpRelay {
    addr: SocketAddr,
    faults: Arc<Mutex<Faults>>,
    tasks: Vec<JoinHandle<()>>,
}

impl UdpRelay {
    /// Listens on 127.0.0.1 and forwards to `target`; replies go back to the last client.
    pub async fn start(target: SocketAddr) -> Self {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let back = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        back.connect(target).await.unwrap();
        let addr = front.local_addr().unwrap();
        let faults = Arc::new(Mutex::new(Faults {
            drop_percent: 0,
            delay: Duration::ZERO,
            partitioned: false,
            rng: 0x9e37_79b9_7f4a_7c15,
        }));
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();

        let upstream = {
            let (front, back, faults, client) = (front.clone(), back.clone(), faults.clone(), client.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65_536];
                loop {
                    // Errors (ICMP "port unreachable" from a stopped endpoint) are not fatal.
                    let Ok((n, from)) = front.recv_from(&mut buf).await else { continue };
                    *client.lock() = Some(from);
                    let (pass, delay) = {
                        let mut f = faults.lock();
                        (f.pass(), f.delay)
                    };
                    if pass {
                        let (back, data) = (back.clone(), buf[..n].to_vec());
                        send_later(delay, async move {
                            let _ = back.send(&data).await;
                        });
                    }
                }
            })
        };
        let downstream = {
            let faults = faults.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65_536];
                loop {
                    let Ok(n) = back.recv(&mut buf).await else { continue };
                    let Some(to) = *client.lock() else { continue };
                    let (pass, delay) = {
                        let mut f = faults.lock();
                        (f.pass(), f.delay)
                    };
                    if pass {
                        let (front, data) = (front.clone(), buf[..n].to_vec());
                        send_later(delay, async move {
                            let _ = front.send_to(&data, to).await;
                        });
                    }
                }
            })
        };
        Self { addr, faults, tasks: vec![upstream, downstream] }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn set_drop_percent(&self, p: u64) {
        self.faults.lock().drop_percent = p.min(100);
    }
    pub fn set_delay(&self, d: Duration) {
        self.faults.lock().delay = d;
    }
    /// Drops every datagram both ways until [`UdpRelay::heal`].
    pub fn partition(&self) {
        self.faults.lock().partitioned = true;
    }
    pub fn heal(&self) {
        self.faults.lock().partitioned = false;
    }
}

fn send_later(delay: Duration, send: impl Future<Output = ()> + Send + 'static) {
    if delay.is_zero() {
        tokio::spawn(send);
    } else {
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            send.await;
        });
    }
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
