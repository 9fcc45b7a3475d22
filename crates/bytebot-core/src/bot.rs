//! `Bot`: a subscriber in a few lines. Patterns and an async handler in, replies out.
//!
//! ```no_run
//! use bytebot_core::bot::Bot;
//! use bytebot_core::bus::{BusConfig, RedisUrl};
//! use bytebot_core::envelope::{InboundMessage, OutboundMessage};
//!
//! # async fn demo() {
//! let config = BusConfig::new(RedisUrl::default(), "ping-bot");
//! Bot::new(config, ["inbound.*.*.*.*"])
//!     .run(
//!         |message: InboundMessage| async move {
//!             match message.content.trim() {
//!                 "!ping" => vec![OutboundMessage::reply_to(&message, "pong")],
//!                 _ => Vec::new(),
//!             }
//!         },
//!         bytebot_core::shutdown::signal(),
//!     )
//!     .await;
//! # }
//! ```
//!
//! What the loop does so that a handler does not have to:
//!
//! - **Decoding.** Each delivery goes through [`decode_inbound`]; one that fails (bad
//!   JSON, over the size limit, wrong version) is logged with its topic, counted and
//!   skipped. The next message is handled as usual.
//! - **Topic check.** A delivery whose channel is not its envelope's `topic` (say
//!   `inbound.discord.G.C*.U`, which a `*` pattern delivers but no gateway publishes
//!   on) is logged with both, counted and skipped: the envelope was not routed by its
//!   own address, so its `reply_topic` is not to be trusted either.
//! - **Loop guard.** Messages whose author is a bot are skipped unless
//!   [`Bot::answer_bots`] says otherwise: two bots answering each other would never stop.
//! - **Replies.** Each reply is published on the inbound envelope's `reply_topic` with
//!   `in_reply_to` set to its id. A reply with blank content is never published
//!   (platforms refuse them); it is counted and logged instead.
//! - **Concurrency with order.** Handlers run concurrently (up to
//!   [`BotOptions::max_in_flight`]), but the replies to messages from one room are
//!   published in the order the messages arrived: each handler's replies wait for the
//!   previous message of the same room to be answered. A slow `!roll` in one room never
//!   holds up another room, and never lets a later `!ping` overtake it in its own room.
//! - **Outages.** The [`Subscription`] re-subscribes after any Redis outage and the
//!   [`Publisher`] keeps replies in its outbox meanwhile.
//! - **Shutdown.** When the shutdown future resolves, no new delivery is taken; handlers
//!   in flight get [`BotOptions::shutdown_deadline`] to finish, and the publisher is
//!   flushed for up to [`BotOptions::flush_deadline`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinSet;

use crate::bus::{
    BusConfig, Delivery, OutboxOptions, Publisher, PublisherMonitor, SubscribeOptions,
    Subscription, SubscriptionMonitor,
};
use crate::envelope::{InboundMessage, MAX_PAYLOAD_BYTES, OutboundMessage, decode_inbound};
use crate::topic::{Platform, RoomId, Space};

/// Tuning for a [`Bot`]; the defaults suit a chat bot.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct BotOptions {
    /// Answer messages whose author is a bot (default `false`: the loop guard).
    pub answer_bots: bool,
    /// Handlers running at once; further deliveries wait in the subscription's bounded
    /// queue (default 64).
    pub max_in_flight: usize,
    /// How long one handler may run before it is abandoned, without replies (default
    /// 30 s). Bounds how long one stuck handler can hold up its room.
    pub handler_timeout: Duration,
    /// On shutdown, how long handlers in flight may take to finish (default 5 s).
    pub shutdown_deadline: Duration,
    /// On shutdown, how long to wait for Redis to accept queued replies (default 2 s).
    pub flush_deadline: Duration,
    /// Options of the underlying subscription.
    pub subscribe: SubscribeOptions,
    /// Options of the underlying publisher.
    pub outbox: OutboxOptions,
}

impl Default for BotOptions {
    fn default() -> BotOptions {
        BotOptions {
            answer_bots: false,
            max_in_flight: 64,
            handler_timeout: Duration::from_secs(30),
            shutdown_deadline: Duration::from_secs(5),
            flush_deadline: Duration::from_secs(2),
            subscribe: SubscribeOptions::default(),
            outbox: OutboxOptions::default(),
        }
    }
}

/// Counters of a bot, for logs, `/metrics` and tests. See [`BotCounters::snapshot`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BotStats {
    /// Deliveries taken from the subscription.
    pub received: u64,
    /// Deliveries that decoded into an inbound envelope.
    pub decoded: u64,
    /// Deliveries skipped because they did not decode (JSON, size, version).
    pub skipped_undecodable: u64,
    /// Deliveries skipped because their channel is not their envelope's `topic`.
    pub skipped_topic_mismatch: u64,
    /// Messages skipped because their author is a bot (the loop guard).
    pub skipped_bot_author: u64,
    /// Handlers that panicked or ran past [`BotOptions::handler_timeout`].
    pub handler_failures: u64,
    /// Replies handed to the publisher.
    pub replies: u64,
    /// Replies not published because their content was blank or the envelope was too
    /// large.
    pub replies_refused: u64,
    /// Handlers abandoned at shutdown because they outlived the deadline.
    pub abandoned_at_shutdown: u64,
}

/// Live counters of a running [`Bot`]; cheap to clone and read from anywhere.
#[derive(Debug, Clone, Default)]
pub struct BotCounters {
    inner: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    decoded: AtomicU64,
    skipped_undecodable: AtomicU64,
    skipped_topic_mismatch: AtomicU64,
    skipped_bot_author: AtomicU64,
    handler_failures: AtomicU64,
    replies: AtomicU64,
    replies_refused: AtomicU64,
    abandoned_at_shutdown: AtomicU64,
    /// The running bot's publisher and subscription, set when [`Bot::run`] starts.
    bus: std::sync::Mutex<Option<(PublisherMonitor, SubscriptionMonitor)>>,
}

impl BotCounters {
    /// The bot's publisher (its replies' outbox), once [`Bot::run`] has started it.
    pub fn publisher(&self) -> Option<PublisherMonitor> {
        let bus = self.inner.bus.lock().expect("bus monitors lock");
        bus.as_ref().map(|(publisher, _)| publisher.clone())
    }

    /// The bot's subscription, once [`Bot::run`] has started it (for `/readyz`: the
    /// bot is ready while its patterns are subscribed).
    pub fn subscription(&self) -> Option<SubscriptionMonitor> {
        let bus = self.inner.bus.lock().expect("bus monitors lock");
        bus.as_ref().map(|(_, subscription)| subscription.clone())
    }

    /// The counters as they are now.
    pub fn snapshot(&self) -> BotStats {
        let c = &self.inner;
        BotStats {
            received: c.received.load(Ordering::Relaxed),
            decoded: c.decoded.load(Ordering::Relaxed),
            skipped_undecodable: c.skipped_undecodable.load(Ordering::Relaxed),
            skipped_topic_mismatch: c.skipped_topic_mismatch.load(Ordering::Relaxed),
            skipped_bot_author: c.skipped_bot_author.load(Ordering::Relaxed),
            handler_failures: c.handler_failures.load(Ordering::Relaxed),
            replies: c.replies.load(Ordering::Relaxed),
            replies_refused: c.replies_refused.load(Ordering::Relaxed),
            abandoned_at_shutdown: c.abandoned_at_shutdown.load(Ordering::Relaxed),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A subscriber: where to connect, which patterns, and how it behaves. Call
/// [`Bot::run`] with a handler to start it.
#[derive(Debug, Clone)]
pub struct Bot {
    config: BusConfig,
    patterns: Vec<String>,
    options: BotOptions,
    counters: BotCounters,
}

impl Bot {
    /// A bot that PSUBSCRIBEs to `patterns` with `config`, with default options.
    pub fn new<P: Into<String>>(config: BusConfig, patterns: impl IntoIterator<Item = P>) -> Bot {
        Bot {
            config,
            patterns: patterns.into_iter().map(Into::into).collect(),
            options: BotOptions::default(),
            counters: BotCounters::default(),
        }
    }

    /// Replaces every option.
    pub fn options(mut self, options: BotOptions) -> Bot {
        self.options = options;
        self
    }

    /// Whether to answer messages written by bots (default `false`). Only turn this on
    /// for a bot that can never answer a bot's reply with another reply.
    pub fn answer_bots(mut self, answer: bool) -> Bot {
        self.options.answer_bots = answer;
        self
    }

    /// The live counters, to read while [`Bot::run`] runs (`/metrics`, tests).
    pub fn counters(&self) -> BotCounters {
        self.counters.clone()
    }

    /// Runs until `shutdown` resolves, then drains (see the module docs) and returns
    /// the final counters.
    ///
    /// Never fails: Redis being unreachable at start or later is logged and retried
    /// forever, because a bot that gives up stays deaf after Redis comes back.
    pub async fn run<H, F>(self, handler: H, shutdown: impl Future<Output = ()>) -> BotStats
    where
        H: Fn(InboundMessage) -> F + Send + Sync + 'static,
        F: Future<Output = Vec<OutboundMessage>> + Send + 'static,
    {
        let Bot {
            config,
            patterns,
            options,
            counters,
        } = self;
        let publisher = Publisher::start(config.clone(), options.outbox);
        let mut subscription =
            Subscription::start(config.clone(), patterns.clone(), options.subscribe);
        *counters.inner.bus.lock().expect("bus monitors lock") =
            Some((publisher.monitor(), subscription.monitor()));
        let mut connected = subscription.connected();
        let handler = Arc::new(handler);
        let in_flight = Arc::new(Semaphore::new(options.max_in_flight.max(1)));
        let mut rooms = RoomQueue::default();
        let mut handlers = JoinSet::new();
        let mut announced = false;
        tokio::pin!(shutdown);

        loop {
            tokio::select! {
                () = &mut shutdown => break,
                changed = connected.changed(), if !announced => {
                    if changed.is_ok() && *connected.borrow_and_update() {
                        tracing::info!(redis = %config.url(), patterns = ?patterns, "subscribed; answering messages");
                        announced = true;
                    }
                }
                Some(joined) = handlers.join_next(), if !handlers.is_empty() => {
                    if let Err(err) = joined {
                        bump(&counters.inner.handler_failures);
                        tracing::error!(error = %err, "a handler panicked; its message got no reply");
                    }
                }
                delivery = subscription.recv() => {
                    let Some(delivery) = delivery else { break };
                    bump(&counters.inner.received);
                    let Some(message) = accept(&delivery, &counters) else { continue };
                    if !wanted(&message, &delivery, options, &counters) {
                        continue;
                    }
                    // Backpressure: wait for a free slot, still listening for shutdown.
                    let permit = tokio::select! {
                        () = &mut shutdown => break,
                        permit = Arc::clone(&in_flight).acquire_owned() => permit.expect("the semaphore is never closed"),
                    };
                    let (previous, done) = rooms.enqueue(&message);
                    handlers.spawn(handle(HandleTask {
                        message,
                        handler: Arc::clone(&handler),
                        publisher: publisher.clone(),
                        counters: counters.clone(),
                        timeout: options.handler_timeout,
                        previous,
                        done,
                    }, permit));
                }
            }
        }

        // Stop taking deliveries: unsubscribe now, so Redis stops sending to us.
        drop(subscription);
        let in_flight = handlers.len();
        if in_flight > 0 {
            tracing::info!(in_flight, deadline = ?options.shutdown_deadline, "shutting down; waiting for handlers in flight");
        }
        let drained = tokio::time::timeout(options.shutdown_deadline, async {
            while let Some(joined) = handlers.join_next().await {
                if joined.is_err() {
                    bump(&counters.inner.handler_failures);
                }
            }
        })
        .await;
        if drained.is_err() {
            let abandoned = handlers.len() as u64;
            counters
                .inner
                .abandoned_at_shutdown
                .fetch_add(abandoned, Ordering::Relaxed);
            tracing::warn!(
                abandoned,
                "handlers still running at the shutdown deadline; abandoning them"
            );
            handlers.shutdown().await;
        }
        let lost = publisher.close(options.flush_deadline).await;
        if lost > 0 {
            tracing::warn!(lost, "replies not accepted by redis before shutdown");
        }
        counters.snapshot()
    }
}

/// Whether a delivery is a valid inbound message, routed by its own address: it
/// decodes, and its channel is its envelope's `topic`. `None` means skipped (logged and
/// counted).
fn accept(delivery: &Delivery, counters: &BotCounters) -> Option<InboundMessage> {
    let message = match decode_inbound(&delivery.payload) {
        Ok(message) => message,
        Err(err) => {
            bump(&counters.inner.skipped_undecodable);
            tracing::warn!(
                topic = %delivery.channel,
                error = %err,
                bytes = delivery.payload.len(),
                "skipping an undecodable message"
            );
            return None;
        }
    };
    bump(&counters.inner.decoded);
    if !message.topic.is_channel(&delivery.channel) {
        bump(&counters.inner.skipped_topic_mismatch);
        tracing::warn!(
            channel = %delivery.channel,
            topic = %message.topic,
            "skipping a message delivered on a channel that is not its topic"
        );
        return None;
    }
    Some(message)
}

/// Whether this bot answers a valid message at all: its own policy, after
/// [`accept`]. Today the loop guard; decisions on what a message is (kinds of events
/// the handler does not know) belong here too. `false` means skipped (and counted).
fn wanted(
    message: &InboundMessage,
    delivery: &Delivery,
    options: BotOptions,
    counters: &BotCounters,
) -> bool {
    if message.author.bot && !options.answer_bots {
        bump(&counters.inner.skipped_bot_author);
        tracing::debug!(topic = %delivery.channel, author = %message.author.name, "ignoring a bot's message");
        return false;
    }
    true
}

/// The room a message belongs to: replies within one room keep the messages' order.
type RoomKey = (Platform, Space, RoomId);

/// Per-room sequencing: each message gets the "done" signal of the previous message
/// of its room to wait for, and a "done" signal of its own for the next.
#[derive(Debug, Default)]
struct RoomQueue {
    last: HashMap<RoomKey, oneshot::Receiver<()>>,
}

impl RoomQueue {
    /// Past this many rooms, finished entries are pruned on the next enqueue.
    const PRUNE_AT: usize = 1024;

    fn enqueue(
        &mut self,
        message: &InboundMessage,
    ) -> (Option<oneshot::Receiver<()>>, oneshot::Sender<()>) {
        if self.last.len() >= Self::PRUNE_AT {
            // A receiver whose sender finished (or dropped) holds nobody up any more.
            self.last.retain(|_, done| {
                matches!(done.try_recv(), Err(oneshot::error::TryRecvError::Empty))
            });
        }
        let topic = &message.topic;
        let key = (
            topic.platform().clone(),
            topic.space().clone(),
            topic.room().clone(),
        );
        let (done, next) = oneshot::channel();
        let previous = self.last.insert(key, next);
        (previous, done)
    }
}

struct HandleTask<H> {
    message: InboundMessage,
    handler: Arc<H>,
    publisher: Publisher,
    counters: BotCounters,
    timeout: Duration,
    /// Resolves when the previous message of the same room has been answered.
    previous: Option<oneshot::Receiver<()>>,
    /// Fired (or dropped, if this task panics) once this message has been answered.
    done: oneshot::Sender<()>,
}

async fn handle<H, F>(task: HandleTask<H>, _permit: tokio::sync::OwnedSemaphorePermit)
where
    H: Fn(InboundMessage) -> F,
    F: Future<Output = Vec<OutboundMessage>>,
{
    let HandleTask {
        message,
        handler,
        publisher,
        counters,
        timeout,
        previous,
        done,
    } = task;
    let inbound_id = message.id;
    // Formatted once: replies are published on it, and the warnings below name it (it
    // is the message's own address, direction `outbound`), since `handler` takes the
    // message.
    let reply_topic = message.reply_topic.to_string();
    let replies = match tokio::time::timeout(timeout, handler(message)).await {
        Ok(replies) => replies,
        Err(_) => {
            bump(&counters.inner.handler_failures);
            tracing::warn!(%reply_topic, ?timeout, "a handler ran out of time; its message gets no reply");
            Vec::new()
        }
    };
    if let Some(previous) = previous {
        // Err only means the previous task ended without signalling (it panicked).
        let _ = previous.await;
    }
    for mut reply in replies {
        if reply.content.trim().is_empty() {
            bump(&counters.inner.replies_refused);
            tracing::warn!(%reply_topic, "a handler returned a reply with blank content; not publishing it");
            continue;
        }
        reply.in_reply_to.get_or_insert(inbound_id);
        let payload = reply.encode();
        if payload.len() > MAX_PAYLOAD_BYTES {
            bump(&counters.inner.replies_refused);
            tracing::warn!(%reply_topic, bytes = payload.len(), limit = MAX_PAYLOAD_BYTES, "a reply is over the size limit; not publishing it");
            continue;
        }
        bump(&counters.inner.replies);
        publisher.publish(reply_topic.as_str(), payload);
    }
    let _ = done.send(());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Author;
    use crate::topic::{Direction, Topic};

    fn message(room: &str) -> InboundMessage {
        let topic = Topic::builder(Direction::Inbound, "console")
            .space("local")
            .room(room)
            .user("alice")
            .build()
            .unwrap();
        InboundMessage::new(topic, "1", Author::new("alice", "alice"), "!ping")
    }

    /// The second message of a room waits for the first; another room does not.
    #[test]
    fn room_queue_chains_messages_of_one_room_only() {
        let mut rooms = RoomQueue::default();
        let (first_previous, first_done) = rooms.enqueue(&message("a"));
        assert!(first_previous.is_none());
        let (second_previous, _second_done) = rooms.enqueue(&message("a"));
        let (other_previous, _) = rooms.enqueue(&message("b"));
        assert!(other_previous.is_none());
        let mut second_previous = second_previous.expect("chained to the first");
        assert!(second_previous.try_recv().is_err());
        first_done.send(()).unwrap();
        assert!(second_previous.try_recv().is_ok());
    }

    /// Rooms seen once must not accumulate forever.
    #[test]
    fn room_queue_prunes_finished_rooms() {
        let mut rooms = RoomQueue::default();
        for n in 0..RoomQueue::PRUNE_AT * 3 {
            let (_, done) = rooms.enqueue(&message(&n.to_string()));
            drop(done);
        }
        assert!(
            rooms.last.len() <= RoomQueue::PRUNE_AT + 1,
            "{}",
            rooms.last.len()
        );
    }
}
