//! Discord -> Redis: publishes each chat message as an inbound envelope, in the order
//! Discord sent them, through the runtime's [`Inbound`] handle (which applies the loop
//! guard and never blocks: while Redis is down, messages wait in a bounded outbox).
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

use bytebot_gateway::Inbound;
use serenity::all::{
    CollectorCallback, Context, Event, EventHandler, Message, MessageCreateEvent, MessageId, Ready,
    ResumedEvent,
};
use serenity::async_trait;

use crate::convert;

/// Turns Discord events into inbound envelopes, in gateway order.
pub(crate) struct Events {
    inbound: Inbound,
    /// Messages the collector handled whose handler call has not come yet; each id
    /// stays here only between the two, so the set stays tiny.
    collected: Mutex<HashSet<MessageId>>,
    /// Bumped for every session; a collector from an older session retires itself.
    generation: AtomicU64,
}

impl Events {
    pub(crate) fn new(inbound: Inbound) -> Events {
        Events {
            inbound,
            collected: Mutex::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// Publishes `message` unless it is a system message; the runtime's loop guard
    /// skips the bot's own and other bots' (without `--include-bots`). Never blocks.
    fn publish(&self, message: &Message) {
        if !convert::is_chat_message(message) {
            tracing::debug!(message_id = %message.id, kind = ?message.kind, "ignoring a system message");
            self.inbound.ignore();
            return;
        }
        match convert::inbound_envelope(message) {
            Ok(envelope) => {
                self.inbound.publish(envelope);
            }
            Err(err) => {
                // Unreachable with Discord's numeric ids; never worth a crash.
                tracing::warn!(message_id = %message.id, error = %err, "skipping a message with no valid topic");
                self.inbound.ignore();
            }
        }
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
pub(crate) struct Handler(pub(crate) Arc<Events>);

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
