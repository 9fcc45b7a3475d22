//! The outbound envelope: an action (send a message, edit or delete one, react, show
//! typing), from a subscriber to the gateway that owns the topic it is published on.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{EnvelopeError, InboundMessage, WIRE_VERSION, check_version, schema};

/// Whom an outbound message may ping. Text is delivered unchanged either way; the
/// policy only decides which mentions in it notify anyone.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MentionPolicy {
    /// Ping nobody.
    None,
    /// Ping only the users mentioned explicitly in the content (the default).
    #[default]
    Users,
    /// Also ping roles and `@everyone`/`@here`. A gateway still refuses this unless its
    /// operator allows it.
    All,
}

/// What an outbound envelope asks the gateway to do. `send` when absent, so every
/// payload written before actions existed keeps its meaning.
///
/// A platform that cannot do an action (IRC cannot edit) answers with a failed receipt
/// saying so, never with silence.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutboundAction {
    /// Post `content` in the topic's room (split into parts over the platform's limit);
    /// a platform reply when `reply_to` is set. The receipt lists the new messages' ids.
    #[default]
    Send,
    /// Replace the text of `message_id` (a message this bot sent: an id from a send's
    /// receipt) with `content`. Not split: content over the platform's limit fails.
    Edit,
    /// Delete `message_id` (the bot's own message, or any with the permission).
    Delete,
    /// Add the reaction `emoji` to `message_id`.
    React,
    /// Remove the bot's own reaction `emoji` from `message_id`.
    Unreact,
    /// Show "bot is typing..." in the room (Discord: for about 10 s, or until the bot
    /// sends a message).
    Typing,
}

impl OutboundAction {
    /// Every action, in the order the docs list them.
    pub const ALL: [OutboundAction; 6] = [
        OutboundAction::Send,
        OutboundAction::Edit,
        OutboundAction::Delete,
        OutboundAction::React,
        OutboundAction::Unreact,
        OutboundAction::Typing,
    ];

    /// The wire name (`send`, `edit`...).
    pub fn as_str(self) -> &'static str {
        match self {
            OutboundAction::Send => "send",
            OutboundAction::Edit => "edit",
            OutboundAction::Delete => "delete",
            OutboundAction::React => "react",
            OutboundAction::Unreact => "unreact",
            OutboundAction::Typing => "typing",
        }
    }

    /// Whether this is the default action (left out of the JSON).
    pub fn is_send(&self) -> bool {
        *self == OutboundAction::Send
    }

    /// Whether the action carries text (`send`, `edit`).
    pub fn has_content(self) -> bool {
        matches!(self, OutboundAction::Send | OutboundAction::Edit)
    }

    /// Whether the action targets an existing message (`message_id` is required).
    pub fn targets_message(self) -> bool {
        matches!(
            self,
            OutboundAction::Edit
                | OutboundAction::Delete
                | OutboundAction::React
                | OutboundAction::Unreact
        )
    }
}

impl std::fmt::Display for OutboundAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OutboundAction {
    type Err = String;

    fn from_str(name: &str) -> Result<OutboundAction, String> {
        OutboundAction::ALL
            .into_iter()
            .find(|action| action.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = OutboundAction::ALL.iter().map(|a| a.as_str()).collect();
                format!("unknown action `{name}` (known: {})", known.join(", "))
            })
    }
}

/// An outbound envelope: an action for the gateway that owns the topic it is published
/// on (the inbound envelope's `reply_topic`). By default, something to say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutboundMessage {
    /// Envelope format version: 1, the default when absent.
    #[serde(default = "wire_version")]
    #[schemars(schema_with = "schema::version_schema")]
    pub v: u32,
    /// What to do: `send` (the default), `edit`, `delete`, `react`, `unreact`,
    /// `typing`.
    #[serde(default, skip_serializing_if = "OutboundAction::is_send")]
    pub action: OutboundAction,
    /// The text to send (`send`) or the new text (`edit`): must contain a
    /// non-whitespace character, since platforms refuse empty messages. Ignored by the
    /// other actions.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    /// The platform message id an `edit`, `delete`, `react` or `unreact` acts on: a
    /// `message_ids` entry of an earlier send's receipt, or an inbound `message_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The emoji of a `react` or `unreact`: a Unicode emoji (`👍`), or on Discord a
    /// custom emoji as `name:id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// The platform message id to answer with a `send` (an inbound `message_id`): the
    /// gateway sends a platform reply (on Discord, a reply quoting it). Absent: a plain
    /// message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The `id` of the inbound envelope this answers, for correlation in logs, metrics
    /// and receipts. Never changes what is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("format" = "uuid"))]
    pub in_reply_to: Option<Uuid>,
    /// Whom a `send` or `edit` may ping: `none`, `users` (the default) or `all`.
    #[serde(default)]
    pub mentions: MentionPolicy,
}

fn wire_version() -> u32 {
    WIRE_VERSION
}

impl OutboundMessage {
    /// A plain message (not a platform reply) with the default mention policy.
    pub fn new(content: impl Into<String>) -> OutboundMessage {
        OutboundMessage {
            v: WIRE_VERSION,
            action: OutboundAction::Send,
            content: content.into(),
            message_id: None,
            emoji: None,
            reply_to: None,
            in_reply_to: None,
            mentions: MentionPolicy::default(),
        }
    }

    /// An answer to `inbound`: a platform reply to its message, correlated with its
    /// envelope id. Publish it on `inbound.reply_topic`.
    pub fn reply_to(inbound: &InboundMessage, content: impl Into<String>) -> OutboundMessage {
        OutboundMessage {
            reply_to: Some(inbound.message_id.clone()),
            in_reply_to: Some(inbound.id),
            ..OutboundMessage::new(content)
        }
    }

    /// An action without content on `message_id` (`delete`, `react`...).
    fn on_message(action: OutboundAction, message_id: impl Into<String>) -> OutboundMessage {
        OutboundMessage {
            action,
            message_id: Some(message_id.into()),
            ..OutboundMessage::new(String::new())
        }
    }

    /// Replace the text of `message_id` (a message the bot sent) with `content`.
    pub fn edit(message_id: impl Into<String>, content: impl Into<String>) -> OutboundMessage {
        OutboundMessage {
            content: content.into(),
            ..OutboundMessage::on_message(OutboundAction::Edit, message_id)
        }
    }

    /// Delete `message_id`.
    pub fn delete(message_id: impl Into<String>) -> OutboundMessage {
        OutboundMessage::on_message(OutboundAction::Delete, message_id)
    }

    /// React to `message_id` with `emoji`.
    pub fn react(message_id: impl Into<String>, emoji: impl Into<String>) -> OutboundMessage {
        OutboundMessage {
            emoji: Some(emoji.into()),
            ..OutboundMessage::on_message(OutboundAction::React, message_id)
        }
    }

    /// Take back the bot's reaction `emoji` on `message_id`.
    pub fn unreact(message_id: impl Into<String>, emoji: impl Into<String>) -> OutboundMessage {
        OutboundMessage {
            emoji: Some(emoji.into()),
            ..OutboundMessage::on_message(OutboundAction::Unreact, message_id)
        }
    }

    /// Show "typing..." in the room.
    pub fn typing() -> OutboundMessage {
        OutboundMessage {
            action: OutboundAction::Typing,
            ..OutboundMessage::new(String::new())
        }
    }

    /// Correlates this action with the inbound envelope it answers.
    pub fn in_reply_to(mut self, inbound: &InboundMessage) -> OutboundMessage {
        self.in_reply_to = Some(inbound.id);
        self
    }

    /// The JSON payload to publish (always the object form, never the legacy string).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope always serializes: its maps have string keys")
    }

    /// Checks what serde cannot: a supported `v`, and what the action needs: non-blank
    /// `content` for `send` and `edit`, a `message_id` for the actions on a message, an
    /// `emoji` for `react` and `unreact`.
    ///
    /// [`decode_outbound`](super::decode_outbound) calls it; a subscriber may call it
    /// before publishing.
    pub fn validate(&self) -> Result<(), EnvelopeError> {
        check_version(u64::from(self.v))?;
        let missing = |field| EnvelopeError::MissingField {
            kind: self.action.as_str(),
            field,
        };
        if self.action.has_content() && self.content.trim().is_empty() {
            return Err(EnvelopeError::EmptyContent);
        }
        if self.action.targets_message()
            && self
                .message_id
                .as_deref()
                .is_none_or(|id| id.trim().is_empty())
        {
            return Err(missing("message_id"));
        }
        if matches!(self.action, OutboundAction::React | OutboundAction::Unreact)
            && self
                .emoji
                .as_deref()
                .is_none_or(|emoji| emoji.trim().is_empty())
        {
            return Err(missing("emoji"));
        }
        Ok(())
    }
}
