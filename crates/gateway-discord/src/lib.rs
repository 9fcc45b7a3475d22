//! gateway-discord: the Discord <-> Redis bridge, a thin adapter on the platform-neutral
//! runtime of `bytebot-gateway` (which owns subscriptions, per-room workers, splitting,
//! receipts, counters and the lifecycle).
//!
//! - Inbound (`inbound.rs`): every message the bot can see becomes an envelope on
//!   `inbound.discord.<guild>.<channel>.<author>` (`@me` as the guild for a DM), and so
//!   do edits, deletions (user `@unknown`) and reactions (the user who reacted). The
//!   bot's own are never published; other bots' only with `--include-bots`.
//! - Outbound (`outbound.rs`): whatever arrives on `outbound.discord.*` is sent to the
//!   channel in its topic (split at Discord's 2000-character limit, as a reply when it
//!   has `reply_to`, with safe mentions), or edits, deletes, reacts, unreacts or shows
//!   typing, in order per channel; a
//!   delivery receipt (`bytebot_core::receipt::DeliveryReceipt`) follows on
//!   `receipt.discord.*`.
//!
//! Serenity types stay inside this crate; `convert.rs` is the only place that maps them
//! to and from envelopes and actions; `outbound.rs` is the `Adapter`. `main.rs` parses flags into a [`Config`] and calls [`run`].

mod commands;
mod convert;
mod identify;
mod inbound;
mod interactions;
mod outbound;
pub mod shards;
mod status;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytebot_core::Platform;
use bytebot_core::bus::RedisUrl;
use bytebot_daemon::Health;
use bytebot_gateway::{GatewayConfig, GatewayRuntime, Inbound};
use secrecy::{ExposeSecret, SecretString};
use serenity::all::{
    ClientBuilder, ConnectionStage, GatewayError, GatewayIntents, HttpBuilder, ShardId,
    ShardManager,
};

pub use crate::commands::CommandSync;
pub use crate::identify::IDENTIFY_INTERVAL;
use crate::identify::IdentifyLocks;
use crate::status::ShardStatus;

pub use bytebot_gateway::{GatewayCounters, GatewayStats};
pub use interactions::{DEFAULT_NOTICE, InteractionSettings, TOKEN_LIFETIME};
pub use shards::{ShardRange, Sharding, ShardsError};

/// Validated settings for [`run`].
pub struct Config {
    /// The bot token (from `DISCORD_TOKEN`); it cannot be printed.
    pub token: SecretString,
    /// Send REST calls to this base URL (`http://host:port`, a rate-limiting proxy such
    /// as nirn-proxy, or the fake Discord in tests) instead of discord.com. Serenity's
    /// own rate limiter is then off: the proxy must handle rate limits.
    pub discord_api_url: Option<String>,
    /// Let envelopes with the `all` mention policy ping `@everyone`, `@here` and roles.
    pub allow_mass_mentions: bool,
    /// The shards this process runs (`--shards`, `--shard-count`); `None`: all of them,
    /// as many as Discord recommends (`GET /gateway/bot`).
    pub sharding: Option<Sharding>,
    /// How long a bucket stays taken after one of its shards identified: Discord's
    /// rule is [`IDENTIFY_INTERVAL`] (5 s); only tests shorten it.
    pub identify_interval: Duration,
    /// Application commands to sync at start (`--commands`, `--command-guilds`);
    /// only when this process runs shard 0.
    pub commands: Option<CommandSync>,
    /// Ask for the privileged Message Content intent (`--message-content`, default
    /// on). Without it Discord sends message text only for DMs, messages that mention
    /// the bot and replies to it: enough for a bot that only uses interactions.
    pub message_content: bool,
    /// When the gateway defers interactions nobody answered, and the notice it shows
    /// when nobody answers at all (`--interaction-defer-after`,
    /// `--interaction-notice-after`, `--interaction-notice`).
    pub interactions: InteractionSettings,
    /// Publish member joins as `member_joined` (`--member-events`, default off): asks
    /// for the privileged Server Members intent.
    pub member_events: bool,
    /// What every gateway is configured with: Redis, `--http-addr`, the shutdown
    /// deadline, `--include-bots`, `--max-parts`, the counters.
    pub gateway: GatewayConfig,
}

impl Config {
    /// Settings with the defaults for everything but the token and Redis.
    pub fn new(token: SecretString, redis_url: RedisUrl) -> Config {
        Config {
            token,
            discord_api_url: None,
            allow_mass_mentions: false,
            sharding: None,
            identify_interval: IDENTIFY_INTERVAL,
            commands: None,
            message_content: true,
            interactions: InteractionSettings::default(),
            member_events: false,
            gateway: GatewayConfig::new(redis_url),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("token", &"***")
            .field("discord_api_url", &self.discord_api_url)
            .field("allow_mass_mentions", &self.allow_mass_mentions)
            .field("sharding", &self.sharding)
            .field("identify_interval", &self.identify_interval)
            .field("commands", &self.commands)
            .field("message_content", &self.message_content)
            .field("interactions", &self.interactions)
            .field("member_events", &self.member_events)
            .field("gateway", &self.gateway)
            .finish()
    }
}

/// The intents the gateway always asks for: messages (with their edits and deletions)
/// and reactions, in guilds and DMs, and guilds (for their threads: which channel each
/// thread belongs to). None is privileged. Interactions (slash commands, components)
/// need no intent at all.
const BASE_INTENTS: GatewayIntents = GatewayIntents::GUILDS
    .union(GatewayIntents::GUILD_MESSAGES)
    .union(GatewayIntents::DIRECT_MESSAGES)
    .union(GatewayIntents::GUILD_MESSAGE_REACTIONS)
    .union(GatewayIntents::DIRECT_MESSAGE_REACTIONS);

/// The intents for these settings. `MESSAGE_CONTENT` (`--message-content`, on by
/// default) is privileged: without it Discord delivers guild messages with empty
/// content, except those that mention the bot or reply to it (DMs keep theirs). A
/// privileged intent must be enabled for the bot in the developer portal, or Discord
/// closes the connection with 4014; past 10 000 users, since 2026-06-10, Discord must
/// also approve it, yearly. `GUILD_MEMBERS` (`--member-events`, off by default) is
/// privileged too: it brings GUILD_MEMBER_ADD, published as `member_joined`.
fn intents(message_content: bool, member_events: bool) -> GatewayIntents {
    let mut intents = BASE_INTENTS;
    if message_content {
        intents |= GatewayIntents::MESSAGE_CONTENT;
    }
    if member_events {
        intents |= GatewayIntents::GUILD_MEMBERS;
    }
    intents
}

/// Runs the gateway until `shutdown` resolves (then drains within the shutdown
/// timeout) or Discord ends the session for good.
///
/// Start-up failures (an invalid token, an unreachable Discord API) and fatal gateway
/// closes (4004 authentication failed, 4014 disallowed intents) are errors; a lost
/// connection to Discord or Redis is not (both reconnect by themselves).
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let platform = Platform::new(convert::PLATFORM).expect("`discord` is a valid platform name");
    let status = Arc::new(ShardStatus::default());
    let Config {
        token,
        discord_api_url,
        allow_mass_mentions,
        sharding,
        identify_interval,
        commands,
        message_content,
        interactions,
        member_events,
        gateway,
    } = config;
    let redis_url = gateway.redis_url.clone();
    let counters = gateway.counters.clone();
    // Listening and subscribed before the Discord login: "alive, not ready".
    let readiness = Arc::clone(&status);
    let health = Health::new().check("discord", move || readiness.readiness());
    let runtime = GatewayRuntime::start(platform, gateway, health).await?;
    let recorded = Arc::clone(&status);
    runtime
        .metrics()
        .on_render(move |metrics| recorded.record(metrics));
    runtime
        .run(
            |inbound| async move {
                connect(
                    &token,
                    discord_api_url,
                    allow_mass_mentions,
                    sharding,
                    identify_interval,
                    commands,
                    intents(message_content, member_events),
                    interactions,
                    counters,
                    &redis_url,
                    inbound,
                    status,
                )
                .await
            },
            shutdown,
        )
        .await
}

/// Logs in to Discord and starts the client: the adapter, and the session future that
/// ends only when Discord ends the session for good.
// The fields of `Config` that the login needs, taken apart in `run` (the runtime took
// the rest); a struct of its own would only repeat `Config`.
#[allow(clippy::too_many_arguments)]
async fn connect(
    token: &SecretString,
    discord_api_url: Option<String>,
    allow_mass_mentions: bool,
    sharding: Option<Sharding>,
    identify_interval: Duration,
    commands: Option<CommandSync>,
    intents: GatewayIntents,
    interaction_settings: InteractionSettings,
    counters: GatewayCounters,
    redis_url: &RedisUrl,
    inbound: Inbound,
    status: Arc<ShardStatus>,
) -> anyhow::Result<(
    outbound::Discord,
    impl Future<Output = anyhow::Error> + Send + use<>,
)> {
    let http = match &discord_api_url {
        // A proxy only takes effect with serenity's ratelimiter off (it ignores the proxy
        // otherwise), and `ClientBuilder::token()` would drop it: build the Http first.
        Some(api_url) => HttpBuilder::new(token.expose_secret())
            .proxy(api_url.trim_end_matches('/'))
            .ratelimiter_disabled(true)
            .build(),
        None => HttpBuilder::new(token.expose_secret()).build(),
    };
    let own_user = http
        .get_current_user()
        .await
        .context("checking the bot token with discord (GET /users/@me)")?;
    let bot_gateway = http
        .get_bot_gateway()
        .await
        .context("asking discord for the shard count and identify limits (GET /gateway/bot)")?;
    let sharding = sharding.unwrap_or_else(|| Sharding::all(bot_gateway.shards));
    let limit = &bot_gateway.session_start_limit;
    tracing::info!(user = %own_user.name, user_id = %own_user.id, redis = %redis_url, api = discord_api_url.as_deref().unwrap_or("discord.com"),
        shards = %sharding.range, shard_count = sharding.count, recommended_shard_count = bot_gateway.shards,
        max_concurrency = limit.max_concurrency, session_starts_remaining = limit.remaining, "starting");
    if limit.remaining < u64::from(sharding.range.len()) {
        tracing::warn!(
            session_starts_remaining = limit.remaining,
            reset_after_ms = limit.reset_after,
            n_shards = sharding.range.len(),
            "discord allows fewer session starts than this process has shards until the daily limit resets: some shards will not connect"
        );
    }
    inbound.set_own_user_id(own_user.id.to_string());
    match &commands {
        // One process syncs: the one running shard 0 (every bot has one, and the
        // default runs every shard), so several processes never race to write.
        Some(commands) if sharding.range.start == 0 => commands::sync(&http, commands).await?,
        Some(_) => tracing::info!(
            shards = %sharding.range,
            "application commands: not synced here, the process running shard 0 syncs them"
        ),
        None => {}
    }

    let interactions = Arc::new(interactions::Interactions::new(
        interaction_settings,
        inbound.clone(),
        counters,
        discord_api_url.as_deref(),
        allow_mass_mentions,
    ));
    let handler = inbound::Handler(
        Arc::new(inbound::Events::new(inbound, Arc::clone(&status))),
        Arc::clone(&interactions),
    );
    let mut client = ClientBuilder::new_with_http(http, intents)
        .event_handler(handler)
        .await
        .context("building the discord client")?;
    let shard_manager = Arc::clone(&client.shard_manager);
    let shard_manager_for_boot = Arc::clone(&shard_manager);
    status.set_client(Arc::clone(&shard_manager), sharding);
    let adapter = outbound::Discord::new(
        Arc::clone(&client.http),
        shard_manager,
        allow_mass_mentions,
        sharding,
        interactions,
    );
    let max_concurrency = u32::try_from(limit.max_concurrency)
        .unwrap_or(u32::MAX)
        .max(1);
    let locks = IdentifyLocks::connect(
        redis_url,
        own_user.id.get(),
        sharding,
        max_concurrency,
        identify_interval,
    )
    .await;
    let session = async move {
        // The client runs the first shard (and reports fatal closes); `start_shards`
        // adds the others one at a time, each under its bucket's lock.
        let first = sharding.range.start;
        locks.acquire(first).await;
        // serenity 0.12's range end is *inclusive* (its `start_connection` boots
        // `end - start + 1` shards): `first..first` is the one shard `first`.
        let client_ended = client.start_shard_range(first..first, sharding.count);
        tokio::select! {
            ended = client_ended => discord_ended(ended),
            never = start_shards(shard_manager_for_boot, locks, sharding) => match never {},
        }
    };
    Ok((adapter, session))
}

/// Starts the shards of `sharding` after the first (which the client starts) one at a
/// time, each while holding its bucket's IDENTIFY lock (`identify.rs`), and releases
/// each lock once its shard is connected. Then waits forever: the client's end is the
/// session's end.
async fn start_shards(
    shard_manager: Arc<ShardManager>,
    locks: IdentifyLocks,
    sharding: Sharding,
) -> std::convert::Infallible {
    // serenity's own queue starts this process' shards 5 s apart: wait for that
    // before taking a lock, so that no other process waits for it meanwhile.
    const SERENITY_PACE: Duration = Duration::from_secs(5);
    let first = sharding.range.start;
    let mut last_start = tokio::time::Instant::now();
    wait_connected(&shard_manager, first).await;
    locks.release(first).await;
    for shard in sharding.range.iter().skip(1) {
        tokio::time::sleep_until(last_start + SERENITY_PACE).await;
        locks.acquire(shard).await;
        last_start = tokio::time::Instant::now();
        tracing::debug!(shard, "starting shard");
        // serenity 0.12 has no public "start this shard" on a running manager; `restart`
        // is one (it queues the shard's start), but first waits up to 5 s for the
        // shard's runner to confirm it stopped. There is no runner yet: confirm it
        // ourselves, so the start is queued at once.
        shard_manager.shutdown_finished(ShardId(shard));
        shard_manager.restart(ShardId(shard)).await;
        wait_connected(&shard_manager, shard).await;
        locks.release(shard).await;
    }
    std::future::pending().await
}

/// Waits until `shard` is connected (READY or RESUMED received), or 30 s at most (the
/// lock's own expiry): a shard that cannot connect must not hold up the others.
async fn wait_connected(shard_manager: &ShardManager, shard: u32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stage = shard_manager
            .runners
            .lock()
            .await
            .get(&ShardId(shard))
            .map(|runner| runner.stage);
        if stage == Some(ConnectionStage::Connected) {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                shard,
                ?stage,
                "shard not connected after 30 s; starting the next one"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Turns the end of the serenity client (which only ends by itself on a fatal error)
/// into an error that says what to do.
fn discord_ended(ended: serenity::Result<()>) -> anyhow::Error {
    match ended {
        Ok(()) => anyhow::anyhow!("the discord connection ended unexpectedly"),
        Err(serenity::Error::Gateway(GatewayError::DisallowedGatewayIntents)) => {
            anyhow::anyhow!(
                "discord refused a privileged intent (gateway close code 4014): \
                 enable \"Message Content Intent\" (or run with --message-content=false) \
                 and, with --member-events, \"Server Members Intent\" \
                 under Bot > Privileged Gateway Intents \
                 for this application in the Discord developer portal \
                 (https://discord.com/developers/applications), then restart the gateway"
            )
        }
        Err(serenity::Error::Gateway(GatewayError::InvalidAuthentication)) => {
            anyhow::anyhow!(
                "discord rejected the bot token (gateway close code 4004): check DISCORD_TOKEN"
            )
        }
        Err(err) => anyhow::Error::new(err).context("the discord connection failed"),
    }
}
