//! The linter: what a hand-written pattern really matches, when that is probably not
//! what its author meant, or when it can never match at all.
//!
//! [`lint`] splits the pattern into tokens and segments ([`syntax`]) and runs one small
//! check per trap: the segment count ([`count`]), each segment's place and spelling
//! ([`segment`], [`value`]), and wildcards and classes ([`wildcard`]).
//!
//! Its output stays proportional to its input, whatever the input: a run of empty
//! segments is one lint, a whole fixed pattern is only suggested when the pattern has at
//! most five segments (so at most five per-segment fixes copy it), and each kind of lint
//! is reported at most [`MAX_LINTS_PER_KIND`] times.

mod count;
mod segment;
mod syntax;
mod value;
mod wildcard;
mod words;

#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use super::TOPIC_SEGMENTS;
use crate::topic::Segment;
use syntax::{PatternSegment, Spanned, Token, split_segments, tokenize};

/// How many lints of one kind are reported in full; the rest are counted in the last
/// one's message.
///
/// Only hostile input comes near it (one lint per segment, thousands of segments): a
/// person reads a handful, and a tool must not print megabytes to explain a typo.
const MAX_LINTS_PER_KIND: usize = 8;

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
    /// A literal direction that is not one of [`Direction::ALL`](crate::topic::Direction::ALL).
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
/// - `unknown-direction`: a first segment that cannot be a direction (`inbound`,
///   `outbound`, `receipt`: [`Direction::ALL`](crate::topic::Direction::ALL)).
/// - `invalid-platform`: a platform segment with characters platform names never have
///   (`Discord`).
/// - `unescaped-character`: a literal that topics always percent-encode: whitespace,
///   control characters, `*?[]\` (written `\*` or a raw `]`), a `%` not followed by two
///   hex digits, and a leading `@` anywhere but the direct-message space `@me`. The
///   message gives the escaped form ([`escape_segment`](crate::topic::escape_segment)).
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
///
/// A run of empty segments is reported once, and each kind of lint at most
/// 8 times (`MAX_LINTS_PER_KIND`; the last one says how many more segments have the
/// same problem), so the lints of any pattern take space proportional to the pattern.
pub fn lint(pattern: &str) -> Vec<Lint> {
    Linter::new(pattern).run()
}

/// One run of the linter over one pattern: the pattern read once, the lints so far.
struct Linter<'a> {
    pattern: &'a str,
    tokens: Vec<Spanned>,
    segments: Vec<PatternSegment>,
    /// Whether a `\.` separates two segments somewhere.
    escaped_separator: bool,
    lints: Vec<Lint>,
    /// Lints of each kind found so far, reported or not (see [`MAX_LINTS_PER_KIND`]).
    found: HashMap<LintKind, usize>,
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
            found: HashMap::new(),
        }
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
            return self.finish();
        }
        self.check_segment_count();
        self.check_segments();
        self.check_classes();
        if self.escaped_separator {
            self.check_escaped_separator();
        }
        self.finish()
    }

    /// Each segment on its own, and each run of empty segments as one.
    fn check_segments(&mut self) {
        let mut index = 0;
        while index < self.count() {
            let empty_run = self.segments[index..]
                .iter()
                .take_while(|segment| segment.is_empty())
                .count();
            if empty_run > 0 {
                self.check_empty_run(index..index + empty_run);
                index += empty_run;
            } else {
                self.check_segment(index);
                index += 1;
            }
        }
    }

    /// Records a lint, unless [`MAX_LINTS_PER_KIND`] of its kind are already recorded.
    fn push(
        &mut self,
        severity: Severity,
        kind: LintKind,
        message: String,
        suggestion: Option<String>,
    ) {
        let found = self.found.entry(kind).or_default();
        *found += 1;
        if *found > MAX_LINTS_PER_KIND {
            return;
        }
        self.lints.push(Lint {
            severity,
            kind,
            message,
            suggestion,
        });
    }

    /// The lints, errors first, each capped kind saying how many it left out.
    fn finish(mut self) -> Vec<Lint> {
        for (kind, found) in &self.found {
            let Some(unreported) = found.checked_sub(MAX_LINTS_PER_KIND).filter(|n| *n > 0) else {
                continue;
            };
            if let Some(last) = self.lints.iter_mut().rev().find(|lint| lint.kind == *kind) {
                last.message.push_str(&format!(
                    " (and {unreported} more like this, not listed one by one)"
                ));
            }
        }
        self.lints.sort_by_key(|lint| Reverse(lint.severity));
        self.lints
    }

    fn count(&self) -> usize {
        self.segments.len()
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
                .all(PatternSegment::is_literal);
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

    /// The pattern with the segments in `run` replaced, padded with `*` to five segments.
    ///
    /// `None` when the pattern has more than five segments: no edit of one segment fixes
    /// it then, and one copy of the whole pattern per segment would make the lints of a
    /// long pattern grow with the square of its length.
    fn with_segments(&self, run: Range<usize>, replacement: &str) -> Option<String> {
        if self.count() > TOPIC_SEGMENTS {
            return None;
        }
        let mut texts: Vec<&str> = self.segments.iter().map(|s| s.text.as_str()).collect();
        texts[run].fill(replacement);
        texts.resize(texts.len().max(TOPIC_SEGMENTS), "*");
        Some(texts.join("."))
    }

    /// [`Linter::with_segments`] for one segment.
    fn with_segment(&self, index: usize, replacement: &str) -> Option<String> {
        self.with_segments(index..index + 1, replacement)
    }

    /// How a message offers `replacement` for segment `index`: `` `x`: `<fixed pattern>` ``
    /// when there is a whole fixed pattern (also returned, as the suggestion), or just
    /// `` `x` ``.
    fn offer(&self, index: usize, replacement: &str) -> (String, Option<String>) {
        match self.with_segment(index, replacement) {
            Some(fixed) => (format!("`{replacement}`: `{fixed}`"), Some(fixed)),
            None => (format!("`{replacement}`"), None),
        }
    }

    /// The pattern padded with `*` segments to five.
    fn padded(&self) -> String {
        let mut texts: Vec<&str> = self.segments.iter().map(|s| s.text.as_str()).collect();
        texts.resize(texts.len().max(TOPIC_SEGMENTS), "*");
        texts.join(".")
    }
}
