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

mod builder;
mod glob;
mod lint;

#[cfg(test)]
mod tests;

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use crate::topic::{Direction, Platform, Topic};

pub use builder::PatternBuilder;
pub use glob::glob_match;
pub use lint::{Lint, LintKind, Severity, lint};

/// How many segments every topic has: `direction.platform.space.room.user`.
const TOPIC_SEGMENTS: usize = 5;

/// A Redis PSUBSCRIBE pattern over topics.
///
/// Made by [`Pattern::builder`] or a convenience constructor, which always give five
/// whole segments (exact escaped values or lone `*`s), or by [`Pattern::parse_raw`] /
/// [`str::parse`], which accept any hand-written string as is: Redis accepts any
/// pattern, so refusing one here would only hide it. Run [`Pattern::lint`] on
/// hand-written patterns. `Display` prints the string to send to Redis.
///
/// It is what [`Subscription::start`](crate::bus::Subscription::start) and
/// [`Bot::new`](crate::bot::Bot::new) take, so a subscription says in its type whether
/// its pattern was built or written by hand.
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

    /// The same pattern for another direction: its first segment (the text before the
    /// first `.`) replaced by `direction`. `inbound.discord.G.*.*` becomes
    /// `receipt.discord.G.*.*`, the receipts of the replies to those messages (see
    /// [`Bot::on_receipt`](crate::bot::Bot::on_receipt)). A pattern without a `.` has
    /// no direction segment to replace (`*` already matches every direction) and is
    /// returned as is.
    ///
    /// ```
    /// # use bytebot_core::pattern::Pattern;
    /// # use bytebot_core::Direction;
    /// assert_eq!(Pattern::all_inbound().with_direction(Direction::Receipt).as_str(), "receipt.*.*.*.*");
    /// ```
    pub fn with_direction(&self, direction: Direction) -> Pattern {
        match self.0.split_once('.') {
            Some((_, rest)) => Pattern(format!("{direction}.{rest}")),
            None => self.clone(),
        }
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
