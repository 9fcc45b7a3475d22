//! The one place where serenity types meet envelopes: Discord messages become
//! [`InboundMessage`]s, the runtime's actions become serenity request builders.
//!
//! Nothing else in the crate builds a topic from a Discord id or a Discord request from
//! an action, so the mapping (DM space, reply references, mention safety) is decided
//! here and tested at the bottom of this file. Cleaning and splitting text is the
//! runtime's (`bytebot_gateway::text`), with [`MESSAGE_LIMIT`] as Discord's limit.

use bytebot_core::envelope::{Attachment, Author, InboundMessage, Mention, MentionPolicy};
use bytebot_core::{Direction, Space, Topic, TopicError};
use bytebot_gateway::Text;
use serenity::all::{
    ChannelId, CreateAllowedMentions, CreateMessage, Message, MessageId, MessageReference,
    MessageReferenceKind, MessageType,
};

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

/// The inbound topic of a Discord message: `inbound.discord.<guild>.<channel>.<author>`,
/// with the `@me` space for a direct message (no guild).
pub fn inbound_topic(message: &Message) -> Result<Topic, TopicError> {
    let space = match message.guild_id {
        Some(guild_id) => Space::id(guild_id.to_string()),
        None => Space::Direct,
    };
    Topic::builder(Direction::Inbound, PLATFORM)
        .space(space)
        .room(message.channel_id.to_string())
        .user(message.author.id.to_string())
        .build()
}

/// The inbound envelope for a Discord message.
pub fn inbound_envelope(message: &Message) -> Result<InboundMessage, TopicError> {
    let topic = inbound_topic(message)?;
    let mut author = Author::new(message.author.id.to_string(), message.author.name.clone());
    author.bot = message.author.bot;
    // The name people see in the room: the guild nickname, else the global display name.
    author.display_name = message
        .member
        .as_ref()
        .and_then(|member| member.nick.clone())
        .or_else(|| message.author.global_name.clone())
        .filter(|display_name| *display_name != message.author.name);

    let mut envelope = InboundMessage::new(
        topic,
        message.id.to_string(),
        author,
        message.content.clone(),
    );
    envelope.timestamp = *message.timestamp;
    envelope.mentions = message
        .mentions
        .iter()
        .map(|user| Mention {
            id: user.id.to_string(),
            name: user.name.clone(),
        })
        .collect();
    envelope.attachments = message
        .attachments
        .iter()
        .map(|attachment| Attachment {
            url: attachment.url.clone(),
            filename: attachment.filename.clone(),
            content_type: attachment.content_type.clone(),
            size: Some(u64::from(attachment.size)),
        })
        .collect();
    // A message reference is also used for forwards and crossposts; only a default
    // reference is a reply.
    envelope.reply_to = message
        .message_reference
        .as_ref()
        .filter(|reference| reference.kind == MessageReferenceKind::Default)
        .and_then(|reference| reference.message_id)
        .map(|message_id| message_id.to_string());
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
        .allowed_mentions(allowed_mentions(text.mentions, allow_mass_mentions));
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

/// Discord's `allowed_mentions` for a mention policy. Never `everyone` or `roles`
/// unless both the envelope and the operator allow it.
fn allowed_mentions(policy: MentionPolicy, allow_mass_mentions: bool) -> CreateAllowedMentions {
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

    #[test]
    fn system_messages_are_not_chat() {
        let mut value = message_json(Some("1"));
        value["type"] = json!(7); // member join
        assert!(!is_chat_message(&discord_message(value)));
    }
}
