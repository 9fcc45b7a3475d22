//! Discord -> Redis: the serenity event handler that publishes each chat message.
//!
//! Publishing goes through the bus [`Publisher`], which never blocks: while Redis is
//! down, messages wait in its bounded outbox and are published when it returns.
//!
//! Ordering caveat: serenity runs every event handler call on its own task, so two
//! messages that arrive within microseconds of each other may be published in either
//! order. Envelope ids are assigned here (UUIDv7), and Discord message ids (snowflakes)
//! always tell the true order.

use std::sync::Arc;

use bytebot_core::bus::Publisher;
use serenity::all::{Context, EventHandler, Message, Ready, ResumedEvent, UserId};
use serenity::async_trait;

use crate::Metrics;
use crate::convert;

/// Publishes what people say; owned by the serenity client.
pub(crate) struct Handler {
    pub(crate) publisher: Publisher,
    /// The bot's own user: its messages are never published (they would loop).
    pub(crate) own_user_id: UserId,
    /// Whether other bots' messages are published (`--include-bots`).
    pub(crate) include_bots: bool,
    pub(crate) metrics: Arc<Metrics>,
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _: Context, ready: Ready) {
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
        if message.author.id == self.own_user_id {
            self.metrics.add(&self.metrics.inbound_ignored);
            return;
        }
        if message.author.bot && !self.include_bots {
            tracing::debug!(message_id = %message.id, author = %message.author.id, "ignoring a message from another bot (see --include-bots)");
            self.metrics.add(&self.metrics.inbound_ignored);
            return;
        }
        if !convert::is_chat_message(&message) {
            tracing::debug!(message_id = %message.id, kind = ?message.kind, "ignoring a system message");
            self.metrics.add(&self.metrics.inbound_ignored);
            return;
        }
        let envelope = match convert::inbound_envelope(&message) {
            Ok(envelope) => envelope,
            Err(err) => {
                // Unreachable with Discord's numeric ids; never worth a crash.
                tracing::warn!(message_id = %message.id, error = %err, "skipping a message with no valid topic");
                self.metrics.add(&self.metrics.inbound_ignored);
                return;
            }
        };
        let topic = envelope.topic.to_string();
        tracing::debug!(%topic, message_id = %envelope.message_id, envelope_id = %envelope.id, "publishing inbound message");
        self.publisher.publish(topic, envelope.encode());
        self.metrics.add(&self.metrics.inbound_published);
    }
}
