//! The Redis bus: connection settings, a publisher with an outbox, and pattern
//! subscriptions that survive outages.
//!
//! Redis pub/sub *is* the router: this module only makes the connections robust.
//!
//! - [`Publisher`] never blocks its caller. Messages go into a bounded outbox that a
//!   background task flushes in order; while Redis is down they wait there, and when
//!   the outbox is full the oldest are dropped, counted and logged.
//! - [`Subscription`] PSUBSCRIBEs to patterns and re-subscribes by itself after any
//!   outage or `CLIENT KILL`, for as long as it lives. Deliveries go through a bounded
//!   queue: a consumer slower than the traffic loses the overflow (counted and logged)
//!   instead of growing memory without limit.
//! - Every connection names itself (`CLIENT SETNAME bytebot:<role>:<host>`), so an
//!   operator can see who is connected.
//!
//! Both use RESP3 (Redis 6 or newer), where one connection carries pushes and commands.

mod cluster;
mod publisher;
mod subscriber;
mod url;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use cluster::{Connection, connect_keyed};
pub use publisher::{
    OutboxOptions, Publisher, PublisherCounters, PublisherStats, SUBSCRIBERS_SETTLE,
};
pub use subscriber::{
    Delivery, SubscribeOptions, Subscription, SubscriptionCounters, SubscriptionStats,
};
#[cfg(feature = "clap")]
pub use url::RedisUrlParser;
pub use url::{DEFAULT_REDIS_URL, RedisUrl};

/// Errors from the bus.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// The Redis URL could not be parsed. The message says which part is wrong and
    /// never repeats the input, which may hold a password anywhere.
    #[error("invalid redis url: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// Connecting to Redis or running a command failed.
    ///
    /// The driver's error is part of the message and deliberately not the `source()`:
    /// a `RedisError` prints its own cause and also returns it as its source, so an
    /// `anyhow` `{:#}` walking the chain printed "Connection refused (os error 111)"
    /// three times. The chain ends here, and each cause is printed once.
    #[error("redis at {redacted}: {cause}")]
    Redis {
        /// The URL with its password replaced by `***`.
        redacted: String,
        /// The driver's error (it never includes the URL or password).
        cause: redis::RedisError,
    },
    /// A wait for Redis ran out of time.
    #[error("redis at {redacted} did not answer within {timeout:?}")]
    Timeout {
        /// The URL with its password replaced by `***`.
        redacted: String,
        /// How long we waited.
        timeout: Duration,
    },
}

/// Where and as whom to connect: shared by publishers, subscriptions and tools.
#[derive(Debug, Clone)]
pub struct BusConfig {
    url: RedisUrl,
    client_name: String,
    connection_timeout: Duration,
    response_timeout: Duration,
    backoff: Backoff,
    /// Cluster URLs: the node a per-node connection (publisher, subscription) tries
    /// first, the last one that worked. Shared by clones.
    preferred_node: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl BusConfig {
    /// Settings for a program playing `role` (e.g. `example-subscriber`): its
    /// connections are named `bytebot:<role>:<host>`.
    pub fn new(url: RedisUrl, role: &str) -> BusConfig {
        BusConfig {
            url,
            client_name: client_name(role, &gethostname::gethostname().to_string_lossy()),
            connection_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
            preferred_node: std::sync::Arc::default(),
        }
    }

    /// Overrides how long to wait for a connection (default 5 s).
    pub fn with_connection_timeout(mut self, timeout: Duration) -> BusConfig {
        self.connection_timeout = timeout;
        self
    }

    /// Overrides how long to wait for a command's reply (default 5 s).
    pub fn with_response_timeout(mut self, timeout: Duration) -> BusConfig {
        self.response_timeout = timeout;
        self
    }

    /// Overrides the reconnect delays (default 50 ms doubling to 500 ms, forever).
    pub fn with_backoff(mut self, backoff: Backoff) -> BusConfig {
        self.backoff = backoff;
        self
    }

    /// The Redis URL (prints redacted).
    pub fn url(&self) -> &RedisUrl {
        &self.url
    }

    /// The name every connection gives itself with `CLIENT SETNAME`.
    pub fn client_name(&self) -> &str {
        &self.client_name
    }

    /// A RESP3 redis-rs client for this URL, for programs that drive redis-rs directly
    /// rather than through [`Publisher`] and [`Subscription`] (the framework-free echo
    /// of `router-tools bench echo-server`, which anchors the framework's cost).
    pub fn redis_client(&self) -> Result<redis::Client, BusError> {
        self.client()
    }

    /// The reconnect delays.
    pub(crate) fn backoff(&self) -> Backoff {
        self.backoff
    }

    pub(crate) fn redis_error(&self, source: redis::RedisError) -> BusError {
        BusError::Redis {
            redacted: self.url.redacted().to_owned(),
            cause: source,
        }
    }

    /// A RESP3 client (for a cluster URL: for its first node).
    fn client(&self) -> Result<redis::Client, BusError> {
        self.client_for(&self.url)
    }

    fn client_for(&self, url: &RedisUrl) -> Result<redis::Client, BusError> {
        redis::Client::open(url.connection_info_resp3()).map_err(|err| self.redis_error(err))
    }

    fn connection_config(&self) -> redis::AsyncConnectionConfig {
        redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connection_timeout))
            .set_response_timeout(Some(self.response_timeout))
    }

    /// Opens a connection, names it, and checks it answers. For a cluster URL, to one
    /// of its nodes: pub/sub works on any node of a cluster (see `cluster.rs`); the
    /// nodes are tried in turn, starting with the last one that worked.
    async fn open(
        &self,
        config: redis::AsyncConnectionConfig,
    ) -> Result<redis::aio::MultiplexedConnection, BusError> {
        let nodes = self.url.nodes();
        if nodes.is_empty() {
            return self.open_node(&self.url, &config).await;
        }
        let first = self.preferred_node.load(Ordering::Relaxed);
        let mut last_error = None;
        for offset in 0..nodes.len() {
            let index = (first + offset) % nodes.len();
            match self.open_node(&nodes[index], &config).await {
                Ok(connection) => {
                    self.preferred_node.store(index, Ordering::Relaxed);
                    return Ok(connection);
                }
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.expect("a cluster url lists at least one node"))
    }

    async fn open_node(
        &self,
        url: &RedisUrl,
        config: &redis::AsyncConnectionConfig,
    ) -> Result<redis::aio::MultiplexedConnection, BusError> {
        let mut connection = self
            .client_for(url)?
            .get_multiplexed_async_connection_with_config(config)
            .await
            .map_err(|err| self.redis_error(err))?;
        redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(&self.client_name)
            .exec_async(&mut connection)
            .await
            .map_err(|err| self.redis_error(err))?;
        Ok(connection)
    }
}

/// A named, ready connection for one-off commands (tools, health checks).
///
/// Daemons publish through a [`Publisher`] instead, which survives outages.
pub async fn connect(config: &BusConfig) -> Result<redis::aio::MultiplexedConnection, BusError> {
    config.open(config.connection_config()).await
}

/// `bytebot:<role>:<host>`, with anything Redis would refuse in a client name (spaces,
/// newlines) replaced by `-`.
fn client_name(role: &str, host: &str) -> String {
    let raw = format!("bytebot:{role}:{host}");
    raw.chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '-' })
        .collect()
}

/// Reconnect delays: `initial`, doubling up to `max`, retried forever.
///
/// Forever is deliberate: a daemon that gives up on Redis after a few seconds (as
/// redis-rs' `ConnectionManager` does by default, silently, about 9 s into an outage)
/// stays deaf after Redis comes back. The cap keeps recovery quick once it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay after a failure.
    pub initial: Duration,
    /// The longest delay between attempts.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// Counts dropped messages and logs them without flooding the log: the first drop,
/// then at most one summary line per second.
#[derive(Debug)]
pub(crate) struct DropCounter {
    what: &'static str,
    total: AtomicU64,
    logged_total: AtomicU64,
    last_log_millis: AtomicU64,
    started: Instant,
}

impl DropCounter {
    pub(crate) fn new(what: &'static str) -> DropCounter {
        DropCounter {
            what,
            total: AtomicU64::new(0),
            logged_total: AtomicU64::new(0),
            last_log_millis: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Records one drop; `topic` is the channel of the message that was lost.
    pub(crate) fn record(&self, topic: &str, reason: &'static str) {
        let total = self.total.fetch_add(1, Ordering::Relaxed) + 1;
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_log_millis.load(Ordering::Relaxed);
        let first = total == 1;
        if (first || now.saturating_sub(last) >= 1000)
            && self
                .last_log_millis
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let since_last = total - self.logged_total.swap(total, Ordering::Relaxed);
            tracing::warn!(
                what = self.what,
                %topic,
                reason,
                dropped = since_last,
                dropped_total = total,
                "dropping messages"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names_have_no_spaces() {
        assert_eq!(
            client_name("example-subscriber", "my host\n"),
            "bytebot:example-subscriber:my-host-"
        );
    }

    /// Reconnects must retry forever with a capped delay, never give up.
    #[test]
    fn backoff_doubles_up_to_the_cap_and_never_overflows() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay(0), Duration::from_millis(50));
        assert_eq!(backoff.delay(1), Duration::from_millis(100));
        assert_eq!(backoff.delay(3), Duration::from_millis(400));
        assert_eq!(backoff.delay(4), Duration::from_millis(500));
        assert_eq!(backoff.delay(u32::MAX), Duration::from_millis(500));
    }

    #[test]
    fn drop_counter_counts_every_drop() {
        let counter = DropCounter::new("test");
        for _ in 0..1000 {
            counter.record("inbound.x.y.z.w", "queue full");
        }
        assert_eq!(counter.total(), 1000);
    }
}
