//! `Publisher`: PUBLISH through a bounded outbox that rides out Redis outages.
//!
//! `publish` appends to the outbox and returns at once; one background task sends the
//! outbox in order, pipelining up to [`OutboxOptions::batch_size`] PUBLISHes per round
//! trip. While Redis is unreachable the messages wait; when the outbox is full the
//! *oldest* is dropped, counted and logged (fresh messages matter more in chat). A
//! batch whose reply was lost is sent again, so a message can, rarely, arrive twice.
//!
//! Pub/sub delivers only to subscribers connected at that moment, and after a Redis
//! restart the subscribers reconnect on their own schedule. So before flushing what
//! waited out an outage, the publisher waits (for at most
//! [`OutboxOptions::resubscribe_grace`]) for the subscribers to come back, judged by
//! `PUBSUB NUMPAT`: after a *re*connect, until there are as many pattern subscriptions
//! as at the previous connect; on a first connect that follows failed attempts (the
//! program started while Redis was down), until there is at least one and the count
//! has stopped rising for [`SUBSCRIBERS_SETTLE`]. Otherwise the backlog would be
//! published to nobody.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, watch};

use super::{BusConfig, BusError, DropCounter};

/// How long the pattern-subscription count must stay unchanged before a publisher that
/// started during an outage flushes its backlog: longer than a subscription's longest
/// reconnect delay (500 ms), so subscribers retrying on their own schedule are counted.
pub const SUBSCRIBERS_SETTLE: Duration = Duration::from_millis(750);

/// Options for [`Publisher::start`].
#[derive(Debug, Clone, Copy)]
pub struct OutboxOptions {
    /// Messages held while Redis is down before the oldest are dropped (default 10 000).
    pub capacity: usize,
    /// PUBLISHes sent per pipelined round trip (default 256).
    pub batch_size: usize,
    /// After a reconnect, how long to wait for pattern subscribers to come back
    /// before flushing anyway (default 2 s).
    pub resubscribe_grace: Duration,
}

impl Default for OutboxOptions {
    fn default() -> OutboxOptions {
        OutboxOptions {
            capacity: 10_000,
            batch_size: 256,
            resubscribe_grace: Duration::from_secs(2),
        }
    }
}

/// A publisher's counters at one moment: a plain copy, read from [`Publisher::stats`]
/// or [`PublisherCounters::stats`] (for logs, `/metrics` and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublisherStats {
    /// Messages Redis accepted.
    pub published: u64,
    /// Messages dropped because the outbox was full (or the publisher shut down).
    pub dropped: u64,
    /// Messages waiting in the outbox now.
    pub queued: usize,
    /// Connections made after the first one.
    pub reconnects: u64,
}

#[derive(Debug)]
struct Outgoing {
    sequence: u64,
    channel: Arc<str>,
    payload: Bytes,
}

#[derive(Debug, Default)]
struct Outbox {
    queue: VecDeque<Outgoing>,
    next_sequence: u64,
}

#[derive(Debug)]
struct Shared {
    options: OutboxOptions,
    outbox: Mutex<Outbox>,
    /// Wakes the sender task: a message was queued, or shutdown began.
    wake: Notify,
    /// Wakes `flush` callers: the outbox became empty.
    emptied: Notify,
    closing: AtomicBool,
    published: AtomicU64,
    reconnects: AtomicU64,
    dropped: DropCounter,
    connected: watch::Sender<bool>,
}

/// Publishes messages to Redis without ever blocking the caller. Cheap to clone; the
/// background task stops when [`Publisher::close`] is called or the last clone drops.
#[derive(Debug, Clone)]
pub struct Publisher {
    shared: Arc<Shared>,
    _stop_on_drop: Arc<StopOnDrop>,
}

#[derive(Debug)]
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.closing.store(true, Ordering::Release);
        self.0.wake.notify_one();
    }
}

impl Publisher {
    /// Starts the background sender. It connects lazily and retries forever.
    pub fn start(config: BusConfig, options: OutboxOptions) -> Publisher {
        let shared = Arc::new(Shared {
            options: OutboxOptions {
                capacity: options.capacity.max(1),
                batch_size: options.batch_size.max(1),
                ..options
            },
            outbox: Mutex::new(Outbox::default()),
            wake: Notify::new(),
            emptied: Notify::new(),
            closing: AtomicBool::new(false),
            published: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            dropped: DropCounter::new("outbox"),
            connected: watch::Sender::new(false),
        });
        tokio::spawn(send_loop(config, Arc::clone(&shared)));
        Publisher {
            _stop_on_drop: Arc::new(StopOnDrop(Arc::clone(&shared))),
            shared,
        }
    }

    /// Queues `payload` for `channel`. Never blocks; if the outbox is full, the
    /// oldest queued message is dropped to make room.
    pub fn publish(&self, channel: impl Into<Arc<str>>, payload: impl Into<Bytes>) {
        let dropped = {
            let mut outbox = self.shared.outbox.lock().expect("outbox lock");
            let sequence = outbox.next_sequence;
            outbox.next_sequence += 1;
            outbox.queue.push_back(Outgoing {
                sequence,
                channel: channel.into(),
                payload: payload.into(),
            });
            if outbox.queue.len() > self.shared.options.capacity {
                outbox.queue.pop_front()
            } else {
                None
            }
        };
        if let Some(dropped) = dropped {
            self.shared.dropped.record(&dropped.channel, "outbox full");
        }
        self.shared.wake.notify_one();
    }

    /// Waits until everything queued so far has been published, up to `timeout`.
    /// Returns how many messages were still queued when time ran out (0 = all sent).
    pub async fn flush(&self, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register for the wake-up before looking, so an emptying in between is seen.
            let emptied = self.shared.emptied.notified();
            tokio::pin!(emptied);
            emptied.as_mut().enable();
            if self.queued() == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, emptied).await.is_err() {
                return self.queued();
            }
        }
    }

    /// Flushes for up to `timeout`, then stops the sender (for every clone). What
    /// could not be sent in time is counted as dropped and logged; returns that number.
    pub async fn close(self, timeout: Duration) -> usize {
        self.flush(timeout).await;
        self.shared.closing.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        drop_all(&self.shared, "shutdown before redis accepted it")
    }

    /// Whether the sender currently has a working connection (for `/readyz`).
    pub fn connected(&self) -> watch::Receiver<bool> {
        self.shared.connected.subscribe()
    }

    /// The counters now.
    pub fn stats(&self) -> PublisherStats {
        stats(&self.shared)
    }

    /// The live counters and connection state of this publisher, for `/metrics` and
    /// `/readyz`: a handle that does not keep the publisher running.
    pub fn counters(&self) -> PublisherCounters {
        PublisherCounters {
            shared: Arc::downgrade(&self.shared),
            connected: self.connected(),
        }
    }

    fn queued(&self) -> usize {
        queued(&self.shared)
    }
}

fn queued(shared: &Shared) -> usize {
    shared.outbox.lock().expect("outbox lock").queue.len()
}

fn stats(shared: &Shared) -> PublisherStats {
    PublisherStats {
        published: shared.published.load(Ordering::Relaxed),
        dropped: shared.dropped.total(),
        queued: queued(shared),
        reconnects: shared.reconnects.load(Ordering::Relaxed),
    }
}

/// The live counters of a [`Publisher`] (from [`Publisher::counters`]): cheap to clone,
/// read with [`PublisherCounters::stats`]. It holds a weak reference: the publisher's
/// shutdown does not wait for it, and once the publisher has stopped,
/// [`PublisherCounters::stats`] returns `None`.
#[derive(Debug, Clone)]
pub struct PublisherCounters {
    shared: std::sync::Weak<Shared>,
    connected: watch::Receiver<bool>,
}

impl PublisherCounters {
    /// The publisher's counters now, or `None` once it has stopped.
    pub fn stats(&self) -> Option<PublisherStats> {
        self.shared.upgrade().map(|shared| stats(&shared))
    }

    /// Whether the publisher has a working connection. It connects lazily (when it
    /// has something to send), so `false` on an idle publisher is not an outage.
    pub fn connected(&self) -> watch::Receiver<bool> {
        self.connected.clone()
    }
}

/// Empties the outbox, counting every message as dropped; returns how many.
fn drop_all(shared: &Shared, reason: &'static str) -> usize {
    let lost: Vec<Outgoing> = {
        let mut outbox = shared.outbox.lock().expect("outbox lock");
        outbox.queue.drain(..).collect()
    };
    for message in &lost {
        shared.dropped.record(&message.channel, reason);
    }
    shared.emptied.notify_waiters();
    lost.len()
}

/// Takes up to `batch_size` messages from the front, without removing them: they
/// leave the outbox only once Redis has accepted them.
fn peek_batch(shared: &Shared) -> Vec<(u64, Arc<str>, Bytes)> {
    let outbox = shared.outbox.lock().expect("outbox lock");
    outbox
        .queue
        .iter()
        .take(shared.options.batch_size)
        .map(|m| (m.sequence, Arc::clone(&m.channel), m.payload.clone()))
        .collect()
}

/// Removes the messages up to `last_sequence` (some may already have been dropped
/// for room while the batch was in flight).
fn remove_sent(shared: &Shared, last_sequence: u64) -> usize {
    let mut outbox = shared.outbox.lock().expect("outbox lock");
    let mut removed = 0;
    while outbox
        .queue
        .front()
        .is_some_and(|m| m.sequence <= last_sequence)
    {
        outbox.queue.pop_front();
        removed += 1;
    }
    if outbox.queue.is_empty() {
        shared.emptied.notify_waiters();
    }
    removed
}

async fn send_loop(config: BusConfig, shared: Arc<Shared>) {
    let mut connection: Option<redis::aio::MultiplexedConnection> = None;
    let mut ever_connected = false;
    let mut failures: u32 = 0;
    // Pattern subscriptions seen at the last connect; a reconnect waits for them.
    let mut pattern_subscriptions: i64 = 0;
    loop {
        let batch = peek_batch(&shared);
        if batch.is_empty() {
            if shared.closing.load(Ordering::Acquire) {
                shared.connected.send_replace(false);
                return;
            }
            shared.emptied.notify_waiters();
            shared.wake.notified().await;
            continue;
        }
        if shared.closing.load(Ordering::Acquire) && Arc::strong_count(&shared) == 1 {
            // Every handle is gone and nobody waits for a flush: give up, but say so.
            drop_all(&shared, "publisher dropped before redis accepted it");
            return;
        }

        let result = match connection.as_mut() {
            Some(connection) => send_batch(connection, &batch).await,
            None => match config.open(config.connection_config()).await {
                Ok(mut fresh) => {
                    shared.connected.send_replace(true);
                    let grace = shared.options.resubscribe_grace;
                    if ever_connected {
                        shared.reconnects.fetch_add(1, Ordering::Relaxed);
                        let back = wait_for_subscribers(
                            &mut fresh,
                            pattern_subscriptions,
                            Duration::ZERO,
                            grace,
                        )
                        .await;
                        tracing::info!(redis = %config.url(), queued = batch.len(), subscribers_back = back, "publisher reconnected; flushing the outbox");
                    } else if failures > 0 {
                        let back =
                            wait_for_subscribers(&mut fresh, 1, SUBSCRIBERS_SETTLE, grace).await;
                        tracing::info!(redis = %config.url(), queued = batch.len(), subscribers_back = back, "redis is reachable; flushing what waited in the outbox");
                    }
                    pattern_subscriptions = count_pattern_subscriptions(&mut fresh).await;
                    ever_connected = true;
                    let result = send_batch(&mut fresh, &batch).await;
                    connection = Some(fresh);
                    result
                }
                Err(err) => Err(err_to_redis(err)),
            },
        };

        match result {
            Ok(()) => {
                failures = 0;
                let last_sequence = batch.last().map_or(0, |(sequence, _, _)| *sequence);
                let removed = remove_sent(&shared, last_sequence);
                shared
                    .published
                    .fetch_add(removed as u64, Ordering::Relaxed);
            }
            Err(err) => {
                connection = None;
                shared.connected.send_replace(false);
                let delay = config.backoff.delay(failures);
                if failures == 0 {
                    tracing::warn!(redis = %config.url(), error = %err, queued = batch.len(), "cannot publish; holding messages in the outbox until redis is back");
                } else {
                    tracing::debug!(error = %err, attempt = failures + 1, "still cannot publish");
                }
                failures = failures.saturating_add(1);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

async fn count_pattern_subscriptions(connection: &mut redis::aio::MultiplexedConnection) -> i64 {
    redis::cmd("PUBSUB")
        .arg("NUMPAT")
        .query_async(connection)
        .await
        .unwrap_or(0)
}

/// Polls `PUBSUB NUMPAT` until it is at least `minimum` and has not changed for
/// `settle`, or until `grace` passes; returns whether the subscribers came back in time.
async fn wait_for_subscribers(
    connection: &mut redis::aio::MultiplexedConnection,
    minimum: i64,
    settle: Duration,
    grace: Duration,
) -> bool {
    let start = tokio::time::Instant::now();
    let deadline = start + grace;
    let (mut last_count, mut last_change) = (-1, start);
    loop {
        let now = tokio::time::Instant::now();
        let count = count_pattern_subscriptions(connection).await;
        if count != last_count {
            (last_count, last_change) = (count, now);
        }
        if count >= minimum && now.duration_since(last_change) >= settle {
            return true;
        }
        if now >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn err_to_redis(err: BusError) -> redis::RedisError {
    match err {
        BusError::Redis { cause, .. } => cause,
        other => redis::RedisError::from((redis::ErrorKind::Io, "connecting", other.to_string())),
    }
}

async fn send_batch(
    connection: &mut redis::aio::MultiplexedConnection,
    batch: &[(u64, Arc<str>, Bytes)],
) -> redis::RedisResult<()> {
    let mut pipeline = redis::pipe();
    for (_, channel, payload) in batch {
        pipeline
            .cmd("PUBLISH")
            .arg(&**channel)
            .arg(&payload[..])
            .ignore();
    }
    pipeline.exec_async(connection).await
}
