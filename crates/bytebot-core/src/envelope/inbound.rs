//! The inbound envelope: a chat message, or an event about one (edited, deleted,
//! reacted to), from a gateway to every subscriber of its topic.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    ComponentRow, Embed, EnvelopeError, Interaction, WIRE_VERSION, check_direction, check_same,
    check_version, schema,
};
use crate::topic::{Direction, Topic};

/// The author id (and name) of an event whose actor the platform does not report, such
/// as a Discord message deletion. Its topic's user segment is the escaped form,
/// `%40unknown`. No platform's real user id starts with `@` (Discord ids are numbers,
/// IRC nicks cannot start with `@`), so it cannot be mistaken for a user.
pub const UNKNOWN_USER: &str = "@unknown";

/// The room of an event that happens in a whole space, in no room, such as a member
/// joining a Discord server (`member_joined`). Its topic's room segment is the escaped
/// form, `%40space`: `inbound.discord.<guild>.%40space.*` selects them. Real rooms
/// never start with `@` (Discord channel ids are numbers, IRC channels start with `#`
/// or `&`), and nothing can be sent to it: a reply to such an event gets a failed
/// receipt, so a welcome message goes to a channel the subscriber chooses.
pub const SPACE_ROOM: &str = "@space";

/// What an inbound envelope reports.
///
/// Kinds are added within version 1, so a reader must expect kinds it does not know and
/// skip them (the Rust decoder reads them as [`InboundKind::Unknown`];
/// [`Bot`](crate::bot::Bot) hands only [`InboundKind::Message`] to its handler unless
/// told otherwise). The topic grammar is the same for every kind: the room where it
/// happened and the user who acted.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InboundKind {
    /// A new chat message: `content` is its text, `author` who wrote it.
    #[default]
    Message,
    /// A message was edited: `message_id` is the edited message, `content` its new text,
    /// `author` who wrote it.
    MessageEdited,
    /// A message was deleted: only the ids are known (`message_id`, `room`, `space`).
    /// `content` is empty; `author` is who wrote it when the gateway knows, else
    /// [`UNKNOWN_USER`].
    MessageDeleted,
    /// Someone reacted to a message: `message_id` is the message, `reaction` the emoji,
    /// `author` who reacted. `content` is empty.
    ReactionAdded,
    /// Someone took a reaction back; the same fields as `reaction_added`.
    ReactionRemoved,
    /// Someone used a slash command, clicked a button, chose in a select menu,
    /// submitted a modal or is typing an option with suggestions: `interaction` says
    /// which and carries the details, `author` is who. `content` is empty. Answer with
    /// the interaction actions (`respond`, `update`, `modal`...) and `in_reply_to` set to
    /// this envelope's `id`.
    Interaction,
    /// Someone joined a server (Discord only, opt-in: `--member-events`, which needs
    /// the privileged Server Members intent): `author` is the new member, the room is
    /// [`SPACE_ROOM`] (a join happens in no channel), `message_id` and `content` are
    /// empty.
    MemberJoined,
    /// A kind this build does not know (added by a newer gateway). Never written; a
    /// reader skips it.
    #[serde(other)]
    Unknown,
}

impl InboundKind {
    /// Every kind a gateway may publish, in the order the docs list them.
    pub const ALL: [InboundKind; 7] = [
        InboundKind::Message,
        InboundKind::MessageEdited,
        InboundKind::MessageDeleted,
        InboundKind::ReactionAdded,
        InboundKind::ReactionRemoved,
        InboundKind::Interaction,
        InboundKind::MemberJoined,
    ];

    /// The wire name (`message`, `message_edited`...).
    pub fn as_str(self) -> &'static str {
        match self {
            InboundKind::Message => "message",
            InboundKind::MessageEdited => "message_edited",
            InboundKind::MessageDeleted => "message_deleted",
            InboundKind::ReactionAdded => "reaction_added",
            InboundKind::ReactionRemoved => "reaction_removed",
            InboundKind::Interaction => "interaction",
            InboundKind::MemberJoined => "member_joined",
            InboundKind::Unknown => "unknown",
        }
    }

    /// Whether the envelope carries a `reaction`.
    pub fn is_reaction(self) -> bool {
        matches!(
            self,
            InboundKind::ReactionAdded | InboundKind::ReactionRemoved
        )
    }
}

impl std::fmt::Display for InboundKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who wrote an inbound message (or, for an event, who acted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Author {
    /// The platform's user id (a Discord snowflake as a string). The same value as the
    /// user segment of `topic`. [`UNKNOWN_USER`] (`@unknown`) when the platform does not
    /// say who acted.
    pub id: String,
    /// The account name (Discord username), stable enough to show in logs. The id
    /// again when the platform's event does not carry a name.
    pub name: String,
    /// The name shown in the room (nickname, global display name), when it differs from
    /// `name`. Absent when the platform has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Whether the author is a bot (this one included). Required, so that a missing
    /// value can never make a bot look human: subscribers that answer bots loop.
    pub bot: bool,
}

impl Author {
    /// A human author without a display name; set the other fields directly.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Author {
        Author {
            id: id.into(),
            name: name.into(),
            display_name: None,
            bot: false,
        }
    }

    /// The author of an event whose actor the platform does not report
    /// ([`UNKNOWN_USER`]).
    pub fn unknown() -> Author {
        Author::new(UNKNOWN_USER, UNKNOWN_USER)
    }

    /// Whether this is [`Author::unknown`].
    pub fn is_unknown(&self) -> bool {
        self.id == UNKNOWN_USER
    }
}

/// A user mentioned in an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Mention {
    /// The platform's user id.
    pub id: String,
    /// The account name.
    pub name: String,
}

/// A file attached to an inbound message. Only metadata travels on the bus; fetch
/// the bytes from `url` if needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attachment {
    /// Where to download the file (an absolute URL on the platform's CDN).
    pub url: String,
    /// The file name as uploaded.
    pub filename: String,
    /// The MIME type, when the platform reports one (`image/png`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The size in bytes, when the platform reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// The emoji of a `reaction_added` / `reaction_removed` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reaction {
    /// A Unicode emoji (`👍`), or a custom emoji's name.
    pub emoji: String,
    /// A custom emoji's platform id (Discord); absent for a Unicode emoji. To react with
    /// a custom emoji on Discord, send `name:id` as the outbound `emoji`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji_id: Option<String>,
}

impl Reaction {
    /// A Unicode emoji.
    pub fn unicode(emoji: impl Into<String>) -> Reaction {
        Reaction {
            emoji: emoji.into(),
            emoji_id: None,
        }
    }
}

/// What only Discord reports, in one namespaced place: a subscriber written for any
/// platform reads the neutral fields and never needs this. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct DiscordDetails {
    /// On `reaction_added`: who wrote the message reacted to (Discord reports it for
    /// additions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_author_id: Option<String>,
    /// On a reaction event: whether it is a super reaction (Discord's "burst").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub burst: bool,
    /// On `message`: the message's embeds, in Discord's embed JSON (the same shape as
    /// an outbound `embeds` entry, plus what Discord adds, such as `type` and
    /// `proxy_url`). Empty (absent) when none; a link preview Discord adds later
    /// arrives as an update, which is not published.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub embeds: Vec<Embed>,
    /// On `message`: its component rows (buttons, select menus), in Discord's JSON, as
    /// data: clicks on them arrive as interactions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentRow>,
    /// On `message`: the stickers sent with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stickers: Vec<Sticker>,
    /// When the room is a thread: the channel the thread belongs to (its parent). A
    /// thread has its own id, which is the room; this is how a subscriber recognises
    /// the threads of one channel (see `docs/subscribers.md`, "Threads"). Absent
    /// outside threads, and for a thread whose creation the gateway has not seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_channel_id: Option<String>,
}

/// A Discord sticker sent with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sticker {
    /// The sticker's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Where its image is (absent for a format Discord serves no image for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl DiscordDetails {
    /// Whether no field is set (then the envelope leaves `discord` out).
    pub fn is_empty(&self) -> bool {
        *self == DiscordDetails::default()
    }
}

/// An inbound envelope: a chat message, or an event about one (see [`InboundKind`]),
/// from a gateway to every subscriber of its topic.
///
/// Build one with [`InboundMessage::new`] (a message) or [`InboundMessage::event`],
/// which keep the fields that repeat the topic consistent with it, then set the
/// remaining public fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InboundMessage {
    /// Envelope format version: always 1 here. Readers refuse versions they do not know.
    #[schemars(schema_with = "schema::version_schema")]
    pub v: u32,
    /// This envelope's unique id, a UUIDv7: ids sort (as strings too) in the order the
    /// gateway received the messages. Send it back as `in_reply_to` to correlate a reply.
    #[schemars(with = "String", extend("format" = "uuid"))]
    pub id: Uuid,
    /// What happened: `message` (a new chat message), `message_edited`,
    /// `message_deleted`, `reaction_added`, `reaction_removed`, `interaction`. More kinds
    /// may be added within version 1: skip a kind you do not know.
    #[schemars(schema_with = "schema::kind_schema")]
    pub kind: InboundKind,
    /// The chat platform (`discord`, `console`, ...); the platform segment of `topic`.
    pub platform: String,
    /// The inbound topic this envelope was published on.
    pub topic: Topic,
    /// Where to publish an answer (an outbound topic). Use it as is rather than
    /// computing it, so a gateway can route replies (to a thread, say) later.
    pub reply_topic: Topic,
    /// When the message was sent (or the event happened), in RFC 3339 (UTC), as the
    /// platform reports it.
    pub timestamp: DateTime<Utc>,
    /// The guild/server/workspace id; `@me` for a direct message. The raw value, not
    /// percent-encoded. A space literally named `@me` has `"@me"` here too: `direct`
    /// tells the two apart.
    pub space: String,
    /// Whether this is a direct message (a conversation with the bot outside any
    /// space): the topic's space segment is the reserved `@me`. Always equal to that;
    /// absent in envelopes from older gateways, which is the same as `false` except on
    /// an `@me` topic.
    #[serde(default)]
    pub direct: bool,
    /// The room (channel) id, raw; the room segment of `topic`.
    pub room: String,
    /// The platform's own id for the message (for an event: the message it concerns);
    /// send it back as an outbound `reply_to` to answer it with a platform reply, or as
    /// `message_id` to react to it.
    pub message_id: String,
    /// Who wrote the message; for a reaction, who reacted. See [`Author`].
    pub author: Author,
    /// The text of the message (for `message_edited`: the new text), as the platform
    /// gives it (Discord: with `<@id>` mention markup). May be empty, e.g. for a message
    /// with only attachments; always empty for deletions and reactions.
    pub content: String,
    /// The users mentioned in the message, in no particular order. Empty when none.
    #[serde(default)]
    pub mentions: Vec<Mention>,
    /// The files attached to the message. Empty when none.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// The platform message id this message replies to, when it is a reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Whether the message is an emote (IRC's CTCP ACTION, `/me waves`): `content` is
    /// what the author did, in the third person ("waves"). Absent (false) for ordinary
    /// messages and in envelopes from older gateways; a bot that answers commands may
    /// ignore emotes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub emote: bool,
    /// The emoji, on `reaction_added` and `reaction_removed`; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<Reaction>,
    /// The interaction, on kind `interaction` (absent otherwise): a command with its
    /// options, a component's `custom_id` and values, a modal's fields or an
    /// autocomplete's focused option, with the user's locale and permissions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interaction: Option<Interaction>,
    /// Discord-only details (absent on other platforms, and when there are none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discord: Option<DiscordDetails>,
    /// The platform's own payload for the message, for subscribers that need more than
    /// the envelope carries. Absent unless the gateway is configured to include it; its
    /// shape is the platform's and is not covered by this schema's stability promise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<serde_json::Value>,
}

impl InboundMessage {
    /// A new message received now, addressed by `topic`.
    ///
    /// Fills `v`, a fresh `id`, `kind`, `timestamp` (now: set it to the platform's own
    /// time if known), `platform`, `space`, `direct` and `room` from the topic, and
    /// `reply_topic` from [`Topic::reply`]. `topic` is forced to the inbound direction,
    /// so passing an outbound topic cannot produce an envelope that decoders refuse.
    /// `mentions`, `attachments`, `reply_to`, `emote`, `reaction`, `interaction`,
    /// `discord` and `raw` start empty.
    pub fn new(
        topic: Topic,
        message_id: impl Into<String>,
        author: Author,
        content: impl Into<String>,
    ) -> InboundMessage {
        let topic = topic.with_direction(Direction::Inbound);
        InboundMessage {
            v: WIRE_VERSION,
            id: Uuid::now_v7(),
            kind: InboundKind::Message,
            platform: topic.platform().to_string(),
            reply_topic: topic.reply(),
            timestamp: Utc::now(),
            space: topic.space().to_string(),
            direct: topic.space().is_direct(),
            room: topic.room().to_string(),
            topic,
            message_id: message_id.into(),
            author,
            content: content.into(),
            mentions: Vec::new(),
            attachments: Vec::new(),
            reply_to: None,
            emote: false,
            reaction: None,
            interaction: None,
            discord: None,
            raw: None,
        }
    }

    /// An event of `kind` about the message `message_id`, with empty content: set
    /// `content` for `message_edited` and `reaction` for the reaction kinds.
    pub fn event(
        kind: InboundKind,
        topic: Topic,
        message_id: impl Into<String>,
        author: Author,
    ) -> InboundMessage {
        InboundMessage {
            kind,
            ..InboundMessage::new(topic, message_id, author, String::new())
        }
    }

    /// Whether the message is a direct message (its topic's space is `@me`).
    pub fn is_direct(&self) -> bool {
        self.topic.space().is_direct()
    }

    /// The JSON payload to publish.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope always serializes: its maps have string keys")
    }

    /// Checks what serde cannot: a supported `v`, `platform`/`space`/`room` equal to the
    /// topic's segments, an inbound `topic`, an outbound `reply_topic`, and a
    /// `reaction` on the reaction kinds, an `interaction` on kind `interaction`.
    ///
    /// [`decode_inbound`](super::decode_inbound) calls it (after setting `direct` from
    /// the topic); a gateway may call it before publishing.
    pub fn validate(&self) -> Result<(), EnvelopeError> {
        check_version(u64::from(self.v))?;
        check_direction("topic", &self.topic, Direction::Inbound)?;
        check_direction("reply_topic", &self.reply_topic, Direction::Outbound)?;
        check_same("platform", &self.platform, self.topic.platform())?;
        check_same("space", &self.space, self.topic.space())?;
        check_same("room", &self.room, self.topic.room())?;
        if self.kind.is_reaction() && self.reaction.is_none() {
            return Err(EnvelopeError::MissingField {
                kind: self.kind.as_str(),
                field: "reaction",
            });
        }
        if self.kind == InboundKind::Interaction && self.interaction.is_none() {
            return Err(EnvelopeError::MissingField {
                kind: self.kind.as_str(),
                field: "interaction",
            });
        }
        Ok(())
    }
}
