//! example-subscriber: a Bytebot subscriber answering `!ping`, `!echo`, `!roll`, `!help`,
//! the classic reactions and greetings, on every platform, and following what it
//! answered (the round trip on `!ping`, edits and deletions of its commands: see
//! [`handler`]).
//!
//! It is a library with one entry point, [`run`], so tests can run it in-process; the
//! binary (`main.rs`) only parses flags, installs logging and calls it. The bus work
//! (decoding, loop guard, ordering, outages, shutdown) is `bytebot_core::bot`'s; this
//! crate holds only the commands, in [`commands`], and what to do with each message
//! and receipt, in [`handler`]; Discord's slash commands and buttons (`/ping`,
//! `/roll`, `/slow`) are answered in [`interactions`].

pub mod answered;
pub mod commands;
pub mod handler;
pub mod interactions;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::bail;
use bytebot_core::bot::{Bot, BotCounters, BotStats};
use bytebot_core::bus::{BusConfig, RedisUrl};
use bytebot_core::envelope::{InboundMessage, OutboundMessage};
use bytebot_core::group::GroupName;
use bytebot_core::pattern::{Pattern, Severity};
use bytebot_daemon::metrics::names;
use bytebot_daemon::{DaemonShell, Health, Metrics};

use crate::handler::Handler;

/// The name this program's connections carry (`bytebot:example-subscriber:<host>`).
pub const ROLE: &str = "example-subscriber";

/// Validated settings for [`run`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Where Redis is.
    pub redis_url: RedisUrl,
    /// PSUBSCRIBE patterns; by default every inbound message on every platform.
    pub patterns: Vec<Pattern>,
    /// What starts a command (`!`).
    pub prefix: String,
    /// Answer messages written by bots too (off: the loop guard).
    pub answer_bots: bool,
    /// Reply to every message with its content as is, without parsing commands: the
    /// framework's own cost, for `router-tools bench roundtrip`.
    pub echo: bool,
    /// Serve `/healthz`, `/readyz` and `/metrics` here (`--http-addr`); off when `None`.
    pub http_addr: Option<SocketAddr>,
    /// Run as a replica of this group (`--group`): of all running replicas of the
    /// group, only one answers each message. `None`: answer everything.
    pub group: Option<GroupName>,
}

impl Config {
    /// The defaults: every inbound message, prefix `!`, bots ignored.
    pub fn new(redis_url: RedisUrl) -> Config {
        Config {
            redis_url,
            patterns: vec![Pattern::all_inbound()],
            prefix: "!".to_owned(),
            answer_bots: false,
            echo: false,
            http_addr: None,
            group: None,
        }
    }
}

/// Answers commands until `shutdown` resolves, then drains and returns the counters.
///
/// Fails only at start-up: no pattern, an empty prefix, or a pattern that can never
/// match a topic (the pattern linter's errors; its warnings are logged).
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<BotStats> {
    if config.patterns.is_empty() {
        bail!("no pattern to subscribe to");
    }
    if config.prefix.trim().is_empty() {
        bail!("the command prefix must not be blank");
    }
    for pattern in &config.patterns {
        for lint in pattern.lint() {
            match lint.severity {
                Severity::Error => bail!("pattern `{pattern}`: {lint}"),
                _ => tracing::warn!(%pattern, %lint, "suspicious pattern"),
            }
        }
    }
    let prefix = config.prefix.clone();
    let mut bot = Bot::new(BusConfig::new(config.redis_url, ROLE), config.patterns)
        .answer_bots(config.answer_bots);
    if let Some(group) = config.group {
        tracing::info!(%group, "answering as a replica of a group");
        bot = bot.group(group);
    }
    let counters = bot.counters();
    // Ready while the patterns are subscribed. Not the publisher: it connects lazily,
    // so an idle one is "not connected" without anything being wrong.
    let health = Health::new().redis_subscription({
        let counters = counters.clone();
        move || counters.subscription()
    });
    let shell = DaemonShell::start(ROLE, config.http_addr, health).await?;
    shell
        .metrics()
        .on_render(move |metrics| record(metrics, &counters));
    // On shutdown /readyz turns 503 at once, while the bot drains; the listener stops
    // after that.
    let shutdown = shell.draining_on(shutdown);
    let stats = if config.echo {
        bot.run(echo, shutdown).await
    } else {
        let handler = Arc::new(Handler::new(prefix));
        let on_receipt = Arc::clone(&handler);
        bot.kinds(handler::KINDS)
            .on_receipt(move |receipt| {
                let actions = on_receipt.on_receipt(&receipt);
                async move { actions }
            })
            .run(
                move |message| {
                    let (after, actions) = match interactions::answer(&message) {
                        Some(answer) => (answer.after, answer.actions),
                        None => (std::time::Duration::ZERO, handler.on_message(&message)),
                    };
                    async move {
                        // `/slow`, on purpose (its room waits meanwhile).
                        if !after.is_zero() {
                            tokio::time::sleep(after).await;
                        }
                        actions
                    }
                },
                shutdown,
            )
            .await
    };
    shell.stop().await;
    tracing::info!(?stats, "stopped");
    Ok(stats)
}

/// Copies the bot's and its bus connections' counters into the metrics (at scrape).
fn record(metrics: &Metrics, counters: &BotCounters) {
    if let Some(stats) = counters.publisher().and_then(|counters| counters.stats()) {
        metrics.record_publisher(&stats);
    }
    if let Some(stats) = counters
        .subscription()
        .and_then(|counters| counters.stats())
    {
        metrics.record_subscription(&stats);
    }
    let stats = counters.stats();
    let claims = counters.claims();
    metrics.counter(names::CLAIMS_WON, &[]).absolute(claims.won);
    metrics
        .counter(names::DECODE_ERRORS, &[])
        .absolute(stats.skipped_undecodable);
    for (reason, value) in [
        ("undecodable", stats.skipped_undecodable),
        ("topic_mismatch", stats.skipped_topic_mismatch),
        ("bot_author", stats.skipped_bot_author),
        ("kind", stats.skipped_kind),
        ("receipt_not_ours", stats.skipped_receipt_not_ours),
        ("reply_refused", stats.replies_refused),
        ("abandoned_at_shutdown", stats.abandoned_at_shutdown),
        ("claimed_by_another_replica", claims.lost),
        ("claim_failed", claims.failed),
    ] {
        metrics
            .counter(names::SKIPPED, &[("reason", reason)])
            .absolute(value);
    }
    metrics.counter(names::REPLIES, &[]).absolute(stats.replies);
    metrics
        .counter(names::RECEIPTS, &[])
        .absolute(stats.receipts);
    metrics
        .counter(names::HANDLER_FAILURES, &[])
        .absolute(stats.handler_failures);
    metrics
        .counter(names::ROOM_QUEUE_DROPPED, &[])
        .absolute(stats.dropped_room_queue_full);
}

/// The echo handler: the content back as is (the `Bot` refuses blank replies itself).
async fn echo(message: InboundMessage) -> Vec<OutboundMessage> {
    let content = message.content.clone();
    vec![OutboundMessage::reply_to(&message, content)]
}
