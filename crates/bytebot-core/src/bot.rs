//! `Bot`: a subscriber in a few lines. Patterns and an async handler in, replies out.
//!
//! ```no_run
//! use bytebot_core::bot::Bot;
//! use bytebot_core::bus::{BusConfig, RedisUrl};
//! use bytebot_core::envelope::{InboundMessage, OutboundMessage};
//! use bytebot_core::pattern::Pattern;
//!
//! # async fn demo() {
//! let config = BusConfig::new(RedisUrl::default(), "ping-bot");
//! Bot::new(config, [Pattern::all_inbound()])
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
//! - **Kinds.** The handler gets only the [`InboundKind`]s it asked for with
//!   [`Bot::kinds`]: by default only [`InboundKind::Message`], so a handler written for
//!   new messages never answers an edit of `!ping` as a second `!ping`. Every other
//!   kind (including [`InboundKind::Unknown`], one added by a newer gateway) is skipped
//!   and counted ([`BotStats::skipped_kind`]).
//! - **Loop guard.** Messages whose author is a bot are skipped unless
//!   [`Bot::answer_bots`] says otherwise: two bots answering each other would never stop.
//! - **Replica groups.** In a group ([`Bot::group`]), each message is claimed in Redis
//!   before its handler runs; a message another replica claimed is skipped and counted
//!   (protocol in [`crate::group`]).
//! - **Replies.** Each reply (any [`OutboundAction`](crate::envelope::OutboundAction):
//!   a send, an edit, a reaction...) is published on the inbound envelope's
//!   `reply_topic` with `in_reply_to` set to its id. A reply that fails
//!   [`OutboundMessage::validate`] (a send with blank content, which platforms refuse;
//!   a reaction without an emoji...) is never published; it is counted and logged
//!   instead.
//! - **Receipts.** With [`Bot::on_receipt`], the bot also subscribes to the receipt
//!   form of its patterns ([`Pattern::with_direction`]) in the same PSUBSCRIBE, and
//!   hands the receipt handler the [`DeliveryReceipt`](crate::receipt::DeliveryReceipt)s
//!   of its *own* replies, matched by `in_reply_to`, address and action (the round
//!   trip: reply, receipt, edit). Other receipts (another bot's replies) are skipped
//!   and counted. A reply waits for its receipt 5 minutes at most, and at most 10 000
//!   replies wait at once: bounded memory even when no gateway answers.
//! - **Order within a room, concurrency across rooms.** Each room (platform, space,
//!   room) has its own worker: a task and a bounded queue, created on demand and
//!   retired when idle. A worker runs its room's handlers one at a time, in the order
//!   the messages arrived, and publishes each message's replies before it starts the
//!   next, so a slow `!roll` never lets a later `!ping` overtake it. Receipts go
//!   through their room's queue too. Workers of
//!   different rooms run concurrently, up to [`BotOptions::max_in_flight`] handlers at
//!   once; a worker holds one of those slots only while its handler runs, so a room
//!   stuck in a slow handler holds up its own queue and nothing else.
//! - **Bounded memory.** A room queues at most [`BotOptions::room_queue`] messages
//!   behind the one being answered; past that its newest messages are dropped, logged
//!   and counted ([`BotStats::dropped_room_queue_full`]). All rooms together hold at
//!   most [`BotOptions::max_queued`] messages; at that bound the bot stops reading
//!   until one is answered, and further deliveries wait in (or, once it is full, are
//!   dropped from) the subscription's bounded queue.
//! - **Failures.** A handler that panics or runs past [`BotOptions::handler_timeout`]
//!   costs its own message only: counted, logged, no reply, and its room goes on with
//!   the next message.
//! - **Outages.** The [`Subscription`] re-subscribes after any Redis outage and the
//!   [`Publisher`] keeps replies in its outbox meanwhile.
//! - **Shutdown.** When the shutdown future resolves, the bot unsubscribes and takes no
//!   new delivery; the messages already taken (running or queued in their rooms) get
//!   [`BotOptions::shutdown_deadline`] to be answered, what is left then is cancelled
//!   and counted, and the publisher is flushed for up to [`BotOptions::flush_deadline`].

mod receipts;
mod rooms;

pub use receipts::Receipt;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::bus::{
    BusConfig, Delivery, DropCounter, OutboxOptions, Publisher, PublisherCounters,
    SubscribeOptions, Subscription, SubscriptionCounters,
};
use crate::envelope::{InboundKind, InboundMessage, OutboundMessage, decode_inbound};
use crate::group::{ClaimCounters, ClaimStats, Claimer, GroupName};
use crate::pattern::Pattern;
use crate::receipt::decode_receipt;
use crate::topic::Direction;
use receipts::{ReceiptHandler, Waiting};

/// Tuning for a [`Bot`]; the defaults suit a chat bot.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct BotOptions {
    /// Answer messages whose author is a bot (default `false`: the loop guard).
    pub answer_bots: bool,
    /// Handlers running at once, across rooms (default 64). A room runs one handler
    /// at a time; further rooms with a message wait for a slot.
    pub max_in_flight: usize,
    /// Messages one room may queue behind the one being answered (default 256). Past
    /// that, the room's newest messages are dropped, logged and counted
    /// ([`BotStats::dropped_room_queue_full`]): a stuck room cannot take the whole
    /// [`BotOptions::max_queued`] budget.
    pub room_queue: usize,
    /// Messages taken from the subscription and not answered yet, all rooms together
    /// (default 4096). At this bound the bot stops reading until one is answered;
    /// deliveries wait in the subscription's bounded queue meanwhile.
    pub max_queued: usize,
    /// How long one handler may run before it is abandoned, without replies (default
    /// 30 s). Bounds how long one stuck handler can hold up its room.
    pub handler_timeout: Duration,
    /// On shutdown, how long the messages already taken (running or queued) may take
    /// to be answered (default 5 s).
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
            room_queue: 256,
            max_queued: 4096,
            handler_timeout: Duration::from_secs(30),
            shutdown_deadline: Duration::from_secs(5),
            flush_deadline: Duration::from_secs(2),
            subscribe: SubscribeOptions::default(),
            outbox: OutboxOptions::default(),
        }
    }
}

/// A bot's counters at one moment: a plain copy, read from [`BotCounters::stats`] (and
/// returned by [`Bot::run`]), for logs, `/metrics` and tests.
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
    /// Envelopes skipped because the handler does not take their kind ([`Bot::kinds`]).
    pub skipped_kind: u64,
    /// Receipts of the bot's own replies handed to its receipt handler
    /// ([`Bot::on_receipt`]).
    pub receipts: u64,
    /// Receipts skipped because they are about no reply this bot is waiting for:
    /// another subscriber's replies, or one forgotten after waiting too long.
    pub skipped_receipt_not_ours: u64,
    /// Handlers that panicked or ran past [`BotOptions::handler_timeout`].
    pub handler_failures: u64,
    /// Replies handed to the publisher.
    pub replies: u64,
    /// Replies not published because they failed [`OutboundMessage::validate`] (blank
    /// content, a missing `message_id` or `emoji`) or the envelope was too large.
    pub replies_refused: u64,
    /// Messages dropped because their room's queue was full
    /// ([`BotOptions::room_queue`]).
    pub dropped_room_queue_full: u64,
    /// Messages not answered by the shutdown deadline (handlers running or messages
    /// queued in their rooms), cancelled.
    pub abandoned_at_shutdown: u64,
}

/// The live counters of a [`Bot`] (from [`Bot::counters`]): cheap to clone, read with
/// [`BotCounters::stats`] from anywhere while the bot runs. They also hand out the
/// counters of the bot's publisher and subscription once it has started.
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
    skipped_kind: AtomicU64,
    receipts: AtomicU64,
    skipped_receipt_not_ours: AtomicU64,
    handler_failures: AtomicU64,
    replies: AtomicU64,
    replies_refused: AtomicU64,
    dropped_room_queue_full: RoomQueueDrops,
    abandoned_at_shutdown: AtomicU64,
    /// Claims in a replica group ([`Bot::group`]); zero outside one.
    claims: ClaimCounters,
    /// The running bot's publisher and subscription, set when [`Bot::run`] starts.
    bus: std::sync::Mutex<Option<(PublisherCounters, SubscriptionCounters)>>,
}

impl BotCounters {
    /// The bot's publisher (its replies' outbox), once [`Bot::run`] has started it.
    pub fn publisher(&self) -> Option<PublisherCounters> {
        let bus = self.inner.bus.lock().expect("bus counters lock");
        bus.as_ref().map(|(publisher, _)| publisher.clone())
    }

    /// The bot's subscription, once [`Bot::run`] has started it (for `/readyz`: the
    /// bot is ready while its patterns are subscribed).
    pub fn subscription(&self) -> Option<SubscriptionCounters> {
        let bus = self.inner.bus.lock().expect("bus counters lock");
        bus.as_ref().map(|(_, subscription)| subscription.clone())
    }

    /// The counters of the claims made in a replica group ([`Bot::group`]): won
    /// (handled here), lost (another replica has it) and failed. Zero outside a group.
    pub fn claims(&self) -> ClaimStats {
        self.inner.claims.stats()
    }

    /// The counters now.
    pub fn stats(&self) -> BotStats {
        let c = &self.inner;
        BotStats {
            received: c.received.load(Ordering::Relaxed),
            decoded: c.decoded.load(Ordering::Relaxed),
            skipped_undecodable: c.skipped_undecodable.load(Ordering::Relaxed),
            skipped_topic_mismatch: c.skipped_topic_mismatch.load(Ordering::Relaxed),
            skipped_bot_author: c.skipped_bot_author.load(Ordering::Relaxed),
            skipped_kind: c.skipped_kind.load(Ordering::Relaxed),
            receipts: c.receipts.load(Ordering::Relaxed),
            skipped_receipt_not_ours: c.skipped_receipt_not_ours.load(Ordering::Relaxed),
            handler_failures: c.handler_failures.load(Ordering::Relaxed),
            replies: c.replies.load(Ordering::Relaxed),
            replies_refused: c.replies_refused.load(Ordering::Relaxed),
            dropped_room_queue_full: c.dropped_room_queue_full.total(),
            abandoned_at_shutdown: c.abandoned_at_shutdown.load(Ordering::Relaxed),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Room-queue drops, logged without flooding (the first, then one summary a second).
#[derive(Debug)]
struct RoomQueueDrops(DropCounter);

impl Default for RoomQueueDrops {
    fn default() -> RoomQueueDrops {
        RoomQueueDrops(DropCounter::new("bot room queue"))
    }
}

impl std::ops::Deref for RoomQueueDrops {
    type Target = DropCounter;

    fn deref(&self) -> &DropCounter {
        &self.0
    }
}

/// A subscriber: where to connect, which patterns, and how it behaves. Call
/// [`Bot::run`] with a handler to start it.
#[derive(Debug, Clone)]
pub struct Bot {
    config: BusConfig,
    patterns: Vec<Pattern>,
    /// The inbound kinds the handler gets; the others are skipped and counted.
    kinds: Vec<InboundKind>,
    /// Set by [`Bot::on_receipt`]: the bot then also subscribes to its receipts.
    on_receipt: Option<ReceiptHandler>,
    options: BotOptions,
    counters: BotCounters,
    group: Option<GroupName>,
}

impl Bot {
    /// A bot that PSUBSCRIBEs to `patterns` with `config`, with default options.
    ///
    /// See [`Subscription::start`] for where patterns come from.
    pub fn new(config: BusConfig, patterns: impl IntoIterator<Item = Pattern>) -> Bot {
        Bot {
            config,
            patterns: patterns.into_iter().collect(),
            kinds: vec![InboundKind::Message],
            on_receipt: None,
            options: BotOptions::default(),
            counters: BotCounters::default(),
            group: None,
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

    /// Which inbound kinds the handler gets (default: only [`InboundKind::Message`]).
    /// Envelopes of every other kind are skipped before the handler, and counted
    /// ([`BotStats::skipped_kind`]). Ask for [`InboundKind::MessageEdited`] and the
    /// others only with a handler that checks `message.kind`; asking for
    /// [`InboundKind::Unknown`] hands it the kinds added by gateways newer than this
    /// build, too.
    ///
    /// ```
    /// # use bytebot_core::bot::Bot;
    /// # use bytebot_core::bus::{BusConfig, RedisUrl};
    /// # use bytebot_core::envelope::InboundKind;
    /// # use bytebot_core::pattern::Pattern;
    /// let bot = Bot::new(BusConfig::new(RedisUrl::default(), "my-bot"), [Pattern::all_inbound()])
    ///     .kinds([InboundKind::Message, InboundKind::MessageEdited, InboundKind::MessageDeleted]);
    /// ```
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = InboundKind>) -> Bot {
        self.kinds = kinds.into_iter().collect();
        self
    }

    /// Hands `handler` the delivery receipts of this bot's own replies: whether each
    /// reached the chat and, for a send, the platform ids of the messages it became.
    /// What the handler returns is published where the reply went (and its own
    /// receipts come back to the handler too): that is how a bot edits or deletes what
    /// it sent. See the module docs for how receipts are matched.
    ///
    /// ```no_run
    /// # use bytebot_core::bot::{Bot, Receipt};
    /// # use bytebot_core::bus::{BusConfig, RedisUrl};
    /// # use bytebot_core::envelope::{InboundMessage, OutboundAction, OutboundMessage};
    /// # use bytebot_core::pattern::Pattern;
    /// # async fn demo() {
    /// Bot::new(BusConfig::new(RedisUrl::default(), "ping-bot"), [Pattern::all_inbound()])
    ///     .on_receipt(|receipt: Receipt| async move {
    ///         // `pong` is out: show how long the round trip took.
    ///         match receipt.receipt.message_ids.first() {
    ///             Some(id) if receipt.action() == OutboundAction::Send => {
    ///                 let took = receipt.elapsed.as_millis();
    ///                 vec![OutboundMessage::edit(id.clone(), format!("pong ({took} ms)"))]
    ///             }
    ///             _ => Vec::new(),
    ///         }
    ///     })
    ///     .run(
    ///         |message: InboundMessage| async move {
    ///             vec![OutboundMessage::reply_to(&message, "pong")]
    ///         },
    ///         bytebot_core::shutdown::signal(),
    ///     )
    ///     .await;
    /// # }
    /// ```
    pub fn on_receipt<R, F>(mut self, handler: R) -> Bot
    where
        R: Fn(Receipt) -> F + Send + Sync + 'static,
        F: Future<Output = Vec<OutboundMessage>> + Send + 'static,
    {
        self.on_receipt = Some(ReceiptHandler::new(handler));
        self
    }

    /// Makes this bot a replica of `group`: of all the running bots (in any language)
    /// of one group, only the one that claims a message first answers it; the others
    /// skip it and count it ([`BotCounters::claims`]). The protocol and what it
    /// guarantees are in [`crate::group`].
    pub fn group(mut self, group: GroupName) -> Bot {
        self.group = Some(group);
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
            mut patterns,
            kinds,
            on_receipt,
            options,
            counters,
            group,
        } = self;
        let receipts = on_receipt.map(|handler| (handler, Arc::new(Waiting::default())));
        if receipts.is_some() {
            // One PSUBSCRIBE for both: the receipts of the replies to what we answer.
            let receipt_patterns: Vec<Pattern> = patterns
                .iter()
                .map(|pattern| pattern.with_direction(Direction::Receipt))
                .collect();
            for pattern in receipt_patterns {
                if !patterns.contains(&pattern) {
                    patterns.push(pattern);
                }
            }
        }
        let waiting = receipts.as_ref().map(|(_, waiting)| Arc::clone(waiting));
        let publisher = Publisher::start(config.clone(), options.outbox);
        let mut subscription =
            Subscription::start(config.clone(), patterns.clone(), options.subscribe);
        *counters.inner.bus.lock().expect("bus counters lock") =
            Some((publisher.counters(), subscription.counters()));
        let mut connected = subscription.connected();
        let claimer = group.map(|group| {
            Claimer::with_counters(config.clone(), group, counters.inner.claims.clone())
        });
        let mut rooms = rooms::Rooms::new(
            handler,
            receipts,
            publisher.clone(),
            counters.clone(),
            options,
            claimer,
        );
        let mut sweep = tokio::time::interval(rooms::IDLE_AFTER / 3);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut announced = false;
        tokio::pin!(shutdown);

        loop {
            tokio::select! {
                // Shutdown first: a busy subscription must not keep the bot from stopping.
                biased;
                () = &mut shutdown => break,
                changed = connected.changed(), if !announced => {
                    if changed.is_ok() && *connected.borrow_and_update() {
                        tracing::info!(redis = %config.url(), patterns = ?patterns, "subscribed; answering messages");
                        announced = true;
                    }
                }
                _ = sweep.tick() => rooms.retire_idle(rooms::IDLE_AFTER),
                delivery = subscription.recv() => {
                    let Some(delivery) = delivery else { break };
                    bump(&counters.inner.received);
                    let work = match &waiting {
                        Some(waiting) if delivery.channel.starts_with("receipt.") => {
                            let Some(receipt) = accept_receipt(&delivery, waiting, &counters) else { continue };
                            rooms::Work::Receipt(receipt)
                        }
                        _ => {
                            let Some(message) = accept(&delivery, &counters) else { continue };
                            if !wanted(&message, &delivery, &kinds, options, &counters) {
                                continue;
                            }
                            rooms::Work::Message(message)
                        }
                    };
                    // Backpressure: wait for room in the bot-wide budget, still
                    // listening for shutdown.
                    let slot = tokio::select! {
                        () = &mut shutdown => {
                            bump(&counters.inner.abandoned_at_shutdown);
                            break;
                        }
                        slot = rooms.reserve() => slot,
                    };
                    rooms.dispatch(work, slot, &delivery.channel);
                }
            }
        }

        // Stop taking deliveries: unsubscribe now, so Redis stops sending to us.
        drop(subscription);
        let abandoned = rooms.drain(options.shutdown_deadline).await;
        if abandoned > 0 {
            counters
                .inner
                .abandoned_at_shutdown
                .fetch_add(abandoned, Ordering::Relaxed);
            tracing::warn!(
                abandoned,
                "messages still unanswered at the shutdown deadline; abandoning them"
            );
        }
        let lost = publisher.close(options.flush_deadline).await;
        if lost > 0 {
            tracing::warn!(lost, "replies not accepted by redis before shutdown");
        }
        counters.stats()
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

/// The receipt in a delivery on a `receipt` channel, if it is about one of this bot's
/// replies; `None` means skipped (logged and counted): undecodable, or not ours.
fn accept_receipt(
    delivery: &Delivery,
    waiting: &Waiting,
    counters: &BotCounters,
) -> Option<Receipt> {
    let receipt = match decode_receipt(&delivery.payload) {
        Ok(receipt) => receipt,
        Err(err) => {
            bump(&counters.inner.skipped_undecodable);
            tracing::warn!(
                topic = %delivery.channel,
                error = %err,
                bytes = delivery.payload.len(),
                "skipping an undecodable receipt"
            );
            return None;
        }
    };
    bump(&counters.inner.decoded);
    let Some(receipt) = waiting.take(receipt, &delivery.channel) else {
        bump(&counters.inner.skipped_receipt_not_ours);
        tracing::debug!(topic = %delivery.channel, "skipping a receipt for no reply of ours");
        return None;
    };
    bump(&counters.inner.receipts);
    if !receipt.ok() {
        tracing::debug!(topic = %delivery.channel, action = %receipt.action(), error = ?receipt.receipt.error, "a reply was not delivered");
    }
    Some(receipt)
}

/// Whether this bot answers a valid message at all: its own policy, after
/// [`accept`]: a kind the handler takes ([`Bot::kinds`]), then the loop guard.
/// `false` means skipped (and counted).
fn wanted(
    message: &InboundMessage,
    delivery: &Delivery,
    kinds: &[InboundKind],
    options: BotOptions,
    counters: &BotCounters,
) -> bool {
    if !kinds.contains(&message.kind) {
        bump(&counters.inner.skipped_kind);
        tracing::debug!(topic = %delivery.channel, kind = %message.kind, "skipping a kind the handler does not take");
        return false;
    }
    if message.author.bot && !options.answer_bots {
        bump(&counters.inner.skipped_bot_author);
        tracing::debug!(topic = %delivery.channel, author = %message.author.name, "ignoring a bot's message");
        return false;
    }
    true
}
