//! Patterns for PSUBSCRIBE: builder, Redis-exact glob matcher, linter.
//!
//! A subscriber says which topics it wants with a Redis glob pattern. Redis globs are
//! not path globs: `*` matches any run of bytes *including dots*, `?` matches exactly one
//! byte (not one character), and `[...]` is a one-byte class. So `inbound.discord.G1*`
//! does not mean "guild G1": it also matches guild `G10` and runs on through the room and
//! user segments. This module keeps subscribers out of that trap three ways:
//!
//! - [`Pattern::builder`] makes patterns from whole segments: each segment is either an
//!   exact, escaped value or a lone `*`, and there are always five of them, so every `*`
//!   stays inside its own segment.
//! - [`glob_match`] is a byte-for-byte port of Redis's own matcher, so tests, tools and
//!   routers can predict exactly which channels a pattern receives, without a server.
//! - [`lint`] reads a hand-written pattern and explains what it really matches when that
//!   is probably not what its author meant, or when it can never match at all.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use crate::topic::{
    DIRECT_MESSAGE_SPACE, Direction, Platform, RoomId, Segment, Space, Topic, TopicError, UserId,
    escape_segment, unescape_segment,
};

/// How many segments every topic has: `direction.platform.space.room.user`.
const TOPIC_SEGMENTS: usize = 5;

/// How deeply Redis lets `*` nest before it declares "no match".
///
/// Each `*` that still has pattern after it starts one more nested attempt; Redis gives
/// up beyond 1000 (its guard against stack exhaustion from abusive patterns, present in
/// current Redis sources). Checked against redis-server 7.0.15: a pattern of 1000 `*a`
/// groups matches 1001 `a`s, 1001 groups do not.
const MAX_STAR_NESTING: usize = 1000;

// ---------------------------------------------------------------------------------------
// The matcher
// ---------------------------------------------------------------------------------------

/// Whether Redis would deliver a message published on `subject` to a PSUBSCRIBE of
/// `pattern`: a faithful port of Redis 7's `stringmatchlen` (`util.c`, case-sensitive).
///
/// Redis semantics, quirks included, because the point is to predict Redis exactly:
///
/// - `*` matches any run of bytes, dots included; `?` matches exactly one byte, so it
///   never matches a whole non-ASCII character.
/// - `[abc]`, `[^abc]` (negated) and ranges `[a-z]`; a reversed range `[z-a]` is swapped.
///   Range bounds compare as C `char`, which is signed on x86-64 Redis builds, so
///   `[\x01-\xff]` is the range -1..=1 and does not match `b` (ARM builds, where `char`
///   is unsigned, differ for ranges that mix ASCII and non-ASCII bounds).
/// - `\x` matches `x` literally, inside and outside classes. A `\` as the last byte of
///   the pattern matches a `\`.
/// - A `[` that is never closed is closed by the end of the pattern: `x[ab` is `x[ab]`,
///   `x[` matches nothing and `x[^` matches `x` and any one byte.
/// - The empty subject matches only the empty pattern (not even `*`).
/// - Patterns whose `*`s would nest deeper than 1000 attempts never match (Redis's stack
///   guard).
///
/// Redis tries each `*` recursively and, since the fix for CVE-2022-36021, stops as soon as
/// the rest of the pattern has failed from every later position (`skipLongerMatches`).
/// With that rule only the innermost `*` ever retries, so this port keeps just that one
/// `*` instead of a call stack: it runs in O(pattern × subject) time, never recurses and
/// never panics, whatever the input.
pub fn glob_match(pattern: &[u8], subject: &[u8]) -> bool {
    let pattern_len = pattern.len();
    let subject_len = subject.len();
    let mut p = 0;
    let mut s = 0;
    // Redis's recursion depth: how many `*`s the current attempt is nested in.
    let mut nesting = 0;
    // The innermost `*` being tried: (pattern index after it, subject index it tried last).
    // An attempt that reaches a later `*` settles the whole match (that is what
    // `skipLongerMatches` does), so only this one `*` ever needs to retry.
    let mut innermost_star: Option<(usize, usize)> = None;
    loop {
        'attempt: {
            while p < pattern_len && s < subject_len {
                match pattern[p] {
                    b'*' => {
                        while p + 1 < pattern_len && pattern[p + 1] == b'*' {
                            p += 1;
                        }
                        if p + 1 == pattern_len {
                            return true;
                        }
                        nesting += 1;
                        if nesting > MAX_STAR_NESTING {
                            // Redis's nested call returns "no match" at once, for every
                            // position of this `*`, and the whole match fails.
                            return false;
                        }
                        p += 1;
                        innermost_star = Some((p, s));
                        continue;
                    }
                    b'?' => {}
                    b'[' => {
                        let class = scan_class(pattern, p, subject[s]);
                        if !class.matched {
                            break 'attempt;
                        }
                        p = class.last;
                    }
                    b'\\' if pattern_len - p >= 2 => {
                        p += 1;
                        if pattern[p] != subject[s] {
                            break 'attempt;
                        }
                    }
                    literal => {
                        if literal != subject[s] {
                            break 'attempt;
                        }
                    }
                }
                s += 1;
                p += 1;
                if s == subject_len {
                    while p < pattern_len && pattern[p] == b'*' {
                        p += 1;
                    }
                    break;
                }
            }
            if p == pattern_len && s == subject_len {
                return true;
            }
        }
        // This attempt failed: let the innermost `*` swallow one more byte and retry.
        let Some((rest, tried)) = innermost_star else {
            return false;
        };
        let next = tried + 1;
        if next == subject_len {
            // Redis's `*` loop only tries non-empty remainders; it is exhausted.
            return false;
        }
        innermost_star = Some((rest, next));
        p = rest;
        s = next;
    }
}

/// What [`scan_class`] found.
struct ClassScan {
    /// Whether the byte is in the class (negation applied).
    matched: bool,
    /// Index of the class's last byte: its `]`, or the pattern's last byte when unclosed.
    last: usize,
    /// Whether a real (unescaped) `]` closed the class.
    terminated: bool,
}

/// Reads the class whose `[` is at `open` exactly as Redis's matcher does, testing `byte`.
///
/// The class's extent never depends on `byte`, so the linter reuses this to find where a
/// class ends and whether it can match a given byte.
fn scan_class(pattern: &[u8], open: usize, byte: u8) -> ClassScan {
    let len = pattern.len();
    let mut p = open + 1;
    let negated = p < len && pattern[p] == b'^';
    if negated {
        p += 1;
    }
    let mut matched = false;
    let terminated;
    loop {
        if len - p >= 2 && pattern[p] == b'\\' {
            p += 1;
            if pattern[p] == byte {
                matched = true;
            }
        } else if p < len && pattern[p] == b']' {
            terminated = true;
            break;
        } else if p == len {
            // Unclosed: Redis steps back so that the pattern's last byte ends the class.
            p -= 1;
            terminated = false;
            break;
        } else if len - p >= 3 && pattern[p + 1] == b'-' {
            let mut start = as_c_char(pattern[p]);
            let mut end = as_c_char(pattern[p + 2]);
            if start > end {
                std::mem::swap(&mut start, &mut end);
            }
            p += 2;
            if (start..=end).contains(&as_c_char(byte)) {
                matched = true;
            }
        } else if pattern[p] == byte {
            matched = true;
        }
        p += 1;
    }
    ClassScan {
        matched: matched != negated,
        last: p,
        terminated,
    }
}

/// A byte as Redis's range comparison sees it: a signed C `char` (x86-64).
fn as_c_char(byte: u8) -> i8 {
    i8::from_ne_bytes([byte])
}

// ---------------------------------------------------------------------------------------
// Patterns and the builder
// ---------------------------------------------------------------------------------------

/// A Redis PSUBSCRIBE pattern over topics.
///
/// Made by [`Pattern::builder`] or a convenience constructor, which always give five
/// whole segments (exact escaped values or lone `*`s), or by [`Pattern::parse_raw`] /
/// [`str::parse`], which accept any hand-written string as is: Redis accepts any
/// pattern, so refusing one here would only hide it. Run [`Pattern::lint`] on
/// hand-written patterns. `Display` prints the string to send to Redis.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pattern(String);

impl Pattern {
    /// A builder for a five-segment pattern; unset segments match anything (`*`).
    pub fn builder() -> PatternBuilder {
        PatternBuilder::default()
    }

    /// Wraps a hand-written pattern without checking it; see [`Pattern::lint`].
    pub fn parse_raw(raw: impl Into<String>) -> Pattern {
        Pattern(raw.into())
    }

    /// `inbound.*.*.*.*`: everything users say, on every platform.
    pub fn all_inbound() -> Pattern {
        Pattern::five(Some(Direction::Inbound), None)
    }

    /// `inbound.<platform>.*.*.*`: everything users say on one platform.
    pub fn inbound_platform(platform: &Platform) -> Pattern {
        Pattern::five(Some(Direction::Inbound), Some(platform))
    }

    /// `outbound.<platform>.*.*.*`: every reply to deliver on one platform, which is what
    /// that platform's gateway subscribes to.
    pub fn outbound_platform(platform: &Platform) -> Pattern {
        Pattern::five(Some(Direction::Outbound), Some(platform))
    }

    /// The pattern that matches exactly one topic: the topic itself, since escaped
    /// segments never contain a glob metacharacter.
    pub fn exact(topic: &Topic) -> Pattern {
        Pattern(topic.to_string())
    }

    fn five(direction: Option<Direction>, platform: Option<&Platform>) -> Pattern {
        let direction = direction.map_or("*", Direction::as_str);
        let platform = platform.map_or("*", Platform::as_str);
        Pattern(format!("{direction}.{platform}.*.*.*"))
    }

    /// The pattern as sent to Redis.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether Redis delivers a message published on `channel` to this pattern.
    pub fn matches(&self, channel: &str) -> bool {
        glob_match(self.0.as_bytes(), channel.as_bytes())
    }

    /// Whether Redis delivers a message published on `topic` to this pattern.
    pub fn matches_topic(&self, topic: &Topic) -> bool {
        self.matches(&topic.to_string())
    }

    /// What [`lint`] finds wrong with this pattern (empty for builder-made patterns).
    pub fn lint(&self) -> Vec<Lint> {
        lint(&self.0)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Pattern {
    /// Every string is a pattern Redis accepts; use [`lint`] to find the suspicious ones.
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Pattern::parse_raw(s))
    }
}

impl AsRef<str> for Pattern {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Builds a [`Pattern`] of five whole segments from raw (unescaped) values.
///
/// A segment that is set matches exactly that value (escaped with [`escape_segment`], so
/// it can contain dots, `*` or spaces and still match only itself); a segment that is not
/// set is a lone `*`. Validated in [`PatternBuilder::build`], with the same rules and
/// errors as [`Topic::builder`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct PatternBuilder {
    direction: Option<Direction>,
    platform: Option<String>,
    space: Option<Space>,
    room: Option<String>,
    user: Option<String>,
}

impl PatternBuilder {
    /// Only this direction.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self
    }

    /// Only this platform (`discord`, `console`, ...).
    pub fn platform(mut self, platform: impl Into<String>) -> Self {
        self.platform = Some(platform.into());
        self
    }

    /// Only this guild/server, or only direct messages with [`Space::Direct`].
    pub fn space(mut self, space: Space) -> Self {
        self.space = Some(space);
        self
    }

    /// Only direct messages (space `@me`).
    pub fn direct(self) -> Self {
        self.space(Space::Direct)
    }

    /// Only this room (channel), raw.
    pub fn room(mut self, room: impl Into<String>) -> Self {
        self.room = Some(room.into());
        self
    }

    /// Only this user, raw.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// The pattern, or the [`TopicError`] a topic with these values would get: an
    /// invalid platform name or an empty segment.
    pub fn build(self) -> Result<Pattern, TopicError> {
        const ANY: Cow<'static, str> = Cow::Borrowed("*");
        let direction = self
            .direction
            .map_or(ANY, |direction| Cow::Borrowed(direction.as_str()));
        let platform = match self.platform {
            Some(name) => Cow::Owned(Platform::new(name)?.as_str().to_owned()),
            None => ANY,
        };
        let space = match self.space {
            Some(Space::Direct) => Cow::Borrowed(DIRECT_MESSAGE_SPACE),
            Some(Space::Id(raw)) => Cow::Owned(Space::id(raw)?.segment().into_owned()),
            None => ANY,
        };
        let room = match self.room {
            Some(raw) => Cow::Owned(escape_segment(RoomId::new(raw)?.as_str()).into_owned()),
            None => ANY,
        };
        let user = match self.user {
            Some(raw) => Cow::Owned(escape_segment(UserId::new(raw)?.as_str()).into_owned()),
            None => ANY,
        };
        Ok(Pattern(format!(
            "{direction}.{platform}.{space}.{room}.{user}"
        )))
    }
}

// ---------------------------------------------------------------------------------------
// The linter
// ---------------------------------------------------------------------------------------

/// How bad a [`Lint`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Severity {
    /// The pattern matches topics, but more (or others) than it probably means.
    Warning,
    /// The pattern can never match a topic Bytebot publishes.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// Which rule a [`Lint`] comes from; see [`lint`] for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LintKind {
    /// An empty segment (`inbound..x.*.*`), or the empty pattern.
    EmptySegment,
    /// More than five segments.
    TooManySegments,
    /// Fewer than five segments and no `*` to stand for the rest.
    TooFewSegments,
    /// Fewer than five segments, with a lone `*` before a fixed segment, so that segment
    /// can land in more than one position.
    ShiftingSegments,
    /// A literal direction other than `inbound` / `outbound`.
    UnknownDirection,
    /// A literal platform that is not a valid platform name.
    InvalidPlatform,
    /// A character topics always percent-encode, written raw.
    UnescapedCharacter,
    /// A percent escape topics never write (`%2e`, `%41`, `%FF`).
    NonCanonicalEscape,
    /// `*`, `?` or a class sharing a segment with other characters (`G1*`).
    PartialSegmentWildcard,
    /// A lone `?` segment, which matches only one-byte values.
    SingleByteWildcard,
    /// `\.`, which matches the separator between segments, not a dot inside an id.
    EscapedSeparator,
    /// A `[` that is never closed.
    UnterminatedClass,
    /// A class that matches no byte at all (`[]`).
    EmptyClass,
}

impl LintKind {
    /// A stable, kebab-case name for tools and tests (`partial-segment-wildcard`).
    pub fn as_str(self) -> &'static str {
        match self {
            LintKind::EmptySegment => "empty-segment",
            LintKind::TooManySegments => "too-many-segments",
            LintKind::TooFewSegments => "too-few-segments",
            LintKind::ShiftingSegments => "shifting-segments",
            LintKind::UnknownDirection => "unknown-direction",
            LintKind::InvalidPlatform => "invalid-platform",
            LintKind::UnescapedCharacter => "unescaped-character",
            LintKind::NonCanonicalEscape => "non-canonical-escape",
            LintKind::PartialSegmentWildcard => "partial-segment-wildcard",
            LintKind::SingleByteWildcard => "single-byte-wildcard",
            LintKind::EscapedSeparator => "escaped-separator",
            LintKind::UnterminatedClass => "unterminated-class",
            LintKind::EmptyClass => "empty-class",
        }
    }
}

impl fmt::Display for LintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem [`lint`] found in a pattern.
///
/// Displays as `error[too-many-segments]: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lint {
    /// Whether the pattern can never match ([`Severity::Error`]) or matches too much.
    pub severity: Severity,
    /// Which rule fired.
    pub kind: LintKind,
    /// What the pattern really matches, why that is a problem, and how to fix it.
    pub message: String,
    /// A corrected pattern, when there is one obvious fix.
    pub suggestion: Option<String>,
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]: {}", self.severity, self.kind, self.message)
    }
}

/// Checks a hand-written pattern against the topic grammar and Redis's glob rules.
///
/// Returns the problems found, errors first; builder-made patterns and the usual
/// hand-written ones (`inbound.*`, `outbound.discord.*`, `*`, `inbound.discord.123.*.*`)
/// get none. Segments are what lies between literal dots (`.` or `\.`), since each must
/// meet one of the four dots of a topic. The rules:
///
/// Errors (the pattern can never match a topic Bytebot publishes):
/// - `empty-segment`: an empty segment (`inbound..x.*.*`, a leading or trailing dot, the
///   empty pattern); topic segments are never empty.
/// - `too-many-segments`: more than five segments (`inbound.discord.G1.*.*.*`); a topic
///   has exactly four dots for the pattern's dots to meet.
/// - `too-few-segments`: fewer than five segments and no `*` (`inbound.discord`); only a
///   `*` can stand for the missing segments.
/// - `unknown-direction`: a first segment that cannot be `inbound` or `outbound`.
/// - `invalid-platform`: a platform segment with characters platform names never have
///   (`Discord`).
/// - `unescaped-character`: a literal that topics always percent-encode: whitespace,
///   control characters, `*?[]\` (written `\*` or a raw `]`), a `%` not followed by two
///   hex digits, and a leading `@` anywhere but the direct-message space `@me`. The
///   message gives the escaped form ([`escape_segment`]).
/// - `non-canonical-escape`: a percent escape topics never print: lower-case hex (`%2e`),
///   an escaped character topics keep raw (`%41`), or bytes that are not UTF-8 (`%FF`).
/// - `empty-class`: a class that matches no byte (`[]`: Redis closes a class at the
///   first `]`).
///
/// Warnings (the pattern matches more, or other, than it probably means):
/// - `partial-segment-wildcard`: `*`, `?` or a `[...]` class sharing a segment with other
///   characters (`inbound.discord.G1*`). `*` is a prefix/suffix match (guild `G10` too)
///   and, in a pattern of fewer than five segments, also runs through the dots into the
///   later segments; `?` and classes match exactly one byte.
/// - `shifting-segments`: fewer than five segments with a lone `*` before a fixed segment
///   (`inbound.*.123.*`): the `*` can swallow several segments, so `123` may be the space
///   or the room.
/// - `single-byte-wildcard`: a lone `?` segment, which matches only one-byte values, not
///   "any value" (that is `*`).
/// - `escaped-separator`: `\.`, which matches the dot *between* segments; a dot inside an
///   id is `%2E` in topics.
/// - `unterminated-class`: a `[` never closed; Redis closes it at the end of the pattern.
///
/// Position-dependent rules (direction, platform, `@me`) apply to a segment only when its
/// position is certain: the pattern has exactly five segments, or every segment before it
/// is a plain literal.
pub fn lint(pattern: &str) -> Vec<Lint> {
    let mut lints = Linter::new(pattern).run();
    lints.sort_by_key(|lint| Reverse(lint.severity));
    lints
}

/// One unit of a pattern as Redis's matcher reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// One or more consecutive `*`.
    Star,
    /// `?`.
    AnyByte,
    /// `[...]`, possibly unclosed.
    Class {
        /// Closed by a real `]`.
        terminated: bool,
        /// Matches `.`, so it may stand for a separator.
        matches_dot: bool,
        /// Matches no byte at all.
        matches_nothing: bool,
    },
    /// A byte matched exactly, written raw or as `\x`.
    Literal { byte: u8 },
    /// A `.` (or `\.`): meets one of the dots between topic segments.
    Separator { escaped: bool },
}

impl Token {
    fn is_wildcard(self) -> bool {
        matches!(self, Token::Star | Token::AnyByte | Token::Class { .. })
    }
}

/// A token and where it sits in the pattern (byte offsets, end exclusive).
#[derive(Debug, Clone, Copy)]
struct Spanned {
    token: Token,
    start: usize,
    end: usize,
}

/// Splits a pattern into tokens, reading classes and escapes exactly as [`glob_match`].
fn tokenize(pattern: &[u8]) -> Vec<Spanned> {
    let mut tokens = Vec::new();
    let mut p = 0;
    while p < pattern.len() {
        let start = p;
        let token = match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                Token::Star
            }
            b'?' => Token::AnyByte,
            b'[' => {
                let scan = scan_class(pattern, start, b'.');
                p = scan.last;
                Token::Class {
                    terminated: scan.terminated,
                    matches_dot: scan.matched,
                    matches_nothing: (0..=u8::MAX)
                        .all(|byte| !scan_class(pattern, start, byte).matched),
                }
            }
            b'\\' if p + 1 < pattern.len() => {
                p += 1;
                match pattern[p] {
                    b'.' => Token::Separator { escaped: true },
                    byte => Token::Literal { byte },
                }
            }
            b'.' => Token::Separator { escaped: false },
            byte => Token::Literal { byte },
        };
        p += 1;
        tokens.push(Spanned {
            token,
            start,
            end: p,
        });
    }
    tokens
}

/// The part of a pattern between two separators.
struct PatternSegment {
    /// The source text (a `\.` separator is not part of either side).
    text: String,
    tokens: Vec<Token>,
}

impl PatternSegment {
    /// The decoded bytes when the segment is all literals (and not empty).
    fn literal(&self) -> Option<Vec<u8>> {
        if self.tokens.is_empty() {
            return None;
        }
        self.tokens
            .iter()
            .map(|token| match token {
                Token::Literal { byte } => Some(*byte),
                _ => None,
            })
            .collect()
    }

    fn is_lone_star(&self) -> bool {
        self.tokens == [Token::Star]
    }

    fn has_star(&self) -> bool {
        self.tokens.contains(&Token::Star)
    }

    fn has_wildcard(&self) -> bool {
        self.tokens.iter().any(|token| token.is_wildcard())
    }
}

/// Splits a pattern into segments at its separators (`.` and `\.`).
fn split_segments(pattern: &str, tokens: &[Spanned]) -> Vec<PatternSegment> {
    let mut segments = Vec::new();
    let mut current = Vec::new();
    let mut text_start = 0;
    for spanned in tokens {
        if let Token::Separator { .. } = spanned.token {
            // Separators are ASCII, so these offsets are character boundaries.
            segments.push(PatternSegment {
                text: pattern[text_start..spanned.start].to_owned(),
                tokens: std::mem::take(&mut current),
            });
            text_start = spanned.end;
        } else {
            current.push(spanned.token);
        }
    }
    segments.push(PatternSegment {
        text: pattern[text_start..].to_owned(),
        tokens: current,
    });
    segments
}

/// Characters that no topic contains anywhere, whatever the segment.
fn never_in_topics(character: char) -> bool {
    matches!(character, '*' | '?' | '[' | ']' | '\\')
        || character.is_whitespace()
        || character.is_control()
}

/// Whether `text[at..]` starts with `%` and two hex digits.
fn is_percent_escape(text: &[u8], at: usize) -> bool {
    text.get(at) == Some(&b'%')
        && text.get(at + 1).is_some_and(u8::is_ascii_hexdigit)
        && text.get(at + 2).is_some_and(u8::is_ascii_hexdigit)
}

/// The characters of a literal segment that topics would have escaped, and the segment
/// with just those percent-encoded.
fn escape_offenders(literal: &str) -> (Vec<char>, String) {
    let mut offenders = Vec::new();
    let mut fixed = String::with_capacity(literal.len() + 8);
    for (index, (at, character)) in literal.char_indices().enumerate() {
        let kept_escape = character == '%' && is_percent_escape(literal.as_bytes(), at);
        if crate::topic::must_escape(index, character) && !kept_escape {
            if !offenders.contains(&character) {
                offenders.push(character);
            }
            let mut buffer = [0u8; 4];
            for byte in character.encode_utf8(&mut buffer).bytes() {
                fixed.push_str(&format!("%{byte:02X}"));
            }
        } else {
            fixed.push(character);
        }
    }
    (offenders, fixed)
}

/// Classic edit distance, to suggest `inbound` for `inbund`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Formats characters for a message: `' '`, `'*'`.
fn list_characters(characters: &[char]) -> String {
    characters
        .iter()
        .map(|c| format!("{c:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `literal` is spelled exactly as a topic would spell a value at `position`
/// (any of space, room or user when the position is not certain).
fn valid_value(position: Option<Segment>, literal: &str) -> bool {
    match position {
        Some(Segment::Direction) => Direction::ALL
            .iter()
            .any(|direction| direction.as_str() == literal),
        Some(Segment::Platform) => Platform::new(literal).is_ok(),
        position => {
            (literal == DIRECT_MESSAGE_SPACE
                && !matches!(position, Some(Segment::Room | Segment::User)))
                || unescape_segment(literal, Segment::Room)
                    .is_ok_and(|raw| escape_segment(&raw) == literal)
        }
    }
}

struct Linter<'a> {
    pattern: &'a str,
    tokens: Vec<Spanned>,
    segments: Vec<PatternSegment>,
    escaped_separator: bool,
    lints: Vec<Lint>,
}

impl<'a> Linter<'a> {
    fn new(pattern: &'a str) -> Self {
        let tokens = tokenize(pattern.as_bytes());
        let segments = split_segments(pattern, &tokens);
        let escaped_separator = tokens
            .iter()
            .any(|spanned| spanned.token == Token::Separator { escaped: true });
        Linter {
            pattern,
            tokens,
            segments,
            escaped_separator,
            lints: Vec::new(),
        }
    }

    fn push(
        &mut self,
        severity: Severity,
        kind: LintKind,
        message: String,
        suggestion: Option<String>,
    ) {
        self.lints.push(Lint {
            severity,
            kind,
            message,
            suggestion,
        });
    }

    fn run(mut self) -> Vec<Lint> {
        if self.pattern.is_empty() {
            self.push(
                Severity::Error,
                LintKind::EmptySegment,
                "the empty pattern matches only a channel with an empty name, and no topic is \
                 empty; use `*` for every topic, or e.g. `inbound.*` for every inbound message"
                    .to_owned(),
                None,
            );
            return self.lints;
        }
        self.check_segment_count();
        for index in 0..self.segments.len() {
            self.check_segment(index);
        }
        self.check_classes();
        if self.escaped_separator {
            self.check_escaped_separator();
        }
        self.lints
    }

    fn has_unterminated_class(&self) -> bool {
        self.tokens.iter().any(|spanned| {
            matches!(
                spanned.token,
                Token::Class {
                    terminated: false,
                    ..
                }
            )
        })
    }

    fn count(&self) -> usize {
        self.segments.len()
    }

    /// The segment's place in a topic, when it is certain: the pattern has five segments
    /// (so no wildcard can swallow a dot), or everything before it is a plain literal.
    fn position(&self, index: usize) -> Option<Segment> {
        let count = self.count();
        if count > TOPIC_SEGMENTS {
            return None;
        }
        let fixed = count == TOPIC_SEGMENTS
            || self.segments[..index]
                .iter()
                .all(|segment| segment.literal().is_some());
        fixed.then(|| Segment::ALL[index])
    }

    /// "the space segment `G1*`" or "segment 4 (`G1*`)".
    fn describe(&self, index: usize) -> String {
        let text = &self.segments[index].text;
        match self.position(index) {
            Some(segment) => format!("the {segment} segment `{text}`"),
            None => format!("segment {} (`{text}`)", index + 1),
        }
    }

    /// The pattern with segment `index` replaced, padded with `*` to five segments.
    fn with_segment(&self, index: usize, replacement: &str) -> String {
        let mut texts: Vec<&str> = self.segments.iter().map(|s| s.text.as_str()).collect();
        texts[index] = replacement;
        while texts.len() < TOPIC_SEGMENTS {
            texts.push("*");
        }
        texts.join(".")
    }

    /// The pattern padded with `*` segments to five.
    fn padded(&self) -> String {
        let mut texts: Vec<&str> = self.segments.iter().map(|s| s.text.as_str()).collect();
        while texts.len() < TOPIC_SEGMENTS {
            texts.push("*");
        }
        texts.join(".")
    }

    fn check_segment_count(&mut self) {
        let count = self.count();
        let pattern = self.pattern;
        if count > TOPIC_SEGMENTS {
            let extra_are_stars = self.segments[TOPIC_SEGMENTS..]
                .iter()
                .all(PatternSegment::is_lone_star);
            let suggestion = (extra_are_stars && !self.escaped_separator).then(|| {
                self.segments[..TOPIC_SEGMENTS]
                    .iter()
                    .map(|s| s.text.as_str())
                    .collect::<Vec<_>>()
                    .join(".")
            });
            let escaped = if self.escaped_separator {
                " (`\\.` counts: it matches the dot between two segments)"
            } else {
                ""
            };
            let fix = match &suggestion {
                Some(fixed) => format!("drop the extra `.*`: `{fixed}`"),
                None => format!(
                    "remove {} segment(s) so that it reads direction.platform.space.room.user",
                    count - TOPIC_SEGMENTS
                ),
            };
            self.push(
                Severity::Error,
                LintKind::TooManySegments,
                format!(
                    "`{pattern}` has {count} segments{escaped} but topics have exactly 5 \
                     (direction.platform.space.room.user); every `.` in a pattern must meet a \
                     `.` in the topic, so it can never match; {fix}"
                ),
                suggestion,
            );
            return;
        }
        if count == TOPIC_SEGMENTS {
            return;
        }
        let has_star = self.segments.iter().any(PatternSegment::has_star);
        let has_empty = self
            .segments
            .iter()
            .any(|segment| segment.tokens.is_empty());
        if !has_star && !has_empty {
            // `?` and classes that admit `.` could still meet a dot each.
            let dot_capable = self
                .segments
                .iter()
                .flat_map(|segment| &segment.tokens)
                .filter(|token| {
                    matches!(
                        token,
                        Token::AnyByte
                            | Token::Class {
                                matches_dot: true,
                                ..
                            }
                    )
                })
                .count();
            if count - 1 + dot_capable < TOPIC_SEGMENTS - 1 {
                if self.has_unterminated_class() {
                    // Padding would land inside the class; the class lint says what to fix.
                    self.push(
                        Severity::Error,
                        LintKind::TooFewSegments,
                        format!(
                            "`{pattern}` has {count} segment(s) but topics have exactly 5: the \
                             unclosed `[` swallows every dot after it, so it can never match"
                        ),
                        None,
                    );
                    return;
                }
                let padded = self.padded();
                self.push(
                    Severity::Error,
                    LintKind::TooFewSegments,
                    format!(
                        "`{pattern}` has {count} segment(s) but topics have exactly 5 \
                         (direction.platform.space.room.user), and without a `*` nothing stands \
                         for the missing ones, so it can never match; add `.*` for each missing \
                         segment: `{padded}`"
                    ),
                    Some(padded),
                );
            }
        }
        if !has_star {
            return;
        }
        // Fewer than five segments with a `*`: fine when the stars only trail (`inbound.*`),
        // risky when a lone `*` comes before a fixed segment.
        let Some(star_index) = (0..count - 1).find(|&index| self.segments[index].is_lone_star())
        else {
            return;
        };
        let Some(fixed_index) =
            (star_index + 1..count).find(|&index| !self.segments[index].is_lone_star())
        else {
            return;
        };
        let spread = TOPIC_SEGMENTS - count;
        let places: Vec<String> = (fixed_index..=fixed_index + spread)
            .map(|place| format!("the {}", Segment::ALL[place]))
            .collect();
        let places = match places.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => places.concat(),
        };
        let fixed_text = &self.segments[fixed_index].text;
        let padded = self.padded();
        self.push(
            Severity::Warning,
            LintKind::ShiftingSegments,
            format!(
                "`{pattern}` has only {count} of the 5 segments, and Redis `*` also matches \
                 dots, so the lone `*` in segment {} can stand for several segments: `{fixed_text}` \
                 may be {places}; write all five segments to pin it down, e.g. `{padded}`",
                star_index + 1
            ),
            Some(padded),
        );
    }

    fn check_segment(&mut self, index: usize) {
        let segment = &self.segments[index];
        if segment.tokens.is_empty() {
            let count = self.count();
            let fixed = self.with_segment(index, "*");
            let fixed = if count > TOPIC_SEGMENTS {
                None
            } else {
                Some(fixed)
            };
            let fix = match &fixed {
                Some(fixed) => format!("; put `*` there to match any value: `{fixed}`"),
                None => String::new(),
            };
            self.push(
                Severity::Error,
                LintKind::EmptySegment,
                format!(
                    "segment {} of `{}` is empty (two dots in a row, or a dot at the start or \
                     end); topic segments are never empty, so it can never match{fix}",
                    index + 1,
                    self.pattern
                ),
                fixed,
            );
            return;
        }
        match self.position(index) {
            Some(Segment::Direction) => self.check_direction(index),
            Some(Segment::Platform) => self.check_platform(index),
            position => self.check_value(index, position),
        }
        self.check_wildcards(index);
    }

    fn check_direction(&mut self, index: usize) {
        let segment = &self.segments[index];
        let text = segment.text.clone();
        let can_match = match segment.literal() {
            Some(literal) => Direction::ALL
                .iter()
                .any(|direction| direction.as_str().as_bytes() == literal),
            // Only with five segments is a wildcard here kept inside the segment.
            None if self.count() == TOPIC_SEGMENTS => Direction::ALL
                .iter()
                .any(|direction| glob_match(text.as_bytes(), direction.as_str().as_bytes())),
            None => true,
        };
        if can_match {
            return;
        }
        let closest = Direction::ALL
            .iter()
            .map(|direction| (edit_distance(&text, direction.as_str()), *direction))
            .min()
            .filter(|(distance, _)| *distance <= 3)
            .map(|(_, direction)| direction);
        let suggestion = closest.map(|direction| self.with_segment(index, direction.as_str()));
        let fix = match (&suggestion, closest) {
            (Some(fixed), Some(direction)) => format!("did you mean `{direction}`? `{fixed}`"),
            _ => "use `inbound`, `outbound` or `*`".to_owned(),
        };
        self.push(
            Severity::Error,
            LintKind::UnknownDirection,
            format!(
                "the direction segment `{text}` is neither `inbound` nor `outbound`, the only \
                 directions Bytebot publishes, so `{}` matches nothing; {fix}",
                self.pattern
            ),
            suggestion,
        );
    }

    fn check_platform(&mut self, index: usize) {
        let segment = &self.segments[index];
        let text = segment.text.clone();
        let is_platform_byte =
            |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-';
        let valid = match segment.literal() {
            Some(literal) => Platform::new(String::from_utf8_lossy(&literal)).is_ok(),
            None => {
                // Literals before the first wildcard are surely inside the platform; with
                // five segments, all of them are.
                let confined = self.count() == TOPIC_SEGMENTS;
                segment
                    .tokens
                    .iter()
                    .take_while(|token| confined || !token.is_wildcard())
                    .all(|token| match token {
                        Token::Literal { byte } => is_platform_byte(*byte),
                        _ => true,
                    })
            }
        };
        if valid {
            return;
        }
        let lower = text.to_lowercase();
        let suggestion = segment
            .literal()
            .filter(|_| Platform::new(lower.clone()).is_ok())
            .map(|_| self.with_segment(index, &lower));
        let fix = match &suggestion {
            Some(fixed) => format!("did you mean `{fixed}`?"),
            None => "use the platform's lower-case name, or `*`".to_owned(),
        };
        self.push(
            Severity::Error,
            LintKind::InvalidPlatform,
            format!(
                "the platform segment `{text}` can never be a platform name (lower-case letters, \
                 digits, `_` and `-`), so no topic contains it and `{}` matches nothing; {fix}",
                self.pattern
            ),
            suggestion,
        );
    }

    /// Space, room and user segments (and segments whose position is not certain).
    fn check_value(&mut self, index: usize, position: Option<Segment>) {
        let segment = &self.segments[index];
        match segment.literal() {
            Some(literal) => {
                let literal = String::from_utf8_lossy(&literal).into_owned();
                self.check_literal_value(index, position, &literal);
            }
            None => self.check_mixed_value(index, position),
        }
    }

    fn check_literal_value(&mut self, index: usize, position: Option<Segment>, literal: &str) {
        let described = self.describe(index);
        if literal == DIRECT_MESSAGE_SPACE {
            if matches!(position, Some(Segment::Room | Segment::User)) {
                let fixed = self.with_segment(index, "%40me");
                self.push(
                    Severity::Error,
                    LintKind::UnescapedCharacter,
                    format!(
                        "{described} is written raw, but `@me` only means a direct message in \
                         the space segment; topics write a {} named `@me` as `%40me`, so this \
                         never matches; use `{fixed}`",
                        position.map_or_else(String::new, |p| p.to_string())
                    ),
                    Some(fixed),
                );
            }
            return;
        }
        let segment_name = position.unwrap_or(Segment::Room);
        match unescape_segment(literal, segment_name) {
            Ok(raw) => {
                let canonical = escape_segment(&raw);
                if canonical != literal {
                    let fixed = self.with_segment(index, &canonical);
                    self.push(
                        Severity::Error,
                        LintKind::NonCanonicalEscape,
                        format!(
                            "{described} is not how topics spell {raw:?}: they percent-encode \
                             only dots, glob characters, `%`, whitespace, control characters \
                             and a leading `@`, with upper-case hex, and keep everything else \
                             as is; so this never matches; write `{canonical}`: `{fixed}`"
                        ),
                        Some(fixed),
                    );
                }
            }
            Err(_) => {
                let (offenders, escaped) = escape_offenders(literal);
                if offenders.is_empty() {
                    // Only escapes that do not decode to UTF-8 (`%FF`) are left.
                    self.push(
                        Severity::Error,
                        LintKind::NonCanonicalEscape,
                        format!(
                            "{described} has percent escapes that do not decode to UTF-8 \
                             text, and topic segments are always UTF-8, so this never matches"
                        ),
                        None,
                    );
                    return;
                }
                // Canonicalize the rest too, when the fixed segment decodes.
                let canonical = unescape_segment(&escaped, segment_name)
                    .map(|raw| escape_segment(&raw).into_owned())
                    .unwrap_or(escaped);
                let fixed = self.with_segment(index, &canonical);
                self.push(
                    Severity::Error,
                    LintKind::UnescapedCharacter,
                    format!(
                        "{described} contains {}, which topics always percent-encode, so this \
                         literal never occurs in a topic and the pattern never matches; write \
                         the escaped form (what `escape_segment` gives) `{canonical}`: `{fixed}`",
                        list_characters(&offenders)
                    ),
                    Some(fixed),
                );
            }
        }
    }

    /// Literal runs of a segment that also has wildcards: characters no topic contains.
    fn check_mixed_value(&mut self, index: usize, position: Option<Segment>) {
        let tokens = &self.segments[index].tokens;
        let mut offenders: Vec<char> = Vec::new();
        if matches!(position, Some(Segment::Room | Segment::User))
            && tokens.first() == Some(&Token::Literal { byte: b'@' })
        {
            offenders.push('@');
        }
        for (at, token) in tokens.iter().enumerate() {
            if *token != (Token::Literal { byte: b'%' }) {
                continue;
            }
            // A `%` needs two hex digits after it, unless a wildcard may supply them.
            for ahead in 1..=2 {
                match tokens.get(at + ahead) {
                    Some(Token::Literal { byte }) if byte.is_ascii_hexdigit() => {}
                    Some(Token::Literal { .. }) | None => {
                        offenders.push('%');
                        break;
                    }
                    Some(_) => break,
                }
            }
        }
        for run in tokens.split(|token| token.is_wildcard()) {
            let bytes: Vec<u8> = run
                .iter()
                .filter_map(|token| match token {
                    Token::Literal { byte } => Some(*byte),
                    _ => None,
                })
                .collect();
            offenders.extend(
                String::from_utf8_lossy(&bytes)
                    .chars()
                    .filter(|c| never_in_topics(*c)),
            );
        }
        if offenders.is_empty() {
            return;
        }
        let mut unique = Vec::new();
        for character in offenders {
            if !unique.contains(&character) {
                unique.push(character);
            }
        }
        let described = self.describe(index);
        let at_note = if unique.contains(&'@') {
            " (a leading `@` is raw only in the direct-message space `@me`)"
        } else {
            ""
        };
        self.push(
            Severity::Error,
            LintKind::UnescapedCharacter,
            format!(
                "{described} contains the literal {}, which topics always percent-encode{at_note}, \
                 so it never occurs in a topic and the pattern never matches; write the escaped \
                 form, as `escape_segment` gives it (`%20` for a space, `%5D` for `]`)",
                list_characters(&unique)
            ),
            None,
        );
    }

    fn check_wildcards(&mut self, index: usize) {
        let segment = &self.segments[index];
        if !segment.has_wildcard() || segment.is_lone_star() {
            return;
        }
        let described = self.describe(index);
        let name = self
            .position(index)
            .map_or_else(|| "value".to_owned(), |segment| segment.to_string());
        if segment.tokens == [Token::AnyByte] {
            let fixed = self.with_segment(index, "*");
            self.push(
                Severity::Warning,
                LintKind::SingleByteWildcard,
                format!(
                    "{described} is a lone `?`, which matches exactly one byte, so it only \
                     matches a {name} that is a single ASCII character such as `7`; to match any \
                     {name} use `*`: `{fixed}`"
                ),
                Some(fixed),
            );
            return;
        }
        if matches!(segment.tokens.as_slice(), [Token::Class { .. }]) {
            // A lone class is a deliberate choice among one-byte values.
            return;
        }
        let text = segment.text.clone();
        let tokens = segment.tokens.clone();
        let confined = self.count() == TOPIC_SEGMENTS;
        let literal_run = |run: &[Token]| -> Option<String> {
            let bytes: Option<Vec<u8>> = run
                .iter()
                .map(|token| match token {
                    Token::Literal { byte } => Some(*byte),
                    _ => None,
                })
                .collect();
            bytes
                .filter(|bytes| !bytes.is_empty())
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        };
        let mut risks = Vec::new();
        if segment.has_star() {
            let shape = match tokens.as_slice() {
                [rest @ .., Token::Star] if literal_run(rest).is_some() => {
                    let prefix = literal_run(rest).unwrap_or_default();
                    format!("every {name} that starts with `{prefix}`, such as `{prefix}0`")
                }
                [Token::Star, rest @ ..] if literal_run(rest).is_some() => {
                    let suffix = literal_run(rest).unwrap_or_default();
                    format!("every {name} that ends with `{suffix}`, such as `0{suffix}`")
                }
                _ => format!("many different {name}s, not one"),
            };
            risks.push(format!(
                "Redis `*` matches any run of bytes, so `{text}` matches {shape}"
            ));
            if !confined {
                risks.push(format!(
                    "`*` also matches dots, and the pattern has only {} of the 5 segments, so it \
                     runs on through every segment after this one",
                    self.count()
                ));
            }
        }
        if tokens
            .iter()
            .any(|token| matches!(token, Token::AnyByte | Token::Class { .. }))
        {
            let length = if segment.has_star() {
                String::new()
            } else {
                format!(
                    ", so `{text}` only matches a {name} of exactly {} bytes",
                    tokens.len()
                )
            };
            risks.push(format!(
                "`?` and `[...]` stand for exactly one byte, not one character (`é` is two \
                 bytes) and not a run{length}"
            ));
        }
        // Suggest the segment without its `*`s, when that is a value topics can hold here.
        let suggestion = literal_run(
            &tokens
                .iter()
                .copied()
                .filter(|token| *token != Token::Star)
                .collect::<Vec<_>>(),
        )
        .filter(|literal| {
            self.count() <= TOPIC_SEGMENTS && valid_value(self.position(index), literal)
        })
        .map(|literal| (self.with_segment(index, &literal), literal));
        let fix = match &suggestion {
            Some((fixed, literal)) => {
                format!("to follow exactly {name} `{literal}`, use `{fixed}`")
            }
            None => format!(
                "to follow particular ids, subscribe once per exact {name}, or use a whole-segment \
                 `*` and filter in code"
            ),
        };
        self.push(
            Severity::Warning,
            LintKind::PartialSegmentWildcard,
            format!(
                "{described} mixes a wildcard with other characters: {}; {fix}",
                risks.join("; ")
            ),
            suggestion.map(|(fixed, _)| fixed),
        );
    }

    fn check_classes(&mut self) {
        let tokens: Vec<Token> = self.tokens.iter().map(|spanned| spanned.token).collect();
        let pattern = self.pattern;
        if tokens.iter().any(|token| {
            matches!(
                token,
                Token::Class {
                    matches_nothing: true,
                    ..
                }
            )
        }) {
            self.push(
                Severity::Error,
                LintKind::EmptyClass,
                format!(
                    "`{pattern}` has a `[...]` class that matches no byte at all (Redis closes a \
                     class at the first `]`, so `[]` is empty and `[]a]` is `[]` then `a]`), so \
                     it can never match; put at least one character in the class, or write \
                     `\\]` for a literal `]`"
                ),
                None,
            );
        }
        if self.has_unterminated_class() {
            self.push(
                Severity::Warning,
                LintKind::UnterminatedClass,
                format!(
                    "`{pattern}` opens a `[` class that is never closed; Redis closes it at the \
                     end of the pattern, so every byte after the `[` (dots and `*` included) is \
                     read as a class member; add the missing `]`"
                ),
                None,
            );
        }
    }

    fn check_escaped_separator(&mut self) {
        let pattern = self.pattern;
        let mut fixed = Vec::with_capacity(pattern.len() + 4);
        for spanned in &self.tokens {
            match spanned.token {
                Token::Separator { escaped: true } => fixed.extend_from_slice(b"%2E"),
                _ => fixed.extend_from_slice(&pattern.as_bytes()[spanned.start..spanned.end]),
            }
        }
        let fixed = String::from_utf8_lossy(&fixed).into_owned();
        self.push(
            Severity::Warning,
            LintKind::EscapedSeparator,
            format!(
                "`{pattern}` contains `\\.`, which matches the dot between two segments, not a \
                 dot inside an id: topics write a dot inside an id as `%2E` (so the room \
                 `#rust.beginners` is `#rust%2Ebeginners`); if you meant a dot inside an id, \
                 write `{fixed}`"
            ),
            Some(fixed),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    /// A line-by-line port of Redis's recursive `stringmatchlen_impl` (nocase = 0,
    /// NUL-terminated buffers modelled by `at`), to check the iterative port against.
    fn reference_match(pattern: &[u8], subject: &[u8]) -> bool {
        fn at(bytes: &[u8], index: usize) -> u8 {
            bytes.get(index).copied().unwrap_or(0)
        }
        fn imp(pattern: &[u8], mut string: &[u8], skip: &mut bool, nesting: usize) -> bool {
            if nesting > 1000 {
                return false;
            }
            let mut p = 0;
            let mut pattern_len = pattern.len();
            while pattern_len > 0 && !string.is_empty() {
                match at(pattern, p) {
                    b'*' => {
                        while pattern_len > 0 && at(pattern, p + 1) == b'*' {
                            p += 1;
                            pattern_len -= 1;
                        }
                        if pattern_len == 1 {
                            return true;
                        }
                        while !string.is_empty() {
                            if imp(&pattern[p + 1..], string, skip, nesting + 1) {
                                return true;
                            }
                            if *skip {
                                return false;
                            }
                            string = &string[1..];
                        }
                        *skip = true;
                        return false;
                    }
                    b'?' => string = &string[1..],
                    b'[' => {
                        p += 1;
                        pattern_len -= 1;
                        let not = at(pattern, p) == b'^';
                        if not {
                            p += 1;
                            pattern_len -= 1;
                        }
                        let mut matched = false;
                        loop {
                            if at(pattern, p) == b'\\' && pattern_len >= 2 {
                                p += 1;
                                pattern_len -= 1;
                                if at(pattern, p) == string[0] {
                                    matched = true;
                                }
                            } else if at(pattern, p) == b']' {
                                break;
                            } else if pattern_len == 0 {
                                p -= 1;
                                pattern_len += 1;
                                break;
                            } else if pattern_len >= 3 && at(pattern, p + 1) == b'-' {
                                let mut start = at(pattern, p) as i8;
                                let mut end = at(pattern, p + 2) as i8;
                                if start > end {
                                    std::mem::swap(&mut start, &mut end);
                                }
                                p += 2;
                                pattern_len -= 2;
                                let c = string[0] as i8;
                                if c >= start && c <= end {
                                    matched = true;
                                }
                            } else if at(pattern, p) == string[0] {
                                matched = true;
                            }
                            p += 1;
                            pattern_len -= 1;
                        }
                        if not {
                            matched = !matched;
                        }
                        if !matched {
                            return false;
                        }
                        string = &string[1..];
                    }
                    byte => {
                        let mut byte = byte;
                        if byte == b'\\' && pattern_len >= 2 {
                            p += 1;
                            pattern_len -= 1;
                            byte = at(pattern, p);
                        }
                        if byte != string[0] {
                            return false;
                        }
                        string = &string[1..];
                    }
                }
                p += 1;
                pattern_len -= 1;
                if string.is_empty() {
                    while at(pattern, p) == b'*' && pattern_len > 0 {
                        p += 1;
                        pattern_len -= 1;
                    }
                    break;
                }
            }
            pattern_len == 0 && string.is_empty()
        }
        let mut skip = false;
        imp(pattern, subject, &mut skip, 0)
    }

    fn kinds(pattern: &str) -> Vec<LintKind> {
        lint(pattern).into_iter().map(|lint| lint.kind).collect()
    }

    fn only_lint(pattern: &str) -> Lint {
        let mut lints = lint(pattern);
        assert_eq!(lints.len(), 1, "{pattern:?}: {lints:#?}");
        lints.remove(0)
    }

    // --- matcher -------------------------------------------------------------------------

    /// The whole reason for the linter: Redis `*` crosses segment boundaries.
    #[test]
    fn star_matches_any_run_of_bytes_including_dots() {
        assert!(glob_match(b"inbound.*", b"inbound.discord.1.2.3"));
        assert!(glob_match(
            b"inbound.discord.G1*",
            b"inbound.discord.G10.2.3"
        ));
        assert!(glob_match(b"*", b"x"));
        assert!(glob_match(b"a*b*c", b"a..b..c"));
        assert!(glob_match(b"a**b", b"ab"));
        assert!(!glob_match(b"a*b", b"a.c"));
        assert!(!glob_match(b"inbound.*", b"outbound.x.y.z.w"));
    }

    /// Redis 7 never matches an empty channel with `*`; only the empty pattern does.
    #[test]
    fn empty_subject_matches_only_the_empty_pattern() {
        assert!(!glob_match(b"*", b""));
        assert!(!glob_match(b"**", b""));
        assert!(glob_match(b"", b""));
        assert!(!glob_match(b"", b"a"));
        assert!(glob_match(b"a*", b"a"));
        assert!(glob_match(b"a***", b"a"));
    }

    /// `?` is one byte, so a one-character pattern misses a two-byte character.
    #[test]
    fn question_mark_matches_one_byte_not_one_character() {
        assert!(glob_match(b"caf?", b"cafe"));
        assert!(!glob_match("caf?".as_bytes(), "café".as_bytes()));
        assert!(glob_match("caf??".as_bytes(), "café".as_bytes()));
        assert!(!glob_match(b"?", b""));
        assert!(glob_match(b"?", b"."));
    }

    /// Classes, negation and ranges as Redis reads them.
    #[test]
    fn classes_negations_and_ranges_match_one_byte() {
        assert!(glob_match(b"G[12]", b"G1"));
        assert!(!glob_match(b"G[12]", b"G3"));
        assert!(!glob_match(b"G[12]", b"G12"));
        assert!(glob_match(b"G[^1]", b"G2"));
        assert!(!glob_match(b"G[^1]", b"G1"));
        assert!(glob_match(b"G[0-9]", b"G7"));
        assert!(!glob_match(b"G[0-9]", b"Ga"));
        assert!(glob_match(b"[a-c-]", b"-"));
        assert!(glob_match(b"[^]", b"x"), "`[^]` is an empty negated class");
        assert!(
            !glob_match(b"[]", b"]"),
            "`[]` closes at once and matches nothing"
        );
        assert!(
            !glob_match(b"[]]", b"]]"),
            "`[]]` is an empty class, then `]`"
        );
    }

    /// Redis swaps a reversed range instead of treating it as empty.
    #[test]
    fn reversed_ranges_are_swapped_like_redis() {
        assert!(glob_match(b"[z-a]", b"m"));
        assert!(glob_match(b"[9-0]", b"5"));
        assert!(!glob_match(b"[9-0]", b"a"));
    }

    /// Redis compares range bounds as signed `char` on x86-64 (checked against 7.0.15).
    #[test]
    fn range_bounds_compare_as_signed_c_char() {
        // 0x01..0xff is 1..=-1, swapped to -1..=1: bytes 0x00, 0x01 and 0xff.
        assert!(!glob_match(b"[\x01-\xff]", b"b"));
        assert!(glob_match(b"[\x01-\xff]", b"\x00"));
        assert!(glob_match(b"[\x01-\xff]", b"\xff"));
        assert!(!glob_match(b"[\x01-\xff]", b"\xe9"));
        // Both bounds non-ASCII: the same on every platform.
        assert!(glob_match(b"[\x80-\xbf]", b"\xa9"));
    }

    /// `\` escapes one byte inside and outside classes; a trailing `\` is itself.
    #[test]
    fn backslash_escapes_inside_and_outside_classes() {
        assert!(glob_match(b"a\\*", b"a*"));
        assert!(!glob_match(b"a\\*", b"ab"));
        assert!(glob_match(b"\\?", b"?"));
        assert!(!glob_match(b"\\?", b"x"));
        assert!(glob_match(b"[\\]]", b"]"));
        assert!(glob_match(b"[\\-a]", b"-"));
        assert!(glob_match(b"[\\^]", b"^"));
        assert!(
            glob_match(b"a\\", b"a\\"),
            "a trailing backslash matches a backslash"
        );
        assert!(!glob_match(b"a\\", b"a"));
        assert!(
            glob_match(b"a[\\", b"a\\"),
            "`[\\` at the end is a class of `\\`"
        );
    }

    /// An unclosed `[` is closed by the end of the pattern, as in Redis.
    #[test]
    fn unterminated_class_is_closed_by_the_end_of_the_pattern() {
        assert!(glob_match(b"x[abc", b"xb"));
        assert!(!glob_match(b"x[abc", b"xd"));
        assert!(glob_match(b"x[a-c", b"xb"));
        assert!(!glob_match(b"x[", b"x["));
        assert!(!glob_match(b"[", b"a"));
        assert!(glob_match(b"[^", b"q"));
        assert!(glob_match(b"x[^", b"xq"));
        assert!(
            glob_match(b"[\\]", b"]"),
            "`[\\]` is an unclosed class holding `]`"
        );
    }

    /// CVE-2022-36021: a naive port is exponential on these; Redis and this port are not.
    #[test]
    fn pathological_patterns_finish_quickly() {
        let started = Instant::now();
        let subject = vec![b'a'; 20_000];
        assert!(!glob_match(b"a*a*a*a*a*a*a*a*a*a*a*a*b", &subject));
        let mut star_heavy = b"*a".repeat(500);
        star_heavy.push(b'b');
        assert!(!glob_match(&star_heavy, &subject));
        let huge_pattern = b"*?".repeat(200_000);
        assert!(!glob_match(&huge_pattern, &subject));
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
    }

    /// Redis stops nesting `*` at 1000; this port agrees (checked against redis-server).
    #[test]
    fn star_nesting_stops_at_the_redis_limit() {
        let subject = vec![b'a'; 1001];
        assert!(glob_match(&b"*a".repeat(1000), &subject));
        assert!(!glob_match(&b"*a".repeat(1001), &subject));
        assert!(
            glob_match(&b"a*".repeat(1001), &subject),
            "trailing stars do not nest"
        );
        assert!(!glob_match(&b"*a".repeat(100_000), &vec![b'a'; 100_000]));
    }

    proptest! {
        /// The iterative port gives exactly the answers of the recursive original.
        #[test]
        fn iterative_port_agrees_with_the_recursive_original(
            pattern in proptest::collection::vec(prop::sample::select(b"ab.*?[]^-\\\xe9".to_vec()), 0..12),
            subject in proptest::collection::vec(prop::sample::select(b"ab.*?[]^-\\\xe9".to_vec()), 0..12),
        ) {
            prop_assert_eq!(glob_match(&pattern, &subject), reference_match(&pattern, &subject));
        }

        /// Arbitrary bytes never panic.
        #[test]
        fn matching_arbitrary_bytes_never_panics(
            pattern in proptest::collection::vec(any::<u8>(), 0..40),
            subject in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let _ = glob_match(&pattern, &subject);
        }
    }

    // --- builder -------------------------------------------------------------------------

    /// The documented example: unset segments become whole-segment `*`s.
    #[test]
    fn builder_fills_unset_segments_with_whole_segment_stars() {
        let pattern = Pattern::builder()
            .direction(Direction::Inbound)
            .platform("discord")
            .space(Space::Id("123".into()))
            .build()
            .unwrap();
        assert_eq!(pattern.to_string(), "inbound.discord.123.*.*");
        assert_eq!(Pattern::builder().build().unwrap().as_str(), "*.*.*.*.*");
        let user_anywhere = Pattern::builder()
            .user("179258058118135808")
            .build()
            .unwrap();
        assert_eq!(user_anywhere.as_str(), "*.*.*.*.179258058118135808");
    }

    /// Exact segments are escaped like topics, so they never contain a metacharacter.
    #[test]
    fn builder_escapes_exact_segments_like_topics() {
        let pattern = Pattern::builder()
            .direction(Direction::Inbound)
            .platform("irc")
            .space(Space::Id("libera".into()))
            .room("#rust.beginners")
            .user("ali ce*")
            .build()
            .unwrap();
        assert_eq!(
            pattern.as_str(),
            "inbound.irc.libera.#rust%2Ebeginners.ali%20ce%2A"
        );
        let dm = Pattern::builder()
            .platform("discord")
            .direct()
            .build()
            .unwrap();
        assert_eq!(dm.as_str(), "*.discord.@me.*.*");
        let named_at_me = Pattern::builder()
            .space(Space::Id("@me".into()))
            .build()
            .unwrap();
        assert_eq!(named_at_me.as_str(), "*.*.%40me.*.*");
    }

    /// Bad input gets the same typed errors topics get, not a silently wrong pattern.
    #[test]
    fn builder_rejects_bad_platforms_and_empty_values() {
        assert_eq!(
            Pattern::builder().platform("Discord").build(),
            Err(TopicError::InvalidPlatform {
                found: "Discord".into()
            })
        );
        assert_eq!(
            Pattern::builder().platform("").build(),
            Err(TopicError::EmptySegment {
                segment: Segment::Platform
            })
        );
        assert_eq!(
            Pattern::builder().space(Space::Id(String::new())).build(),
            Err(TopicError::EmptySegment {
                segment: Segment::Space
            })
        );
        assert_eq!(
            Pattern::builder().room("").build(),
            Err(TopicError::EmptySegment {
                segment: Segment::Room
            })
        );
        assert_eq!(
            Pattern::builder().user("").build(),
            Err(TopicError::EmptySegment {
                segment: Segment::User
            })
        );
    }

    /// The subscriptions every daemon makes are one call each.
    #[test]
    fn convenience_constructors_give_five_segment_patterns() {
        let discord = Platform::new("discord").unwrap();
        assert_eq!(Pattern::all_inbound().as_str(), "inbound.*.*.*.*");
        assert_eq!(
            Pattern::inbound_platform(&discord).as_str(),
            "inbound.discord.*.*.*"
        );
        assert_eq!(
            Pattern::outbound_platform(&discord).as_str(),
            "outbound.discord.*.*.*"
        );
        let topic: Topic = "inbound.irc.libera.#rust%2Ebeginners.alice"
            .parse()
            .unwrap();
        let exact = Pattern::exact(&topic);
        assert!(exact.matches_topic(&topic));
        assert!(!exact.matches("inbound.irc.libera.#rust%2Ebeginners.alicex"));
    }

    /// Hand-written patterns are taken as is (Redis accepts anything) and print back.
    #[test]
    fn raw_patterns_are_accepted_verbatim() {
        for raw in ["", "*", "inbound.discord.G1*", "[", "a\\", "inbound..x"] {
            let pattern: Pattern = raw.parse().unwrap();
            assert_eq!(pattern.to_string(), raw);
            assert_eq!(Pattern::parse_raw(raw), pattern);
        }
    }

    /// Matching a topic is matching its canonical string.
    #[test]
    fn patterns_match_topics_by_their_canonical_string() {
        let topic = Topic::builder(Direction::Inbound, "discord")
            .space("G1")
            .room("general")
            .user("alice")
            .build()
            .unwrap();
        let guild = Pattern::builder()
            .direction(Direction::Inbound)
            .platform("discord")
            .space(Space::Id("G1".into()))
            .build()
            .unwrap();
        assert!(guild.matches_topic(&topic));
        assert!(guild.matches("inbound.discord.G1.general.alice"));
        assert!(!guild.matches("inbound.discord.G10.general.alice"));
        assert!(!Pattern::all_inbound().matches_topic(&topic.reply()));
        assert!(Pattern::parse_raw("inbound.discord.G1*").matches("inbound.discord.G10.x.y"));
    }

    fn raw_value() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{1,20}",
            "[a-zA-Z .*?@%#\\[\\]\\\\é-]{1,12}",
            any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
        ]
    }

    proptest! {
        /// A builder pattern with some exact segments matches the topic made of the same
        /// values, and stops matching when any one exact segment differs.
        #[test]
        fn builder_patterns_match_exactly_their_topics(
            outbound in any::<bool>(),
            platform in "[a-z0-9][a-z0-9_-]{0,10}",
            direct in any::<bool>(),
            space in raw_value(),
            room in raw_value(),
            user in raw_value(),
            exact in proptest::array::uniform5(any::<bool>()),
            changed in 0usize..5,
        ) {
            let direction = if outbound { Direction::Outbound } else { Direction::Inbound };
            let space = if direct { Space::Direct } else { Space::Id(space) };
            let topic_of = |direction: Direction, platform: &str, space: &Space, room: &str, user: &str| {
                let builder = Topic::builder(direction, platform).room(room).user(user);
                let builder = match space {
                    Space::Direct => builder.direct(),
                    Space::Id(raw) => builder.space(raw.clone()),
                };
                builder.build().unwrap()
            };
            let mut builder = Pattern::builder();
            if exact[0] { builder = builder.direction(direction); }
            if exact[1] { builder = builder.platform(platform.clone()); }
            if exact[2] { builder = builder.space(space.clone()); }
            if exact[3] { builder = builder.room(room.clone()); }
            if exact[4] { builder = builder.user(user.clone()); }
            let pattern = builder.build().unwrap();
            let topic = topic_of(direction, &platform, &space, &room, &user);
            prop_assert!(pattern.matches_topic(&topic), "{} !~ {}", pattern, topic);
            prop_assert!(pattern.lint().is_empty(), "{}: {:?}", pattern, pattern.lint());

            if exact[changed] {
                let other = match changed {
                    0 => {
                        let flipped = if outbound { Direction::Inbound } else { Direction::Outbound };
                        topic_of(flipped, &platform, &space, &room, &user)
                    }
                    1 => topic_of(direction, &format!("{platform}x"), &space, &room, &user),
                    2 => {
                        // `@me` as an id is `%40me`, never the direct-message space.
                        let other_space = match &space {
                            Space::Direct => Space::Id("@me".into()),
                            Space::Id(raw) => Space::Id(format!("{raw}x")),
                        };
                        topic_of(direction, &platform, &other_space, &room, &user)
                    }
                    3 => topic_of(direction, &platform, &space, &format!("{room}x"), &user),
                    _ => topic_of(direction, &platform, &space, &room, &format!("x{user}")),
                };
                prop_assert!(!pattern.matches_topic(&other), "{} =~ {}", pattern, other);
            }
        }

        /// Linting arbitrary input never panics.
        #[test]
        fn linting_arbitrary_patterns_never_panics(pattern in any::<String>()) {
            let _ = lint(&pattern);
        }

        /// Linting pattern-like input never panics either.
        #[test]
        fn linting_glob_soup_never_panics(pattern in "[a-zA-Z.*?\\[\\]^\\\\%@ -]{0,24}") {
            let _ = lint(&pattern);
        }
    }

    // --- linter --------------------------------------------------------------------------

    /// The patterns subscribers are told to write must not drown them in noise.
    #[test]
    fn clean_patterns_get_no_lints() {
        for pattern in [
            "inbound.discord.123.*.*",
            "inbound.*.*.*.*",
            "inbound.*",
            "*",
            "**",
            "outbound.discord.*",
            "outbound.discord.*.*.*",
            "inbound.*.*",
            "*.*.*.*.*",
            "*.discord.*.*.*",
            "inbound.discord.@me.*.*",
            "inbound.discord.@me.*",
            "inbound.irc.libera.#rust%2Ebeginners.*",
            "inbound.slack.%40me.*.*",
            "inbound.matrix.*.café.zoë",
            "inbound.discord.[12].*.*",
            "inbound.discord.1190804811990446190.1200058256127688735.179258058118135808",
        ] {
            assert_eq!(lint(pattern), Vec::new(), "{pattern}");
        }
    }

    /// The motivating mistake: `G1*` is a prefix match that also crosses dots.
    #[test]
    fn star_sharing_a_segment_warns_and_suggests_whole_segments() {
        let lint = only_lint("inbound.discord.G1*");
        assert_eq!(lint.severity, Severity::Warning);
        assert_eq!(lint.kind, LintKind::PartialSegmentWildcard);
        assert!(lint.message.contains("G10"), "{}", lint.message);
        assert!(lint.message.contains("dots"), "{}", lint.message);
        assert!(
            lint.message.contains("inbound.discord.G1.*.*"),
            "{}",
            lint.message
        );
        assert_eq!(lint.suggestion.as_deref(), Some("inbound.discord.G1.*.*"));
        let confined = only_lint("inbound.discord.G1*.*.*");
        assert_eq!(confined.kind, LintKind::PartialSegmentWildcard);
        assert!(
            !confined.message.contains("runs on"),
            "{}",
            confined.message
        );
    }

    /// `?` and classes mixed into a segment are one-byte traps.
    #[test]
    fn question_marks_and_classes_sharing_a_segment_warn() {
        for pattern in ["inbound.discord.G?.*.*", "inbound.discord.G[0-9].*.*"] {
            let lint = only_lint(pattern);
            assert_eq!(lint.kind, LintKind::PartialSegmentWildcard, "{pattern}");
            assert!(lint.message.contains("one byte"), "{}", lint.message);
            assert!(lint.message.contains("exactly 2 bytes"), "{}", lint.message);
        }
    }

    /// A suggested fix must itself be a pattern that can match.
    #[test]
    fn wildcard_fixes_are_only_suggested_when_valid() {
        let suffix = only_lint("inbound.discord.*G1.*.*");
        assert!(
            suffix.message.contains("ends with `G1`"),
            "{}",
            suffix.message
        );
        assert_eq!(suffix.suggestion.as_deref(), Some("inbound.discord.G1.*.*"));
        // `in` is no direction and `g]` no topic segment: no "exact" fix to offer.
        assert_eq!(
            lint_suggestion("in*.*.*.*.*", LintKind::PartialSegmentWildcard),
            None
        );
        assert_eq!(
            lint_suggestion("inbound.x.g]*.*.*", LintKind::PartialSegmentWildcard),
            None
        );
        assert_eq!(
            lint_suggestion("inbound.x.[ab.*.*", LintKind::TooFewSegments),
            None,
            "padding would land inside the unclosed class"
        );
    }

    /// A lone `?` is not "any segment".
    #[test]
    fn lone_question_mark_segment_warns() {
        let lint = only_lint("inbound.discord.?.*.*");
        assert_eq!(lint.kind, LintKind::SingleByteWildcard);
        assert_eq!(lint.severity, Severity::Warning);
        assert_eq!(lint.suggestion.as_deref(), Some("inbound.discord.*.*.*"));
    }

    /// Six segments never meet a five-segment topic.
    #[test]
    fn six_segments_is_an_error_with_the_fixed_pattern() {
        let lint = only_lint("inbound.discord.<guild>.*.*.*");
        assert_eq!(lint.severity, Severity::Error);
        assert_eq!(lint.kind, LintKind::TooManySegments);
        assert!(lint.message.contains("6 segments"), "{}", lint.message);
        assert!(lint.message.contains("exactly 5"), "{}", lint.message);
        assert!(
            lint.message.contains("`inbound.discord.<guild>.*.*`"),
            "{}",
            lint.message
        );
        assert_eq!(
            lint.suggestion.as_deref(),
            Some("inbound.discord.<guild>.*.*")
        );
        assert_eq!(
            only_lint("inbound.a.b.c.d.e").suggestion,
            None,
            "no obvious fix when the extra segment is not `*`"
        );
    }

    /// Without a `*`, a short pattern only matches short channels, never topics.
    #[test]
    fn short_pattern_without_star_is_an_error() {
        let lint = only_lint("inbound.discord");
        assert_eq!(lint.kind, LintKind::TooFewSegments);
        assert_eq!(lint.severity, Severity::Error);
        assert_eq!(lint.suggestion.as_deref(), Some("inbound.discord.*.*.*"));
        assert_eq!(kinds("inbound"), vec![LintKind::TooFewSegments]);
    }

    /// A lone `*` before a fixed segment lets that segment slide.
    #[test]
    fn lone_star_before_a_fixed_segment_in_a_short_pattern_warns() {
        let lint = only_lint("inbound.*.123.*");
        assert_eq!(lint.kind, LintKind::ShiftingSegments);
        assert!(
            lint.message.contains("the space or the room"),
            "{}",
            lint.message
        );
        assert_eq!(lint.suggestion.as_deref(), Some("inbound.*.123.*.*"));
        assert_eq!(kinds("*.discord"), vec![LintKind::ShiftingSegments]);
    }

    /// Topic segments are never empty.
    #[test]
    fn empty_segments_are_errors() {
        let lint = only_lint("inbound..x.*.*");
        assert_eq!(lint.kind, LintKind::EmptySegment);
        assert_eq!(lint.severity, Severity::Error);
        assert_eq!(lint.suggestion.as_deref(), Some("inbound.*.x.*.*"));
        assert_eq!(kinds("inbound."), vec![LintKind::EmptySegment]);
        assert_eq!(kinds(".inbound.*"), vec![LintKind::EmptySegment]);
        assert_eq!(kinds(""), vec![LintKind::EmptySegment]);
    }

    /// A misspelt direction silently receives nothing.
    #[test]
    fn unknown_direction_is_an_error_with_a_guess() {
        let lint = only_lint("inbund.*");
        assert_eq!(lint.kind, LintKind::UnknownDirection);
        assert_eq!(lint.severity, Severity::Error);
        assert_eq!(lint.suggestion.as_deref(), Some("inbound.*.*.*.*"));
        assert!(lint.message.contains("`inbound`"), "{}", lint.message);
        assert_eq!(
            kinds("x[yz]*.*.*.*.*"),
            vec![LintKind::UnknownDirection, LintKind::PartialSegmentWildcard]
        );
        assert_eq!(kinds("in*.*.*.*.*"), vec![LintKind::PartialSegmentWildcard]);
    }

    /// Platform names are lower case; `Discord` never occurs.
    #[test]
    fn invalid_platform_is_an_error() {
        let lint = only_lint("inbound.Discord.*.*.*");
        assert_eq!(lint.kind, LintKind::InvalidPlatform);
        assert_eq!(lint.severity, Severity::Error);
        assert_eq!(lint.suggestion.as_deref(), Some("inbound.discord.*.*.*"));
        assert_eq!(
            kinds("inbound.Disc*.*.*.*"),
            vec![LintKind::InvalidPlatform, LintKind::PartialSegmentWildcard]
        );
        // With a shifting `*` before it, the second segment need not be the platform.
        assert_eq!(kinds("*.Discord"), vec![LintKind::ShiftingSegments]);
    }

    /// Raw characters that topics escape never occur in topics.
    #[test]
    fn characters_topics_escape_are_errors_with_the_escaped_form() {
        let space = only_lint("inbound.discord.my guild.*.*");
        assert_eq!(space.kind, LintKind::UnescapedCharacter);
        assert_eq!(space.severity, Severity::Error);
        assert_eq!(
            space.suggestion.as_deref(),
            Some("inbound.discord.my%20guild.*.*")
        );
        assert!(space.message.contains("my%20guild"), "{}", space.message);

        let percent = only_lint("inbound.x.100%.*.*");
        assert_eq!(percent.suggestion.as_deref(), Some("inbound.x.100%25.*.*"));
        let star = only_lint("inbound.x.a\\*b.*.*");
        assert_eq!(star.suggestion.as_deref(), Some("inbound.x.a%2Ab.*.*"));
        let at = only_lint("inbound.x.@you.*.*");
        assert_eq!(at.suggestion.as_deref(), Some("inbound.x.%40you.*.*"));
        let at_me_room = only_lint("inbound.x.g.@me.*");
        assert_eq!(
            at_me_room.suggestion.as_deref(),
            Some("inbound.x.g.%40me.*")
        );
        let tab = only_lint("inbound.x.g.a\tb.*");
        assert_eq!(tab.kind, LintKind::UnescapedCharacter);
        assert_eq!(
            kinds("inbound.x.g]*.*.*"),
            vec![
                LintKind::UnescapedCharacter,
                LintKind::PartialSegmentWildcard
            ]
        );
        assert_eq!(
            kinds("inbound.x.a\\"),
            vec![LintKind::TooFewSegments, LintKind::UnescapedCharacter]
        );
    }

    /// Topics print one canonical spelling; any other never matches.
    #[test]
    fn non_canonical_escapes_are_errors() {
        let lower = only_lint("inbound.irc.libera.#rust%2ebeginners.*");
        assert_eq!(lower.kind, LintKind::NonCanonicalEscape);
        assert_eq!(
            lower.suggestion.as_deref(),
            Some("inbound.irc.libera.#rust%2Ebeginners.*")
        );
        let needless = only_lint("inbound.x.%41.*.*");
        assert_eq!(needless.suggestion.as_deref(), Some("inbound.x.A.*.*"));
        assert_eq!(
            kinds("inbound.x.%FF.*.*"),
            vec![LintKind::NonCanonicalEscape]
        );
    }

    /// `\.` is a separator to Redis, not a dot inside an id.
    #[test]
    fn escaped_dot_warns_that_it_matches_a_separator() {
        let lint = only_lint("inbound.irc.#rust\\.beginners.*");
        assert_eq!(lint.kind, LintKind::EscapedSeparator);
        assert_eq!(
            lint.suggestion.as_deref(),
            Some("inbound.irc.#rust%2Ebeginners.*")
        );
        assert_eq!(
            kinds("inbound.irc.libera.#rust\\.beginners.*"),
            vec![LintKind::TooManySegments, LintKind::EscapedSeparator]
        );
        assert_eq!(
            lint_suggestion(
                "inbound.irc.libera.#rust\\.beginners.*",
                LintKind::TooManySegments
            ),
            None,
            "dropping a segment would be the wrong fix"
        );
    }

    fn lint_suggestion(pattern: &str, kind: LintKind) -> Option<String> {
        lint(pattern)
            .into_iter()
            .find(|lint| lint.kind == kind)
            .and_then(|lint| lint.suggestion)
    }

    /// Class mistakes that Redis accepts silently.
    #[test]
    fn empty_and_unterminated_classes_are_reported() {
        assert_eq!(kinds("inbound.x.[].*.*"), vec![LintKind::EmptyClass]);
        assert_eq!(
            kinds("inbound.x.[ab]c.*.*"),
            vec![LintKind::PartialSegmentWildcard]
        );
        // The unclosed class swallows the dots after it, leaving three segments.
        assert_eq!(
            kinds("inbound.x.[ab.*.*"),
            vec![LintKind::TooFewSegments, LintKind::UnterminatedClass]
        );
    }

    /// Errors come first, and a lint prints like a compiler diagnostic.
    #[test]
    fn lints_sort_errors_first_and_display_with_severity_and_kind() {
        let lints = lint("inbound.Discord.G1*");
        assert_eq!(lints[0].severity, Severity::Error);
        assert_eq!(lints[1].severity, Severity::Warning);
        let printed = lints[0].to_string();
        assert!(
            printed.starts_with("error[invalid-platform]: the platform segment `Discord`"),
            "{printed}"
        );
        assert!(
            lints[1]
                .to_string()
                .starts_with("warning[partial-segment-wildcard]: ")
        );
    }
}
