//! `Subscription`: PSUBSCRIBE that re-subscribes after any outage, with a bounded queue.
//!
//! We run the reconnect loop ourselves instead of relying on redis-rs'
//! `ConnectionManager`: with its defaults it stops retrying about 9 s into an outage
//! without telling anyone, and its push channel is unbounded (a lagging consumer grew
//! to 272 MB). Here a background task owns one RESP3 connection at a time; the
//! driver's push callback moves each `pmessage` into a bounded queue with `try_send`
//! (never blocking the connection), and a `Disconnection` push, a failed health
//! PING, or a failed connect starts the next attempt after a capped backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use super::{BusConfig, BusError, DropCounter};
use crate::pattern::Pattern;

/// One message delivered by Redis to a pattern subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The pattern that matched (one of the subscription's patterns).
    pub pattern: String,
    /// The channel (topic) it was published on.
    pub channel: String,
    /// The payload, untouched.
    pub payload: Bytes,
}

/// Options for [`Subscription::start`].
#[derive(Debug, Clone, Copy)]
pub struct SubscribeOptions {
    /// Deliveries held for a slow consumer before new ones are dropped (default 4096).
    pub queue_capacity: usize,
    /// How often an idle connection is checked with PING (default 5 s), so a
    /// half-open TCP connection is noticed even when no traffic flows.
    pub health_check_interval: Duration,
}

impl Default for SubscribeOptions {
    fn default() -> SubscribeOptions {
        SubscribeOptions {
            queue_capacity: 4096,
            health_check_interval: Duration::from_secs(5),
        }
    }
}

/// A subscription's counters at one moment: a plain copy, read from
/// [`Subscription::stats`] or [`SubscriptionCounters::stats`] (for logs, `/metrics` and
/// tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscriptionStats {
    /// Messages Redis delivered (including dropped and malformed ones).
    pub received: u64,
    /// Messages dropped because the consumer's queue was full.
    pub dropped: u64,
    /// `pmessage` pushes that could not be read as pattern, channel and payload (a
    /// channel name that is not UTF-8, which no topic is): logged and skipped.
    pub malformed: u64,
    /// Successful subscriptions after the first one (each outage that ended).
    pub reconnects: u64,
}

#[derive(Debug)]
struct Shared {
    received: AtomicU64,
    malformed: AtomicU64,
    reconnects: AtomicU64,
    dropped: DropCounter,
    connected: watch::Sender<bool>,
    /// The Redis URL, redacted, for errors.
    redacted_url: String,
}

/// A live pattern subscription. Dropping it unsubscribes and closes the connection.
#[derive(Debug)]
pub struct Subscription {
    deliveries: mpsc::Receiver<Delivery>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Subscription {
    /// Starts subscribing to `patterns` in the background and returns at once.
    ///
    /// Patterns come from [`Pattern::builder`] or its shortcuts
    /// ([`Pattern::all_inbound`], [`Pattern::outbound_platform`], [`Pattern::exact`]); a
    /// hand-written one ([`Pattern::parse_raw`]) is worth a [`Pattern::lint`] first.
    ///
    /// The first connection is attempted immediately and retried forever, like every
    /// later one: use [`Subscription::wait_connected`] where a program should fail
    /// fast instead (a command-line tool), or watch [`Subscription::connected`].
    pub fn start(
        config: BusConfig,
        patterns: Vec<Pattern>,
        options: SubscribeOptions,
    ) -> Subscription {
        let (sender, deliveries) = mpsc::channel(options.queue_capacity.max(1));
        let shared = Arc::new(Shared {
            received: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            dropped: DropCounter::new("subscription"),
            connected: watch::Sender::new(false),
            redacted_url: config.url().redacted().to_owned(),
        });
        let task = tokio::spawn(run(config, patterns, options, sender, Arc::clone(&shared)));
        Subscription {
            deliveries,
            shared,
            task,
        }
    }

    /// The next delivery; `None` only if the background task has ended (it does not,
    /// short of a panic).
    pub async fn recv(&mut self) -> Option<Delivery> {
        self.deliveries.recv().await
    }

    /// A delivery if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        self.deliveries.try_recv().ok()
    }

    /// Whether the subscription is currently active on a live connection; changes are
    /// observable through the returned receiver (for `/readyz`).
    pub fn connected(&self) -> watch::Receiver<bool> {
        self.shared.connected.subscribe()
    }

    /// Waits until the patterns are subscribed; a timeout gives a clear error.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), BusError> {
        let mut connected = self.connected();
        tokio::time::timeout(timeout, connected.wait_for(|up| *up))
            .await
            .map(|_| ())
            .map_err(|_| BusError::Timeout {
                redacted: self.shared.redacted_url.clone(),
                timeout,
            })
    }

    /// The counters now.
    pub fn stats(&self) -> SubscriptionStats {
        stats(&self.shared)
    }

    /// The live counters and connection state of this subscription, for `/metrics` and
    /// `/readyz`: a handle, usable after the subscription has moved.
    pub fn counters(&self) -> SubscriptionCounters {
        SubscriptionCounters {
            shared: Arc::downgrade(&self.shared),
            connected: self.connected(),
        }
    }
}

fn stats(shared: &Shared) -> SubscriptionStats {
    SubscriptionStats {
        received: shared.received.load(Ordering::Relaxed),
        dropped: shared.dropped.total(),
        malformed: shared.malformed.load(Ordering::Relaxed),
        reconnects: shared.reconnects.load(Ordering::Relaxed),
    }
}

/// The live counters of a [`Subscription`] (from [`Subscription::counters`]): cheap to
/// clone, read with [`SubscriptionCounters::stats`]. It holds a weak reference; once the
/// subscription is dropped, [`SubscriptionCounters::stats`] returns `None` and
/// [`SubscriptionCounters::is_connected`] `false`.
#[derive(Debug, Clone)]
pub struct SubscriptionCounters {
    shared: std::sync::Weak<Shared>,
    connected: watch::Receiver<bool>,
}

impl SubscriptionCounters {
    /// The subscription's counters now, or `None` once it is gone.
    pub fn stats(&self) -> Option<SubscriptionStats> {
        self.shared.upgrade().map(|shared| stats(&shared))
    }

    /// Whether the patterns are subscribed on a live connection right now.
    pub fn is_connected(&self) -> bool {
        self.shared.strong_count() > 0 && *self.connected.borrow()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The reconnect loop: connect, subscribe, wait for the connection to die, repeat.
async fn run(
    config: BusConfig,
    patterns: Vec<Pattern>,
    options: SubscribeOptions,
    sender: mpsc::Sender<Delivery>,
    shared: Arc<Shared>,
) {
    let mut failures: u32 = 0;
    let mut ever_connected = false;
    let patterns: Vec<&str> = patterns.iter().map(Pattern::as_str).collect();
    loop {
        let disconnected = Arc::new(Notify::new());
        match subscribe_once(&config, &patterns, &sender, &shared, &disconnected).await {
            Ok(mut connection) => {
                if ever_connected {
                    shared.reconnects.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(redis = %config.url(), patterns = ?patterns, "re-subscribed after reconnecting");
                } else {
                    tracing::debug!(redis = %config.url(), patterns = ?patterns, "subscribed");
                }
                ever_connected = true;
                failures = 0;
                shared.connected.send_replace(true);
                let reason = watch_connection(&mut connection, &disconnected, options).await;
                shared.connected.send_replace(false);
                tracing::warn!(redis = %config.url(), reason, "subscription connection lost; reconnecting");
            }
            Err(err) => {
                let delay = config.backoff.delay(failures);
                // Log the first failure of an outage loudly, the retries quietly.
                if failures == 0 {
                    tracing::warn!(error = %err, retry_in = ?delay, "cannot subscribe; retrying until redis is back");
                } else {
                    tracing::debug!(error = %err, attempt = failures + 1, retry_in = ?delay, "still cannot subscribe");
                }
                failures = failures.saturating_add(1);
                tokio::time::sleep(delay).await;
            }
        }
        if sender.is_closed() {
            return;
        }
    }
}

async fn subscribe_once(
    config: &BusConfig,
    patterns: &[&str],
    sender: &mpsc::Sender<Delivery>,
    shared: &Arc<Shared>,
    disconnected: &Arc<Notify>,
) -> Result<redis::aio::MultiplexedConnection, BusError> {
    let push_sender = {
        let sender = sender.clone();
        let shared = Arc::clone(shared);
        let disconnected = Arc::clone(disconnected);
        move |push: redis::PushInfo| -> Result<(), ()> {
            on_push(push, &sender, &shared, &disconnected);
            Ok(())
        }
    };
    let mut connection = config
        .open(config.connection_config().set_push_sender(push_sender))
        .await?;
    if !patterns.is_empty() {
        connection
            .psubscribe(patterns)
            .await
            .map_err(|err| config.redis_error(err))?;
    }
    Ok(connection)
}

/// Runs inside the connection driver: must never block.
fn on_push(
    push: redis::PushInfo,
    sender: &mpsc::Sender<Delivery>,
    shared: &Shared,
    disconnected: &Notify,
) {
    match push.kind {
        redis::PushKind::PMessage => {
            shared.received.fetch_add(1, Ordering::Relaxed);
            let delivery = match pmessage(push.data) {
                Ok(delivery) => delivery,
                Err(malformed) => {
                    shared.malformed.fetch_add(1, Ordering::Relaxed);
                    // A `str` field is logged quoted and escaped: these bytes come
                    // from whoever published, control characters included.
                    tracing::warn!(
                        topic = malformed.channel.as_deref().unwrap_or("(none)"),
                        reason = malformed.reason,
                        "ignoring a malformed pmessage push from redis"
                    );
                    return;
                }
            };
            match sender.try_send(delivery) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(delivery)) => {
                    shared
                        .dropped
                        .record(&delivery.channel, "consumer queue full");
                }
                // The Subscription was dropped; the task is being aborted.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        redis::PushKind::Disconnection => disconnected.notify_one(),
        _ => {}
    }
}

/// A `pmessage` push that is not a [`Delivery`], for the log line that skips it.
#[derive(Debug, PartialEq, Eq)]
struct MalformedPush {
    /// The channel as far as it could be read, invalid UTF-8 replaced by U+FFFD.
    channel: Option<String>,
    reason: &'static str,
}

/// `[pattern, channel, payload]` from a RESP3 `pmessage` push.
fn pmessage(data: Vec<redis::Value>) -> Result<Delivery, MalformedPush> {
    let mut fields = data.into_iter().map(|value| match value {
        redis::Value::BulkString(bytes) => Some(bytes),
        redis::Value::SimpleString(text) => Some(text.into_bytes()),
        _ => None,
    });
    let (Some(Some(pattern)), Some(Some(channel)), Some(Some(payload))) =
        (fields.next(), fields.next(), fields.next())
    else {
        return Err(MalformedPush {
            channel: None,
            reason: "not [pattern, channel, payload]",
        });
    };
    let channel = String::from_utf8(channel).map_err(|err| MalformedPush {
        channel: Some(String::from_utf8_lossy(err.as_bytes()).into_owned()),
        reason: "the channel is not utf-8",
    })?;
    // One of our own patterns, echoed back: UTF-8 unless Redis misbehaves.
    let Ok(pattern) = String::from_utf8(pattern) else {
        return Err(MalformedPush {
            channel: Some(channel),
            reason: "the pattern is not utf-8",
        });
    };
    Ok(Delivery {
        pattern,
        channel,
        payload: Bytes::from(payload),
    })
}

/// Waits until the connection is lost; returns why.
async fn watch_connection(
    connection: &mut redis::aio::MultiplexedConnection,
    disconnected: &Notify,
    options: SubscribeOptions,
) -> &'static str {
    let mut health_check = tokio::time::interval(options.health_check_interval);
    health_check.tick().await; // the first tick fires at once
    loop {
        tokio::select! {
            () = disconnected.notified() => return "connection closed",
            _ = health_check.tick() => {
                let ping: redis::RedisResult<String> = redis::cmd("PING").query_async(connection).await;
                if ping.is_err() {
                    return "health check failed";
                }
            }
        }
    }
}
