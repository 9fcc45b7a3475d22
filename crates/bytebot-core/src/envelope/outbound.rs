//! The outbound envelope: an action (send a message, edit or delete one, react, show
//! typing), from a subscriber to the gateway that owns the topic it is published on.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Choice, EnvelopeError, InboundMessage, Modal, WIRE_VERSION, check_version, schema};

/// The most embeds one message may carry (Discord's limit).
pub const MAX_EMBEDS: usize = 10;

/// The most component rows (action rows) one message may carry (Discord's limit).
pub const MAX_COMPONENT_ROWS: usize = 5;

/// The most files one message may carry (Discord's limit on attachments).
pub const MAX_FILES: usize = 10;

/// The longest thread name, in characters (Discord's limit).
pub const MAX_THREAD_NAME: usize = 100;

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
    /// Answer an interaction (`in_reply_to`: the inbound envelope's id) with a message
    /// (`content`; only its user sees it when `ephemeral`). The first answer wins; a
    /// later one gets a failed receipt ("already answered").
    Respond,
    /// Acknowledge an interaction now and answer later ("thinking..." for a command;
    /// nothing visible for a component): the later `respond` or `update` edits the
    /// placeholder. The gateway defers by itself when no answer came within about
    /// 2.5 s, so this is only needed to show "thinking..." at once.
    Defer,
    /// Answer a component interaction by replacing the message the component is on
    /// (`content`).
    Update,
    /// Answer an interaction by opening a form (`modal`). Only possible as the first
    /// answer, before any defer (the gateway's own included).
    Modal,
    /// Answer an `autocomplete` interaction with suggestions (`choices`, at most 25).
    Autocomplete,
    /// Post another message about an answered interaction (`content`, `ephemeral`);
    /// the receipt has its message id.
    Followup,
    /// Replace the text of the interaction's answer (`content`).
    EditResponse,
    /// Delete the interaction's answer.
    DeleteResponse,
    /// Start a thread named `thread_name` from `message_id` (a message in the topic's
    /// room). The receipt's `message_ids` holds the new thread's id, which is the room
    /// to publish in from then on (on Discord it equals the message's id).
    StartThread,
}

impl OutboundAction {
    /// Every action, in the order the docs list them.
    pub const ALL: [OutboundAction; 15] = [
        OutboundAction::Send,
        OutboundAction::Edit,
        OutboundAction::Delete,
        OutboundAction::React,
        OutboundAction::Unreact,
        OutboundAction::Typing,
        OutboundAction::Respond,
        OutboundAction::Defer,
        OutboundAction::Update,
        OutboundAction::Modal,
        OutboundAction::Autocomplete,
        OutboundAction::Followup,
        OutboundAction::EditResponse,
        OutboundAction::DeleteResponse,
        OutboundAction::StartThread,
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
            OutboundAction::Respond => "respond",
            OutboundAction::Defer => "defer",
            OutboundAction::Update => "update",
            OutboundAction::Modal => "modal",
            OutboundAction::Autocomplete => "autocomplete",
            OutboundAction::Followup => "followup",
            OutboundAction::EditResponse => "edit_response",
            OutboundAction::DeleteResponse => "delete_response",
            OutboundAction::StartThread => "start_thread",
        }
    }

    /// Whether this is the default action (left out of the JSON).
    pub fn is_send(&self) -> bool {
        *self == OutboundAction::Send
    }

    /// Whether the action carries text (`send`, `edit`, `respond`, `update`,
    /// `followup`, `edit_response`).
    pub fn has_content(self) -> bool {
        matches!(
            self,
            OutboundAction::Send
                | OutboundAction::Edit
                | OutboundAction::Respond
                | OutboundAction::Update
                | OutboundAction::Followup
                | OutboundAction::EditResponse
        )
    }

    /// Whether the action answers an interaction (`in_reply_to` is required: the
    /// interaction is found by the inbound envelope's id).
    pub fn is_interaction(self) -> bool {
        matches!(
            self,
            OutboundAction::Respond
                | OutboundAction::Defer
                | OutboundAction::Update
                | OutboundAction::Modal
                | OutboundAction::Autocomplete
                | OutboundAction::Followup
                | OutboundAction::EditResponse
                | OutboundAction::DeleteResponse
        )
    }

    /// Whether the action targets an existing message (`message_id` is required).
    pub fn targets_message(self) -> bool {
        matches!(
            self,
            OutboundAction::Edit
                | OutboundAction::Delete
                | OutboundAction::React
                | OutboundAction::Unreact
                | OutboundAction::StartThread
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
    /// `typing`; to answer an interaction: `respond`, `defer`, `update`, `modal`,
    /// `autocomplete`, `followup`, `edit_response`, `delete_response`.
    #[serde(default, skip_serializing_if = "OutboundAction::is_send")]
    pub action: OutboundAction,
    /// The text to send (`send`, `respond`, `followup`) or the new text (`edit`,
    /// `update`, `edit_response`): must contain a non-whitespace character, since
    /// platforms refuse empty messages, except in a `send`, `respond` or `followup`
    /// with `embeds` or `files`, and in an `edit`, `update` or `edit_response` that
    /// changes `embeds`, `components` or `files` (the text is then kept). Ignored by
    /// the other actions.
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
    /// The name of the thread a `start_thread` creates: 1 to 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_name: Option<String>,
    /// The platform message id to answer with a `send` (an inbound `message_id`): the
    /// gateway sends a platform reply (on Discord, a reply quoting it). Absent: a plain
    /// message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The `id` of the inbound envelope this answers, for correlation in logs, metrics
    /// and receipts. For the interaction actions it says which interaction to answer
    /// (required); for the others it never changes what is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("format" = "uuid"))]
    pub in_reply_to: Option<Uuid>,
    /// Whom a `send` or `edit` may ping: `none`, `users` (the default) or `all`.
    #[serde(default)]
    pub mentions: MentionPolicy,
    /// `respond`, `defer` and `followup`: only the user who interacted sees the
    /// message ("Only you can see this").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ephemeral: bool,
    /// `modal`: the form to open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modal: Option<Modal>,
    /// `autocomplete`: the suggestions, in order (none is a valid answer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Choice>,
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
            thread_name: None,
            reply_to: None,
            in_reply_to: None,
            mentions: MentionPolicy::default(),
            embeds: None,
            components: None,
            files: Vec::new(),
            ephemeral: false,
            modal: None,
            choices: Vec::new(),
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

    /// Start a thread named `thread_name` from `message_id`.
    pub fn start_thread(
        message_id: impl Into<String>,
        thread_name: impl Into<String>,
    ) -> OutboundMessage {
        OutboundMessage {
            thread_name: Some(thread_name.into()),
            ..OutboundMessage::on_message(OutboundAction::StartThread, message_id)
        }
    }

    /// Show "typing..." in the room.
    pub fn typing() -> OutboundMessage {
        OutboundMessage {
            action: OutboundAction::Typing,
            ..OutboundMessage::new(String::new())
        }
    }

    /// An interaction action without content, answering `inbound` (an `interaction`
    /// envelope).
    fn answer(action: OutboundAction, inbound: &InboundMessage) -> OutboundMessage {
        OutboundMessage {
            action,
            in_reply_to: Some(inbound.id),
            ..OutboundMessage::new(String::new())
        }
    }

    /// Answers the interaction `inbound` with a message.
    pub fn respond(inbound: &InboundMessage, content: impl Into<String>) -> OutboundMessage {
        OutboundMessage {
            content: content.into(),
            ..OutboundMessage::answer(OutboundAction::Respond, inbound)
        }
    }

    /// Acknowledges the interaction `inbound` now ("thinking..."), to answer later.
    pub fn defer(inbound: &InboundMessage) -> OutboundMessage {
        OutboundMessage::answer(OutboundAction::Defer, inbound)
    }

    /// Answers the component interaction `inbound` by replacing its message.
    pub fn update(inbound: &InboundMessage, content: impl Into<String>) -> OutboundMessage {
        OutboundMessage {
            content: content.into(),
            ..OutboundMessage::answer(OutboundAction::Update, inbound)
        }
    }

    /// Answers the interaction `inbound` by opening `modal`.
    pub fn modal(inbound: &InboundMessage, modal: Modal) -> OutboundMessage {
        OutboundMessage {
            modal: Some(modal),
            ..OutboundMessage::answer(OutboundAction::Modal, inbound)
        }
    }

    /// Answers the autocomplete interaction `inbound` with `choices`.
    pub fn autocomplete(inbound: &InboundMessage, choices: Vec<Choice>) -> OutboundMessage {
        OutboundMessage {
            choices,
            ..OutboundMessage::answer(OutboundAction::Autocomplete, inbound)
        }
    }

    /// Posts another message about the answered interaction `inbound`.
    pub fn followup(inbound: &InboundMessage, content: impl Into<String>) -> OutboundMessage {
        OutboundMessage {
            content: content.into(),
            ..OutboundMessage::answer(OutboundAction::Followup, inbound)
        }
    }

    /// Replaces the text of the answer to the interaction `inbound`.
    pub fn edit_response(inbound: &InboundMessage, content: impl Into<String>) -> OutboundMessage {
        OutboundMessage {
            content: content.into(),
            ..OutboundMessage::answer(OutboundAction::EditResponse, inbound)
        }
    }

    /// Deletes the answer to the interaction `inbound`.
    pub fn delete_response(inbound: &InboundMessage) -> OutboundMessage {
        OutboundMessage::answer(OutboundAction::DeleteResponse, inbound)
    }

    /// Only the user who interacted sees it (`respond`, `defer`, `followup`).
    pub fn ephemeral(mut self) -> OutboundMessage {
        self.ephemeral = true;
        self
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

    /// Whether an action with text carries something besides text that makes a blank
    /// `content` acceptable: embeds or files for a `send`, `respond` or `followup`; for
    /// an `edit`, `update` or `edit_response`, any change of embeds, components or files
    /// (the text is then kept).
    pub fn has_rich_content(&self) -> bool {
        match self.action {
            OutboundAction::Send | OutboundAction::Respond | OutboundAction::Followup => {
                self.embeds
                    .as_ref()
                    .is_some_and(|embeds| !embeds.is_empty())
                    || !self.files.is_empty()
            }
            OutboundAction::Edit | OutboundAction::Update | OutboundAction::EditResponse => {
                self.embeds.is_some() || self.components.is_some() || !self.files.is_empty()
            }
            _ => false,
        }
    }

    /// Checks what serde cannot: a supported `v`, and what the action needs: non-blank
    /// `content` for the actions with text (unless
    /// [`has_rich_content`](Self::has_rich_content)), a `message_id` for the actions on
    /// a message, an `emoji` for `react` and `unreact`, `in_reply_to` for the
    /// interaction actions, and for `modal` a `modal` with a non-blank `custom_id` and
    /// `title` and at least one field; and at most [`MAX_EMBEDS`] embeds,
    /// [`MAX_COMPONENT_ROWS`] component rows and [`MAX_FILES`] files, each file named
    /// and in valid base64.
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
        if self.action == OutboundAction::StartThread {
            match self.thread_name.as_deref().map(str::trim) {
                None | Some("") => return Err(missing("thread_name")),
                Some(name) if name.chars().count() > MAX_THREAD_NAME => {
                    return Err(EnvelopeError::TooLong {
                        field: "thread_name",
                        length: name.chars().count(),
                        limit: MAX_THREAD_NAME,
                    });
                }
                Some(_) => {}
            }
        }
        if self.action.is_interaction() && self.in_reply_to.is_none() {
            return Err(missing("in_reply_to"));
        }
        if self.action == OutboundAction::Modal {
            let blank = |text: &str| text.trim().is_empty();
            match &self.modal {
                None => return Err(missing("modal")),
                Some(modal) if blank(&modal.custom_id) => return Err(missing("modal.custom_id")),
                Some(modal) if blank(&modal.title) => return Err(missing("modal.title")),
                Some(modal) if modal.fields.is_empty() => return Err(missing("modal.fields")),
                Some(_) => {}
            }
        }
        Ok(())
    }
}
