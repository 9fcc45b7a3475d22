//! The gateway's lifecycle: [`GatewayRuntime::start`] listens and subscribes before the
//! platform connects, [`GatewayRuntime::run`] connects the adapter, serves until
//! shutdown, then drains in order (outbound workers, the platform, the Redis outbox).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use bytebot_core::Platform;
use bytebot_core::bus::{
    BusConfig, OutboxOptions, Publisher, RedisUrl, SubscribeOptions, Subscription,
};
use bytebot_core::pattern::Pattern;
use bytebot_daemon::metrics::names;
use bytebot_daemon::shell::ListenError;
use bytebot_daemon::{DaemonShell, Health, Metrics};
use tokio::sync::watch;

use crate::adapter::Adapter;
use crate::counters::{GatewayCounters, record};
use crate::inbound::Inbound;
use crate::outbound;
use crate::rooms::Shared;

/// The default of `--max-parts`: the most messages one outbound envelope may become.
pub const DEFAULT_MAX_PARTS: usize = 10;

/// How long the platform connection gets to close after [`Adapter::close`].
const SESSION_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Bounds on the outbound side's memory and idle tasks.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Limits {
    /// Messages queued for one room before new ones for it are dropped.
    pub per_room_queue: usize,
    /// Messages queued across all rooms before new ones are dropped.
    pub total_queued: usize,
    /// Rooms with a live worker at once.
    pub max_rooms: usize,
    /// How long a worker with nothing to do lives on.
    pub idle_after: Duration,
    /// The longest one platform request may take (rate-limit waits included).
    pub send_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            per_room_queue: 1024,
            total_queued: 10_000,
            max_rooms: 1024,
            idle_after: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
        }
    }
}

/// What every gateway is configured with, whatever its platform (usually from
/// [`GatewayArgs`](crate::GatewayArgs)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GatewayConfig {
    /// Where Redis is; prints redacted.
    pub redis_url: RedisUrl,
    /// Serve `/healthz`, `/readyz` and `/metrics` here (`--http-addr`); off when `None`.
    pub http_addr: Option<SocketAddr>,
    /// On shutdown, how long sends in flight and the Redis outbox get to finish.
    pub shutdown_timeout: Duration,
    /// Publish events of other bots too (never the gateway's own).
    pub include_bots: bool,
    /// The most parts one outbound message may be split into (`--max-parts`); a longer
    /// one is refused whole with a failed receipt.
    pub max_parts: usize,
    /// Counters, shared with whoever created the config (tests, `/metrics`).
    pub counters: GatewayCounters,
    /// Queue and timeout bounds of the outbound side.
    pub limits: Limits,
}

impl GatewayConfig {
    /// The defaults for everything but Redis.
    pub fn new(redis_url: RedisUrl) -> GatewayConfig {
        GatewayConfig {
            redis_url,
            http_addr: None,
            shutdown_timeout: Duration::from_secs(10),
            include_bots: false,
            max_parts: DEFAULT_MAX_PARTS,
            counters: GatewayCounters::default(),
            limits: Limits::default(),
        }
    }
}

/// A gateway that is listening (HTTP) and subscribed (Redis) but not yet connected to
/// its platform. See the crate docs for the whole sequence.
#[derive(Debug)]
pub struct GatewayRuntime {
    platform: Platform,
    config: GatewayConfig,
    shell: DaemonShell,
    subscription: Subscription,
    publisher: Publisher,
    inbound: Inbound,
}

impl GatewayRuntime {
    /// Starts what needs no platform: the HTTP listener (so an orchestrator sees
    /// "alive, not ready" during the platform login), the `outbound.<platform>.*.*.*`
    /// subscription and the publisher. `health` holds the platform's own readiness
    /// checks; the runtime adds Redis'. Metrics are labelled `gateway-<platform>`, and
    /// so are the Redis connections.
    pub async fn start(
        platform: Platform,
        config: GatewayConfig,
        health: Health,
    ) -> Result<GatewayRuntime, ListenError> {
        let name = format!("gateway-{platform}");
        let bus = BusConfig::new(config.redis_url.clone(), &name);
        let subscription = Subscription::start(
            bus.clone(),
            vec![Pattern::outbound_platform(&platform)],
            SubscribeOptions::default(),
        );
        let publisher = Publisher::start(bus, OutboxOptions::default());
        let subscription_counters = subscription.counters();
        let health = health.redis_subscription(move || Some(subscription_counters.clone()));
        let shell = DaemonShell::start(&name, config.http_addr, health).await?;
        let (counters, publisher_counters, subscription_counters) = (
            config.counters.clone(),
            publisher.counters(),
            subscription.counters(),
        );
        shell.metrics().on_render(move |metrics| {
            record(
                metrics,
                &counters,
                &publisher_counters,
                &subscription_counters,
            );
        });
        let inbound = Inbound::new(
            platform.clone(),
            publisher.clone(),
            config.counters.clone(),
            config.include_bots,
        );
        Ok(GatewayRuntime {
            platform,
            config,
            shell,
            subscription,
            publisher,
            inbound,
        })
    }

    /// The handle the adapter publishes inbound events through.
    pub fn inbound(&self) -> Inbound {
        self.inbound.clone()
    }

    /// The metrics behind `/metrics`, for an adapter's own series.
    pub fn metrics(&self) -> &Arc<Metrics> {
        self.shell.metrics()
    }

    /// Where the HTTP listener listens (the real port when started on port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.shell.local_addr()
    }

    /// Connects the platform and serves until `shutdown` resolves or the platform
    /// session ends for good.
    ///
    /// `connect` logs in (it gets the [`Inbound`] handle for its event handlers) and
    /// returns the adapter and the session: a future that runs the platform connection
    /// and resolves only when it has ended for good, with the reason (a bad token,
    /// say), which `run` returns. A `connect` error is returned as it is. Shutdown
    /// during `connect` ends `run` with `Ok`.
    ///
    /// On shutdown: `/readyz` turns 503, Redis is no longer read, the rooms finish what
    /// they hold within [`GatewayConfig::shutdown_timeout`], the adapter is closed
    /// ([`Adapter::close`]) and the session given 5 s to end, the outbox is flushed,
    /// and only then does the HTTP listener stop.
    pub async fn run<A, C, F, S>(
        self,
        connect: C,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()>
    where
        A: Adapter,
        C: FnOnce(Inbound) -> F,
        F: Future<Output = anyhow::Result<(A, S)>>,
        S: Future<Output = anyhow::Error> + Send + 'static,
    {
        let GatewayRuntime {
            platform,
            config,
            shell,
            subscription,
            publisher,
            inbound,
        } = self;
        let shutdown = shell.draining_on(shutdown);
        tokio::pin!(shutdown);
        // `Err(None)`: shutdown came first.
        let connected: Result<(A, S), Option<anyhow::Error>> = tokio::select! {
            connected = connect(inbound) => connected.map_err(Some),
            () = &mut shutdown => {
                tracing::info!(%platform, "shutting down before the platform connected");
                Err(None)
            }
        };
        let (adapter, session) = match connected {
            Ok(connected) => connected,
            Err(failed) => {
                let _ = publisher.close(config.shutdown_timeout).await;
                shell.stop().await;
                return failed.map_or(Ok(()), Err);
            }
        };
        let mut session = tokio::spawn(session);
        let adapter = Arc::new(adapter);
        let shared = Arc::new(Shared {
            adapter: Arc::clone(&adapter),
            publisher: publisher.clone(),
            counters: config.counters.clone(),
            limits: config.limits,
            max_parts: config.max_parts.max(1),
            drain_timeout: config.shutdown_timeout,
            send_duration: shell.metrics().histogram(names::SEND_DURATION, &[]),
            total_pending: AtomicUsize::new(0),
        });
        let (stop_outbound, stop_receiver) = watch::channel(false);
        let outbound = tokio::spawn(outbound::run(subscription, shared, stop_receiver));

        let mut result = Ok(());
        tokio::select! {
            () = &mut shutdown => tracing::info!("shutting down"),
            ended = &mut session => {
                result = Err(ended.unwrap_or_else(|join_error| {
                    anyhow::anyhow!("the {platform} session task failed: {join_error}")
                }));
            }
        }

        // Stop taking outbound work and let the sends in flight finish (bounded by the
        // deadline), then close the platform connection, then flush what waits for Redis.
        stop_outbound.send_replace(true);
        if let Err(err) = outbound.await {
            tracing::error!(error = %err, "the outbound task failed");
        }
        adapter.close().await;
        if !session.is_finished()
            && tokio::time::timeout(SESSION_CLOSE_TIMEOUT, &mut session)
                .await
                .is_err()
        {
            session.abort();
        }
        let unsent = publisher.close(config.shutdown_timeout).await;
        if unsent > 0 {
            tracing::warn!(
                unsent,
                "redis did not take every message before the deadline"
            );
        }
        tracing::info!(stats = ?config.counters.stats(), "stopped");
        shell.stop().await;
        result
    }
}
