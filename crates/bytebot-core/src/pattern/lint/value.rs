//! Space, room and user segments: spelled as topics spell them, or never matched.

use super::syntax::{Token, literal_text};
use super::words::{escape_offenders, list_characters, never_in_topics, push_unique};
use super::{LintKind, Linter, Severity};
use crate::topic::{DIRECT_MESSAGE_SPACE, Segment, escape_segment, unescape_segment};

impl Linter<'_> {
    /// Space, room and user segments (and segments whose position is not certain).
    pub(super) fn check_value(&mut self, index: usize, position: Option<Segment>) {
        match literal_text(&self.segments[index].tokens) {
            Some(literal) => self.check_literal_value(index, position, &literal),
            None => self.check_mixed_value(index, position),
        }
    }

    fn check_literal_value(&mut self, index: usize, position: Option<Segment>, literal: &str) {
        if literal == DIRECT_MESSAGE_SPACE {
            self.check_raw_at_me(index, position);
            return;
        }
        let segment_name = position.unwrap_or(Segment::Room);
        match unescape_segment(literal, segment_name) {
            Ok(raw) => self.check_canonical_spelling(index, literal, &raw),
            Err(_) => self.check_unescaped_characters(index, segment_name, literal),
        }
    }

    /// `inbound.x.g.@me.*`: `@me` is raw only as the direct-message space.
    fn check_raw_at_me(&mut self, index: usize, position: Option<Segment>) {
        let Some(position @ (Segment::Room | Segment::User)) = position else {
            return;
        };
        let described = self.describe(index);
        let (offer, fixed) = self.offer(index, "%40me");
        self.push(
            Severity::Error,
            LintKind::UnescapedCharacter,
            format!(
                "{described} is written raw, but `@me` only means a direct message in the \
                 space segment; topics write a {position} named `@me` as `%40me`, so this \
                 never matches; use {offer}"
            ),
            fixed,
        );
    }

    /// `inbound.irc.libera.#rust%2ebeginners.*`: topics print one spelling of each value
    /// (upper-case hex, and only the characters that must be escaped).
    fn check_canonical_spelling(&mut self, index: usize, literal: &str, raw: &str) {
        let canonical = escape_segment(raw);
        if canonical == literal {
            return;
        }
        let described = self.describe(index);
        let (offer, fixed) = self.offer(index, &canonical);
        self.push(
            Severity::Error,
            LintKind::NonCanonicalEscape,
            format!(
                "{described} is not how topics spell {raw:?}: they percent-encode only dots, \
                 glob characters, `%`, whitespace, control characters and a leading `@`, with \
                 upper-case hex, and keep everything else as is; so this never matches; \
                 write {offer}"
            ),
            fixed,
        );
    }

    /// `inbound.discord.my guild.*.*`: characters topics always escape, written raw.
    fn check_unescaped_characters(&mut self, index: usize, segment_name: Segment, literal: &str) {
        let described = self.describe(index);
        let (offenders, escaped) = escape_offenders(literal);
        if offenders.is_empty() {
            // Only escapes that do not decode to UTF-8 (`%FF`) are left.
            self.push(
                Severity::Error,
                LintKind::NonCanonicalEscape,
                format!(
                    "{described} has percent escapes that do not decode to UTF-8 text, and \
                     topic segments are always UTF-8, so this never matches"
                ),
                None,
            );
            return;
        }
        // Canonicalize the rest too, when the fixed segment decodes.
        let canonical = unescape_segment(&escaped, segment_name)
            .map(|raw| escape_segment(&raw).into_owned())
            .unwrap_or(escaped);
        let (offer, fixed) = self.offer(index, &canonical);
        self.push(
            Severity::Error,
            LintKind::UnescapedCharacter,
            format!(
                "{described} contains {}, which topics always percent-encode, so this literal \
                 never occurs in a topic and the pattern never matches; write the escaped form \
                 (what `escape_segment` gives) {offer}",
                list_characters(&offenders)
            ),
            fixed,
        );
    }

    /// `inbound.x.g]*.*.*`: literal runs of a segment that also has wildcards, with
    /// characters no topic contains.
    fn check_mixed_value(&mut self, index: usize, position: Option<Segment>) {
        let offenders = mixed_offenders(&self.segments[index].tokens, position);
        if offenders.is_empty() {
            return;
        }
        let described = self.describe(index);
        let at_note = if offenders.contains(&'@') {
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
                list_characters(&offenders)
            ),
            None,
        );
    }
}

/// The distinct characters of a segment with wildcards that no topic has there: a
/// leading `@` in a room or user, a `%` without two hex digits (unless a wildcard may
/// supply them), and characters never found in any topic.
fn mixed_offenders(tokens: &[Token], position: Option<Segment>) -> Vec<char> {
    let mut offenders = Vec::new();
    if matches!(position, Some(Segment::Room | Segment::User))
        && tokens.first() == Some(&Token::Literal { byte: b'@' })
    {
        offenders.push('@');
    }
    for (at, token) in tokens.iter().enumerate() {
        if *token != (Token::Literal { byte: b'%' }) {
            continue;
        }
        for ahead in 1..=2 {
            match tokens.get(at + ahead) {
                Some(Token::Literal { byte }) if byte.is_ascii_hexdigit() => {}
                Some(Token::Literal { .. }) | None => {
                    push_unique(&mut offenders, '%');
                    break;
                }
                Some(_) => break,
            }
        }
    }
    for run in tokens.split(|token| token.is_wildcard()) {
        let Some(text) = literal_text(run) else {
            continue;
        };
        for character in text.chars().filter(|c| never_in_topics(*c)) {
            push_unique(&mut offenders, character);
        }
    }
    offenders
}
