//! Topics: the hierarchical Redis channel names that address every message.
//!
//! Grammar (five dot-separated segments):
//!
//! ```text
//! topic     = direction "." platform "." space "." room "." user
//! direction = "inbound" | "outbound" | "receipt"
//! platform  = [a-z0-9] [a-z0-9_-]*
//! space     = "@me" | segment        ; "@me": a direct message, which has no guild/server
//! room      = segment
//! user      = segment
//! segment   = 1*( unreserved / "%" HEXDIG HEXDIG )
//! ```
//!
//! A segment is the platform's own name or id, percent-encoded so that it can never
//! contain the separator or a Redis glob metacharacter: `.`, `*`, `?`, `[`, `]`, `\`,
//! `%`, whitespace, control characters and a leading `@` are written as `%XX` (the
//! UTF-8 bytes, upper-case hex). Everything else, including non-ASCII letters, is kept
//! as is, so `inbound.irc.libera.%23rust%2Ebeginners.alice` is still readable.
//!
//! Parsing is strict: a topic must be in this canonical form, so a string that parses
//! is always safe to use in a pattern and prints back the same (up to hex case).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// The space segment of a direct message, which has no guild or server.
pub const DIRECT_MESSAGE_SPACE: &str = "@me";

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Direction {
    /// From a gateway to subscribers: something a user said.
    Inbound,
    /// From a subscriber to a gateway: something to say.
    Outbound,
    /// From a gateway to subscribers: whether an outbound message was delivered
    /// (the platform's message ids, or its error), correlated by `in_reply_to`.
    Receipt,
}

impl Direction {
    /// Every direction, in grammar order.
    pub const ALL: [Direction; 3] = [Direction::Inbound, Direction::Outbound, Direction::Receipt];

    /// The topic segment for this direction.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Receipt => "receipt",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Direction {
    type Err = TopicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Direction::ALL
            .into_iter()
            .find(|direction| direction.as_str() == s)
            .ok_or_else(|| TopicError::UnknownDirection { found: shorten(s) })
    }
}

/// Names one of the five topic segments, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Segment {
    /// `inbound` / `outbound` / `receipt`.
    Direction,
    /// `discord`, `console`, ...
    Platform,
    /// The guild or server (`@me` for a direct message).
    Space,
    /// The channel.
    Room,
    /// The author (inbound) or the user being answered (outbound).
    User,
}

impl Segment {
    /// The five segments in topic order.
    pub const ALL: [Segment; 5] = [
        Segment::Direction,
        Segment::Platform,
        Segment::Space,
        Segment::Room,
        Segment::User,
    ];
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Direction => "direction",
            Segment::Platform => "platform",
            Segment::Space => "space",
            Segment::Room => "room",
            Segment::User => "user",
        })
    }
}

/// Why a string is not a valid topic or segment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Not five dot-separated segments.
    #[error(
        "expected 5 dot-separated segments (direction.platform.space.room.user), found {found}"
    )]
    SegmentCount {
        /// How many segments the input had.
        found: usize,
    },
    /// The first segment is not `inbound`, `outbound` or `receipt`.
    #[error("unknown direction `{found}` (expected `inbound`, `outbound` or `receipt`)")]
    UnknownDirection {
        /// The direction segment, shortened to 64 characters.
        found: String,
    },
    /// A segment is empty (`inbound.discord..c.u`).
    #[error("the {segment} segment is empty")]
    EmptySegment {
        /// Which segment.
        segment: Segment,
    },
    /// The platform is not lower-case ASCII letters, digits, `_` and `-`.
    #[error(
        "invalid platform `{found}` (use lower-case letters, digits, `_` and `-`, starting with a letter or digit)"
    )]
    InvalidPlatform {
        /// The platform, shortened to 64 characters.
        found: String,
    },
    /// A `%` not followed by two hex digits, or escapes that decode to invalid UTF-8.
    #[error("bad percent escape in the {segment} segment at byte {position}")]
    BadEscape {
        /// Which segment.
        segment: Segment,
        /// Byte offset of the `%` (or of the first byte of invalid UTF-8) in the segment.
        position: usize,
    },
    /// A character that topics always percent-encode appears raw.
    #[error("the {segment} segment contains {character:?}, which must be percent-encoded")]
    UnescapedCharacter {
        /// Which segment.
        segment: Segment,
        /// The offending character.
        character: char,
    },
}

/// Whether `character` at `index` (in chars) of a segment must be percent-encoded.
/// The one statement of the escaping rule: the pattern linter uses it too.
pub(crate) fn must_escape(index: usize, character: char) -> bool {
    matches!(character, '.' | '*' | '?' | '[' | ']' | '\\' | '%')
        || character.is_whitespace()
        || character.is_control()
        || (index == 0 && character == '@')
}

/// [`must_escape`] for one ASCII byte: the same answer (`char::is_whitespace` and
/// `is_control` agree with their ASCII versions on ASCII, vertical tab being a control
/// character), without decoding characters. A unit test checks all 128.
fn must_escape_ascii(index: usize, byte: u8) -> bool {
    matches!(byte, b'.' | b'*' | b'?' | b'[' | b']' | b'\\' | b'%')
        || byte.is_ascii_whitespace()
        || byte.is_ascii_control()
        || (index == 0 && byte == b'@')
}

/// Whether any character of `segment` must be escaped. Segments are nearly always
/// ASCII ids, checked byte by byte (several times faster than by `char`); this runs
/// for every topic printed or parsed.
fn needs_escaping(segment: &str, allow_percent: bool) -> Option<char> {
    if segment.is_ascii() {
        return segment
            .bytes()
            .enumerate()
            .find(|&(i, b)| !(allow_percent && b == b'%') && must_escape_ascii(i, b))
            .map(|(_, b)| char::from(b));
    }
    segment
        .chars()
        .enumerate()
        .find(|&(i, c)| !(allow_percent && c == '%') && must_escape(i, c))
        .map(|(_, c)| c)
}

/// Percent-encodes one segment so that it is safe in a topic and in a glob pattern.
///
/// Borrowed when nothing needs escaping (the common case: numeric ids).
pub fn escape_segment(raw: &str) -> Cow<'_, str> {
    if needs_escaping(raw, false).is_none() {
        return Cow::Borrowed(raw);
    }
    let mut escaped = String::with_capacity(raw.len() + 8);
    for (index, character) in raw.chars().enumerate() {
        if must_escape(index, character) {
            let mut buffer = [0u8; 4];
            for byte in character.encode_utf8(&mut buffer).bytes() {
                escaped.push('%');
                escaped.push(hex_digit(byte >> 4));
                escaped.push(hex_digit(byte & 0x0f));
            }
        } else {
            escaped.push(character);
        }
    }
    Cow::Owned(escaped)
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(nibble)])
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes one escaped segment; the inverse of [`escape_segment`].
///
/// Strict: rejects an empty segment, a bad escape, and any character that
/// [`escape_segment`] would have encoded appearing raw (`segment` names the segment in
/// the error).
pub fn unescape_segment(escaped: &str, segment: Segment) -> Result<Cow<'_, str>, TopicError> {
    if escaped.is_empty() {
        return Err(TopicError::EmptySegment { segment });
    }
    if let Some(character) = needs_escaping(escaped, true) {
        return Err(TopicError::UnescapedCharacter { segment, character });
    }
    if !escaped.contains('%') {
        return Ok(Cow::Borrowed(escaped));
    }
    let bytes = escaped.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut position = 0;
    while position < bytes.len() {
        if bytes[position] == b'%' {
            let high = bytes.get(position + 1).copied().and_then(hex_value);
            let low = bytes.get(position + 2).copied().and_then(hex_value);
            match (high, low) {
                (Some(high), Some(low)) => decoded.push(high << 4 | low),
                _ => return Err(TopicError::BadEscape { segment, position }),
            }
            position += 3;
        } else {
            decoded.push(bytes[position]);
            position += 1;
        }
    }
    String::from_utf8(decoded)
        .map(Cow::Owned)
        .map_err(|err| TopicError::BadEscape {
            segment,
            position: err.utf8_error().valid_up_to(),
        })
}

fn shorten(s: &str) -> String {
    const LIMIT: usize = 64;
    match s.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{}...", &s[..end]),
        None => s.to_owned(),
    }
}

macro_rules! segment_id {
    ($(#[$doc:meta])* $name:ident, $segment:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Wraps a raw (unescaped) platform value; only the empty string is refused.
            pub fn new(raw: impl Into<String>) -> Result<Self, TopicError> {
                let raw = raw.into();
                if raw.is_empty() {
                    return Err(TopicError::EmptySegment { segment: $segment });
                }
                Ok($name(raw))
            }

            /// The raw (unescaped) value, as the platform knows it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

segment_id!(
    /// A room: a Discord channel, an IRC channel, a Slack conversation.
    RoomId,
    Segment::Room
);
segment_id!(
    /// A user: a message's author on inbound topics, the user being answered on outbound.
    UserId,
    Segment::User
);

/// A platform name: `discord`, `console`, `slack`...
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform(String);

impl Platform {
    /// Validates a platform name: lower-case ASCII letters, digits, `_` and `-`.
    pub fn new(name: impl Into<String>) -> Result<Self, TopicError> {
        let name = name.into();
        if name.is_empty() {
            return Err(TopicError::EmptySegment {
                segment: Segment::Platform,
            });
        }
        let valid_start = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let valid_rest = name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid_start || !valid_rest {
            return Err(TopicError::InvalidPlatform {
                found: shorten(&name),
            });
        }
        Ok(Platform(name))
    }

    /// The platform name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The space segment: a guild/server/workspace, or a direct message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Space {
    /// A direct message; written `@me` in topics.
    Direct,
    /// A guild, server or workspace, by the platform's id or name (raw, unescaped).
    Id(String),
}

impl Space {
    /// A guild, server or workspace by the platform's id or name (raw, unescaped):
    /// `Space::id("1190804811990446190")`, short for `Space::Id(raw.into())`.
    ///
    /// An empty id is refused where the space is used: [`TopicBuilder::build`] and
    /// [`PatternBuilder::build`](crate::pattern::PatternBuilder::build) return
    /// [`TopicError::EmptySegment`].
    pub fn id(raw: impl Into<String>) -> Space {
        Space::Id(raw.into())
    }

    /// The space itself, or the error a topic with it would get (an empty id).
    pub(crate) fn validated(self) -> Result<Space, TopicError> {
        match &self {
            Space::Id(raw) if raw.is_empty() => Err(TopicError::EmptySegment {
                segment: Segment::Space,
            }),
            _ => Ok(self),
        }
    }

    /// Whether this is a direct message.
    pub fn is_direct(&self) -> bool {
        matches!(self, Space::Direct)
    }

    /// The escaped topic segment (`@me` for a direct message).
    pub fn segment(&self) -> Cow<'_, str> {
        match self {
            Space::Direct => Cow::Borrowed(DIRECT_MESSAGE_SPACE),
            Space::Id(raw) => escape_segment(raw),
        }
    }

    fn parse_segment(escaped: &str) -> Result<Self, TopicError> {
        if escaped == DIRECT_MESSAGE_SPACE {
            return Ok(Space::Direct);
        }
        Ok(Space::Id(
            unescape_segment(escaped, Segment::Space)?.into_owned(),
        ))
    }
}

impl fmt::Display for Space {
    /// The raw value (`@me` for a direct message); use [`Space::segment`] for topics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Space::Direct => f.write_str(DIRECT_MESSAGE_SPACE),
            Space::Id(raw) => f.write_str(raw),
        }
    }
}

/// A full topic: where a message comes from or goes to.
///
/// Built with [`Topic::new`] or [`Topic::builder`], parsed with [`str::parse`], and
/// printed with `Display` in the canonical escaped form used as the Redis channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic {
    direction: Direction,
    platform: Platform,
    space: Space,
    room: RoomId,
    user: UserId,
}

impl Topic {
    /// A topic from already validated parts.
    pub fn new(
        direction: Direction,
        platform: Platform,
        space: Space,
        room: RoomId,
        user: UserId,
    ) -> Topic {
        Topic {
            direction,
            platform,
            space,
            room,
            user,
        }
    }

    /// A builder taking raw strings, validated in [`TopicBuilder::build`].
    pub fn builder(direction: Direction, platform: impl Into<String>) -> TopicBuilder {
        TopicBuilder {
            direction,
            platform: platform.into(),
            space: None,
            room: String::new(),
            user: String::new(),
        }
    }

    /// The topic with the same address in another direction (e.g. the `receipt`
    /// topic for an `outbound` one).
    pub fn with_direction(&self, direction: Direction) -> Topic {
        Topic {
            direction,
            ..self.clone()
        }
    }

    /// The topic that answers this one: the same address, direction `outbound`.
    ///
    /// Subscribers publish replies here; the gateway of `platform` delivers them to
    /// `room`. (Envelopes carry it ready-made as `reply_topic`.)
    pub fn reply(&self) -> Topic {
        Topic {
            direction: Direction::Outbound,
            ..self.clone()
        }
    }

    /// Which way the message travels.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The platform (`discord`, `console`, ...).
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The guild/server, or [`Space::Direct`].
    pub fn space(&self) -> &Space {
        &self.space
    }

    /// The room (channel).
    pub fn room(&self) -> &RoomId {
        &self.room
    }

    /// The user.
    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// Whether the Redis channel `channel` names this topic: its canonical form (what
    /// `Display` prints) or any other spelling of the same segments (`%72` for `r`,
    /// lowercase hex). A channel that is not a topic, such as
    /// `inbound.discord.G.C*.U` (which a `*` pattern still delivers), names none.
    ///
    /// A subscriber checks this before trusting an envelope's `topic`: a delivery on
    /// any other channel was not routed by its own address. Allocates nothing when
    /// `channel` is canonical.
    pub fn is_channel(&self, channel: &str) -> bool {
        let mut parts = channel.split('.');
        let canonical = [
            Cow::Borrowed(self.direction.as_str()),
            Cow::Borrowed(self.platform.as_str()),
            self.space.segment(),
            escape_segment(self.room.as_str()),
            escape_segment(self.user.as_str()),
        ]
        .iter()
        .all(|segment| parts.next() == Some(segment.as_ref()))
            && parts.next().is_none();
        canonical || channel.parse::<Topic>().is_ok_and(|parsed| parsed == *self)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Piece by piece rather than `write!`: this runs for every envelope encoded.
        f.write_str(self.direction.as_str())?;
        f.write_str(".")?;
        f.write_str(self.platform.as_str())?;
        f.write_str(".")?;
        f.write_str(&self.space.segment())?;
        f.write_str(".")?;
        f.write_str(&escape_segment(self.room.as_str()))?;
        f.write_str(".")?;
        f.write_str(&escape_segment(self.user.as_str()))
    }
}

impl FromStr for Topic {
    type Err = TopicError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('.');
        let (Some(direction), Some(platform), Some(space), Some(room), Some(user), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TopicError::SegmentCount {
                found: s.split('.').count(),
            });
        };
        if direction.is_empty() {
            return Err(TopicError::EmptySegment {
                segment: Segment::Direction,
            });
        }
        Ok(Topic {
            direction: direction.parse()?,
            platform: Platform::new(platform)?,
            space: Space::parse_segment(space)?,
            room: RoomId(unescape_segment(room, Segment::Room)?.into_owned()),
            user: UserId(unescape_segment(user, Segment::User)?.into_owned()),
        })
    }
}

impl serde::Serialize for Topic {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Topic {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Topic {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Topic")
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A topic: `direction.platform.space.room.user`, each segment percent-encoded (`.`, `*`, `?`, `[`, `]`, `\\`, `%`, whitespace, control characters and a leading `@` become %XX). `@me` as the space marks a direct message. See docs/subscribers.md.",
            "pattern": "^(inbound|outbound|receipt)\\.[a-z0-9][a-z0-9_-]*\\.[^.*?\\[\\]\\\\\\s]+\\.[^.*?\\[\\]\\\\\\s]+\\.[^.*?\\[\\]\\\\\\s]+$",
            "examples": ["inbound.discord.1190804811990446190.1200058256127688735.179258058118135808"]
        })
    }
}

/// Builds a [`Topic`] from raw (unescaped) strings.
#[derive(Debug, Clone)]
pub struct TopicBuilder {
    direction: Direction,
    platform: String,
    space: Option<Space>,
    room: String,
    user: String,
}

impl TopicBuilder {
    /// The guild/server ([`Space::id`]), or a direct message ([`Space::Direct`]).
    pub fn space(mut self, space: Space) -> Self {
        self.space = Some(space);
        self
    }

    /// Marks the topic as a direct message (space `@me`); short for
    /// `.space(Space::Direct)`.
    pub fn direct(self) -> Self {
        self.space(Space::Direct)
    }

    /// The room (channel) id or name (raw).
    pub fn room(mut self, raw: impl Into<String>) -> Self {
        self.room = raw.into();
        self
    }

    /// The user id or name (raw).
    pub fn user(mut self, raw: impl Into<String>) -> Self {
        self.user = raw.into();
        self
    }

    /// Validates every part: a valid platform and no empty segment.
    pub fn build(self) -> Result<Topic, TopicError> {
        let space = self
            .space
            .ok_or(TopicError::EmptySegment {
                segment: Segment::Space,
            })?
            .validated()?;
        Ok(Topic {
            direction: self.direction,
            platform: Platform::new(self.platform)?,
            space,
            room: RoomId::new(self.room)?,
            user: UserId::new(self.user)?,
        })
    }
}

#[cfg(test)]
mod tests;
