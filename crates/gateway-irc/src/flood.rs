//! Flood control: a token bucket in front of every PRIVMSG, because IRC servers
//! disconnect clients that send faster than they allow ("Excess Flood").
//!
//! Fairness between rooms comes from the lock: `tokio::sync::Mutex` hands itself out
//! in the order it was asked for, and each room's worker asks for one line at a time.
//! A room with 50 lines queued therefore takes turns with a room that has one: every
//! room progresses, and each room's own lines keep their order (its worker sends them
//! one after the other).

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// The bucket's shape: `burst` lines at once, then one line per `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodLimit {
    /// Lines that may go out back to back after a quiet period (at least 1).
    pub burst: u32,
    /// The time one token takes to come back.
    pub interval: Duration,
}

impl Default for FloodLimit {
    /// Burst 4, then one line every 2 s: what the common servers (Solanum, InspIRCd,
    /// ngircd) tolerate from an unprivileged client.
    fn default() -> Self {
        FloodLimit {
            burst: 4,
            interval: Duration::from_secs(2),
        }
    }
}

/// A token bucket shared by every room of one connection.
#[derive(Debug)]
pub struct FloodGate {
    limit: FloodLimit,
    state: Mutex<Bucket>,
}

/// The bucket's arithmetic, apart from any clock, so it is tested with exact instants.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens available at `updated`, fractional so slow refills are exact.
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// Adds what the bucket earned since it was last updated, up to the burst.
    fn refill(&mut self, now: Instant, limit: FloodLimit) {
        let burst = f64::from(limit.burst);
        let interval = limit.interval.as_secs_f64();
        if interval == 0.0 {
            self.tokens = burst;
        } else {
            let earned = now.saturating_duration_since(self.updated).as_secs_f64() / interval;
            self.tokens = (self.tokens + earned).min(burst);
        }
        self.updated = now;
    }

    /// How long until one token is there (zero when one is).
    fn wait(&self, limit: FloodLimit) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            limit.interval.mul_f64(1.0 - self.tokens)
        }
    }

    fn take(&mut self) {
        self.tokens = (self.tokens - 1.0).max(0.0);
    }
}

impl FloodGate {
    /// A full bucket.
    pub fn new(limit: FloodLimit) -> FloodGate {
        let limit = FloodLimit {
            burst: limit.burst.max(1),
            interval: limit.interval,
        };
        FloodGate {
            limit,
            state: Mutex::new(Bucket {
                tokens: f64::from(limit.burst),
                updated: Instant::now(),
            }),
        }
    }

    /// The bucket's shape.
    pub fn limit(&self) -> FloodLimit {
        self.limit
    }

    /// Waits until one line may be sent, and takes its token. Callers are served in
    /// the order they called (first come, first served), whatever their room.
    pub async fn acquire(&self) {
        let mut bucket = self.state.lock().await;
        bucket.refill(Instant::now(), self.limit);
        let wait = bucket.wait(self.limit);
        if !wait.is_zero() {
            // Holding the lock while waiting keeps the queue in order.
            tokio::time::sleep(wait).await;
            bucket.refill(Instant::now(), self.limit);
        }
        bucket.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The instants (seconds after the start) at which `n` back-to-back lines may go,
    /// computed on a synthetic clock.
    fn schedule(limit: FloodLimit, mut bucket: Bucket, start: Instant, n: usize) -> Vec<f64> {
        let mut now = start;
        let mut times = Vec::new();
        for _ in 0..n {
            bucket.refill(now, limit);
            now += bucket.wait(limit);
            bucket.refill(now, limit);
            bucket.take();
            times.push((now - start).as_secs_f64());
        }
        times
    }

    #[test]
    fn a_burst_goes_at_once_then_one_line_per_interval() {
        let limit = FloodLimit::default();
        let start = Instant::now();
        let full = Bucket {
            tokens: 4.0,
            updated: start,
        };
        let times = schedule(limit, full, start, 7);
        let rounded: Vec<u64> = times.iter().map(|t| t.round() as u64).collect();
        assert_eq!(rounded, vec![0, 0, 0, 0, 2, 4, 6]);
    }

    #[test]
    fn the_bucket_refills_while_quiet_but_never_beyond_the_burst() {
        let limit = FloodLimit {
            burst: 2,
            interval: Duration::from_secs(1),
        };
        let start = Instant::now();
        let mut bucket = Bucket {
            tokens: 0.0,
            updated: start,
        };
        bucket.refill(start + Duration::from_secs(60), limit);
        assert_eq!(bucket.tokens, 2.0, "only 2 tokens saved up");
        let times = schedule(limit, bucket, start + Duration::from_secs(60), 3);
        assert_eq!(
            times.iter().map(|t| t.round() as u64).collect::<Vec<_>>(),
            vec![0, 0, 1]
        );
    }

    /// One room with a long backlog does not starve another: their lines alternate.
    /// (Real time with a 1 ms interval; only the order is checked, never a duration.)
    #[tokio::test]
    async fn rooms_take_turns_and_keep_their_own_order() {
        let gate = Arc::new(FloodGate::new(FloodLimit {
            burst: 1,
            interval: Duration::from_millis(1),
        }));
        let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut workers = Vec::new();
        for (room, lines) in [("busy", 6), ("quiet", 2)] {
            let gate = Arc::clone(&gate);
            let sent = Arc::clone(&sent);
            workers.push(tokio::spawn(async move {
                for n in 0..lines {
                    gate.acquire().await;
                    sent.lock().unwrap().push(format!("{room}{n}"));
                }
            }));
            // The busy room asks first.
            tokio::task::yield_now().await;
        }
        for worker in workers {
            worker.await.unwrap();
        }
        let sent = sent.lock().unwrap().clone();
        let quiet_last = sent.iter().position(|line| line == "quiet1").unwrap();
        assert!(
            quiet_last <= 4,
            "the quiet room waited for the busy one: {sent:?}"
        );
        let busy: Vec<_> = sent
            .iter()
            .filter(|line| line.starts_with("busy"))
            .collect();
        assert_eq!(busy, ["busy0", "busy1", "busy2", "busy3", "busy4", "busy5"]);
    }
}
