//! The outbound envelope: an action (send a message, edit or delete one, react, show
//! typing), from a subscriber to the gateway that owns the topic it is published on.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{EnvelopeError, InboundMessage, WIRE_VERSION, check_version, schema};

/// The most embeds one message may carry (Discord's limit).
pub const MAX_EMBEDS: usize = 10;

/// The most component rows (action rows) one message may carry (Discord's limit).
pub const MAX_COMPONENT_ROWS: usize = 5;

/// The most files one message may carry (Discord's limit on attachments).
pub const MAX_FILES: usize = 10;

/// A Discord embed object, in Discord's own JSON shape (`title`, `description`, `url`,
/// `color`, `fields`, `image`...): every Discord doc applies. The gateway checks that
/// it is an object; Discord judges the rest, and its refusal comes back in the receipt.
pub type Embed = Map<String, Value>;

/// A Discord component row (an action row, `{"type": 1, "components": [...]}` holding
/// buttons or one select menu), in Discord's own JSON shape.
pub type ComponentRow = Map<String, Value>;

/// A file to upload with a `send` or an `edit`, carried inline in the envelope.
///
/// Only inline content: the gateway never downloads a URL for you (that would let any
/// publisher make it fetch arbitrary addresses, and hold arbitrary amounts in memory).
/// For a picture that is already online, put its URL in an embed (`image.url`) or in
/// the content, and the platform fetches it. The whole envelope is at most 1 MiB
/// (`MAX_PAYLOAD_BYTES`), so the files of one message hold about 750 KiB together once
/// base64-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutboundFile {
    /// The file name shown in the chat (`report.txt`, `plot.png`); its extension also
    /// gives the MIME type. Not blank, no `/`, `\` or control characters.
    pub filename: String,
    /// The file's bytes in standard base64 (RFC 4648, `+/`, with `=` padding), as
    /// Python's `base64.b64encode` writes it.
    pub base64: String,
    /// The alternative text of the file (for screen readers), when the platform has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl OutboundFile {
    /// A file named `filename` holding `bytes`.
    pub fn new(filename: impl Into<String>, bytes: &[u8]) -> OutboundFile {
        OutboundFile {
            filename: filename.into(),
            base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            description: None,
        }
    }

    /// The file's bytes, decoded from `base64`.
    pub fn bytes(&self) -> Result<Vec<u8>, EnvelopeError> {
        base64::engine::general_purpose::STANDARD
            .decode(self.base64.as_bytes())
            .map_err(|err| EnvelopeError::InvalidFile {
                filename: super::shorten(&self.filename),
                reason: format!("`base64` is not standard base64: {err}"),
            })
    }

    /// Checks the name and the encoding.
    fn validate(&self) -> Result<(), EnvelopeError> {
        let bad_name = |reason: &str| EnvelopeError::InvalidFile {
            filename: super::shorten(&self.filename),
            reason: reason.to_owned(),
        };
        if self.filename.trim().is_empty() {
            return Err(bad_name("the file name is blank"));
        }
        if self
            .filename
            .chars()
            .any(|character| matches!(character, '/' | '\\') || character.is_control())
        {
            return Err(bad_name(
                "the file name contains `/`, `\\` or a control character",
            ));
        }
        self.bytes().map(drop)
    }
}

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
    /// non-whitespace character, since platforms refuse empty messages, except in a
    /// `send` with `embeds` or `files`, and in an `edit` that changes `embeds`,
    /// `components` or `files` (an edit without content keeps the text). Ignored by the
    /// other actions.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
    /// Discord embeds (at most 10), in Discord's embed JSON, for `send` and `edit`. On a
    /// split `send`, they go with the last part. On an `edit`: absent keeps the
    /// message's embeds, `[]` removes them. Platforms without embeds (IRC) refuse the
    /// envelope with a failed receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeds: Option<Vec<Embed>>,
    /// Discord components: at most 5 action rows (`{"type": 1, "components": [...]}`)
    /// of buttons or a select menu, in Discord's JSON, for `send` and `edit`. On a split
    /// `send`, they go with the last part. On an `edit`: absent keeps them, `[]` removes
    /// them. Platforms without components (IRC) refuse the envelope with a failed
    /// receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<ComponentRow>>,
    /// Files to upload (at most 10), inline as base64, for `send` and `edit`. On a split
    /// `send`, they go with the last part. On an `edit`, they replace the message's
    /// files; absent or `[]` keeps them. Platforms without uploads (IRC) refuse the
    /// envelope with a failed receipt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<OutboundFile>,
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
            embeds: None,
            components: None,
            files: Vec::new(),
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

    /// Whether a `send` or `edit` carries something besides text that makes a blank
    /// `content` acceptable: embeds or files for a `send`; for an `edit`, any change of
    /// embeds, components or files (the text is then kept).
    pub fn has_rich_content(&self) -> bool {
        match self.action {
            OutboundAction::Send => {
                self.embeds
                    .as_ref()
                    .is_some_and(|embeds| !embeds.is_empty())
                    || !self.files.is_empty()
            }
            OutboundAction::Edit => {
                self.embeds.is_some() || self.components.is_some() || !self.files.is_empty()
            }
            _ => false,
        }
    }

    /// Checks what serde cannot: a supported `v`, and what the action needs: non-blank
    /// `content` for `send` and `edit` (unless [`has_rich_content`](Self::has_rich_content)),
    /// a `message_id` for the actions on a message, an `emoji` for `react` and
    /// `unreact`; and at most [`MAX_EMBEDS`] embeds, [`MAX_COMPONENT_ROWS`] component
    /// rows and [`MAX_FILES`] files, each file named and in valid base64.
    ///
    /// [`decode_outbound`](super::decode_outbound) calls it; a subscriber may call it
    /// before publishing.
    pub fn validate(&self) -> Result<(), EnvelopeError> {
        check_version(u64::from(self.v))?;
        let missing = |field| EnvelopeError::MissingField {
            kind: self.action.as_str(),
            field,
        };
        if self.action.has_content() && self.content.trim().is_empty() && !self.has_rich_content() {
            return Err(EnvelopeError::EmptyContent);
        }
        let too_many = |field, count, limit| {
            if count > limit {
                return Err(EnvelopeError::TooMany {
                    field,
                    count,
                    limit,
                });
            }
            Ok(())
        };
        too_many(
            "embeds",
            self.embeds.as_ref().map_or(0, Vec::len),
            MAX_EMBEDS,
        )?;
        too_many(
            "components",
            self.components.as_ref().map_or(0, Vec::len),
            MAX_COMPONENT_ROWS,
        )?;
        too_many("files", self.files.len(), MAX_FILES)?;
        for file in &self.files {
            file.validate()?;
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
