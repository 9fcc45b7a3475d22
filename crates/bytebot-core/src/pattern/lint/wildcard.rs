//! Wildcards that do not mean what they seem: `*` or `?` sharing a segment, a lone
//! `?`, classes, and `\.`.

use super::syntax::{Token, literal_text};
use super::words::valid_value;
use super::{LintKind, Linter, Severity, TOPIC_SEGMENTS};

impl Linter<'_> {
    /// The wildcards of one segment; a lone `*` (any value) and a lone class (a
    /// deliberate choice among one-byte values) are fine.
    pub(super) fn check_wildcards(&mut self, index: usize) {
        let segment = &self.segments[index];
        if !segment.has_wildcard() || segment.is_lone_star() {
            return;
        }
        match segment.tokens.as_slice() {
            [Token::AnyByte] => self.check_lone_question_mark(index),
            [Token::Class { .. }] => {}
            _ => self.check_partial_wildcard(index),
        }
    }

    /// What a value in segment `index` is called in messages: `space`, or `value` when
    /// the position is not certain.
    fn value_name(&self, index: usize) -> String {
        self.position(index)
            .map_or_else(|| "value".to_owned(), |segment| segment.to_string())
    }

    /// `inbound.discord.?.*.*`: a lone `?` is one byte, not "any value".
    fn check_lone_question_mark(&mut self, index: usize) {
        let described = self.describe(index);
        let name = self.value_name(index);
        let (offer, fixed) = self.offer(index, "*");
        self.push(
            Severity::Warning,
            LintKind::SingleByteWildcard,
            format!(
                "{described} is a lone `?`, which matches exactly one byte, so it only matches \
                 a {name} that is a single ASCII character such as `7`; to match any {name} \
                 use {offer}"
            ),
            fixed,
        );
    }

    /// `inbound.discord.G1*`: a wildcard sharing a segment with other characters is a
    /// prefix, suffix or one-byte match, and a `*` in a short pattern crosses dots.
    fn check_partial_wildcard(&mut self, index: usize) {
        let segment = &self.segments[index];
        let described = self.describe(index);
        let name = self.value_name(index);
        let mut risks = Vec::new();
        if segment.has_star() {
            risks.push(star_risk(&segment.text, &segment.tokens, &name));
            if self.count() < TOPIC_SEGMENTS {
                risks.push(format!(
                    "`*` also matches dots, and the pattern has only {} of the 5 segments, so it \
                     runs on through every segment after this one",
                    self.count()
                ));
            }
        }
        if segment
            .tokens
            .iter()
            .any(|token| matches!(token, Token::AnyByte | Token::Class { .. }))
        {
            risks.push(one_byte_risk(&segment.text, &segment.tokens, &name));
        }
        let exact = self.exact_value(index);
        let (fix, suggestion) = match exact {
            Some((literal, fixed)) => (
                format!("to follow exactly {name} `{literal}`, use `{fixed}`"),
                Some(fixed),
            ),
            None => (
                format!(
                    "to follow particular ids, subscribe once per exact {name}, or use a \
                     whole-segment `*` and filter in code"
                ),
                None,
            ),
        };
        self.push(
            Severity::Warning,
            LintKind::PartialSegmentWildcard,
            format!(
                "{described} mixes a wildcard with other characters: {}; {fix}",
                risks.join("; ")
            ),
            suggestion,
        );
    }

    /// The segment without its `*`s and the pattern with it, when that is a value topics
    /// can hold at this place: `G1` for `G1*`.
    fn exact_value(&self, index: usize) -> Option<(String, String)> {
        let tokens: Vec<Token> = self.segments[index]
            .tokens
            .iter()
            .copied()
            .filter(|token| *token != Token::Star)
            .collect();
        let literal = literal_text(&tokens)?;
        if !valid_value(self.position(index), &literal) {
            return None;
        }
        let fixed = self.with_segment(index, &literal)?;
        Some((literal, fixed))
    }

    /// `inbound.x.[].*.*` and `inbound.x.[ab.*.*`: classes Redis accepts silently.
    pub(super) fn check_classes(&mut self) {
        self.check_empty_class();
        self.check_unterminated_class();
    }

    /// `[]` matches no byte: Redis closes a class at its first `]`.
    fn check_empty_class(&mut self) {
        let pattern = self.pattern;
        let empty = self.tokens.iter().any(|spanned| {
            matches!(
                spanned.token,
                Token::Class {
                    matches_nothing: true,
                    ..
                }
            )
        });
        if !empty {
            return;
        }
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

    /// A `[` never closed reads the rest of the pattern, dots included, as its members.
    fn check_unterminated_class(&mut self) {
        let pattern = self.pattern;
        if !self.has_unterminated_class() {
            return;
        }
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

    /// `#rust\.beginners`: `\.` matches the dot between segments, not a dot in an id.
    pub(super) fn check_escaped_separator(&mut self) {
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

/// What a `*` sharing a segment matches: every value that starts or ends with the rest,
/// or many values.
fn star_risk(text: &str, tokens: &[Token], name: &str) -> String {
    let prefix = match tokens {
        [rest @ .., Token::Star] => literal_text(rest),
        _ => None,
    };
    let suffix = match tokens {
        [Token::Star, rest @ ..] => literal_text(rest),
        _ => None,
    };
    let shape = match (prefix, suffix) {
        (Some(prefix), _) => {
            format!("every {name} that starts with `{prefix}`, such as `{prefix}0`")
        }
        (None, Some(suffix)) => {
            format!("every {name} that ends with `{suffix}`, such as `0{suffix}`")
        }
        (None, None) => format!("many different {name}s, not one"),
    };
    format!("Redis `*` matches any run of bytes, so `{text}` matches {shape}")
}

/// What `?` and classes sharing a segment match: one byte each, not one character.
fn one_byte_risk(text: &str, tokens: &[Token], name: &str) -> String {
    let length = if tokens.contains(&Token::Star) {
        String::new()
    } else {
        format!(
            ", so `{text}` only matches a {name} of exactly {} bytes",
            tokens.len()
        )
    };
    format!(
        "`?` and `[...]` stand for exactly one byte, not one character (`é` is two bytes) and \
         not a run{length}"
    )
}
