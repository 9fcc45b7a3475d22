//! Redis -> Discord: read `outbound.discord.*`, send each message to its channel, and
//! publish a delivery receipt.
//!
//! One dispatcher reads the subscription. Bad input (a topic that does not parse, a
//! payload that is not an outbound envelope) is logged with its topic, counted and
//! skipped: nothing a publisher sends can stop the gateway.
//!
//! Ordering: each Discord channel gets its own worker task fed by a bounded queue, so
//! messages to one channel are sent one after the other in publish order while
//! different channels proceed concurrently (and a slow or rate-limited channel does not
//! hold up the others). Workers are created on demand and retired when idle. Memory is
//! bounded by [`Limits`]: a message that does not fit is dropped, counted, and answered
//! with a failed receipt.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytebot_core::bus::{Delivery, Publisher, Subscription};
use bytebot_core::envelope::{OutboundMessage, decode_outbound};
use bytebot_core::pattern::Pattern;
use bytebot_core::receipt::{DeliveryError, DeliveryReceipt};
use bytebot_core::{Direction, Platform, Topic};
use bytebot_daemon::metrics::Histogram;
use serenity::all::{ChannelId, CreateMessage, Http, HttpError};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::GatewayCounters;
use crate::convert::{self, outbound_channel, outbound_requests};

/// Bounds on the outbound side's memory and idle tasks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Messages queued for one channel before new ones for it are dropped.
    pub(crate) per_channel_queue: usize,
    /// Messages queued across all channels before new ones are dropped.
    pub(crate) total_queued: usize,
    /// Channels with a live worker at once.
    pub(crate) max_channels: usize,
    /// How long a worker with nothing to do lives on.
    pub(crate) idle_after: Duration,
    /// The longest one Discord request may take (rate-limit waits included).
    pub(crate) send_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            per_channel_queue: 1024,
            total_queued: 10_000,
            max_channels: 1024,
            idle_after: Duration::from_secs(60),
            send_timeout: Duration::from_secs(60),
        }
    }
}

/// What the dispatcher hands a worker.
struct Job {
    /// The outbound topic, for logs.
    topic: Topic,
    message: OutboundMessage,
    requests: Vec<CreateMessage>,
}

/// A channel's worker as the dispatcher sees it.
struct Worker {
    sender: mpsc::Sender<Job>,
    /// Jobs handed to the worker and not finished yet. Only the dispatcher increments
    /// it, so at 0 the worker is idle and has nothing queued: safe to retire.
    pending: Arc<AtomicUsize>,
    last_used: Instant,
}

/// Everything a worker needs, shared.
struct Shared {
    http: Arc<Http>,
    publisher: Publisher,
    counters: GatewayCounters,
    limits: Limits,
    /// How long each Discord request took (`bytebot_send_duration_seconds`).
    send_duration: Histogram,
    /// Jobs queued or in progress across all channels.
    total_pending: AtomicUsize,
}

/// What the outbound side needs from `crate::run`.
pub(crate) struct Outbound {
    /// The `outbound.discord.*.*.*` subscription; dropped first on shutdown.
    pub(crate) subscription: Subscription,
    /// Serenity's REST client (rate-limited, or pointed at a proxy).
    pub(crate) http: Arc<Http>,
    /// Where receipts go.
    pub(crate) publisher: Publisher,
    pub(crate) counters: GatewayCounters,
    /// The operator's `--allow-mass-mentions`.
    pub(crate) allow_mass_mentions: bool,
    pub(crate) limits: Limits,
    /// On shutdown, how long the workers get to finish what they hold.
    pub(crate) drain_timeout: Duration,
    /// Where each Discord request's duration is recorded.
    pub(crate) send_duration: Histogram,
}

/// Runs until `stop` turns true, then stops reading Redis and lets the workers finish
/// what they have within the drain timeout.
pub(crate) async fn run(outbound: Outbound, mut stop: watch::Receiver<bool>) {
    let Outbound {
        mut subscription,
        http,
        publisher,
        counters,
        allow_mass_mentions,
        limits,
        drain_timeout,
        send_duration,
    } = outbound;
    let shared = Arc::new(Shared {
        http,
        publisher,
        counters,
        limits,
        send_duration,
        total_pending: AtomicUsize::new(0),
    });
    let mut workers: HashMap<ChannelId, Worker> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut sweep = tokio::time::interval(limits.idle_after.min(Duration::from_secs(10)));
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => break,
            delivery = subscription.recv() => {
                let Some(delivery) = delivery else { break };
                dispatch(delivery, &shared, &mut workers, &mut tasks, allow_mass_mentions);
            }
            _ = sweep.tick() => {
                retire_idle(&mut workers, limits.idle_after);
                // Reap finished workers so the set does not grow.
                while tasks.try_join_next().is_some() {}
            }
        }
    }

    // Stop reading Redis first, then let each worker drain its queue.
    drop(subscription);
    drop(workers);
    let in_flight = shared.total_pending.load(Ordering::Relaxed);
    if in_flight > 0 {
        tracing::info!(in_flight, timeout = ?drain_timeout, "finishing outbound messages before exiting");
    }
    let drained = tokio::time::timeout(drain_timeout, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        let abandoned = shared.total_pending.load(Ordering::Relaxed);
        tracing::warn!(
            abandoned,
            "shutdown deadline reached; abandoning unsent outbound messages"
        );
        tasks.shutdown().await;
    }
}

/// Validates one delivery and queues it for its channel's worker.
fn dispatch(
    delivery: Delivery,
    shared: &Arc<Shared>,
    workers: &mut HashMap<ChannelId, Worker>,
    tasks: &mut JoinSet<()>,
    allow_mass_mentions: bool,
) {
    let counters = &shared.counters;
    counters.add(|c| &c.outbound_received);
    let topic_text = delivery.channel;
    let topic = match topic_text.parse::<Topic>() {
        Ok(topic) => topic,
        Err(err) => {
            tracing::warn!(topic = %topic_text, error = %err, "skipping outbound message: malformed topic");
            counters.add(|c| &c.outbound_malformed);
            return;
        }
    };
    let channel_id = match outbound_channel(&topic) {
        Ok(channel_id) => channel_id,
        Err(err) => {
            tracing::warn!(%topic, error = %err, "skipping outbound message: bad topic");
            counters.add(|c| &c.outbound_malformed);
            return;
        }
    };
    let prepared = decode_outbound(&delivery.payload)
        .map_err(|err| format!("{err:#}"))
        .and_then(|message| {
            outbound_requests(&message, channel_id, allow_mass_mentions)
                .map(|requests| (message, requests))
                .map_err(|err| err.to_string())
        });
    let (message, requests) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            tracing::warn!(%topic, error = %error, "skipping outbound message: invalid payload");
            counters.add(|c| &c.outbound_malformed);
            publish_receipt(
                shared,
                &topic,
                &DeliveryReceipt::failed(
                    None,
                    Vec::new(),
                    local_error(format!("invalid outbound envelope: {error}")),
                ),
            );
            return;
        }
    };
    let job = Job {
        topic,
        message,
        requests,
    };

    if shared.total_pending.load(Ordering::Relaxed) >= shared.limits.total_queued {
        return refuse(shared, job, "the gateway's outbound queue is full");
    }
    if !workers.contains_key(&channel_id) && workers.len() >= shared.limits.max_channels {
        retire_idle(workers, Duration::ZERO);
        if workers.len() >= shared.limits.max_channels {
            return refuse(shared, job, "too many channels busy at once");
        }
    }
    let worker = workers.entry(channel_id).or_insert_with(|| {
        let (sender, receiver) = mpsc::channel(shared.limits.per_channel_queue.max(1));
        let pending = Arc::new(AtomicUsize::new(0));
        tasks.spawn(work(
            channel_id,
            receiver,
            Arc::clone(&pending),
            Arc::clone(shared),
        ));
        Worker {
            sender,
            pending,
            last_used: Instant::now(),
        }
    });
    worker.last_used = Instant::now();
    worker.pending.fetch_add(1, Ordering::AcqRel);
    shared.total_pending.fetch_add(1, Ordering::AcqRel);
    if let Err(err) = worker.sender.try_send(job) {
        worker.pending.fetch_sub(1, Ordering::AcqRel);
        shared.total_pending.fetch_sub(1, Ordering::AcqRel);
        let job = match err {
            mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job) => job,
        };
        refuse(shared, job, "this channel's outbound queue is full");
    }
}

/// Drops a message the gateway has no room for: logged, counted, failed receipt.
fn refuse(shared: &Shared, job: Job, reason: &str) {
    tracing::warn!(topic = %job.topic, reason, "dropping outbound message");
    shared.counters.add(|c| &c.outbound_dropped);
    publish_receipt(
        shared,
        &job.topic,
        &DeliveryReceipt::failed(
            job.message.in_reply_to,
            Vec::new(),
            local_error(reason.to_owned()),
        ),
    );
}

/// Retires workers with nothing queued or in progress that have been idle for `idle_after`.
/// Dropping the sender ends the worker's loop.
fn retire_idle(workers: &mut HashMap<ChannelId, Worker>, idle_after: Duration) {
    workers.retain(|_, worker| {
        worker.pending.load(Ordering::Acquire) > 0 || worker.last_used.elapsed() < idle_after
    });
}

/// One channel's worker: sends its jobs in order until its sender is dropped.
async fn work(
    channel_id: ChannelId,
    mut jobs: mpsc::Receiver<Job>,
    pending: Arc<AtomicUsize>,
    shared: Arc<Shared>,
) {
    while let Some(job) = jobs.recv().await {
        send(channel_id, job, &shared).await;
        pending.fetch_sub(1, Ordering::AcqRel);
        shared.total_pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Sends every part of one message, stopping at the first failure, then publishes the
/// receipt.
async fn send(channel_id: ChannelId, job: Job, shared: &Shared) {
    let Job {
        topic,
        message,
        requests,
    } = job;
    let n_parts = requests.len();
    let mut message_ids = Vec::with_capacity(n_parts);
    let mut failure = None;
    for request in requests {
        let started = Instant::now();
        let sent = tokio::time::timeout(
            shared.limits.send_timeout,
            channel_id.send_message(shared.http.as_ref(), request),
        )
        .await;
        shared.send_duration.record(started.elapsed().as_secs_f64());
        match sent {
            Ok(Ok(sent)) => message_ids.push(sent.id.to_string()),
            Ok(Err(err)) => {
                failure = Some(discord_error(&err));
                break;
            }
            Err(_) => {
                failure = Some(local_error(format!(
                    "discord did not answer within {:?}",
                    shared.limits.send_timeout
                )));
                break;
            }
        }
    }
    let receipt = match failure {
        None => {
            tracing::debug!(%topic, n_parts, "sent outbound message");
            shared.counters.add(|c| &c.outbound_sent);
            DeliveryReceipt::delivered(message.in_reply_to, message_ids)
        }
        Some(error) => {
            tracing::warn!(
                %topic,
                code = error.code,
                status = error.status,
                error = %error.message,
                n_sent = message_ids.len(),
                n_parts,
                "discord refused an outbound message"
            );
            shared.counters.add(|c| &c.outbound_failed);
            DeliveryReceipt::failed(message.in_reply_to, message_ids, error)
        }
    };
    publish_receipt(shared, &topic, &receipt);
}

fn publish_receipt(shared: &Shared, outbound_topic: &Topic, receipt: &DeliveryReceipt) {
    let topic = outbound_topic.with_direction(Direction::Receipt);
    shared
        .publisher
        .publish(topic.to_string(), receipt.encode());
}

fn local_error(message: String) -> DeliveryError {
    DeliveryError {
        code: None,
        message,
        status: None,
    }
}

/// Discord's code, message and HTTP status when Discord answered with an error;
/// otherwise the error's text (network failure, refused by serenity before sending).
fn discord_error(err: &serenity::Error) -> DeliveryError {
    match err {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => DeliveryError {
            code: i64::try_from(response.error.code).ok(),
            message: response.error.message.clone(),
            status: Some(response.status_code.as_u16()),
        },
        other => local_error(other.to_string()),
    }
}

/// The pattern the gateway subscribes to: every outbound topic of this platform
/// (`outbound.discord.*.*.*`).
pub(crate) fn pattern() -> Pattern {
    let platform = Platform::new(convert::PLATFORM).expect("`discord` is a valid platform name");
    Pattern::outbound_platform(&platform)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytebot_core::Space;
    use bytebot_core::bus::{BusConfig, OutboxOptions, RedisUrl, SubscribeOptions};
    use bytebot_core::receipt::decode_receipt;
    use bytebot_test_support::{FakeDiscord, RedisServer, wait_until};
    use serenity::all::HttpBuilder;

    const PATIENCE: Duration = Duration::from_secs(20);

    fn worker(pending: usize, idle_for: Duration) -> Worker {
        let (sender, _) = mpsc::channel(1);
        Worker {
            sender,
            pending: Arc::new(AtomicUsize::new(pending)),
            last_used: Instant::now() - idle_for,
        }
    }

    /// The gateway hears every outbound Discord topic and nothing else: not inbound
    /// messages, not its own receipts, not other platforms.
    #[test]
    fn the_subscription_pattern_is_every_outbound_discord_topic() {
        let topic = |direction: Direction, platform: &str| {
            Topic::builder(direction, platform)
                .space(Space::id("G1"))
                .room("C1")
                .user("U1")
                .build()
                .unwrap()
        };
        let pattern = pattern();
        assert_eq!(pattern.as_str(), "outbound.discord.*.*.*");
        assert!(pattern.matches_topic(&topic(Direction::Outbound, "discord")));
        assert!(!pattern.matches_topic(&topic(Direction::Inbound, "discord")));
        assert!(!pattern.matches_topic(&topic(Direction::Receipt, "discord")));
        assert!(!pattern.matches_topic(&topic(Direction::Outbound, "discord2")));
        assert_eq!(pattern.lint(), Vec::new());
    }

    /// Idle channels must not keep a task each forever; busy ones must never be cut off
    /// (their queue would be lost, or a new worker would race the old one).
    #[tokio::test]
    async fn only_idle_workers_are_retired() {
        let mut workers = HashMap::from([
            (ChannelId::new(1), worker(0, Duration::from_secs(120))),
            (ChannelId::new(2), worker(1, Duration::from_secs(120))),
            (ChannelId::new(3), worker(0, Duration::from_secs(1))),
        ]);
        retire_idle(&mut workers, Duration::from_secs(60));
        let mut kept: Vec<u64> = workers.keys().map(|id| id.get()).collect();
        kept.sort_unstable();
        assert_eq!(kept, [2, 3]);
    }

    /// A flooded channel loses its own overflow (counted, with a failed receipt) instead
    /// of growing memory or holding up other channels.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_channel_queue_drops_with_a_failed_receipt() {
        let redis = RedisServer::start().await;
        let discord = FakeDiscord::start().await;
        discord.delay_posts(Duration::from_millis(500));
        let bus = BusConfig::new(RedisUrl::parse(&redis.url()).unwrap(), "test");
        let publisher = Publisher::start(bus.clone(), OutboxOptions::default());
        let subscription =
            Subscription::start(bus.clone(), vec![pattern()], SubscribeOptions::default());
        subscription.wait_connected(PATIENCE).await.unwrap();
        let receipts = Subscription::start(
            bus,
            vec![Pattern::parse_raw("receipt.discord.*")],
            SubscribeOptions::default(),
        );
        receipts.wait_connected(PATIENCE).await.unwrap();
        let counters = GatewayCounters::default();
        let http = HttpBuilder::new("token")
            .proxy(discord.api_url())
            .ratelimiter_disabled(true)
            .build();
        let (stop, stop_receiver) = watch::channel(false);
        let task = tokio::spawn(run(
            Outbound {
                subscription,
                http: Arc::new(http),
                publisher,
                counters: counters.clone(),
                allow_mass_mentions: false,
                limits: Limits {
                    per_channel_queue: 1,
                    ..Limits::default()
                },
                drain_timeout: PATIENCE,
                send_duration: Histogram::noop(),
            },
            stop_receiver,
        ));

        let mut connection = redis.connection().await;
        let topic = "outbound.discord.1.42.7";
        // The first goes in flight as soon as it is read; publish the rest meanwhile.
        let _: () = redis::cmd("PUBLISH")
            .arg(topic)
            .arg("\"0\"")
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(wait_until(PATIENCE, || !discord.requests().is_empty()).await);
        let mut pipeline = redis::pipe();
        for i in 1..5 {
            pipeline
                .cmd("PUBLISH")
                .arg(topic)
                .arg(format!("\"{i}\""))
                .ignore();
        }
        let _: () = pipeline.query_async(&mut connection).await.unwrap();

        assert!(wait_until(PATIENCE, || counters.stats().outbound_dropped == 3).await);
        assert!(wait_until(PATIENCE, || discord.posted_in(42).len() == 2).await);
        let sent: Vec<String> = discord
            .posted_in(42)
            .iter()
            .map(|posted| posted.content().to_owned())
            .collect();
        assert_eq!(sent, ["0", "1"]);
        let mut receipts = receipts;
        let mut n_refused = 0;
        for _ in 0..5 {
            let delivery = tokio::time::timeout(PATIENCE, receipts.recv())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(delivery.channel, "receipt.discord.1.42.7");
            let receipt = decode_receipt(&delivery.payload).unwrap();
            if !receipt.ok {
                n_refused += 1;
                assert!(receipt.error.unwrap().message.contains("queue is full"));
            }
        }
        assert_eq!(n_refused, 3);
        stop.send_replace(true);
        task.await.unwrap();
    }
}
