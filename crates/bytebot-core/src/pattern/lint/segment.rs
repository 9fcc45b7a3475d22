//! One segment at a time: empty runs, the direction and the platform; values are in
//! `value.rs`, wildcards in `wildcard.rs`.

use std::ops::Range;

use super::syntax::Token;
use super::words::{closest_direction, directions, or_list};
use super::{LintKind, Linter, Severity, TOPIC_SEGMENTS};
use crate::pattern::glob_match;
use crate::topic::{Direction, Platform, Segment};

impl Linter<'_> {
    /// `inbound..x.*.*`: topic segments are never empty.
    ///
    /// One lint per run of empty segments, which names the run instead of quoting the
    /// pattern: 64 KB of dots is one short lint, not 64 K lints of 64 KB each.
    pub(super) fn check_empty_run(&mut self, run: Range<usize>) {
        let which = if run.len() == 1 {
            format!("segment {} is empty", run.start + 1)
        } else {
            format!("segments {} to {} are empty", run.start + 1, run.end)
        };
        let fixed = self.with_segments(run, "*");
        let fix = match &fixed {
            Some(fixed) => format!("; put `*` there to match any value: `{fixed}`"),
            None => String::new(),
        };
        self.push(
            Severity::Error,
            LintKind::EmptySegment,
            format!(
                "{which} (two dots in a row, or a dot at the start or end); topic segments \
                 are never empty, so the pattern can never match{fix}"
            ),
            fixed,
        );
    }

    /// A segment that is not empty: what its place allows, then its wildcards.
    pub(super) fn check_segment(&mut self, index: usize) {
        match self.position(index) {
            Some(Segment::Direction) => self.check_direction(index),
            Some(Segment::Platform) => self.check_platform(index),
            position => self.check_value(index, position),
        }
        self.check_wildcards(index);
    }

    /// `inbund.*`: a direction that is none of [`Direction::ALL`] receives nothing.
    fn check_direction(&mut self, index: usize) {
        let segment = &self.segments[index];
        let text = segment.text.as_str();
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
        let (fix, suggestion) = match closest_direction(text) {
            Some(direction) => {
                let (offer, fixed) = self.offer(index, direction.as_str());
                (format!("did you mean {offer}?"), fixed)
            }
            None => {
                let mut choices = Direction::ALL
                    .map(|direction| format!("`{direction}`"))
                    .to_vec();
                choices.push("`*`".to_owned());
                (format!("use {}", or_list(&choices)), None)
            }
        };
        self.push(
            Severity::Error,
            LintKind::UnknownDirection,
            format!(
                "the direction segment `{text}` is none of the directions Bytebot publishes \
                 ({}), so `{}` matches nothing; {fix}",
                directions(),
                self.pattern
            ),
            suggestion,
        );
    }

    /// `inbound.Discord.*.*.*`: platform names are lower-case letters, digits, `_`, `-`.
    fn check_platform(&mut self, index: usize) {
        let segment = &self.segments[index];
        let text = segment.text.as_str();
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
        let (fix, suggestion) = if segment.is_literal() && Platform::new(lower.as_str()).is_ok() {
            let (offer, fixed) = self.offer(index, &lower);
            (format!("did you mean {offer}?"), fixed)
        } else {
            (
                "use the platform's lower-case name, or `*`".to_owned(),
                None,
            )
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
}
