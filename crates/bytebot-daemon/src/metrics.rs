//! Prometheus metrics through the `metrics` facade, without a global recorder.
//!
//! Three words, one meaning each, across the workspace:
//!
//! - **`XCounters`** (`PublisherCounters`, `SubscriptionCounters`, `BotCounters`,
//!   the gateway's `GatewayCounters`): the live counters, plain atomics behind a
//!   cheap, cloneable handle that the component's own code bumps. Core knows nothing
//!   of Prometheus.
//! - **`XStats`** (`PublisherStats`, ...): a plain copy of those counters at one
//!   moment, read with `counters.stats()`: what logs, tests and this module read.
//! - **[`Metrics`]**: the Prometheus series a daemon serves on `/metrics`. At each
//!   scrape, the daemon's refresh callbacks ([`Metrics::on_render`]) read the stats
//!   and set the series with `absolute`, which never moves a counter backwards. Only
//!   what cannot be a copy, the send-latency histogram, is recorded as it happens,
//!   through a handle from [`Metrics::histogram`].
//!
//! The recorder is not installed as the process-wide one, so two daemons in one test
//! process keep separate metrics; every series carries a `daemon` label.

use std::sync::Mutex;

use bytebot_core::bus::{PublisherStats, SubscriptionStats};
use metrics::{Counter, Gauge, Key, Label, Level, Metadata, Recorder as _, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// A histogram handle (from [`Metrics::histogram`]); `Histogram::noop()` records
/// nothing, for code paths without metrics.
pub use metrics::Histogram;

/// Metric names, one place for code, tests and the README's table.
pub mod names {
    /// Counter: messages Redis accepted from this daemon (envelopes, replies, receipts).
    pub const PUBLISHED: &str = "bytebot_messages_published_total";
    /// Counter: messages Redis delivered to this daemon's pattern subscriptions.
    pub const RECEIVED: &str = "bytebot_messages_received_total";
    /// Counter: outbound messages delivered to the chat platform (gateways).
    pub const SENT: &str = "bytebot_messages_sent_total";
    /// Counter: outbound messages the chat platform refused or that failed to send.
    pub const SEND_FAILURES: &str = "bytebot_send_failures_total";
    /// Counter, label `reason`: messages skipped on purpose.
    pub const SKIPPED: &str = "bytebot_messages_skipped_total";
    /// Counter: deliveries that were not a valid envelope (JSON, size, version, topic).
    pub const DECODE_ERRORS: &str = "bytebot_decode_errors_total";
    /// Counter: replies a bot handed to its publisher.
    pub const REPLIES: &str = "bytebot_replies_total";
    /// Counter: receipts of a bot's own replies handed to its receipt handler.
    pub const RECEIPTS: &str = "bytebot_receipts_total";
    /// Counter: handlers that panicked or timed out.
    pub const HANDLER_FAILURES: &str = "bytebot_handler_failures_total";
    /// Gauge: messages waiting in the publisher's outbox.
    pub const OUTBOX_DEPTH: &str = "bytebot_outbox_depth";
    /// Counter: messages dropped from the outbox (full, or not sent by shutdown).
    pub const OUTBOX_DROPPED: &str = "bytebot_outbox_dropped_total";
    /// Counter: deliveries dropped because the subscription's queue was full.
    pub const SUBSCRIPTION_DROPPED: &str = "bytebot_subscription_dropped_total";
    /// Counter: outbound messages dropped because the gateway's send queues were full.
    pub const SEND_QUEUE_DROPPED: &str = "bytebot_send_queue_dropped_total";
    /// Counter: inbound messages a bot dropped because their room's queue was full.
    pub const ROOM_QUEUE_DROPPED: &str = "bytebot_room_queue_dropped_total";
    /// Counter: messages this replica claimed in its group and so handled (a bot
    /// with `--group`); the ones it lost are `SKIPPED` with reason
    /// `claimed_by_another_replica` (or `claim_failed`).
    pub const CLAIMS_WON: &str = "bytebot_claims_won_total";
    /// Counter, label `connection` (`publisher`, `subscription`): Redis reconnects.
    pub const REDIS_RECONNECTS: &str = "bytebot_redis_reconnects_total";
    /// Histogram (seconds): one chat-platform send request (gateway's POST to Discord).
    pub const SEND_DURATION: &str = "bytebot_send_duration_seconds";
    /// Gauge, label `shard`: 1 while this gateway's shard has a live session (Discord:
    /// READY or RESUMED received, heartbeats acknowledged), else 0.
    pub const SHARD_CONNECTED: &str = "bytebot_shard_connected";
    /// Gauge (seconds), label `shard`: the shard's gateway heartbeat latency, as the
    /// platform library last reported it.
    pub const SHARD_LATENCY: &str = "bytebot_shard_latency_seconds";
    /// Counter, label `shard`: platform events (messages, edits, deletions, reactions)
    /// this gateway received on the shard.
    pub const SHARD_INBOUND_EVENTS: &str = "bytebot_shard_inbound_events_total";
    /// Interactions by what the gateway had to do about them (`outcome`: `deferred`,
    /// `unanswered`, `already_answered`, `expired`).
    pub const INTERACTIONS: &str = "bytebot_interactions_total";
}

/// Histogram buckets for request latencies, in seconds: 5 ms to 60 s (the send
/// timeout), with rate-limit waits in the upper buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0,
];

type Refresh = Box<dyn Fn(&Metrics) + Send + Sync>;

/// One daemon's Prometheus metrics: what its `/metrics` renders.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    refreshers: Mutex<Vec<Refresh>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn metadata() -> Metadata<'static> {
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()))
}

impl Metrics {
    /// Metrics labelled `daemon="<daemon>"`, with every name described.
    pub fn new(daemon: &str) -> Metrics {
        let recorder = PrometheusBuilder::new()
            .add_global_label("daemon", daemon)
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        let metrics = Metrics {
            recorder,
            handle,
            refreshers: Mutex::default(),
        };
        metrics.describe();
        metrics
    }

    fn describe(&self) {
        use names::*;
        let counters = [
            (PUBLISHED, "Messages Redis accepted from this daemon"),
            (
                RECEIVED,
                "Messages Redis delivered to this daemon's subscriptions",
            ),
            (SENT, "Outbound messages delivered to the chat platform"),
            (
                SEND_FAILURES,
                "Outbound messages the chat platform refused or that failed",
            ),
            (SKIPPED, "Messages skipped on purpose, by reason"),
            (DECODE_ERRORS, "Deliveries that were not a valid envelope"),
            (REPLIES, "Replies a bot handed to its publisher"),
            (
                RECEIPTS,
                "Receipts of a bot's own replies handed to its receipt handler",
            ),
            (HANDLER_FAILURES, "Handlers that panicked or timed out"),
            (
                OUTBOX_DROPPED,
                "Messages dropped from the publisher's outbox",
            ),
            (
                SUBSCRIPTION_DROPPED,
                "Deliveries dropped because the subscription queue was full",
            ),
            (
                SEND_QUEUE_DROPPED,
                "Outbound messages dropped because the send queues were full",
            ),
            (
                ROOM_QUEUE_DROPPED,
                "Inbound messages dropped because their room's queue was full",
            ),
            (REDIS_RECONNECTS, "Redis reconnects, by connection"),
            (
                CLAIMS_WON,
                "Messages this replica claimed in its group, and so handled",
            ),
            (
                SHARD_INBOUND_EVENTS,
                "Platform events (messages, edits, deletions, reactions) received, by shard",
            ),
        ];
        for (name, help) in counters {
            self.recorder
                .describe_counter(name.into(), None, help.into());
        }
        self.recorder.describe_gauge(
            OUTBOX_DEPTH.into(),
            None,
            "Messages waiting in the publisher's outbox".into(),
        );
        self.recorder.describe_gauge(
            SHARD_CONNECTED.into(),
            None,
            "1 while the shard has a live gateway session, else 0".into(),
        );
        self.recorder.describe_gauge(
            SHARD_LATENCY.into(),
            Some(Unit::Seconds),
            "The shard's gateway heartbeat latency, as last reported by the platform library"
                .into(),
        );
        self.recorder.describe_histogram(
            SEND_DURATION.into(),
            Some(Unit::Seconds),
            "Duration of one send request to the chat platform".into(),
        );
    }

    fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
        let labels: Vec<Label> = labels
            .iter()
            .map(|&(k, v)| Label::new(k, v.to_owned()))
            .collect();
        Key::from_parts(name, labels)
    }

    /// The counter `name{labels}`; the same handle every time for the same key. Label
    /// values may be computed (a shard id), names are fixed.
    pub fn counter(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
        self.recorder
            .register_counter(&Self::key(name, labels), &metadata())
    }

    /// The gauge `name{labels}`.
    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Gauge {
        self.recorder
            .register_gauge(&Self::key(name, labels), &metadata())
    }

    /// The histogram `name{labels}`; names ending in `_seconds` get latency buckets.
    pub fn histogram(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Histogram {
        self.recorder
            .register_histogram(&Self::key(name, labels), &metadata())
    }

    /// Runs `refresh` before every [`Metrics::render`], to copy counters kept
    /// elsewhere (bus and bot stats) into the recorder.
    pub fn on_render(&self, refresh: impl Fn(&Metrics) + Send + Sync + 'static) {
        self.refreshers
            .lock()
            .expect("refreshers lock")
            .push(Box::new(refresh));
    }

    /// The Prometheus text exposition of every metric, refreshed now.
    pub fn render(&self) -> String {
        for refresh in self.refreshers.lock().expect("refreshers lock").iter() {
            refresh(self);
        }
        self.handle.render()
    }

    /// Copies a publisher's counters (published, outbox depth and drops, reconnects).
    pub fn record_publisher(&self, stats: &PublisherStats) {
        use names::*;
        self.counter(PUBLISHED, &[]).absolute(stats.published);
        self.counter(OUTBOX_DROPPED, &[]).absolute(stats.dropped);
        self.gauge(OUTBOX_DEPTH, &[]).set(stats.queued as f64);
        self.counter(REDIS_RECONNECTS, &[("connection", "publisher")])
            .absolute(stats.reconnects);
    }

    /// Copies a subscription's counters (received, queue drops, malformed pushes,
    /// reconnects).
    pub fn record_subscription(&self, stats: &SubscriptionStats) {
        use names::*;
        self.counter(RECEIVED, &[]).absolute(stats.received);
        self.counter(SUBSCRIPTION_DROPPED, &[])
            .absolute(stats.dropped);
        self.counter(SKIPPED, &[("reason", "malformed_push")])
            .absolute(stats.malformed);
        self.counter(REDIS_RECONNECTS, &[("connection", "subscription")])
            .absolute(stats.reconnects);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stats are copied at scrape time, and a counter never goes backwards.
    #[test]
    fn render_refreshes_counters_from_stats() {
        let metrics = Metrics::new("test-daemon");
        let published = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(3));
        let source = std::sync::Arc::clone(&published);
        metrics.on_render(move |metrics| {
            metrics.record_publisher(&PublisherStats {
                published: source.load(std::sync::atomic::Ordering::Relaxed),
                ..PublisherStats::default()
            });
        });
        let text = metrics.render();
        assert!(
            text.contains("bytebot_messages_published_total{daemon=\"test-daemon\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("# HELP bytebot_messages_published_total"),
            "{text}"
        );
        published.store(5, std::sync::atomic::Ordering::Relaxed);
        assert!(
            metrics
                .render()
                .contains("published_total{daemon=\"test-daemon\"} 5")
        );
    }

    /// A subscription's malformed pushes are a skip reason of their own, next to the
    /// bot's and the gateway's.
    #[test]
    fn malformed_pushes_are_exported_as_a_skip_reason() {
        let metrics = Metrics::new("test-daemon");
        metrics.record_subscription(&SubscriptionStats {
            malformed: 2,
            ..SubscriptionStats::default()
        });
        let text = metrics.render();
        assert!(
            text.contains(
                "bytebot_messages_skipped_total{daemon=\"test-daemon\",reason=\"malformed_push\"} 2"
            ),
            "{text}"
        );
    }

    /// `_seconds` histograms are Prometheus histograms (buckets), not summaries.
    #[test]
    fn latency_histograms_have_buckets() {
        let metrics = Metrics::new("test-daemon");
        metrics.histogram(names::SEND_DURATION, &[]).record(0.02);
        let text = metrics.render();
        assert!(
            text.contains(
                "bytebot_send_duration_seconds_bucket{daemon=\"test-daemon\",le=\"0.025\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("bytebot_send_duration_seconds_count{daemon=\"test-daemon\"} 1"),
            "{text}"
        );
    }
}
