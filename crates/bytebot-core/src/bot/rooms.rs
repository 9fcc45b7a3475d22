//! The bot's rooms: one ordered worker per room, so replies within a room keep the
//! messages' order while rooms proceed concurrently.
//!
//! The same shape as the Discord gateway's outbound channels: each room gets a task fed
//! by a bounded queue, created on demand and retired when idle. A worker answers its
//! messages one at a time and holds a slot of the bot-wide handler limit
//! ([`BotOptions::max_in_flight`]) only while its handler runs, never while it waits,
//! so a stuck room keeps one slot and its own queue, nothing else.
//!
//! Memory is bounded twice: a room holds at most [`BotOptions::room_queue`] messages
//! behind the one being answered (the newest are dropped past that, counted and
//! logged), and all rooms together at most [`BotOptions::max_queued`] (past that the
//! dispatcher stops reading until one is answered, and the subscription's own bounded
//! queue takes the excess).

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::receipts::{Receipt, ReceiptHandler, Waiting};
use super::{BotCounters, BotOptions, bump};
use crate::bus::Publisher;
use crate::envelope::{InboundMessage, MAX_PAYLOAD_BYTES, OutboundMessage};
use crate::group::{ClaimOutcome, Claimer};
use crate::topic::{Platform, RoomId, Space, Topic};

/// How long a room's worker with nothing to do lives on, so a conversation does not
/// start a task per message.
pub(super) const IDLE_AFTER: Duration = Duration::from_secs(30);

/// Past this many workers, idle ones are retired as soon as a new room needs one
/// (rather than at the next sweep), so a flood of one-message rooms cannot pile up
/// idle tasks.
const MAX_WORKERS_BEFORE_SWEEP: usize = 1024;

/// The room a message belongs to: replies within one room keep the messages' order.
type RoomKey = (Platform, Space, RoomId);

/// A place in the bot-wide budget of messages taken and not yet answered
/// ([`BotOptions::max_queued`]); released when its message has been answered.
pub(super) struct Slot {
    _permit: OwnedSemaphorePermit,
}

/// What a room's worker answers: a message (for the handler) or a receipt of one of
/// the bot's replies (for the receipt handler). Both go through the room's queue, so
/// a room's messages and receipts are handled in the order they arrived.
// Not boxed: nearly all work is messages (the larger variant), which would then cost
// an allocation each, to save a few hundred bytes on the rarer receipts.
#[allow(clippy::large_enum_variant)]
pub(super) enum Work {
    Message(InboundMessage),
    Receipt(Receipt),
}

impl Work {
    /// The topic whose room this belongs to.
    fn topic(&self) -> &Topic {
        match self {
            Work::Message(message) => &message.topic,
            Work::Receipt(receipt) => &receipt.reply_topic,
        }
    }

    fn room(&self) -> RoomKey {
        let topic = self.topic();
        (
            topic.platform().clone(),
            topic.space().clone(),
            topic.room().clone(),
        )
    }
}

/// What the dispatcher hands a room's worker.
struct Job {
    work: Work,
    slot: Slot,
    /// In a replica group: the claim, started as the message was dispatched, so that
    /// the claims of a room's queue are in flight together. The worker awaits it
    /// before running the handler.
    claim: Option<JoinHandle<ClaimOutcome>>,
}

/// A room's worker as the dispatcher sees it.
struct Worker {
    sender: mpsc::Sender<Job>,
    /// Messages handed to the worker and not answered yet. Only the dispatcher
    /// increments it, so at 0 the worker is idle with an empty queue: safe to retire
    /// without losing a message or letting a new worker overtake the old one.
    pending: Arc<AtomicUsize>,
    last_used: Instant,
}

/// What every worker shares.
struct Shared<H> {
    handler: H,
    /// The receipt handler, and the replies waiting for a receipt ([`Bot::on_receipt`](super::Bot::on_receipt)).
    receipts: Option<(ReceiptHandler, Arc<Waiting>)>,
    publisher: Publisher,
    counters: BotCounters,
    options: BotOptions,
    /// In a replica group, claims each message before its handler runs.
    claimer: Option<Claimer>,
    /// One permit per running handler ([`BotOptions::max_in_flight`]).
    in_flight: Semaphore,
}

/// Every room's worker, owned by the bot's dispatch loop.
pub(super) struct Rooms<H> {
    workers: HashMap<RoomKey, Worker>,
    tasks: JoinSet<()>,
    shared: Arc<Shared<H>>,
    /// One permit per message taken and not answered yet, across rooms.
    queued: Arc<Semaphore>,
    max_queued: usize,
}

impl<H, F> Rooms<H>
where
    H: Fn(InboundMessage) -> F + Send + Sync + 'static,
    F: Future<Output = Vec<OutboundMessage>> + Send + 'static,
{
    pub(super) fn new(
        handler: H,
        receipts: Option<(ReceiptHandler, Arc<Waiting>)>,
        publisher: Publisher,
        counters: BotCounters,
        options: BotOptions,
        claimer: Option<Claimer>,
    ) -> Rooms<H> {
        // Semaphores (and bounded channels, built on one) panic past `MAX_PERMITS`.
        let max_queued = options.max_queued.clamp(1, Semaphore::MAX_PERMITS);
        Rooms {
            workers: HashMap::new(),
            tasks: JoinSet::new(),
            shared: Arc::new(Shared {
                handler,
                receipts,
                publisher,
                counters,
                options,
                claimer,
                in_flight: Semaphore::new(options.max_in_flight.clamp(1, Semaphore::MAX_PERMITS)),
            }),
            queued: Arc::new(Semaphore::new(max_queued)),
            max_queued,
        }
    }

    /// Waits for a place in the bot-wide budget: the backpressure that keeps the
    /// dispatcher from taking more than the rooms may hold. Cancel-safe.
    pub(super) async fn reserve(&self) -> Slot {
        let permit = Arc::clone(&self.queued)
            .acquire_owned()
            .await
            .expect("the budget semaphore is never closed");
        Slot { _permit: permit }
    }

    /// Queues `work` for its room's worker, starting one if the room has none. A
    /// room whose queue is full loses it (counted, logged with `channel`).
    pub(super) fn dispatch(&mut self, work: Work, slot: Slot, channel: &str) {
        let key = work.room();
        if self.workers.len() >= MAX_WORKERS_BEFORE_SWEEP && !self.workers.contains_key(&key) {
            self.retire_idle(Duration::ZERO);
        }
        let worker = self.workers.entry(key).or_insert_with(|| {
            let capacity = self
                .shared
                .options
                .room_queue
                .clamp(1, Semaphore::MAX_PERMITS);
            let (sender, receiver) = mpsc::channel(capacity);
            let pending = Arc::new(AtomicUsize::new(0));
            self.tasks.spawn(run_worker(
                receiver,
                Arc::clone(&pending),
                Arc::clone(&self.shared),
            ));
            Worker {
                sender,
                pending,
                last_used: Instant::now(),
            }
        });
        worker.last_used = Instant::now();
        worker.pending.fetch_add(1, Ordering::AcqRel);
        // In a group, claim a message only when the room can take it: a full queue
        // drops it anyway, and an unclaimed one may still be answered by another
        // replica. Receipts are never claimed: only the replica that sent a reply
        // waits for its receipt.
        let claim = match (&work, &self.shared.claimer) {
            (Work::Message(message), Some(claimer)) if worker.sender.capacity() > 0 => {
                Some(claimer.start(message.id))
            }
            _ => None,
        };
        let Err(err) = worker.sender.try_send(Job { work, slot, claim }) else {
            return;
        };
        worker.pending.fetch_sub(1, Ordering::AcqRel);
        let dropped = &self.shared.counters.inner.dropped_room_queue_full;
        match err {
            mpsc::error::TrySendError::Full(_) => {
                dropped.record(channel, "the room's queue is full");
            }
            // Its worker is gone (it cannot panic short of a bug here: handler panics
            // are caught). Forget it, so the room's next message starts a new one.
            mpsc::error::TrySendError::Closed(job) => {
                if let Some(claim) = &job.claim {
                    claim.abort();
                }
                self.workers.remove(&job.work.room());
                dropped.record(channel, "the room's worker ended");
            }
        }
    }

    /// Retires the workers with nothing queued or running that have been idle for
    /// `idle_after` (dropping the sender ends the worker's loop), and reaps the tasks
    /// of those retired before.
    pub(super) fn retire_idle(&mut self, idle_after: Duration) {
        self.workers.retain(|_, worker| {
            worker.pending.load(Ordering::Acquire) > 0 || worker.last_used.elapsed() < idle_after
        });
        while let Some(joined) = self.tasks.try_join_next() {
            if let Err(err) = joined {
                tracing::error!(error = %err, "a room's worker ended abnormally");
            }
        }
    }

    /// Stops taking messages and lets every worker answer what it holds within
    /// `deadline`; returns how many messages were still unanswered (queued or being
    /// handled) when it passed. Those handlers are cancelled.
    pub(super) async fn drain(self, deadline: Duration) -> u64 {
        let Rooms {
            workers,
            mut tasks,
            queued,
            max_queued,
            shared: _,
        } = self;
        // Without their senders, the workers end once their queues are empty.
        drop(workers);
        let unanswered = || (max_queued - queued.available_permits()) as u64;
        if unanswered() > 0 {
            tracing::info!(
                unanswered = unanswered(),
                ?deadline,
                "shutting down; answering the messages already taken"
            );
        }
        let drained = tokio::time::timeout(deadline, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_ok() {
            return 0;
        }
        let abandoned = unanswered();
        tasks.shutdown().await;
        abandoned
    }
}

/// One room's worker: answers its messages in order until its sender is dropped.
async fn run_worker<H, F>(
    mut jobs: mpsc::Receiver<Job>,
    pending: Arc<AtomicUsize>,
    shared: Arc<Shared<H>>,
) where
    H: Fn(InboundMessage) -> F,
    F: Future<Output = Vec<OutboundMessage>>,
{
    while let Some(Job { work, slot, claim }) = jobs.recv().await {
        if let Some(claim) = claim {
            // A claim task cannot panic short of a bug; treat that as a failed claim.
            let outcome = claim.await.unwrap_or(ClaimOutcome::Failed);
            if let Some(reason) = outcome.skip_reason() {
                tracing::debug!(topic = %work.topic(), reason, "skipping a message another replica answers");
                pending.fetch_sub(1, Ordering::AcqRel);
                drop(slot);
                continue;
            }
        }
        answer(work, &shared).await;
        pending.fetch_sub(1, Ordering::AcqRel);
        drop(slot);
    }
}

/// Runs the handler on one message, or the receipt handler on one receipt (within
/// the handler limit and timeout, a panic caught and counted), and publishes the
/// replies: on the message's `reply_topic`, or where the receipt's reply went.
async fn answer<H, F>(work: Work, shared: &Shared<H>)
where
    H: Fn(InboundMessage) -> F,
    F: Future<Output = Vec<OutboundMessage>>,
{
    let counters = &shared.counters.inner;
    let timeout = shared.options.handler_timeout;
    // What the replies answer: they are published on `reply_topic`, correlated with
    // `in_reply_to`, and remembered (with `answered`) to match their receipts.
    let (reply_topic, in_reply_to, answered) = match &work {
        Work::Message(message) => (
            message.reply_topic.clone(),
            Some(message.id),
            message.message_id.clone(),
        ),
        Work::Receipt(receipt) => (
            receipt.reply_topic.clone(),
            receipt.in_reply_to(),
            receipt.answered_message_id.clone(),
        ),
    };
    // Formatted once: replies are published on it, and the warnings below name it.
    let reply_channel = reply_topic.to_string();
    let outcome = {
        let _running = shared
            .in_flight
            .acquire()
            .await
            .expect("the handler semaphore is never closed");
        // The call inside the `async` block, so that a panic in the handler's
        // synchronous part is caught too.
        let handled = AssertUnwindSafe(async {
            match work {
                Work::Message(message) => (shared.handler)(message).await,
                Work::Receipt(receipt) => match &shared.receipts {
                    Some((handler, _)) => handler.call(receipt).await,
                    None => Vec::new(),
                },
            }
        })
        .catch_unwind();
        tokio::time::timeout(timeout, handled).await
    };
    let replies = match outcome {
        Ok(Ok(replies)) => replies,
        Ok(Err(panic)) => {
            bump(&counters.handler_failures);
            let panic = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(not a string)");
            tracing::error!(reply_topic = %reply_channel, panic, "a handler panicked; its message gets no reply");
            return;
        }
        Err(_) => {
            bump(&counters.handler_failures);
            tracing::warn!(reply_topic = %reply_channel, ?timeout, "a handler ran out of time; its message gets no reply");
            return;
        }
    };
    for mut reply in replies {
        if let Err(err) = reply.validate() {
            bump(&counters.replies_refused);
            tracing::warn!(reply_topic = %reply_channel, action = %reply.action, error = %err, "a handler returned an invalid reply; not publishing it");
            continue;
        }
        if reply.in_reply_to.is_none() {
            reply.in_reply_to = in_reply_to;
        }
        let payload = reply.encode();
        if payload.len() > MAX_PAYLOAD_BYTES {
            bump(&counters.replies_refused);
            tracing::warn!(reply_topic = %reply_channel, bytes = payload.len(), limit = MAX_PAYLOAD_BYTES, "a reply is over the size limit; not publishing it");
            continue;
        }
        // Before publishing: the receipt may arrive as soon as the reply is out.
        if let Some((_, waiting)) = &shared.receipts {
            waiting.record(&reply, &reply_topic, &answered);
        }
        bump(&counters.replies);
        shared.publisher.publish(reply_channel.as_str(), payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::{BusConfig, OutboxOptions, RedisUrl};
    use crate::envelope::Author;
    use crate::topic::{Direction, Topic};

    fn message(room: &str) -> InboundMessage {
        let topic = Topic::builder(Direction::Inbound, "console")
            .space(Space::id("local"))
            .room(room)
            .user("alice")
            .build()
            .unwrap();
        InboundMessage::new(topic, "1", Author::new("alice", "alice"), "!ping")
    }

    type NeverAnswers = fn(InboundMessage) -> std::future::Pending<Vec<OutboundMessage>>;

    fn rooms(options: BotOptions) -> Rooms<NeverAnswers> {
        // Nothing is ever published: the publisher may as well point nowhere.
        let config = BusConfig::new(RedisUrl::parse("redis://127.0.0.1:1").unwrap(), "test");
        let publisher = Publisher::start(config, OutboxOptions::default());
        let never_answers: NeverAnswers = |_| std::future::pending();
        Rooms::new(
            never_answers,
            None,
            publisher,
            BotCounters::default(),
            options,
            None,
        )
    }

    fn key(room: &str) -> RoomKey {
        (
            Platform::new("console").unwrap(),
            Space::id("local"),
            RoomId::new(room).unwrap(),
        )
    }

    fn worker(pending: usize, idle_for: Duration) -> Worker {
        let (sender, _) = mpsc::channel(1);
        Worker {
            sender,
            pending: Arc::new(AtomicUsize::new(pending)),
            last_used: Instant::now() - idle_for,
        }
    }

    /// Idle rooms must not keep a task each forever; busy ones must never be cut off
    /// (their queue would be lost, or a new worker would overtake the old one).
    #[tokio::test]
    async fn only_idle_workers_are_retired() {
        let mut rooms = rooms(BotOptions::default());
        rooms.workers = HashMap::from([
            (key("idle"), worker(0, Duration::from_secs(120))),
            (key("busy"), worker(1, Duration::from_secs(120))),
            (key("recent"), worker(0, Duration::from_secs(1))),
        ]);
        rooms.retire_idle(Duration::from_secs(60));
        let mut kept: Vec<&str> = rooms
            .workers
            .keys()
            .map(|(_, _, room)| room.as_str())
            .collect();
        kept.sort_unstable();
        assert_eq!(kept, ["busy", "recent"]);
        rooms.retire_idle(Duration::ZERO);
        assert_eq!(rooms.workers.len(), 1, "busy stays, whatever the idle time");
    }

    /// A room's overflow is dropped and counted, and leaves the budget's place free.
    #[tokio::test]
    async fn a_full_room_queue_drops_and_counts_its_newest_messages() {
        let mut rooms = rooms(BotOptions {
            room_queue: 2,
            max_queued: 10,
            ..BotOptions::default()
        });
        // However far the worker got, at most 1 + 2 of 6 fit.
        for _ in 0..6 {
            let slot = rooms.reserve().await;
            rooms.dispatch(Work::Message(message("a")), slot, "a");
        }
        let dropped = rooms.shared.counters.stats().dropped_room_queue_full;
        assert!((3..=4).contains(&dropped), "{dropped}");
        assert_eq!(
            rooms.queued.available_permits() as u64,
            10 - 6 + dropped,
            "a dropped message gives its place back"
        );
    }
}
