//! The matcher: a port of Redis's own glob matcher, quirks and all.

/// How deeply Redis lets `*` nest before it declares "no match".
///
/// Each `*` that still has pattern after it starts one more nested attempt; Redis gives
/// up beyond 1000 (its guard against stack exhaustion from abusive patterns, present in
/// current Redis sources). Checked against redis-server 7.0.15: a pattern of 1000 `*a`
/// groups matches 1001 `a`s, 1001 groups do not.
const MAX_STAR_NESTING: usize = 1000;

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
pub(super) struct ClassScan {
    /// Whether the byte is in the class (negation applied).
    pub(super) matched: bool,
    /// Index of the class's last byte: its `]`, or the pattern's last byte when unclosed.
    pub(super) last: usize,
    /// Whether a real (unescaped) `]` closed the class.
    pub(super) terminated: bool,
}

/// Reads the class whose `[` is at `open` exactly as Redis's matcher does, testing `byte`.
///
/// The class's extent never depends on `byte`, so the linter reuses this to find where a
/// class ends and whether it can match a given byte.
pub(super) fn scan_class(pattern: &[u8], open: usize, byte: u8) -> ClassScan {
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

#[cfg(test)]
mod tests;
