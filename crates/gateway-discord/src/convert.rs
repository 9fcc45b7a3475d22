//! The one place where serenity types meet envelopes: Discord messages become
//! [`InboundMessage`]s, [`OutboundMessage`]s become serenity `CreateMessage` builders.
//!
//! Nothing else in the crate builds a topic from a Discord id or a Discord request from
//! an envelope, so the mapping (DM space, reply references, mention safety, splitting)
//! is decided here and tested at the bottom of this file.

use bytebot_core::envelope::OutboundMessage;
use bytebot_core::envelope::{Attachment, Author, InboundMessage, Mention, MentionPolicy};
use bytebot_core::{Direction, Space, Topic, TopicError};
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

/// The Discord requests for one outbound message: one per chunk of content (see
/// [`split_content`]), in order. Only the first chunk is a reply, so a long answer
/// quotes the question once.
///
/// Mentions are safe by default: `@everyone`, `@here` and role pings are allowed only
/// when the envelope asks for [`MentionPolicy::All`] *and* the operator started the
/// gateway with `--allow-mass-mentions`; otherwise they are sent as plain text.
pub fn outbound_requests(
    message: &OutboundMessage,
    channel_id: ChannelId,
    allow_mass_mentions: bool,
) -> Result<Vec<CreateMessage>, ConvertError> {
    let reply_to = match &message.reply_to {
        Some(raw) => Some(
            parse_snowflake(raw)
                .map(MessageId::new)
                .ok_or_else(|| ConvertError::InvalidReplyTo(shorten(raw)))?,
        ),
        None => None,
    };
    let requests = split_content(&message.content, MESSAGE_LIMIT)
        .into_iter()
        .enumerate()
        .map(|(index, chunk)| {
            let mut request = CreateMessage::new()
                .content(chunk)
                .allowed_mentions(allowed_mentions(message.mentions, allow_mass_mentions));
            if let (0, Some(message_id)) = (index, reply_to) {
                // If the message was deleted meanwhile, send a plain message instead of
                // failing: the answer matters more than the quote.
                request = request.reference_message(
                    MessageReference::new(MessageReferenceKind::Default, channel_id)
                        .message_id(message_id)
                        .fail_if_not_exists(false),
                );
            }
            request
        })
        .collect();
    Ok(requests)
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

/// Splits `content` into chunks of at most `limit` characters (code points), in order.
///
/// A chunk ends at a line break when there is one in the second half of the window,
/// else at the last whitespace, else (a single word longer than `limit`) exactly at the
/// limit. The separator at a split is dropped (a `\r\n` as a whole); every other
/// character is kept. Chunks with nothing but whitespace are left out, so an empty
/// message is never sent. Content within the limit is returned unchanged.
pub fn split_content(content: &str, limit: usize) -> Vec<String> {
    assert!(limit > 0, "the chunk limit must be positive");
    let mut chunks = Vec::new();
    let mut rest = content;
    loop {
        // The byte offset of the character just past the limit, if there is one.
        let Some((window_end, next)) = rest.char_indices().nth(limit) else {
            push_chunk(&mut chunks, rest);
            return chunks;
        };
        // The window includes that next character, so a separator right after a full
        // chunk counts as a boundary.
        let window = &rest[..window_end + next.len_utf8()];
        let (chunk_end, resume) = break_point(window).unwrap_or((window_end, window_end));
        push_chunk(&mut chunks, &rest[..chunk_end]);
        rest = &rest[resume..];
    }
}

/// Where to split a window of `limit + 1` characters: `(end of the chunk, start of the
/// rest)` in bytes, or `None` when it has no whitespace at all.
fn break_point(window: &str) -> Option<(usize, usize)> {
    if let Some(newline) = window
        .rfind('\n')
        .filter(|index| *index >= window.len() / 2)
    {
        let chunk_end = if window[..newline].ends_with('\r') {
            newline - 1
        } else {
            newline
        };
        return Some((chunk_end, newline + 1));
    }
    window
        .char_indices()
        .rev()
        .find(|(_, character)| character.is_whitespace())
        .map(|(index, character)| {
            // Do not leave a `\r` behind when breaking at the `\n` of a CRLF.
            let chunk_end = if character == '\n' && window[..index].ends_with('\r') {
                index - 1
            } else {
                index
            };
            (chunk_end, index + character.len_utf8())
        })
}

fn push_chunk(chunks: &mut Vec<String>, chunk: &str) {
    if !chunk.trim().is_empty() {
        chunks.push(chunk.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn words(n_words: usize) -> String {
        (0..n_words)
            .map(|i| format!("word{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn assert_within_limit(chunks: &[String], limit: usize) {
        for chunk in chunks {
            let n_chars = chunk.chars().count();
            assert!(n_chars <= limit, "chunk of {n_chars} chars");
            assert!(!chunk.trim().is_empty(), "empty chunk");
        }
    }

    #[test]
    fn short_content_is_one_unchanged_chunk() {
        assert_eq!(split_content("pong", 2000), ["pong"]);
        let exact = "a".repeat(2000);
        assert_eq!(split_content(&exact, 2000), vec![exact]);
    }

    /// A 5000-character answer becomes three messages that never cut a word.
    #[test]
    fn long_text_splits_at_word_boundaries_in_order() {
        let content = words(700);
        assert!(content.chars().count() > 5000);
        let chunks = split_content(&content, MESSAGE_LIMIT);
        assert_eq!(
            chunks.len(),
            3,
            "{:?}",
            chunks.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_within_limit(&chunks, MESSAGE_LIMIT);
        assert_eq!(chunks.join(" "), content, "words lost, cut or reordered");
        for chunk in &chunks {
            assert!(
                chunk.starts_with("word") && !chunk.ends_with(' '),
                "{chunk:?}"
            );
        }
    }

    #[test]
    fn line_breaks_are_preferred_over_spaces() {
        let line = "abc ".repeat(199).trim_end().to_owned(); // 795 chars
        let content = vec![line; 4].join("\n");
        let chunks = split_content(&content, MESSAGE_LIMIT);
        assert_within_limit(&chunks, MESSAGE_LIMIT);
        for chunk in &chunks {
            assert!(chunk.ends_with("abc"), "split inside a line: {chunk:?}");
        }
        assert_eq!(chunks.join("\n"), content);
    }

    #[test]
    fn crlf_is_never_cut_in_half() {
        let content = vec!["x".repeat(1500); 3].join("\r\n");
        let chunks = split_content(&content, MESSAGE_LIMIT);
        assert_eq!(chunks.len(), 3);
        for chunk in &chunks {
            assert_eq!(chunk, &"x".repeat(1500));
        }
        // A CRLF found by the whitespace search (first half of the window) too.
        let chunks = split_content("ab\r\ncdefgh", 6);
        assert_eq!(chunks, ["ab", "cdefgh"]);
    }

    /// One word longer than the limit must still be sent, cut exactly at the limit.
    #[test]
    fn a_single_huge_word_is_cut_at_the_limit() {
        let content = "y".repeat(4500);
        let chunks = split_content(&content, MESSAGE_LIMIT);
        assert_eq!(
            chunks.iter().map(|c| c.chars().count()).collect::<Vec<_>>(),
            [2000, 2000, 500]
        );
        assert_eq!(chunks.concat(), content);
    }

    /// Discord counts code points, not bytes: multi-byte text must not be split early
    /// or on a byte boundary inside a character.
    #[test]
    fn unicode_is_counted_in_characters() {
        let content = "é🦀".repeat(1500); // 3000 chars, 9000 bytes
        let chunks = split_content(&content, MESSAGE_LIMIT);
        assert_eq!(
            chunks.iter().map(|c| c.chars().count()).collect::<Vec<_>>(),
            [2000, 1000]
        );
        assert_eq!(chunks.concat(), content);
        let spaced = vec!["日本語"; 800].join(" ");
        let chunks = split_content(&spaced, MESSAGE_LIMIT);
        assert_within_limit(&chunks, MESSAGE_LIMIT);
        assert!(chunks.iter().all(|chunk| chunk.ends_with('語')));
    }

    #[test]
    fn whitespace_only_chunks_are_never_produced() {
        let content = format!("{}{}", "\n".repeat(3000), "hello");
        let chunks = split_content(&content, MESSAGE_LIMIT);
        assert_eq!(chunks.len(), 1, "a chunk of only line breaks was kept");
        assert_eq!(chunks[0].trim(), "hello");
        assert!(split_content(" \n ", MESSAGE_LIMIT).is_empty());
    }

    fn request_json(message: &OutboundMessage, allow_mass_mentions: bool) -> Vec<Value> {
        outbound_requests(message, ChannelId::new(42), allow_mass_mentions)
            .unwrap()
            .iter()
            .map(|request| serde_json::to_value(request).unwrap())
            .collect()
    }

    /// A subscriber echoing user text must not be able to ping a whole server.
    #[test]
    fn mass_mentions_need_the_envelope_and_the_operator() {
        let mut message = OutboundMessage::new("@everyone look");
        let parse = |value: &Value| value["allowed_mentions"]["parse"].clone();
        assert_eq!(parse(&request_json(&message, true)[0]), json!(["users"]));
        message.mentions = MentionPolicy::All;
        assert_eq!(parse(&request_json(&message, false)[0]), json!(["users"]));
        assert_eq!(
            parse(&request_json(&message, true)[0]),
            json!(["users", "roles", "everyone"])
        );
        message.mentions = MentionPolicy::None;
        let none = &request_json(&message, true)[0];
        assert_eq!(parse(none), json!([]));
        assert_eq!(none["allowed_mentions"]["replied_user"], json!(false));
    }

    #[test]
    fn reply_to_becomes_a_reference_on_the_first_chunk_only() {
        let mut message = OutboundMessage::new(words(700));
        message.reply_to = Some("1443167930991902725".into());
        let requests = request_json(&message, false);
        assert_eq!(requests.len(), 3);
        let reference = &requests[0]["message_reference"];
        assert_eq!(reference["message_id"], json!("1443167930991902725"));
        assert_eq!(reference["channel_id"], json!("42"));
        assert_eq!(reference["fail_if_not_exists"], json!(false));
        assert!(
            requests[1]
                .get("message_reference")
                .is_none_or(Value::is_null)
        );
    }

    #[test]
    fn bad_ids_are_errors_not_panics() {
        let mut message = OutboundMessage::new("x");
        message.reply_to = Some("not-an-id".into());
        assert_eq!(
            outbound_requests(&message, ChannelId::new(1), false).unwrap_err(),
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
