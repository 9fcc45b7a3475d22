//! A pattern as Redis's matcher reads it: tokens, and segments between separators.

use crate::pattern::glob::scan_class;

/// One unit of a pattern as Redis's matcher reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token {
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
    pub(super) fn is_wildcard(self) -> bool {
        matches!(self, Token::Star | Token::AnyByte | Token::Class { .. })
    }
}

/// A token and where it sits in the pattern (byte offsets, end exclusive).
#[derive(Debug, Clone, Copy)]
pub(super) struct Spanned {
    pub(super) token: Token,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// Splits a pattern into tokens, reading classes and escapes exactly as [`glob_match`](crate::pattern::glob_match).
pub(super) fn tokenize(pattern: &[u8]) -> Vec<Spanned> {
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
pub(super) struct PatternSegment {
    /// The source text (a `\.` separator is not part of either side).
    pub(super) text: String,
    pub(super) tokens: Vec<Token>,
}

impl PatternSegment {
    /// The decoded bytes when the segment is all literals (and not empty).
    pub(super) fn literal(&self) -> Option<Vec<u8>> {
        literal_bytes(&self.tokens)
    }

    /// Whether the segment is all literals (and not empty), without decoding it.
    pub(super) fn is_literal(&self) -> bool {
        !self.tokens.is_empty()
            && self
                .tokens
                .iter()
                .all(|token| matches!(token, Token::Literal { .. }))
    }

    /// Two dots in a row, or a dot at either end.
    pub(super) fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub(super) fn is_lone_star(&self) -> bool {
        self.tokens == [Token::Star]
    }

    pub(super) fn has_star(&self) -> bool {
        self.tokens.contains(&Token::Star)
    }

    pub(super) fn has_wildcard(&self) -> bool {
        self.tokens.iter().any(|token| token.is_wildcard())
    }
}

/// Splits a pattern into segments at its separators (`.` and `\.`).
pub(super) fn split_segments(pattern: &str, tokens: &[Spanned]) -> Vec<PatternSegment> {
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

/// The bytes of `tokens` when they are all literals and there is at least one.
pub(super) fn literal_bytes(tokens: &[Token]) -> Option<Vec<u8>> {
    if tokens.is_empty() {
        return None;
    }
    tokens
        .iter()
        .map(|token| match token {
            Token::Literal { byte } => Some(*byte),
            _ => None,
        })
        .collect()
}

/// [`literal_bytes`] as text (invalid UTF-8 replaced), for messages and fixes.
pub(super) fn literal_text(tokens: &[Token]) -> Option<String> {
    literal_bytes(tokens).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}
