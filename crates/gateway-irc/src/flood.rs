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

#[derive(Debug)]
struct Bucket {
    /// Tokens available at `updated`, fractional so slow refills are exact.
    tokens: f64,
    updated: Instant,
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
        let burst = f64::from(self.limit.burst);
        let interval = self.limit.interval.as_secs_f64();
        let refill = |bucket: &mut Bucket| {
            let now = Instant::now();
            if interval == 0.0 {
                bucket.tokens = burst;
            } else {
                let earned = (now - bucket.updated).as_secs_f64() / interval;
                bucket.tokens = (bucket.tokens + earned).min(burst);
            }
            bucket.updated = now;
        };
        refill(&mut bucket);
        if bucket.tokens < 1.0 {
            // Holding the lock while waiting keeps the queue in order.
            let missing = 1.0 - bucket.tokens;
            tokio::time::sleep(Duration::from_secs_f64(missing * interval)).await;
            refill(&mut bucket);
        }
        bucket.tokens = (bucket.tokens - 1.0).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// With paused time, the clock only moves when every task waits: the instants at
    /// which lines are let through are exact.
    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_one_line_per_interval() {
        let gate = FloodGate::new(FloodLimit {
            burst: 4,
            interval: Duration::from_secs(2),
        });
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..7 {
            gate.acquire().await;
            times.push((Instant::now() - start).as_secs());
        }
        assert_eq!(times, vec![0, 0, 0, 0, 2, 4, 6]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_bucket_refills_while_quiet_but_never_beyond_the_burst() {
        let gate = FloodGate::new(FloodLimit {
            burst: 2,
            interval: Duration::from_secs(1),
        });
        gate.acquire().await;
        gate.acquire().await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        let start = Instant::now();
        for _ in 0..3 {
            gate.acquire().await;
        }
        assert_eq!(
            (Instant::now() - start).as_secs(),
            1,
            "only 2 tokens saved up"
        );
    }

    /// One room with a long backlog does not starve another: their lines alternate.
    #[tokio::test(start_paused = true)]
    async fn rooms_take_turns_and_keep_their_own_order() {
        let gate = Arc::new(FloodGate::new(FloodLimit {
            burst: 1,
            interval: Duration::from_secs(1),
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
