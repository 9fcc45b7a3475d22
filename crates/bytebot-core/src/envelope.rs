//! The JSON envelope (wire format v1): what travels on every topic, for every language.
//!
//! A gateway turns each chat message into an [`InboundMessage`] and publishes it on its
//! inbound topic; subscribers, written in any language, answer with an
//! [`OutboundMessage`] on the envelope's `reply_topic`. The JSON produced here and the
//! JSON Schemas in [`schema`] (committed as `schema/inbound.v1.json` and
//! `schema/outbound.v1.json`) are therefore the public contract, and every change to
//! these types is a protocol change:
//!
//! - `v` says which version of the format a payload follows; a reader refuses versions
//!   it does not know ([`EnvelopeError::UnsupportedVersion`]) instead of guessing.
//! - Fields added within a version get `#[serde(default)]`, so older payloads still
//!   decode.
//! - Unknown fields are ignored on decode (never `deny_unknown_fields`), so older
//!   readers accept payloads from newer writers of the same version.
//! - Every type keeps a round-trip test at the bottom of this file.
//!
//! Decode with [`decode_inbound`] / [`decode_outbound`], never with a bare
//! `serde_json::from_slice`: they also bound the payload size, check the version and
//! the invariants that serde alone cannot express.

pub mod schema;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::topic::{Direction, Topic};

pub use schema::{inbound_schema, outbound_schema, render_schema, schema_files};

/// The envelope version this build writes and the only one it reads.
pub const WIRE_VERSION: u32 = 1;

/// The largest payload the decoders accept, checked before any parsing so that a
/// hostile or broken publisher cannot make every subscriber allocate without bound.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// Why a payload is not a valid envelope.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The payload is larger than [`MAX_PAYLOAD_BYTES`]; it was not parsed.
    #[error("payload is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// The payload size in bytes.
        size: usize,
        /// The limit in bytes ([`MAX_PAYLOAD_BYTES`]).
        limit: usize,
    },
    /// The payload declares a version (`v`) this build cannot read.
    #[error("unsupported envelope version {found} (this program reads version {WIRE_VERSION})")]
    UnsupportedVersion {
        /// The `v` the payload declared.
        found: u64,
    },
    /// The payload is not JSON, or not an envelope: a required field is missing or a
    /// field has the wrong type. The message says which, because it is what a daemon
    /// logs when it skips the payload.
    #[error("invalid envelope JSON: {0}")]
    Json(serde_json::Error),
    /// An outbound message whose content is empty or only whitespace: chat platforms
    /// refuse those, so a gateway must never try to send one.
    #[error("outbound message has empty content")]
    EmptyContent,
    /// A field that repeats part of the topic (`platform`, `space`, `room`) disagrees
    /// with it, so subscribers reading one or the other would act differently.
    #[error("`{field}` is {found:?} but the topic says {expected:?}")]
    TopicMismatch {
        /// The disagreeing field.
        field: &'static str,
        /// Its value, shortened to 64 characters.
        found: String,
        /// The value from the topic, shortened to 64 characters.
        expected: String,
    },
    /// `topic` is not an inbound topic, or `reply_topic` not an outbound one (a
    /// `receipt` topic is neither). A reply published on an inbound topic would be
    /// delivered to subscribers again and could loop forever.
    #[error("`{field}` has direction `{found}`, expected `{expected}`")]
    WrongDirection {
        /// `topic` or `reply_topic`.
        field: &'static str,
        /// The direction the field must have.
        expected: Direction,
        /// The direction it has.
        found: Direction,
    },
}

/// What an inbound envelope reports. One variant in v1; a new kind is a visible
/// protocol change, and readers that do not know it refuse the envelope.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InboundKind {
    /// A new chat message.
    #[default]
    Message,
}

/// Who wrote an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Author {
    /// The platform's user id (a Discord snowflake as a string). The same value as the
    /// user segment of `topic`.
    pub id: String,
    /// The account name (Discord username), stable enough to show in logs.
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

/// A chat message, from a gateway to every subscriber of its topic.
///
/// Build one with [`InboundMessage::new`], which keeps the fields that repeat the topic
/// consistent with it, then set the remaining public fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InboundMessage {
    /// Envelope format version: always 1 here. Readers refuse versions they do not know.
    #[schemars(schema_with = "schema::version_schema")]
    pub v: u32,
    /// This envelope's unique id, a UUIDv7: ids sort (as strings too) in the order the
    /// gateway received the messages. Send it back as `in_reply_to` to correlate a reply.
    #[schemars(with = "String", extend("format" = "uuid"))]
    pub id: Uuid,
    /// What happened: `message` (a new chat message) in v1.
    pub kind: InboundKind,
    /// The chat platform (`discord`, `console`, ...); the platform segment of `topic`.
    pub platform: String,
    /// The inbound topic this envelope was published on.
    pub topic: Topic,
    /// Where to publish an answer (an outbound topic). Use it as is rather than
    /// computing it, so a gateway can route replies (to a thread, say) later.
    pub reply_topic: Topic,
    /// When the message was sent, in RFC 3339 (UTC), as the platform reports it.
    pub timestamp: DateTime<Utc>,
    /// The guild/server/workspace id; `@me` for a direct message. The raw value, not
    /// percent-encoded. (On a platform where a space could literally be named `@me`,
    /// only `topic` tells the two apart: a named space is written `%40me` there.)
    pub space: String,
    /// The room (channel) id, raw; the room segment of `topic`.
    pub room: String,
    /// The platform's own id for this message; send it back as an outbound `reply_to`
    /// to answer it with a platform reply.
    pub message_id: String,
    /// Who wrote the message.
    pub author: Author,
    /// The text of the message, as the platform gives it (Discord: with `<@id>` mention
    /// markup). May be empty, e.g. for a message with only attachments.
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
    /// time if known), `platform`, `space` and `room` from the topic, and `reply_topic`
    /// from [`Topic::reply`]. `topic` is forced to the inbound direction, so passing an
    /// outbound topic cannot produce an envelope that decoders refuse. `mentions`,
    /// `attachments`, `reply_to` and `raw` start empty.
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
            room: topic.room().to_string(),
            topic,
            message_id: message_id.into(),
            author,
            content: content.into(),
            mentions: Vec::new(),
            attachments: Vec::new(),
            reply_to: None,
            raw: None,
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
    /// topic's segments, an inbound `topic` and an outbound `reply_topic`.
    ///
    /// [`decode_inbound`] calls it; a gateway may call it before publishing.
    pub fn validate(&self) -> Result<(), EnvelopeError> {
        check_version(u64::from(self.v))?;
        check_direction("topic", &self.topic, Direction::Inbound)?;
        check_direction("reply_topic", &self.reply_topic, Direction::Outbound)?;
        check_same("platform", &self.platform, self.topic.platform())?;
        check_same("space", &self.space, self.topic.space())?;
        check_same("room", &self.room, self.topic.room())?;
        Ok(())
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

/// Something to say, from a subscriber to the gateway that owns the topic it is
/// published on (the inbound envelope's `reply_topic`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OutboundMessage {
    /// Envelope format version: 1, the default when absent.
    #[serde(default = "wire_version")]
    #[schemars(schema_with = "schema::version_schema")]
    pub v: u32,
    /// The text to send. Must contain a non-whitespace character: platforms refuse empty
    /// messages.
    #[schemars(length(min = 1), pattern(r"\S"))]
    pub content: String,
    /// The platform message id to answer (an inbound `message_id`): the gateway sends a
    /// platform reply (on Discord, a reply quoting it). Absent: a plain message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The `id` of the inbound envelope this answers, for correlation in logs and
    /// metrics. Never changes what is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("format" = "uuid"))]
    pub in_reply_to: Option<Uuid>,
    /// Whom the message may ping: `none`, `users` (the default) or `all`.
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
            content: content.into(),
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

    /// The JSON payload to publish (always the object form, never the legacy string).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope always serializes: its maps have string keys")
    }

    /// Checks what serde cannot: a supported `v` and non-blank `content`.
    ///
    /// [`decode_outbound`] calls it; a subscriber may call it before publishing.
    pub fn validate(&self) -> Result<(), EnvelopeError> {
        check_version(u64::from(self.v))?;
        if self.content.trim().is_empty() {
            return Err(EnvelopeError::EmptyContent);
        }
        Ok(())
    }
}

/// Decodes and validates an inbound envelope.
///
/// Refuses, in this order: a payload over [`MAX_PAYLOAD_BYTES`] (before parsing it), a
/// `v` other than [`WIRE_VERSION`] (even when the rest would not parse as v1, so a v2
/// payload says so instead of reporting a confusing field error), invalid JSON or a
/// missing or mistyped field, and an envelope that fails [`InboundMessage::validate`].
pub fn decode_inbound(payload: &[u8]) -> Result<InboundMessage, EnvelopeError> {
    check_size(payload)?;
    let message: InboundMessage = parse(payload)?;
    message.validate()?;
    Ok(message)
}

/// Decodes and validates an outbound envelope.
///
/// Besides the object form, accepts a bare JSON string (`"pong"`, the format of the
/// previous Go gateway) as the content of a plain message. Refuses what
/// [`decode_inbound`] refuses (size, version, JSON) and blank content
/// ([`EnvelopeError::EmptyContent`]), in either form.
pub fn decode_outbound(payload: &[u8]) -> Result<OutboundMessage, EnvelopeError> {
    check_size(payload)?;
    let first_byte = payload.iter().find(|byte| !byte.is_ascii_whitespace());
    let message = if first_byte == Some(&b'"') {
        let content: String = serde_json::from_slice(payload).map_err(EnvelopeError::Json)?;
        OutboundMessage::new(content)
    } else {
        parse(payload)?
    };
    message.validate()?;
    Ok(message)
}

fn check_size(payload: &[u8]) -> Result<(), EnvelopeError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(EnvelopeError::TooLarge {
            size: payload.len(),
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    Ok(())
}

fn check_version(found: u64) -> Result<(), EnvelopeError> {
    if found != u64::from(WIRE_VERSION) {
        return Err(EnvelopeError::UnsupportedVersion { found });
    }
    Ok(())
}

/// Parses `payload` as `T`; when that fails, reports an unsupported `v` in preference to
/// the parse error, since a newer version may legitimately have another shape.
fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, EnvelopeError> {
    /// Only the version, read again from a payload that did not parse as `T`.
    #[derive(Deserialize)]
    struct VersionProbe {
        v: Option<u64>,
    }

    serde_json::from_slice(payload).map_err(|error| {
        match serde_json::from_slice::<VersionProbe>(payload) {
            Ok(VersionProbe { v: Some(found) }) if found != u64::from(WIRE_VERSION) => {
                EnvelopeError::UnsupportedVersion { found }
            }
            _ => EnvelopeError::Json(error),
        }
    })
}

fn check_direction(
    field: &'static str,
    topic: &Topic,
    expected: Direction,
) -> Result<(), EnvelopeError> {
    if topic.direction() != expected {
        return Err(EnvelopeError::WrongDirection {
            field,
            expected,
            found: topic.direction(),
        });
    }
    Ok(())
}

fn check_same(
    field: &'static str,
    found: &str,
    expected: &impl fmt::Display,
) -> Result<(), EnvelopeError> {
    let expected = expected.to_string();
    if found != expected {
        return Err(EnvelopeError::TopicMismatch {
            field,
            found: shorten(found),
            expected: shorten(&expected),
        });
    }
    Ok(())
}

/// Keeps error messages short when a field is huge (up to a whole payload).
fn shorten(text: &str) -> String {
    const LIMIT: usize = 64;
    match text.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic::Space;
    use proptest::prelude::*;
    use serde_json::json;

    const TOPIC: &str =
        "inbound.discord.1190804811990446190.1200058256127688735.179258058118135808";

    fn topic() -> Topic {
        TOPIC.parse().unwrap()
    }

    fn author() -> Author {
        Author::new("179258058118135808", "ferris")
    }

    fn inbound() -> InboundMessage {
        InboundMessage::new(topic(), "1443167930991902725", author(), "!ping")
    }

    /// An inbound envelope with every optional field set, so a round trip covers them all.
    fn full_inbound() -> InboundMessage {
        let mut message = inbound();
        message.author.display_name = Some("Ferris the Crab".into());
        message.author.bot = true;
        message.mentions = vec![Mention {
            id: "80351110224678912".into(),
            name: "nelly".into(),
        }];
        message.attachments = vec![Attachment {
            url: "https://cdn.discordapp.com/attachments/1/2/build.log".into(),
            filename: "build.log".into(),
            content_type: Some("text/plain; charset=utf-8".into()),
            size: Some(48_213),
        }];
        message.reply_to = Some("1443167000000000000".into());
        message.raw = Some(json!({"id": "1443167930991902725", "flags": 0, "pinned": false}));
        message
    }

    fn to_value(payload: &[u8]) -> serde_json::Value {
        serde_json::from_slice(payload).unwrap()
    }

    /// Every field, the optional ones included, survives encode then decode unchanged.
    #[test]
    fn inbound_round_trips_with_every_field() {
        for message in [inbound(), full_inbound()] {
            assert_eq!(decode_inbound(&message.encode()).unwrap(), message);
        }
    }

    /// Every field and every mention policy survive encode then decode unchanged.
    #[test]
    fn outbound_round_trips_with_every_field() {
        let inbound = inbound();
        for mentions in [
            MentionPolicy::None,
            MentionPolicy::Users,
            MentionPolicy::All,
        ] {
            let mut message = OutboundMessage::reply_to(&inbound, "pong");
            message.mentions = mentions;
            assert_eq!(decode_outbound(&message.encode()).unwrap(), message);
        }
        let plain = OutboundMessage::new("hello");
        assert_eq!(decode_outbound(&plain.encode()).unwrap(), plain);
    }

    /// The nested types and enums are wire types too: each keeps its JSON form.
    #[test]
    fn nested_types_round_trip_through_json() {
        let message = full_inbound();
        let author: Author = serde_json::from_value(json!(message.author)).unwrap();
        assert_eq!(author, message.author);
        let mention: Mention = serde_json::from_value(json!(message.mentions[0])).unwrap();
        assert_eq!(mention, message.mentions[0]);
        let attachment: Attachment = serde_json::from_value(json!(message.attachments[0])).unwrap();
        assert_eq!(attachment, message.attachments[0]);
        assert_eq!(json!(InboundKind::Message), json!("message"));
        assert_eq!(
            json!([
                MentionPolicy::None,
                MentionPolicy::Users,
                MentionPolicy::All
            ]),
            json!(["none", "users", "all"])
        );
    }

    /// Newer writers of v1 add fields; older readers must keep working.
    #[test]
    fn unknown_fields_are_ignored() {
        let message = inbound();
        let mut value = to_value(&message.encode());
        value["future_field"] = json!({"nested": [1, 2, 3]});
        value["author"]["avatar"] = json!("https://cdn.example/a.png");
        assert_eq!(
            decode_inbound(value.to_string().as_bytes()).unwrap(),
            message
        );

        let outbound = br#"{"content":"pong","embeds":[{"title":"x"}],"v":1}"#;
        assert_eq!(
            decode_outbound(outbound).unwrap(),
            OutboundMessage::new("pong")
        );
    }

    /// A v2 payload must say "unsupported version", even when its shape no longer parses
    /// as v1, so operators see the real problem.
    #[test]
    fn newer_versions_are_rejected_as_unsupported() {
        let mut value = to_value(&inbound().encode());
        value["v"] = json!(2);
        let same_shape = value.to_string();
        value.as_object_mut().unwrap().remove("content");
        value["author"] = json!("renamed in v2");
        let other_shape = value.to_string();
        for payload in [same_shape, other_shape] {
            assert!(matches!(
                decode_inbound(payload.as_bytes()),
                Err(EnvelopeError::UnsupportedVersion { found: 2 })
            ));
        }
        for payload in [
            r#"{"v":2,"content":"pong"}"#,
            r#"{"v":2,"text":"pong"}"#,
            r#"{"v":9999999999,"content":"pong"}"#,
            r#"{"v":0,"content":"pong"}"#,
        ] {
            assert!(
                matches!(
                    decode_outbound(payload.as_bytes()),
                    Err(EnvelopeError::UnsupportedVersion { .. })
                ),
                "{payload}"
            );
        }
    }

    /// Outbound `v` is optional so that minimal subscribers can send `{"content":...}`.
    #[test]
    fn outbound_version_defaults_to_one() {
        let message = decode_outbound(br#"{"content":"pong"}"#).unwrap();
        assert_eq!(message.v, WIRE_VERSION);
        assert_eq!(message.mentions, MentionPolicy::Users);
    }

    /// The size limit must hold before parsing, or a huge payload costs every subscriber
    /// the parse; an invalid payload proves no parsing happened.
    #[test]
    fn oversize_payloads_are_rejected_before_parsing() {
        let payload = vec![b'x'; MAX_PAYLOAD_BYTES + 1];
        for result in [
            decode_inbound(&payload).map(drop),
            decode_outbound(&payload).map(drop),
        ] {
            assert!(matches!(
                result,
                Err(EnvelopeError::TooLarge { size, limit: MAX_PAYLOAD_BYTES })
                    if size == MAX_PAYLOAD_BYTES + 1
            ));
        }
        let valid_but_large = OutboundMessage::new("a".repeat(MAX_PAYLOAD_BYTES)).encode();
        assert!(matches!(
            decode_outbound(&valid_but_large),
            Err(EnvelopeError::TooLarge { .. })
        ));
        let just_under = OutboundMessage::new("a".repeat(MAX_PAYLOAD_BYTES - 100)).encode();
        assert!(decode_outbound(&just_under).is_ok());
    }

    /// Subscribers written for the Go gateway publish a bare JSON string.
    #[test]
    fn bare_string_is_accepted_as_content() {
        for payload in [&b"\"pong\""[..], b"  \n\"pong\"", b"\"pong\"\n"] {
            assert_eq!(
                decode_outbound(payload).unwrap(),
                OutboundMessage::new("pong")
            );
        }
        assert_eq!(
            decode_outbound(br#""line\nbreak \u00e9""#).unwrap().content,
            "line\nbreak é"
        );
    }

    /// A gateway must never send an empty message, whatever form it came in.
    #[test]
    fn blank_content_is_rejected() {
        for payload in [
            r#"{"content":""}"#,
            r#"{"content":"  \n\t "}"#,
            r#"{"content":"\u3000"}"#,
            r#""""#,
            r#""   ""#,
            r#"" \r\n""#,
        ] {
            assert!(
                matches!(
                    decode_outbound(payload.as_bytes()),
                    Err(EnvelopeError::EmptyContent)
                ),
                "{payload}"
            );
        }
    }

    /// Broken input gets a typed error whose message carries the parser's explanation
    /// (it is what a daemon logs when it skips the payload).
    #[test]
    fn invalid_json_and_missing_fields_say_what_is_wrong() {
        for payload in [
            &b"{"[..],
            b"",
            b"[]",
            b"\"unterminated",
            br#"{"v":1}"#,
            br#"{"content":5}"#,
            br#"{"content":"x","mentions":"everyone"}"#,
        ] {
            let error = decode_outbound(payload).unwrap_err();
            assert!(matches!(error, EnvelopeError::Json(_)), "{error:?}");
            let message = error.to_string();
            assert!(message.starts_with("invalid envelope JSON: "), "{message}");
            assert!(message.len() > "invalid envelope JSON: ".len(), "{message}");
        }
        let mut value = to_value(&inbound().encode());
        value.as_object_mut().unwrap().remove("content");
        let error = decode_inbound(value.to_string().as_bytes()).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("missing field `content`"), "{message}");
    }

    /// Operators read these in logs: they must say what was wrong and by how much.
    #[test]
    fn error_messages_are_lowercase_and_specific() {
        let too_large = decode_outbound(&vec![b' '; MAX_PAYLOAD_BYTES + 1]).unwrap_err();
        assert_eq!(
            too_large.to_string(),
            "payload is 1048577 bytes, over the 1048576-byte limit"
        );
        let version = decode_outbound(br#"{"v":2,"content":"x"}"#).unwrap_err();
        assert_eq!(
            version.to_string(),
            "unsupported envelope version 2 (this program reads version 1)"
        );
        let empty = decode_outbound(br#""""#).unwrap_err();
        assert_eq!(empty.to_string(), "outbound message has empty content");
    }

    /// Optional fields are absent, not `null`, so the JSON stays small and a reader can
    /// test for presence.
    #[test]
    fn none_fields_are_omitted_from_the_json() {
        let value = to_value(&inbound().encode());
        let object = value.as_object().unwrap();
        for absent in ["reply_to", "raw"] {
            assert!(!object.contains_key(absent), "{absent} in {value}");
        }
        assert!(
            !value["author"]
                .as_object()
                .unwrap()
                .contains_key("display_name")
        );
        assert_eq!(value["mentions"], json!([]));
        assert_eq!(value["attachments"], json!([]));

        let mut message = full_inbound();
        message.attachments[0].content_type = None;
        message.attachments[0].size = None;
        let value = to_value(&message.encode());
        assert_eq!(
            value["attachments"][0],
            json!({"url": message.attachments[0].url, "filename": "build.log"})
        );

        let value = to_value(&OutboundMessage::new("pong").encode());
        assert_eq!(
            value,
            json!({"v": 1, "content": "pong", "mentions": "users"})
        );
    }

    /// The wire names are the contract: pin the full list of top-level fields.
    #[test]
    fn inbound_json_has_the_documented_fields() {
        let value = to_value(&full_inbound().encode());
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "attachments",
                "author",
                "content",
                "id",
                "kind",
                "mentions",
                "message_id",
                "platform",
                "raw",
                "reply_to",
                "reply_topic",
                "room",
                "space",
                "timestamp",
                "topic",
                "v",
            ]
        );
        assert_eq!(value["kind"], "message");
        assert_eq!(value["topic"], TOPIC);
        assert_eq!(
            value["reply_topic"],
            "outbound.discord.1190804811990446190.1200058256127688735.179258058118135808"
        );
    }

    /// Subscribers publish to `reply_topic` without computing it, so it must be right.
    #[test]
    fn constructor_derives_reply_topic_and_segments_from_the_topic() {
        let message = inbound();
        assert_eq!(message.reply_topic, message.topic.reply());
        assert_eq!(message.platform, "discord");
        assert_eq!(message.space, "1190804811990446190");
        assert_eq!(message.room, "1200058256127688735");
        assert_eq!(message.v, WIRE_VERSION);
        assert_eq!(message.kind, InboundKind::Message);
        assert!(!message.is_direct());
        message.validate().unwrap();
    }

    /// A DM has no guild: its space is `@me`, in the topic and in the `space` field.
    #[test]
    fn direct_messages_have_the_reserved_space() {
        let topic = Topic::builder(Direction::Inbound, "discord")
            .direct()
            .room("1200058256127688735")
            .user("179258058118135808")
            .build()
            .unwrap();
        let message = InboundMessage::new(topic, "1", author(), "hi");
        assert_eq!(message.space, "@me");
        assert!(message.is_direct());
        assert_eq!(message.topic.space(), &Space::Direct);
        assert_eq!(decode_inbound(&message.encode()).unwrap(), message);
    }

    /// An outbound topic passed by mistake must not yield an envelope decoders refuse.
    #[test]
    fn constructor_forces_an_inbound_topic() {
        let message = InboundMessage::new(topic().reply(), "1", author(), "hi");
        assert_eq!(message.topic, topic());
        assert_eq!(message.reply_topic, topic().reply());
    }

    /// Ids identify envelopes and order them; other languages compare them as strings.
    #[test]
    fn consecutive_ids_differ_and_sort_in_creation_order() {
        let first = inbound();
        let second = inbound();
        assert_ne!(first.id, second.id);
        assert!(first.id < second.id);
        assert!(first.id.to_string() < second.id.to_string());
        assert_eq!(first.id.get_version_num(), 7);
    }

    /// `reply_to` answers the platform message and correlates with the envelope.
    #[test]
    fn reply_to_answers_the_message_and_correlates_the_envelope() {
        let inbound = inbound();
        let reply = OutboundMessage::reply_to(&inbound, "pong");
        assert_eq!(reply.reply_to.as_deref(), Some("1443167930991902725"));
        assert_eq!(reply.in_reply_to, Some(inbound.id));
        assert_eq!(reply.content, "pong");
        assert_eq!(reply.mentions, MentionPolicy::Users);
    }

    /// Copies of the topic's segments must agree with it, and a reply topic that points
    /// back at subscribers would loop.
    #[test]
    fn inconsistent_inbound_envelopes_are_rejected() {
        let mut wrong_space = inbound();
        wrong_space.space = "@me".into();
        assert!(matches!(
            decode_inbound(&wrong_space.encode()),
            Err(EnvelopeError::TopicMismatch { field: "space", .. })
        ));
        let mut wrong_room = inbound();
        wrong_room.room = "1".into();
        let error = decode_inbound(&wrong_room.encode()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`room` is \"1\" but the topic says \"1200058256127688735\""
        );
        let mut wrong_platform = inbound();
        wrong_platform.platform = "slack".into();
        assert!(matches!(
            decode_inbound(&wrong_platform.encode()),
            Err(EnvelopeError::TopicMismatch {
                field: "platform",
                ..
            })
        ));
        let mut looping = inbound();
        looping.reply_topic = looping.topic.clone();
        let error = decode_inbound(&looping.encode()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`reply_topic` has direction `inbound`, expected `outbound`"
        );
        let mut outbound_topic = inbound();
        outbound_topic.topic = outbound_topic.reply_topic.clone();
        assert!(matches!(
            decode_inbound(&outbound_topic.encode()),
            Err(EnvelopeError::WrongDirection { field: "topic", .. })
        ));
    }

    /// A gateway reads these: malformed input must be an error, never a panic.
    #[test]
    fn garbage_never_panics() {
        for payload in [
            &b"\xff\xfe"[..],
            b"null",
            b"1",
            b"\"\\ud800\"",
            b"{\"v\":-1}",
        ] {
            assert!(decode_outbound(payload).is_err());
            assert!(decode_inbound(payload).is_err());
        }
    }

    proptest! {
        /// Whatever a subscriber says (emoji, quotes, control characters) arrives intact.
        #[test]
        fn any_content_round_trips(
            content in any::<String>().prop_filter("not blank", |s| !s.trim().is_empty()),
            bare in any::<bool>(),
        ) {
            let message = OutboundMessage::new(content.clone());
            prop_assert_eq!(decode_outbound(&message.encode()).unwrap(), message);
            if bare {
                let payload = serde_json::to_vec(&content).unwrap();
                prop_assert_eq!(decode_outbound(&payload).unwrap().content, content);
            }
        }

        /// Decoding arbitrary bytes never panics.
        #[test]
        fn decoding_garbage_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_inbound(&payload);
            let _ = decode_outbound(&payload);
        }
    }
}
