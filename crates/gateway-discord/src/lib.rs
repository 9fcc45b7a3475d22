//! gateway-discord: the Discord <-> Redis bridge.
//!
//! - Inbound (`inbound.rs`): every message the bot can see becomes an envelope on
//!   `inbound.discord.<guild>.<channel>.<author>` (`@me` as the guild for a DM). The
//!   bot's own messages are never published; other bots' only with `--include-bots`.
//! - Outbound (`outbound.rs`): whatever arrives on `outbound.discord.*` is sent to the
//!   channel in its topic (split at Discord's 2000-character limit, as a reply when it
//!   has `reply_to`, with safe mentions), in order per channel; a
//!   delivery receipt (`bytebot_core::receipt::DeliveryReceipt`) follows on
//!   `receipt.discord.*`.
//!
//! Serenity types stay inside this crate; `convert.rs` is the only place that maps them
//! to and from envelopes. `main.rs` parses flags into a [`Config`] and calls [`run`].

mod convert;
mod inbound;
mod outbound;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use bytebot_core::bus::{
    BusConfig, OutboxOptions, Publisher, PublisherCounters, RedisUrl, SubscribeOptions,
    Subscription, SubscriptionCounters,
};
use bytebot_daemon::metrics::names;
use bytebot_daemon::{DaemonShell, Health, Metrics};
use secrecy::{ExposeSecret, SecretString};
use serenity::all::{
    ClientBuilder, ConnectionStage, GatewayError, GatewayIntents, HttpBuilder, ShardManager,
};
use tokio::sync::watch;

/// Validated settings for [`run`].
pub struct Config {
    /// The bot token (from `DISCORD_TOKEN`); it cannot be printed.
    pub token: SecretString,
    /// Where Redis is; prints redacted.
    pub redis_url: RedisUrl,
    /// Send REST calls to this base URL (`http://host:port`, a rate-limiting proxy such
    /// as nirn-proxy, or the fake Discord in tests) instead of discord.com. Serenity's
    /// own rate limiter is then off: the proxy must handle rate limits.
    pub discord_api_url: Option<String>,
    /// Publish messages written by other bots too (never the gateway's own).
    pub include_bots: bool,
    /// Let envelopes with the `all` mention policy ping `@everyone`, `@here` and roles.
    pub allow_mass_mentions: bool,
    /// On shutdown, how long sends in flight and the Redis outbox get to finish.
    pub shutdown_timeout: Duration,
    /// Counters, shared with whoever created the config (tests, `/metrics`).
    pub counters: GatewayCounters,
    /// Serve `/healthz`, `/readyz` and `/metrics` here (`--http-addr`); off when `None`.
    pub http_addr: Option<SocketAddr>,
}

impl Config {
    /// Settings with the defaults for everything but the token and Redis.
    pub fn new(token: SecretString, redis_url: RedisUrl) -> Config {
        Config {
            token,
            redis_url,
            discord_api_url: None,
            include_bots: false,
            allow_mass_mentions: false,
            shutdown_timeout: Duration::from_secs(10),
            counters: GatewayCounters::default(),
            http_addr: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("token", &"***")
            .field("redis_url", &self.redis_url)
            .field("discord_api_url", &self.discord_api_url)
            .field("include_bots", &self.include_bots)
            .field("allow_mass_mentions", &self.allow_mass_mentions)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

/// The live counters of the gateway: cheap to clone (clones count together), read with
/// [`GatewayCounters::stats`]. Every skipped or failed message is counted here as well
/// as logged.
#[derive(Debug, Clone, Default)]
pub struct GatewayCounters {
    inner: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    inbound_published: AtomicU64,
    inbound_ignored: AtomicU64,
    outbound_received: AtomicU64,
    outbound_sent: AtomicU64,
    outbound_failed: AtomicU64,
    outbound_malformed: AtomicU64,
    outbound_dropped: AtomicU64,
}

/// The gateway's counters at one moment: a plain copy, read from
/// [`GatewayCounters::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GatewayStats {
    /// Discord messages published as inbound envelopes.
    pub inbound_published: u64,
    /// Discord messages not published: the bot's own, other bots', system messages.
    pub inbound_ignored: u64,
    /// Outbound deliveries read from Redis (valid or not).
    pub outbound_received: u64,
    /// Outbound messages delivered (every part).
    pub outbound_sent: u64,
    /// Outbound messages Discord refused or that failed to send.
    pub outbound_failed: u64,
    /// Outbound deliveries skipped for a malformed topic or payload.
    pub outbound_malformed: u64,
    /// Outbound messages dropped because the gateway's queues were full.
    pub outbound_dropped: u64,
}

impl GatewayCounters {
    /// The counters now.
    pub fn stats(&self) -> GatewayStats {
        let c = &self.inner;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        GatewayStats {
            inbound_published: get(&c.inbound_published),
            inbound_ignored: get(&c.inbound_ignored),
            outbound_received: get(&c.outbound_received),
            outbound_sent: get(&c.outbound_sent),
            outbound_failed: get(&c.outbound_failed),
            outbound_malformed: get(&c.outbound_malformed),
            outbound_dropped: get(&c.outbound_dropped),
        }
    }

    /// Counts one more of `counter` (`|c| &c.outbound_sent`).
    fn add(&self, counter: fn(&Counts) -> &AtomicU64) {
        counter(&self.inner).fetch_add(1, Ordering::Relaxed);
    }
}

/// The intents the gateway asks for. `MESSAGE_CONTENT` is privileged: without it
/// Discord delivers messages with empty content, and it must be enabled for the bot in
/// the developer portal or Discord closes the connection with 4014.
const INTENTS: GatewayIntents = GatewayIntents::GUILD_MESSAGES
    .union(GatewayIntents::DIRECT_MESSAGES)
    .union(GatewayIntents::MESSAGE_CONTENT);

/// Runs the gateway until `shutdown` resolves (then drains within
/// [`Config::shutdown_timeout`]) or Discord ends the session for good.
///
/// Start-up failures (an invalid token, an unreachable Discord API) and fatal gateway
/// closes (4004 authentication failed, 4014 disallowed intents) are errors; a lost
/// connection to Discord or Redis is not (both reconnect by themselves).
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let bus = BusConfig::new(config.redis_url.clone(), "gateway-discord");
    let subscription = Subscription::start(
        bus.clone(),
        vec![outbound::pattern()],
        SubscribeOptions::default(),
    );
    let publisher = Publisher::start(bus, OutboxOptions::default());
    let shards: Shards = Arc::default();
    let health = health(Arc::clone(&shards), subscription.counters());
    // Listen first, so an orchestrator sees "alive, not ready" during the Discord login.
    let shell = DaemonShell::start("gateway-discord", config.http_addr, health).await?;
    let bus_counters = (publisher.counters(), subscription.counters());
    let counters = config.counters.clone();
    shell
        .metrics()
        .on_render(move |metrics| record(metrics, &counters, &bus_counters));
    let shutdown = shell.draining_on(shutdown);
    let result = serve(
        config,
        shutdown,
        subscription,
        publisher,
        shards,
        shell.metrics(),
    )
    .await;
    shell.stop().await;
    result
}

/// The Discord client's shards, once it exists (after the token check).
type Shards = Arc<OnceLock<Arc<ShardManager>>>;

/// Ready while the `outbound.discord.*` subscription is up and a Discord shard is in
/// the connected stage, which serenity enters on READY or RESUMED and leaves when the
/// connection drops or a heartbeat goes unacknowledged (it then restarts the shard).
/// So this is "an event seen and heartbeats acknowledged", read from the shard
/// manager's own state: never a request to Discord.
fn health(shards: Shards, subscription: SubscriptionCounters) -> Health {
    // The shard map sits behind an async mutex: a probe only tries it, and reuses the
    // previous answer in the rare case the shard manager holds it at that moment.
    let last_seen = AtomicBool::new(false);
    Health::new()
        .redis_subscription(move || Some(subscription.clone()))
        .check("discord", move || {
            let Some(shard_manager) = shards.get() else {
                return Err("logging in".to_owned());
            };
            let connected = match shard_manager.runners.try_lock() {
                Ok(runners) => {
                    let connected = runners
                        .values()
                        .any(|runner| runner.stage == ConnectionStage::Connected);
                    last_seen.store(connected, Ordering::Relaxed);
                    connected
                }
                Err(_) => last_seen.load(Ordering::Relaxed),
            };
            if connected {
                Ok(())
            } else {
                Err(
                    "no live gateway session (connecting, or READY/RESUMED not received)"
                        .to_owned(),
                )
            }
        })
}

/// Copies the gateway's and its bus connections' counters into the metrics (at scrape).
fn record(
    metrics: &Metrics,
    counters: &GatewayCounters,
    (publisher, subscription): &(PublisherCounters, SubscriptionCounters),
) {
    if let Some(stats) = publisher.stats() {
        metrics.record_publisher(&stats);
    }
    if let Some(stats) = subscription.stats() {
        metrics.record_subscription(&stats);
    }
    let stats = counters.stats();
    metrics
        .counter(names::SENT, &[])
        .absolute(stats.outbound_sent);
    metrics
        .counter(names::SEND_FAILURES, &[])
        .absolute(stats.outbound_failed);
    metrics
        .counter(names::DECODE_ERRORS, &[])
        .absolute(stats.outbound_malformed);
    metrics
        .counter(names::SEND_QUEUE_DROPPED, &[])
        .absolute(stats.outbound_dropped);
    for (reason, value) in [
        ("malformed", stats.outbound_malformed),
        ("own_bot_or_system_message", stats.inbound_ignored),
    ] {
        metrics
            .counter(names::SKIPPED, &[("reason", reason)])
            .absolute(value);
    }
}

async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()>,
    subscription: Subscription,
    publisher: Publisher,
    shards: Shards,
    metrics: &Metrics,
) -> anyhow::Result<()> {
    let http = match &config.discord_api_url {
        // A proxy only takes effect with serenity's ratelimiter off (it ignores the proxy
        // otherwise), and `ClientBuilder::token()` would drop it: build the Http first.
        Some(api_url) => HttpBuilder::new(config.token.expose_secret())
            .proxy(api_url.trim_end_matches('/'))
            .ratelimiter_disabled(true)
            .build(),
        None => HttpBuilder::new(config.token.expose_secret()).build(),
    };
    let own_user = http
        .get_current_user()
        .await
        .context("checking the bot token with discord (GET /users/@me)")?;
    tracing::info!(user = %own_user.name, user_id = %own_user.id, redis = %config.redis_url, api = config.discord_api_url.as_deref().unwrap_or("discord.com"), "starting");

    let handler = inbound::Handler(Arc::new(inbound::Inbound::new(
        publisher.clone(),
        own_user.id,
        config.include_bots,
        config.counters.clone(),
    )));
    let mut client = ClientBuilder::new_with_http(http, INTENTS)
        .event_handler(handler)
        .await
        .context("building the discord client")?;
    let http = Arc::clone(&client.http);
    let shard_manager = Arc::clone(&client.shard_manager);
    let _ = shards.set(Arc::clone(&shard_manager));
    let mut discord = tokio::spawn(async move { client.start().await });

    let (stop_outbound, stop_receiver) = watch::channel(false);
    let outbound = tokio::spawn(outbound::run(
        outbound::Outbound {
            subscription,
            http,
            publisher: publisher.clone(),
            counters: config.counters.clone(),
            allow_mass_mentions: config.allow_mass_mentions,
            limits: outbound::Limits::default(),
            drain_timeout: config.shutdown_timeout,
            send_duration: metrics.histogram(names::SEND_DURATION, &[]),
        },
        stop_receiver,
    ));

    let mut result = Ok(());
    tokio::select! {
        () = shutdown => {
            tracing::info!("shutting down");
        }
        ended = &mut discord => {
            result = Err(discord_ended(ended));
        }
    }

    // Stop taking outbound work and let the sends in flight finish (bounded by the
    // deadline), then close the Discord connection, then flush what waits for Redis.
    stop_outbound.send_replace(true);
    if let Err(err) = outbound.await {
        tracing::error!(error = %err, "the outbound task failed");
    }
    shard_manager.shutdown_all().await;
    if !discord.is_finished()
        && tokio::time::timeout(Duration::from_secs(5), &mut discord)
            .await
            .is_err()
    {
        discord.abort();
    }
    let unsent = publisher.close(config.shutdown_timeout).await;
    if unsent > 0 {
        tracing::warn!(
            unsent,
            "redis did not take every message before the deadline"
        );
    }
    tracing::info!(stats = ?config.counters.stats(), "stopped");
    result
}

/// Turns the end of the serenity client (which only ends by itself on a fatal error)
/// into an error that says what to do.
fn discord_ended(ended: Result<serenity::Result<()>, tokio::task::JoinError>) -> anyhow::Error {
    match ended {
        Err(join_error) => anyhow::anyhow!("the discord client task failed: {join_error}"),
        Ok(Ok(())) => anyhow::anyhow!("the discord connection ended unexpectedly"),
        Ok(Err(serenity::Error::Gateway(GatewayError::DisallowedGatewayIntents))) => {
            anyhow::anyhow!(
                "discord refused the Message Content intent (gateway close code 4014): \
                 enable \"Message Content Intent\" under Bot > Privileged Gateway Intents \
                 for this application in the Discord developer portal \
                 (https://discord.com/developers/applications), then restart the gateway"
            )
        }
        Ok(Err(serenity::Error::Gateway(GatewayError::InvalidAuthentication))) => {
            anyhow::anyhow!(
                "discord rejected the bot token (gateway close code 4004): check DISCORD_TOKEN"
            )
        }
        Ok(Err(err)) => anyhow::Error::new(err).context("the discord connection failed"),
    }
}
