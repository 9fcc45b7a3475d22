//! Discord -> Redis: publishes each chat message as an inbound envelope, in the order
//! Discord sent them.
//!
//! Publishing goes through the bus [`Publisher`], which never blocks: while Redis is
//! down, messages wait in its bounded outbox and are published when it returns.
//!
//! Order: serenity runs every `EventHandler` call on a task of its own, and tokio's
//! scheduler runs the most recently spawned task first, so a burst of messages reaches
//! the handler shuffled (a test saw message 5 published before 0..4). Serenity's
//! collectors, however, are called synchronously by the shard runner, in gateway
//! order, before the handler tasks are spawned. So messages are published from a
//! collector registered on each new session (in `ready`); the `message` handler only
//! publishes the few that arrived between READY and that registration, recognised
//! because the collector has not seen them (it always runs before their handler).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytebot_core::bus::Publisher;
use serenity::all::{
    CollectorCallback, Context, Event, EventHandler, Message, MessageCreateEvent, MessageId, Ready,
    ResumedEvent, UserId,
};
use serenity::async_trait;

use crate::GatewayCounters;
use crate::convert;

/// What decides whether and where a Discord message is published.
pub(crate) struct Inbound {
    pub(crate) publisher: Publisher,
    /// The bot's own user: its messages are never published (they would loop).
    pub(crate) own_user_id: UserId,
    /// Whether other bots' messages are published (`--include-bots`).
    pub(crate) include_bots: bool,
    pub(crate) counters: GatewayCounters,
    /// Messages the collector handled whose handler call has not come yet; each id
    /// stays here only between the two, so the set stays tiny.
    collected: Mutex<HashSet<MessageId>>,
    /// Bumped for every session; a collector from an older session retires itself.
    generation: AtomicU64,
}

impl Inbound {
    pub(crate) fn new(
        publisher: Publisher,
        own_user_id: UserId,
        include_bots: bool,
        counters: GatewayCounters,
    ) -> Inbound {
        Inbound {
            publisher,
            own_user_id,
            include_bots,
            counters,
            collected: Mutex::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// Publishes `message` unless it is the bot's own, another bot's (without
    /// `--include-bots`) or a system message. Never blocks.
    fn publish(&self, message: &Message) {
        if message.author.id == self.own_user_id {
            self.counters.add(|c| &c.inbound_ignored);
            return;
        }
        if message.author.bot && !self.include_bots {
            tracing::debug!(message_id = %message.id, author = %message.author.id, "ignoring a message from another bot (see --include-bots)");
            self.counters.add(|c| &c.inbound_ignored);
            return;
        }
        if !convert::is_chat_message(message) {
            tracing::debug!(message_id = %message.id, kind = ?message.kind, "ignoring a system message");
            self.counters.add(|c| &c.inbound_ignored);
            return;
        }
        let envelope = match convert::inbound_envelope(message) {
            Ok(envelope) => envelope,
            Err(err) => {
                // Unreachable with Discord's numeric ids; never worth a crash.
                tracing::warn!(message_id = %message.id, error = %err, "skipping a message with no valid topic");
                self.counters.add(|c| &c.inbound_ignored);
                return;
            }
        };
        let topic = envelope.topic.to_string();
        tracing::debug!(%topic, message_id = %envelope.message_id, envelope_id = %envelope.id, "publishing inbound message");
        self.publisher.publish(topic, envelope.encode());
        self.counters.add(|c| &c.inbound_published);
    }

    /// Registers the in-order collector on a new session's shard.
    fn collect(self: &Arc<Self>, ctx: &Context) {
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        let inbound = Arc::clone(self);
        ctx.shard
            .add_collector(CollectorCallback(Box::new(move |event: &Event| {
                if inbound.generation.load(Ordering::Acquire) != generation {
                    return false; // a newer session has its own collector
                }
                if let Event::MessageCreate(MessageCreateEvent { message, .. }) = event {
                    inbound
                        .collected
                        .lock()
                        .expect("collected lock")
                        .insert(message.id);
                    inbound.publish(message);
                }
                true
            })));
    }
}

/// The serenity event handler.
pub(crate) struct Handler(pub(crate) Arc<Inbound>);

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        self.0.collect(&ctx);
        tracing::info!(
            user = %ready.user.name,
            user_id = %ready.user.id,
            n_guilds = ready.guilds.len(),
            "connected to the discord gateway"
        );
    }

    async fn resume(&self, _: Context, _: ResumedEvent) {
        tracing::info!("resumed the discord gateway session");
    }

    async fn message(&self, _: Context, message: Message) {
        let collected = self
            .0
            .collected
            .lock()
            .expect("collected lock")
            .remove(&message.id);
        if !collected {
            // Dispatched before this session's collector was registered.
            self.0.publish(&message);
        }
    }
}
