//! The matcher against a line-by-line port of Redis's recursive original.

use proptest::prelude::*;
use std::time::{Duration, Instant};

use super::glob_match;

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
