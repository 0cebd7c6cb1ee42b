//! Retry pacing for the core's outbox: exponential, capped, reset when the peer comes back.
//! The outbox itself (durable, per destination) lives in the core.

use std::time::Duration;

use tokio::sync::watch;

/// Exponential backoff: `base`, 2×, 4×, … capped at `max`. Pure arithmetic; add jitter at the
/// call site if many destinations retry in step.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Default for Backoff {
    /// 1 s doubling to at most 5 minutes.
    fn default() -> Self {
        Self::new(Duration::from_secs(1), Duration::from_secs(300))
    }
}

/// Why [`Backoff::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The delay ran out.
    Timer,
    /// The peer (re)connected: retry now, no "backoff cliff".
    PeerBack,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self { base, max, attempt: 0 }
    }

    /// The delay before the next attempt; each call doubles the following one.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.attempt = self.attempt.saturating_add(1);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// After a success or a reconnect.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Sleeps for the next delay, or less if `back` reports the peer reconnected (then the
    /// backoff is reset too).
    pub async fn wait(&mut self, back: &mut PeerWatch) -> Wake {
        let delay = self.next_delay();
        tokio::select! {
            _ = tokio::time::sleep(delay) => Wake::Timer,
            _ = back.changed() => {
                self.reset();
                Wake::PeerBack
            }
        }
    }
}

/// Fires each time a connection to one peer is established (either direction). Get one from
/// [`crate::Federation::watch_peer`].
#[derive(Debug, Clone)]
pub struct PeerWatch(pub(crate) watch::Receiver<u64>);

impl PeerWatch {
    /// Waits for the next (re)connection.
    pub async fn changed(&mut self) {
        if self.0.changed().await.is_err() {
            // Federation shut down: never fires again.
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(300));
        let delays: Vec<u64> = (0..12).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        for _ in 0..100 {
            b.next_delay();
        }
        assert_eq!(b.next_delay(), Duration::from_secs(300));
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_returning_peer_cuts_the_wait_short() {
        let (tx, rx) = watch::channel(0u64);
        let mut watch = PeerWatch(rx);
        let mut b = Backoff::new(Duration::from_secs(60), Duration::from_secs(300));
        b.next_delay();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.send_modify(|g| *g += 1);
            // Keep the sender alive so the watch does not report closure instead.
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let started = std::time::Instant::now();
        assert_eq!(b.wait(&mut watch).await, Wake::PeerBack);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(b.attempts(), 0);
    }
}
