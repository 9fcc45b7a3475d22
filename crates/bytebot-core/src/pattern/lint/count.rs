//! How many segments: too many, too few, or too few with a `*` that lets them shift.

use std::cmp::Ordering;

use super::syntax::{PatternSegment, Token};
use super::words::or_list;
use super::{LintKind, Linter, Severity, TOPIC_SEGMENTS};
use crate::topic::Segment;

impl Linter<'_> {
    pub(super) fn check_segment_count(&mut self) {
        match self.count().cmp(&TOPIC_SEGMENTS) {
            Ordering::Greater => self.check_too_many_segments(),
            Ordering::Equal => {}
            Ordering::Less => {
                self.check_too_few_segments();
                self.check_shifting_segments();
            }
        }
    }

    /// `inbound.discord.G1.*.*.*`: every `.` of a pattern must meet one of the four dots
    /// of a topic, so a sixth segment can never match.
    fn check_too_many_segments(&mut self) {
        let count = self.count();
        let pattern = self.pattern;
        let suggestion = self.without_extra_stars();
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
    }

    /// The first five segments, when everything after them is a lone `*` (and no `\.`
    /// makes the count depend on how it was meant).
    fn without_extra_stars(&self) -> Option<String> {
        let extra_are_stars = self.segments[TOPIC_SEGMENTS..]
            .iter()
            .all(PatternSegment::is_lone_star);
        (extra_are_stars && !self.escaped_separator).then(|| {
            self.segments[..TOPIC_SEGMENTS]
                .iter()
                .map(|segment| segment.text.as_str())
                .collect::<Vec<_>>()
                .join(".")
        })
    }

    /// `inbound.discord`: with fewer than five segments and no `*`, nothing stands for
    /// the missing ones.
    fn check_too_few_segments(&mut self) {
        let count = self.count();
        let pattern = self.pattern;
        if self
            .segments
            .iter()
            .any(|segment| segment.has_star() || segment.is_empty())
        {
            return;
        }
        // `?` and classes that admit `.` could still meet a dot each.
        if count - 1 + self.dot_capable_tokens() >= TOPIC_SEGMENTS - 1 {
            return;
        }
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

    /// Tokens that can match a `.`: `?` and classes that admit it.
    fn dot_capable_tokens(&self) -> usize {
        self.segments
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
            .count()
    }

    /// `inbound.*.123.*`: fewer than five segments is fine when the `*`s only trail
    /// (`inbound.*`), risky when a lone `*` comes before a fixed segment, which can then
    /// land in several places.
    fn check_shifting_segments(&mut self) {
        let count = self.count();
        let pattern = self.pattern;
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
        let places = or_list(&places);
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
}
