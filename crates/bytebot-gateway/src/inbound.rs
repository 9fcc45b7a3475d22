//! Platform -> Redis: the [`Inbound`] handle an adapter publishes its events through.
//!
//! The adapter maps a platform event to an [`InboundMessage`] (topic built with
//! [`Inbound::topic`]); the handle applies the loop guard (never the bot's own events,
//! other bots' only when asked), validates, publishes and counts. Publishing goes
//! through the bus [`Publisher`], which never blocks: while Redis is down, messages wait
//! in its bounded outbox.

use std::sync::{Arc, OnceLock};

use bytebot_core::bus::Publisher;
use bytebot_core::envelope::InboundMessage;
use bytebot_core::{Direction, Platform, Space, Topic, TopicError};

use crate::counters::GatewayCounters;

/// What [`Inbound::publish`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Published {
    /// Handed to the publisher.
    Published,
    /// The bot's own event: never published (it would loop).
    OwnEvent,
    /// Another bot's event, and the gateway runs without `--include-bots`.
    OtherBot,
    /// Not a valid inbound envelope of this platform (logged).
    Invalid,
}

/// The adapter's way to publish inbound events. Cheap to clone; never blocks.
#[derive(Debug, Clone)]
pub struct Inbound {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    platform: Platform,
    publisher: Publisher,
    counters: GatewayCounters,
    include_bots: bool,
    /// The bot's own user id on the platform, once the adapter has logged in.
    own_user_id: OnceLock<String>,
}

impl Inbound {
    pub(crate) fn new(
        platform: Platform,
        publisher: Publisher,
        counters: GatewayCounters,
        include_bots: bool,
    ) -> Inbound {
        Inbound {
            inner: Arc::new(Shared {
                platform,
                publisher,
                counters,
                include_bots,
                own_user_id: OnceLock::new(),
            }),
        }
    }

    /// The platform this gateway serves.
    pub fn platform(&self) -> &Platform {
        &self.inner.platform
    }

    /// Tells the loop guard who the bot is (call it once logged in): events whose
    /// author has this id are never published. Later calls are ignored.
    pub fn set_own_user_id(&self, user_id: impl Into<String>) {
        let _ = self.inner.own_user_id.set(user_id.into());
    }

    /// The inbound topic `inbound.<platform>.<space>.<room>.<user>` (segments escaped).
    pub fn topic(&self, space: Space, room: &str, user: &str) -> Result<Topic, TopicError> {
        Topic::builder(Direction::Inbound, self.inner.platform.as_str())
            .space(space)
            .room(room)
            .user(user)
            .build()
    }

    /// Counts an event the adapter chose not to publish (a system message, say).
    pub fn ignore(&self) {
        self.inner.counters.add(|c| &c.inbound_ignored);
    }

    /// Publishes `envelope` unless the loop guard says no or it is invalid; never
    /// blocks. Everything not published is counted as ignored.
    pub fn publish(&self, envelope: InboundMessage) -> Published {
        let shared = &self.inner;
        let outcome = if shared.own_user_id.get() == Some(&envelope.author.id) {
            Published::OwnEvent
        } else if envelope.author.bot && !shared.include_bots {
            tracing::debug!(topic = %envelope.topic, message_id = %envelope.message_id, "ignoring an event from another bot (see --include-bots)");
            Published::OtherBot
        } else if let Err(err) = envelope.validate() {
            tracing::warn!(topic = %envelope.topic, error = %err, "skipping an inbound event that is not a valid envelope");
            Published::Invalid
        } else if envelope.platform != shared.platform.as_str() {
            tracing::warn!(topic = %envelope.topic, "skipping an inbound event of another platform");
            Published::Invalid
        } else {
            Published::Published
        };
        if outcome != Published::Published {
            shared.counters.add(|c| &c.inbound_ignored);
            return outcome;
        }
        let topic = envelope.topic.to_string();
        tracing::debug!(%topic, kind = %envelope.kind, message_id = %envelope.message_id, envelope_id = %envelope.id, "publishing inbound event");
        shared.publisher.publish(topic, envelope.encode());
        shared.counters.add(|c| &c.inbound_published);
        Published::Published
    }
}
