//! The gateway's counters (`GatewayCounters`, read into `GatewayStats`) and how they
//! reach `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytebot_core::bus::{PublisherCounters, SubscriptionCounters};
use bytebot_daemon::Metrics;
use bytebot_daemon::metrics::names;

/// The live counters of a gateway: cheap to clone (clones count together), read with
/// [`GatewayCounters::stats`]. Every skipped or failed message is counted here as well
/// as logged.
#[derive(Debug, Clone, Default)]
pub struct GatewayCounters {
    inner: Arc<Counts>,
}

#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) inbound_published: AtomicU64,
    pub(crate) inbound_ignored: AtomicU64,
    pub(crate) outbound_received: AtomicU64,
    pub(crate) outbound_sent: AtomicU64,
    pub(crate) outbound_failed: AtomicU64,
    pub(crate) outbound_malformed: AtomicU64,
    pub(crate) outbound_dropped: AtomicU64,
    pub(crate) outbound_too_many_parts: AtomicU64,
    pub(crate) outbound_blank: AtomicU64,
    pub(crate) outbound_unsupported: AtomicU64,
    pub(crate) outbound_not_mine: AtomicU64,
    pub(crate) interactions_deferred: AtomicU64,
    pub(crate) interactions_unanswered: AtomicU64,
    pub(crate) interactions_already_answered: AtomicU64,
    pub(crate) interactions_expired: AtomicU64,
}

/// What happened to an interaction that an adapter counts
/// ([`GatewayCounters::interaction`]); `bytebot_interactions_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InteractionOutcome {
    /// No answer came in time: the gateway deferred it itself (`deferred`).
    Deferred,
    /// Nobody answered at all: the gateway showed its notice (`unanswered`).
    Unanswered,
    /// A second answer was refused (`already_answered`).
    AlreadyAnswered,
    /// An answer came after the platform's deadline (`expired`).
    Expired,
}

/// A gateway's counters at one moment: a plain copy, read from
/// [`GatewayCounters::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GatewayStats {
    /// Platform events published as inbound envelopes.
    pub inbound_published: u64,
    /// Platform events not published: the bot's own, other bots', system messages.
    pub inbound_ignored: u64,
    /// Outbound deliveries read from Redis (valid or not).
    pub outbound_received: u64,
    /// Outbound messages delivered (every part).
    pub outbound_sent: u64,
    /// Outbound messages the platform refused or that failed to send.
    pub outbound_failed: u64,
    /// Outbound deliveries skipped for a malformed topic or payload.
    pub outbound_malformed: u64,
    /// Outbound messages dropped because the gateway's queues were full.
    pub outbound_dropped: u64,
    /// Outbound messages not sent because they would split into more than
    /// `--max-parts` parts.
    pub outbound_too_many_parts: u64,
    /// Outbound messages refused because nothing but control characters and
    /// whitespace was left once controls were stripped.
    pub outbound_blank: u64,
    /// Outbound actions the platform cannot do.
    pub outbound_unsupported: u64,
    /// Outbound messages left to another gateway process ([`Route::NotMine`](crate::Route::NotMine)):
    /// not an error, the owner sends them.
    pub outbound_not_mine: u64,
    /// Interactions the gateway deferred itself, no answer having come in time.
    pub interactions_deferred: u64,
    /// Interactions nobody answered: the gateway showed its notice.
    pub interactions_unanswered: u64,
    /// Answers refused because the interaction was already answered.
    pub interactions_already_answered: u64,
    /// Answers that came after the interaction expired.
    pub interactions_expired: u64,
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
            outbound_too_many_parts: get(&c.outbound_too_many_parts),
            outbound_blank: get(&c.outbound_blank),
            outbound_unsupported: get(&c.outbound_unsupported),
            outbound_not_mine: get(&c.outbound_not_mine),
            interactions_deferred: get(&c.interactions_deferred),
            interactions_unanswered: get(&c.interactions_unanswered),
            interactions_already_answered: get(&c.interactions_already_answered),
            interactions_expired: get(&c.interactions_expired),
        }
    }

    /// Counts one interaction `outcome` (for adapters of platforms with interactions).
    pub fn interaction(&self, outcome: InteractionOutcome) {
        self.add(match outcome {
            InteractionOutcome::Deferred => |c| &c.interactions_deferred,
            InteractionOutcome::Unanswered => |c| &c.interactions_unanswered,
            InteractionOutcome::AlreadyAnswered => |c| &c.interactions_already_answered,
            InteractionOutcome::Expired => |c| &c.interactions_expired,
        });
    }

    /// Counts one more of `counter` (`|c| &c.outbound_sent`).
    pub(crate) fn add(&self, counter: fn(&Counts) -> &AtomicU64) {
        counter(&self.inner).fetch_add(1, Ordering::Relaxed);
    }
}

/// Copies the gateway's and its bus connections' counters into the metrics (at scrape).
pub(crate) fn record(
    metrics: &Metrics,
    counters: &GatewayCounters,
    publisher: &PublisherCounters,
    subscription: &SubscriptionCounters,
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
        ("too_many_parts", stats.outbound_too_many_parts),
        ("blank_content", stats.outbound_blank),
        ("unsupported_action", stats.outbound_unsupported),
        ("not_mine", stats.outbound_not_mine),
    ] {
        metrics
            .counter(names::SKIPPED, &[("reason", reason)])
            .absolute(value);
    }
    for (outcome, value) in [
        ("deferred", stats.interactions_deferred),
        ("unanswered", stats.interactions_unanswered),
        ("already_answered", stats.interactions_already_answered),
        ("expired", stats.interactions_expired),
    ] {
        metrics
            .counter(names::INTERACTIONS, &[("outcome", outcome)])
            .absolute(value);
    }
}
