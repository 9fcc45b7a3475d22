//! Splitting outbound text into IRC lines: a line is at most 512 bytes *including* the
//! prefix (`:nick!user@host `) the server puts in front when it relays it, so the room
//! for text depends on our own prefix and on the target.

/// The most bytes of one IRC line, CR LF included (RFC 1459 2.3, RFC 2812 2.3).
pub const MAX_LINE_BYTES: usize = 512;

/// The longest user part (`~ident`) servers allow, for the prefix estimate before the
/// server has told us ours.
const USER_ESTIMATE: usize = 10;
/// The longest host name (RFC 1035 label limits, what servers cap hosts at).
const HOST_ESTIMATE: usize = 63;

/// How many bytes of text fit in one `PRIVMSG <target> :<text>` that the server relays
/// as `:<source> PRIVMSG <target> :<text>\r\n`.
///
/// `source` is our `nick!user@host` as the server shows it, when known (from our own
/// JOIN); otherwise the worst case for `nick` is assumed (user 10 bytes, host 63).
pub fn text_budget(nick: &str, source: Option<&str>, target: &str) -> usize {
    let source_len = source.map_or(nick.len() + 1 + USER_ESTIMATE + 1 + HOST_ESTIMATE, str::len);
    // ':' source ' ' "PRIVMSG" ' ' target ' ' ':' text "\r\n"
    let overhead = 1 + source_len + 1 + "PRIVMSG".len() + 1 + target.len() + 2 + 2;
    // A pathological target still gets a few bytes per line rather than none.
    MAX_LINE_BYTES.saturating_sub(overhead).max(16)
}

/// Splits `content` into IRC lines of at most `max_bytes` bytes each, in order.
///
/// Every line of the content becomes at least one IRC line (IRC has no line breaks in
/// a message); blank lines are left out. A line longer than `max_bytes` is cut at its
/// last space within the limit (the space is dropped, so joining the parts of one line
/// with single spaces gives it back), and a word longer than the limit is cut at the
/// last UTF-8 character boundary that fits: no character is ever cut in half.
pub fn split_lines(content: &str, max_bytes: usize) -> Vec<String> {
    let max_bytes = max_bytes.max(4);
    let mut lines = Vec::new();
    for line in content.split('\n') {
        let mut rest = line.trim_end_matches('\r');
        while rest.len() > max_bytes {
            let window_end = floor_char_boundary(rest, max_bytes);
            // The window includes the character right after it, so a space just past a
            // full line is a boundary too.
            let lookahead = floor_char_boundary(rest, max_bytes + 1);
            let (cut, resume) = match rest[..lookahead].rfind(' ') {
                Some(space) if space > 0 => (space, space + 1),
                _ => (window_end, window_end),
            };
            push_line(&mut lines, &rest[..cut]);
            rest = &rest[resume..];
        }
        push_line(&mut lines, rest);
    }
    lines
}

fn push_line(lines: &mut Vec<String>, line: &str) {
    if !line.trim().is_empty() {
        lines.push(line.to_owned());
    }
}

/// The largest index `<= index` that is a character boundary of `text`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    (0..=index)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_line_and_line_breaks_make_lines() {
        assert_eq!(split_lines("pong", 400), vec!["pong"]);
        assert_eq!(split_lines("a\nb\r\n\n  \nc", 400), vec!["a", "b", "c"]);
        assert!(split_lines("\n \n", 400).is_empty());
    }

    #[test]
    fn words_are_kept_whole_and_the_space_at_a_cut_is_dropped() {
        let lines = split_lines("aaaa bbbb cccc", 9);
        assert_eq!(lines, vec!["aaaa bbbb", "cccc"]);
        assert_eq!(lines.join(" "), "aaaa bbbb cccc");
    }

    #[test]
    fn a_long_word_is_cut_on_a_character_boundary() {
        // 'é' is two bytes: 5 of them are 10 bytes, and a 7-byte budget holds 3.
        let lines = split_lines("ééééé", 7);
        assert_eq!(lines, vec!["ééé", "éé"]);
        for line in split_lines(&"日本語".repeat(50), 100) {
            assert!(line.len() <= 100);
        }
    }

    /// The case: 2 000 characters in lines that fit, joined equal to the original.
    #[test]
    fn two_thousand_characters_fit_in_lines_and_join_back() {
        let words: Vec<String> = (0..400).map(|n| format!("w{n:03}é")).collect();
        let original = words.join(" ");
        assert!(original.chars().count() >= 2000);
        let budget = text_budget("bytebot", None, "#rust");
        let lines = split_lines(&original, budget);
        assert!(lines.len() > 1);
        for line in &lines {
            let relayed = format!(
                ":bytebot!~ident@{} PRIVMSG #rust :{line}\r\n",
                "h".repeat(63)
            );
            assert!(relayed.len() <= MAX_LINE_BYTES, "{} bytes", relayed.len());
        }
        assert_eq!(lines.join(" "), original);
    }

    #[test]
    fn the_budget_uses_our_real_source_when_known() {
        let estimated = text_budget("bot", None, "#c");
        let known = text_budget("bot", Some("bot!~b@127.0.0.1"), "#c");
        assert!(known > estimated);
        // :bot!~b@127.0.0.1 PRIVMSG #c :<text>\r\n
        assert_eq!(known, 512 - (1 + 16 + 1 + 7 + 1 + 2 + 2 + 2));
    }
}
