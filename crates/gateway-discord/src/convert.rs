//! The one place where serenity types meet envelopes: Discord messages become
//! [`InboundMessage`]s, the runtime's actions become serenity request builders.
//!
//! Nothing else in the crate builds a topic from a Discord id or a Discord request from
//! an action, so the mapping (DM space, reply references, mention safety) is decided
//! here and tested at the bottom of this file. Cleaning and splitting text is the
//! runtime's (`bytebot_gateway::text`), with [`MESSAGE_LIMIT`] as Discord's limit.

use bytebot_core::envelope::{
    Attachment, Author, DiscordDetails, InboundKind, InboundMessage, Mention, MentionPolicy,
    Reaction as EnvelopeReaction, SPACE_ROOM, Sticker, UNKNOWN_USER,
};
use bytebot_core::{Direction, Space, Topic, TopicError};
use bytebot_gateway::Text;
use serenity::all::{
    Attachment as DiscordAttachment, ChannelId, CreateAllowedMentions, CreateMessage, EditMessage,
    EmojiId, GuildId, Member, Message, MessageId, MessageReference, MessageReferenceKind,
    MessageType, MessageUpdateEvent, Reaction, ReactionType, User,
};

mod rich;

pub use rich::{components, embeds, files};

/// The platform segment of every topic this gateway reads or writes.
pub const PLATFORM: &str = "discord";

/// Discord's limit on a message's content, in Unicode code points: the API counts with
/// Python's `len()` (a Discord engineer in discord/discord-api-docs#1315), which is what
/// `str::chars().count()` counts, and what serenity checks before sending.
pub const MESSAGE_LIMIT: usize = 2000;

/// Why an outbound message cannot be turned into a Discord request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The topic is not a `outbound.discord.*` topic.
    #[error("not an outbound discord topic")]
    NotOutboundDiscord,
    /// The room segment must be a Discord channel id (a non-zero integer snowflake).
    #[error("room `{0}` is not a discord channel id")]
    InvalidChannel(String),
    /// `reply_to` must be a Discord message id.
    #[error("reply_to `{0}` is not a discord message id")]
    InvalidReplyTo(String),
    /// `message_id` must be a Discord message id.
    #[error("message_id `{0}` is not a discord message id")]
    InvalidMessageId(String),
    /// `emoji` must be a Unicode emoji or a custom one as `name:id`.
    #[error("emoji `{0}` is neither a unicode emoji nor `name:id`")]
    InvalidEmoji(String),
    /// An entry of `embeds` or `components` that is not a Discord object serenity can
    /// send.
    #[error("`{field}[{index}]` is not a discord {field} entry: {reason}")]
    InvalidRich {
        /// `embeds` or `components`.
        field: &'static str,
        /// Its position in the list.
        index: usize,
        /// What is wrong (serenity's reading of it, shortened).
        reason: String,
    },
    /// A file of `files` that cannot be uploaded.
    #[error("{0}")]
    InvalidFile(String),
}

/// Whether a Discord message is something people said (a plain message or a reply), as
/// opposed to a system message (member joined, message pinned...), which has no text a
/// subscriber could act on.
pub fn is_chat_message(message: &Message) -> bool {
    matches!(
        message.kind,
        MessageType::Regular | MessageType::InlineReply
    )
}

/// The inbound topic `inbound.discord.<guild>.<channel>.<user>`, with the `@me` space
/// for a direct message (no guild).
fn topic(
    guild_id: Option<GuildId>,
    channel_id: ChannelId,
    user: &str,
) -> Result<Topic, TopicError> {
    let space = match guild_id {
        Some(guild_id) => Space::id(guild_id.to_string()),
        None => Space::Direct,
    };
    Topic::builder(Direction::Inbound, PLATFORM)
        .space(space)
        .room(channel_id.to_string())
        .user(user)
        .build()
}

/// The inbound topic of an interaction: where it was used and by whom.
pub(crate) fn interaction_topic(
    guild_id: Option<u64>,
    channel_id: u64,
    user: &str,
) -> Result<Topic, TopicError> {
    topic(guild_id.map(GuildId::new), ChannelId::new(channel_id), user)
}

/// The inbound topic of a Discord message: `inbound.discord.<guild>.<channel>.<author>`,
/// with the `@me` space for a direct message (no guild).
pub fn inbound_topic(message: &Message) -> Result<Topic, TopicError> {
    topic(
        message.guild_id,
        message.channel_id,
        &message.author.id.to_string(),
    )
}

/// A Discord user as an envelope author; `nick` is the guild nickname, if any.
pub(crate) fn author(user: &User, nick: Option<&str>) -> Author {
    let mut author = Author::new(user.id.to_string(), user.name.clone());
    author.bot = user.bot;
    // The name people see in the room: the guild nickname, else the global display name.
    author.display_name = nick
        .map(str::to_owned)
        .or_else(|| user.global_name.clone())
        .filter(|display_name| *display_name != user.name);
    author
}

fn mentions(users: &[User]) -> Vec<Mention> {
    users
        .iter()
        .map(|user| Mention {
            id: user.id.to_string(),
            name: user.name.clone(),
        })
        .collect()
}

pub(crate) fn attachments(attachments: &[DiscordAttachment]) -> Vec<Attachment> {
    attachments
        .iter()
        .map(|attachment| Attachment {
            url: attachment.url.clone(),
            filename: attachment.filename.clone(),
            content_type: attachment.content_type.clone(),
            size: Some(u64::from(attachment.size)),
        })
        .collect()
}

/// The inbound envelope for a Discord message.
pub fn inbound_envelope(message: &Message) -> Result<InboundMessage, TopicError> {
    let topic = inbound_topic(message)?;
    let nick = message
        .member
        .as_ref()
        .and_then(|member| member.nick.as_deref());
    let mut envelope = InboundMessage::new(
        topic,
        message.id.to_string(),
        author(&message.author, nick),
        message.content.clone(),
    );
    envelope.timestamp = *message.timestamp;
    envelope.mentions = mentions(&message.mentions);
    envelope.attachments = attachments(&message.attachments);
    // A message reference is also used for forwards and crossposts; only a default
    // reference is a reply.
    envelope.reply_to = message
        .message_reference
        .as_ref()
        .filter(|reference| reference.kind == MessageReferenceKind::Default)
        .and_then(|reference| reference.message_id)
        .map(|message_id| message_id.to_string());
    let mut discord = DiscordDetails::default();
    discord.embeds = message
        .embeds
        .iter()
        .filter_map(|embed| object(serde_json::to_value(embed)))
        .collect();
    discord.components = message
        .components
        .iter()
        .filter_map(|row| object(serde_json::to_value(row)))
        .collect();
    discord.stickers = message
        .sticker_items
        .iter()
        .map(|sticker| Sticker {
            id: sticker.id.to_string(),
            name: sticker.name.clone(),
            url: sticker.image_url(),
        })
        .collect();
    envelope.discord = (!discord.is_empty()).then_some(discord);
    Ok(envelope)
}

/// Marks `envelope` as happening in a thread of the channel `parent`.
pub fn set_thread_parent(envelope: &mut InboundMessage, parent: ChannelId) {
    envelope
        .discord
        .get_or_insert_with(DiscordDetails::default)
        .parent_channel_id = Some(parent.to_string());
}

/// A Discord object (an embed, an action row) as serenity serializes it: JSON.
fn object(
    value: Result<serde_json::Value, serde_json::Error>,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    match value {
        Ok(serde_json::Value::Object(object)) => Some(object),
        _ => None,
    }
}

/// The `message_edited` envelope for a `MESSAGE_UPDATE`, or `None` when it is not an
/// edit: Discord also sends updates when it adds an embed (link preview) or a
/// reaction count changes, and only an update with `edited_timestamp` is one a person
/// made. Only the fields Discord sent are filled (it sends the whole message on edits).
pub fn edited_envelope(event: &MessageUpdateEvent) -> Option<Result<InboundMessage, TopicError>> {
    let edited_at = event.edited_timestamp?;
    let nick = event
        .member
        .as_ref()
        .and_then(|member| member.as_ref())
        .and_then(|member| member.nick.as_deref());
    let author = match &event.author {
        Some(user) => author(user, nick),
        None => Author::unknown(),
    };
    let envelope = topic(event.guild_id, event.channel_id, &author.id).map(|topic| {
        let mut envelope = InboundMessage::event(
            InboundKind::MessageEdited,
            topic,
            event.id.to_string(),
            author,
        );
        envelope.content = event.content.clone().unwrap_or_default();
        envelope.timestamp = *edited_at;
        envelope.mentions = event.mentions.as_deref().map(mentions).unwrap_or_default();
        envelope.attachments = event
            .attachments
            .as_deref()
            .map(attachments)
            .unwrap_or_default();
        envelope
    });
    Some(envelope)
}

/// The `message_deleted` envelope: Discord says only which message, in which channel,
/// so the user segment (and `author`) is [`UNKNOWN_USER`] (`@unknown`, escaped
/// `%40unknown` in the topic). Subscribe to `inbound.discord.<guild>.<channel>.*` to
/// see deletions.
pub fn deleted_envelope(
    guild_id: Option<GuildId>,
    channel_id: ChannelId,
    message_id: MessageId,
) -> Result<InboundMessage, TopicError> {
    let topic = topic(guild_id, channel_id, UNKNOWN_USER)?;
    Ok(InboundMessage::event(
        InboundKind::MessageDeleted,
        topic,
        message_id.to_string(),
        Author::unknown(),
    ))
}

/// The `member_joined` envelope (GUILD_MEMBER_ADD, with `--member-events`): the new
/// member is the author and the topic's user; a join happens in no channel, so the
/// room is [`SPACE_ROOM`] (`%40space` in the topic); no message id, no content.
pub fn member_joined_envelope(member: &Member) -> Result<InboundMessage, TopicError> {
    let author = author(&member.user, member.nick.as_deref());
    let topic = Topic::builder(Direction::Inbound, PLATFORM)
        .space(Space::id(member.guild_id.to_string()))
        .room(SPACE_ROOM)
        .user(&author.id)
        .build()?;
    let mut envelope = InboundMessage::event(InboundKind::MemberJoined, topic, "", author);
    if let Some(joined_at) = member.joined_at {
        envelope.timestamp = *joined_at;
    }
    Ok(envelope)
}

/// The `reaction_added` or `reaction_removed` envelope: the user segment and `author`
/// are who reacted (their name only when Discord sends the member, i.e. on additions in
/// a guild; else the id stands for the name).
pub fn reaction_envelope(
    kind: InboundKind,
    reaction: &Reaction,
) -> Result<InboundMessage, TopicError> {
    let member_user = reaction.member.as_ref().map(|member| &member.user);
    let author = match (member_user, reaction.user_id) {
        (Some(user), _) => author(
            user,
            reaction
                .member
                .as_ref()
                .and_then(|member| member.nick.as_deref()),
        ),
        (None, Some(user_id)) => Author::new(user_id.to_string(), user_id.to_string()),
        (None, None) => Author::unknown(),
    };
    let topic = topic(reaction.guild_id, reaction.channel_id, &author.id)?;
    let mut envelope = InboundMessage::event(kind, topic, reaction.message_id.to_string(), author);
    envelope.reaction = Some(match &reaction.emoji {
        ReactionType::Custom { id, name, .. } => EnvelopeReaction {
            emoji: name.clone().unwrap_or_default(),
            emoji_id: Some(id.to_string()),
        },
        ReactionType::Unicode(emoji) => EnvelopeReaction::unicode(emoji.clone()),
        other => EnvelopeReaction::unicode(other.to_string()),
    });
    let mut discord = DiscordDetails::default();
    discord.message_author_id = reaction.message_author_id.map(|id| id.to_string());
    discord.burst = reaction.burst;
    envelope.discord = (!discord.is_empty()).then_some(discord);
    Ok(envelope)
}

/// The Discord channel an outbound topic addresses (its room segment).
///
/// A DM's room is its DM channel id, so guild messages and DMs are sent the same way.
pub fn outbound_channel(topic: &Topic) -> Result<ChannelId, ConvertError> {
    if topic.direction() != Direction::Outbound || topic.platform().as_str() != PLATFORM {
        return Err(ConvertError::NotOutboundDiscord);
    }
    let room = topic.room().as_str();
    parse_snowflake(room)
        .map(ChannelId::new)
        .ok_or_else(|| ConvertError::InvalidChannel(shorten(room)))
}

/// The Discord request that posts one part of a message (the runtime has cleaned and
/// split the text, and set `reply_to` on the first part only). A part with `reply_to`
/// is a Discord reply.
///
/// Mentions are safe by default: `@everyone`, `@here` and role pings are allowed only
/// when the envelope asks for [`MentionPolicy::All`] *and* the operator started the
/// gateway with `--allow-mass-mentions`; otherwise they are sent as plain text.
pub fn send_request(
    text: Text,
    channel_id: ChannelId,
    allow_mass_mentions: bool,
) -> Result<CreateMessage, ConvertError> {
    let reply_to = match &text.reply_to {
        Some(raw) => Some(
            parse_snowflake(raw)
                .map(MessageId::new)
                .ok_or_else(|| ConvertError::InvalidReplyTo(shorten(raw)))?,
        ),
        None => None,
    };
    let mut request = CreateMessage::new()
        .content(text.content)
        .allowed_mentions(allowed_mentions(text.mentions, allow_mass_mentions))
        .add_files(files(&text.files)?);
    if let Some(list) = &text.embeds {
        request = request.embeds(embeds(list)?);
    }
    if let Some(rows) = &text.components {
        request = request.components(components(rows)?);
    }
    if let Some(message_id) = reply_to {
        // If the message was deleted meanwhile, send a plain message instead of
        // failing: the answer matters more than the quote.
        request = request.reference_message(
            MessageReference::new(MessageReferenceKind::Default, channel_id)
                .message_id(message_id)
                .fail_if_not_exists(false),
        );
    }
    Ok(request)
}

/// The Discord request that changes a message, with the same mention safety as a
/// send: the text unless it is empty (an edit of the extras only keeps it), the
/// embeds and components when the envelope names them (`[]` removes them), and the
/// files when there are any (they replace the message's).
pub fn edit_request(text: Text, allow_mass_mentions: bool) -> Result<EditMessage, ConvertError> {
    let mut request =
        EditMessage::new().allowed_mentions(allowed_mentions(text.mentions, allow_mass_mentions));
    if !text.content.is_empty() {
        request = request.content(text.content);
    }
    if let Some(list) = &text.embeds {
        request = request.embeds(embeds(list)?);
    }
    if let Some(rows) = &text.components {
        request = request.components(components(rows)?);
    }
    for file in files(&text.files)? {
        request = request.new_attachment(file);
    }
    Ok(request)
}

/// A message id from an envelope's `message_id`.
pub fn message_id(raw: &str) -> Result<MessageId, ConvertError> {
    parse_snowflake(raw)
        .map(MessageId::new)
        .ok_or_else(|| ConvertError::InvalidMessageId(shorten(raw)))
}

/// An envelope's `emoji`: a custom emoji as `name:id` (what Discord's API takes; a
/// `<:name:id>` as typed in a message works too), anything else as a Unicode emoji.
pub fn reaction_type(raw: &str) -> Result<ReactionType, ConvertError> {
    let emoji = raw.trim();
    let bare = emoji
        .strip_prefix("<a:")
        .or_else(|| emoji.strip_prefix("<:"))
        .and_then(|inner| inner.strip_suffix('>'))
        .unwrap_or(emoji);
    if let Some((name, id)) = bare.rsplit_once(':') {
        let id = parse_snowflake(id).ok_or_else(|| ConvertError::InvalidEmoji(shorten(raw)))?;
        return Ok(ReactionType::Custom {
            animated: emoji.starts_with("<a:"),
            id: EmojiId::new(id),
            name: Some(name.to_owned()).filter(|name| !name.is_empty()),
        });
    }
    if emoji.is_empty() || emoji.chars().any(char::is_whitespace) {
        return Err(ConvertError::InvalidEmoji(shorten(raw)));
    }
    Ok(ReactionType::Unicode(emoji.to_owned()))
}

/// Discord's `allowed_mentions` for a mention policy. Never `everyone` or `roles`
/// unless both the envelope and the operator allow it.
pub(crate) fn allowed_mentions(
    policy: MentionPolicy,
    allow_mass_mentions: bool,
) -> CreateAllowedMentions {
    match policy {
        MentionPolicy::None => CreateAllowedMentions::new().replied_user(false),
        MentionPolicy::All if allow_mass_mentions => CreateAllowedMentions::new()
            .all_users(true)
            .all_roles(true)
            .everyone(true)
            .replied_user(true),
        // `Users`, `All` without the operator's consent, and any policy added later.
        _ => CreateAllowedMentions::new()
            .all_users(true)
            .replied_user(true),
    }
}

/// A Discord snowflake: a non-zero unsigned integer in decimal.
fn parse_snowflake(raw: &str) -> Option<u64> {
    if !raw.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    raw.parse::<u64>().ok().filter(|id| *id != 0)
}

fn shorten(raw: &str) -> String {
    const LIMIT: usize = 64;
    match raw.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{}...", &raw[..end]),
        None => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn request_json(text: &Text, allow_mass_mentions: bool) -> Value {
        let request = send_request(text.clone(), ChannelId::new(42), allow_mass_mentions).unwrap();
        serde_json::to_value(request).unwrap()
    }

    /// A subscriber echoing user text must not be able to ping a whole server.
    #[test]
    fn mass_mentions_need_the_envelope_and_the_operator() {
        let mut message = Text::new("@everyone look");
        let parse = |value: &Value| value["allowed_mentions"]["parse"].clone();
        assert_eq!(parse(&request_json(&message, true)), json!(["users"]));
        message.mentions = MentionPolicy::All;
        assert_eq!(parse(&request_json(&message, false)), json!(["users"]));
        assert_eq!(
            parse(&request_json(&message, true)),
            json!(["users", "roles", "everyone"])
        );
        message.mentions = MentionPolicy::None;
        let none = &request_json(&message, true);
        assert_eq!(parse(none), json!([]));
        assert_eq!(none["allowed_mentions"]["replied_user"], json!(false));
    }

    #[test]
    fn reply_to_becomes_a_reference_that_may_be_gone() {
        let mut text = Text::new("pong");
        text.reply_to = Some("1443167930991902725".into());
        let reference = &request_json(&text, false)["message_reference"];
        assert_eq!(reference["message_id"], json!("1443167930991902725"));
        assert_eq!(reference["channel_id"], json!("42"));
        assert_eq!(reference["fail_if_not_exists"], json!(false));
        let plain = request_json(&Text::new("pong"), false);
        assert!(plain.get("message_reference").is_none_or(Value::is_null));
    }

    /// Custom emoji go to Discord as `name:id` (also when typed as `<:name:id>`);
    /// anything else is a Unicode emoji; blanks and words are refused.
    #[test]
    fn emoji_are_unicode_or_name_and_id() {
        assert_eq!(reaction_type("👍").unwrap().as_data(), "%F0%9F%91%8D");
        for custom in ["party:1190804811990446000", "<:party:1190804811990446000>"] {
            assert_eq!(
                reaction_type(custom).unwrap().as_data(),
                "party:1190804811990446000"
            );
        }
        for bad in ["", " ", "thumbs up", "party:notanid"] {
            assert!(reaction_type(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            message_id("0").unwrap_err(),
            ConvertError::InvalidMessageId("0".into())
        );
    }

    #[test]
    fn bad_ids_are_errors_not_panics() {
        let mut text = Text::new("x");
        text.reply_to = Some("not-an-id".into());
        assert_eq!(
            send_request(text, ChannelId::new(1), false).unwrap_err(),
            ConvertError::InvalidReplyTo("not-an-id".into())
        );
        for room in ["general", "0", "-5", "99999999999999999999999"] {
            let topic = Topic::builder(Direction::Outbound, PLATFORM)
                .space(Space::id("1"))
                .room(room)
                .user("2")
                .build()
                .unwrap();
            assert!(matches!(
                outbound_channel(&topic),
                Err(ConvertError::InvalidChannel(_))
            ));
        }
        let inbound: Topic = "inbound.discord.1.2.3".parse().unwrap();
        assert_eq!(
            outbound_channel(&inbound),
            Err(ConvertError::NotOutboundDiscord)
        );
        let dm: Topic = "outbound.discord.@me.1200058256127688735.7"
            .parse()
            .unwrap();
        assert_eq!(
            outbound_channel(&dm),
            Ok(ChannelId::new(1_200_058_256_127_688_735))
        );
    }

    fn discord_message(value: Value) -> Message {
        serde_json::from_value(value).expect("a complete MESSAGE_CREATE payload")
    }

    fn message_json(guild_id: Option<&str>) -> Value {
        let mut value = json!({
            "id": "1443167930991902725",
            "channel_id": "1200058256127688735",
            "author": {"id": "179258058118135808", "username": "alice", "global_name": "Alice A."},
            "content": "hi <@99>",
            "timestamp": "2026-11-26T09:00:00.000000+00:00",
            "tts": false,
            "mention_everyone": false,
            "mentions": [{"id": "99", "username": "bob"}],
            "mention_roles": [],
            "attachments": [{
                "id": "5", "filename": "a.png", "size": 1234,
                "url": "https://cdn.example/a.png", "proxy_url": "https://media.example/a.png",
                "content_type": "image/png"
            }],
            "embeds": [],
            "pinned": false,
            "type": 19,
            "message_reference": {"type": 0, "message_id": "1443167930991900000", "channel_id": "1200058256127688735"}
        });
        if let Some(guild_id) = guild_id {
            value["guild_id"] = json!(guild_id);
            value["member"] = json!({"nick": "ally", "roles": [], "joined_at": "2026-01-01T00:00:00Z", "deaf": false, "mute": false});
        }
        value
    }

    #[test]
    fn guild_messages_become_envelopes_on_the_guild_topic() {
        let message = discord_message(message_json(Some("1190804811990446190")));
        assert!(is_chat_message(&message));
        let envelope = inbound_envelope(&message).unwrap();
        assert_eq!(
            envelope.topic.to_string(),
            "inbound.discord.1190804811990446190.1200058256127688735.179258058118135808"
        );
        assert_eq!(envelope.message_id, "1443167930991902725");
        assert_eq!(envelope.author.name, "alice");
        assert_eq!(envelope.author.display_name.as_deref(), Some("ally"));
        assert!(!envelope.author.bot);
        assert_eq!(envelope.content, "hi <@99>");
        assert_eq!(
            envelope.mentions,
            [Mention {
                id: "99".into(),
                name: "bob".into()
            }]
        );
        assert_eq!(envelope.attachments[0].filename, "a.png");
        assert_eq!(envelope.attachments[0].size, Some(1234));
        assert_eq!(envelope.reply_to.as_deref(), Some("1443167930991900000"));
        assert_eq!(envelope.timestamp.to_rfc3339(), "2026-11-26T09:00:00+00:00");
        envelope.validate().unwrap();
    }

    #[test]
    fn direct_messages_use_the_at_me_space() {
        let mut value = message_json(None);
        value["type"] = json!(0);
        value.as_object_mut().unwrap().remove("message_reference");
        let envelope = inbound_envelope(&discord_message(value)).unwrap();
        assert_eq!(
            envelope.topic.to_string(),
            "inbound.discord.@me.1200058256127688735.179258058118135808"
        );
        assert!(envelope.is_direct());
        assert_eq!(envelope.author.display_name.as_deref(), Some("Alice A."));
        assert_eq!(envelope.reply_to, None);
    }

    /// Embeds and components arrive as Discord's JSON, stickers with their image; a
    /// plain message has no `discord` object at all.
    #[test]
    fn embeds_components_and_stickers_are_carried_as_data() {
        let mut value = message_json(Some("1190804811990446190"));
        value["embeds"] = json!([{"type": "rich", "title": "Build", "color": 5_763_719,
            "fields": [{"name": "status", "value": "ok", "inline": false}]}]);
        value["components"] = json!([{"type": 1, "components": [
            {"type": 2, "style": 1, "label": "Again", "custom_id": "bot:again"}]}]);
        value["sticker_items"] =
            json!([{"id": "749054660769218631", "name": "Wave", "format_type": 1}]);
        let envelope = inbound_envelope(&discord_message(value)).unwrap();
        let discord = envelope.discord.clone().expect("a discord object");
        assert_eq!(discord.embeds[0]["title"], json!("Build"));
        assert_eq!(discord.embeds[0]["color"], json!(5_763_719));
        assert_eq!(discord.embeds[0]["fields"][0]["value"], json!("ok"));
        let button = &discord.components[0]["components"][0];
        assert_eq!(
            (&button["custom_id"], &button["label"]),
            (&json!("bot:again"), &json!("Again"))
        );
        assert_eq!(discord.stickers[0].name, "Wave");
        assert_eq!(
            discord.stickers[0].url.as_deref(),
            Some("https://cdn.discordapp.com/stickers/749054660769218631.png")
        );
        // Through the envelope's JSON and back.
        let decoded = bytebot_core::envelope::decode_inbound(&envelope.encode()).unwrap();
        assert_eq!(decoded.discord, Some(discord));

        let plain = inbound_envelope(&discord_message(message_json(Some("1")))).unwrap();
        assert_eq!(plain.discord, None);
    }

    #[test]
    fn system_messages_are_not_chat() {
        let mut value = message_json(Some("1"));
        value["type"] = json!(7); // member join
        assert!(!is_chat_message(&discord_message(value)));
    }
}
