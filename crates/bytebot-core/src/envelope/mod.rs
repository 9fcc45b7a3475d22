//! The JSON envelope (wire format v1): what travels on every topic, for every language.
//!
//! A gateway turns each chat message, and each event about one (an edit, a deletion, a
//! reaction: [`InboundKind`]), into an [`InboundMessage`] and publishes it on its
//! inbound topic; subscribers, written in any language, answer with an
//! [`OutboundMessage`] on the envelope's `reply_topic`: by default a message to send,
//! or another [`OutboundAction`] (edit, delete, react, typing). The JSON produced here
//! and the JSON Schemas in [`schema`] (committed as `schema/inbound.v1.json` and
//! `schema/outbound.v1.json`) are therefore the public contract, and every change to
//! these types is a protocol change:
//!
//! - `v` says which version of the format a payload follows; a reader refuses versions
//!   it does not know ([`EnvelopeError::UnsupportedVersion`]) instead of guessing.
//! - Fields, inbound kinds and outbound actions added within a version are optional
//!   (`#[serde(default)]`; `action` defaults to `send`), so older payloads still decode
//!   and mean the same.
//! - Unknown fields are ignored on decode (never `deny_unknown_fields`), so older
//!   readers accept payloads from newer writers of the same version; an unknown inbound
//!   kind decodes as [`InboundKind::Unknown`], for the reader to skip.
//! - Neutral fields first; what only one platform has goes in one object named after
//!   it ([`DiscordDetails`] in `discord`).
//! - Every type keeps a round-trip test (`tests.rs`).
//!
//! Decode with [`decode_inbound`] / [`decode_outbound`], never with a bare
//! `serde_json::from_slice`: they also bound the payload size, refuse anything but a
//! JSON object (serde's derived decoders would take an array of the fields in order),
//! check the version and the invariants that serde alone cannot express.

mod inbound;
mod interaction;
mod outbound;
pub mod schema;

use std::fmt;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::topic::{Direction, Topic};

pub use inbound::{
    Attachment, Author, DiscordDetails, InboundKind, InboundMessage, Mention, Reaction, SPACE_ROOM,
    Sticker, UNKNOWN_USER,
};
pub use interaction::{
    Choice, CommandOption, FocusedOption, InputStyle, Interaction, InteractionType, Modal,
    ModalField, ModalInput, OptionType, Resolved, ResolvedChannel, ResolvedRole,
};
pub use outbound::{
    ComponentRow, Embed, MAX_COMPONENT_ROWS, MAX_EMBEDS, MAX_FILES, MentionPolicy, OutboundAction,
    OutboundFile, OutboundMessage,
};
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
    /// An outbound message whose content is empty or only whitespace, with no embeds or
    /// files instead: chat platforms refuse those, so a gateway must never try to send
    /// one.
    #[error("outbound message has empty content")]
    EmptyContent,
    /// More embeds, component rows or files than one message may carry.
    #[error("`{field}` has {count} entries, more than the {limit} a message may carry")]
    TooMany {
        /// `embeds`, `components` or `files`.
        field: &'static str,
        /// How many the envelope has.
        count: usize,
        /// The most allowed.
        limit: usize,
    },
    /// A text field longer than the platform takes (`thread_name`).
    #[error("`{field}` is {length} characters long, over the {limit}-character limit")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length in characters.
        length: usize,
        /// The most allowed.
        limit: usize,
    },
    /// An outbound file with a bad name or content that is not base64.
    #[error("file {filename:?}: {reason}")]
    InvalidFile {
        /// The file's name, shortened to 64 characters.
        filename: String,
        /// What is wrong.
        reason: String,
    },
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
    /// The payload is valid JSON but not an object (an array, a number, `true`,
    /// `null`; for an outbound payload, a string is also accepted).
    #[error("an envelope must be a JSON object{}, not {found}", if *.string_allowed { " or string" } else { "" })]
    NotAnObject {
        /// What the payload is instead (`an array`, `a number`...).
        found: &'static str,
        /// Whether a bare string would have been accepted (outbound payloads).
        string_allowed: bool,
    },
    /// A field that the envelope's `kind` (inbound) or `action` (outbound) needs is
    /// missing or blank.
    #[error("`{kind}` needs `{field}`")]
    MissingField {
        /// The inbound kind or outbound action.
        kind: &'static str,
        /// The missing field.
        field: &'static str,
    },
}

/// Decodes and validates an inbound envelope.
///
/// Refuses, in this order: a payload over [`MAX_PAYLOAD_BYTES`] (before parsing it),
/// JSON that is not an object ([`EnvelopeError::NotAnObject`]), a `v` other than
/// [`WIRE_VERSION`] (even when the rest would not parse as v1, so a v2 payload says so
/// instead of reporting a confusing field error), invalid JSON or a missing or mistyped
/// field, and an envelope that fails [`InboundMessage::validate`]. `direct` is set from
/// the topic, whatever the payload said.
pub fn decode_inbound(payload: &[u8]) -> Result<InboundMessage, EnvelopeError> {
    check_size(payload)?;
    check_object(payload, false)?;
    let mut message: InboundMessage = parse(payload)?;
    message.direct = message.topic.space().is_direct();
    message.validate()?;
    Ok(message)
}

/// Decodes and validates an outbound envelope.
///
/// Besides the object form, accepts a bare JSON string (`"pong"`, the format of the
/// previous Go gateway) as the content of a plain message. Refuses what
/// [`decode_inbound`] refuses (size, JSON other than an object or a string, version)
/// and what fails [`OutboundMessage::validate`] (blank content, a missing
/// `message_id`...), in either form.
pub fn decode_outbound(payload: &[u8]) -> Result<OutboundMessage, EnvelopeError> {
    check_size(payload)?;
    let message = if check_object(payload, true)? == Shape::String {
        let content: String = serde_json::from_slice(payload).map_err(EnvelopeError::Json)?;
        OutboundMessage::new(content)
    } else {
        parse(payload)?
    };
    message.validate()?;
    Ok(message)
}

/// What a payload's first significant byte says it is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// An object, or not JSON at all (serde then says what is wrong).
    ObjectOrInvalid,
    /// A JSON string (only accepted where `string_allowed`).
    String,
}

/// Refuses JSON arrays, numbers, booleans and null (and strings unless
/// `string_allowed`) by their first byte, before serde sees them: a derived struct
/// decoder accepts an array of the fields in order, which the schemas do not allow.
pub(crate) fn check_object(payload: &[u8], string_allowed: bool) -> Result<Shape, EnvelopeError> {
    // JSON's whitespace: space, tab, line feed, carriage return.
    let first = payload
        .iter()
        .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'));
    let found = match first {
        Some(b'"') if string_allowed => return Ok(Shape::String),
        Some(b'"') => "a string",
        Some(b'[') => "an array",
        Some(b'-' | b'0'..=b'9') => "a number",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => return Ok(Shape::ObjectOrInvalid),
    };
    Err(EnvelopeError::NotAnObject {
        found,
        string_allowed,
    })
}

pub(crate) fn check_size(payload: &[u8]) -> Result<(), EnvelopeError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(EnvelopeError::TooLarge {
            size: payload.len(),
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    Ok(())
}

pub(crate) fn check_version(found: u64) -> Result<(), EnvelopeError> {
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

pub(crate) fn check_direction(
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

pub(crate) fn check_same(
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
mod tests;
