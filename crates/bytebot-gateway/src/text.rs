//! Text rules every platform shares: cleaning outbound content ([`clean_text`]) and
//! splitting it at the platform's limit ([`split_content`]).

use std::borrow::Cow;

use crate::adapter::TextLimits;

/// Cleans outbound text before it reaches a platform: `\r\n` becomes `\n`, and the C0
/// control characters other than line feed and tab (NUL, ESC, a lone `\r`...) and DEL
/// are removed. Terminal escape sequences lose their ESC, so they show as harmless text
/// and never drive a client. Text without any is returned as it is.
pub fn clean_text(content: &str) -> Cow<'_, str> {
    let is_dropped = |character: char| {
        (character.is_ascii_control() && character != '\n' && character != '\t')
            || character == '\u{7f}'
    };
    if !content.chars().any(is_dropped) {
        return Cow::Borrowed(content);
    }
    // `\r` is itself a C0 control: dropping it turns `\r\n` into `\n`.
    Cow::Owned(
        content
            .chars()
            .filter(|character| !is_dropped(*character))
            .collect(),
    )
}

/// Splits `content` into chunks within `limits` (characters, i.e. code points, and
/// bytes when the platform counts them), in order.
///
/// A chunk ends at a line break when there is one in the second half of the window,
/// else at the last whitespace, else (a single word longer than `limit`) exactly at the
/// limit. The separator at a split is dropped (a `\r\n` as a whole); every other
/// character is kept. Chunks with nothing but whitespace are left out, so an empty
/// message is never sent. Content within the limit is returned unchanged.
pub fn split_content(content: &str, limits: TextLimits) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut rest = content;
    loop {
        // The byte offset of the first character past the limits, if there is one.
        let Some((window_end, next)) = first_overflow(rest, limits) else {
            push_chunk(&mut chunks, rest);
            return chunks;
        };
        // The window includes that next character, so a separator right after a full
        // chunk counts as a boundary.
        let window = &rest[..window_end + next.len_utf8()];
        let (chunk_end, resume) = break_point(window).unwrap_or((window_end, window_end));
        push_chunk(&mut chunks, &rest[..chunk_end]);
        rest = &rest[resume..];
    }
}

/// The byte offset of the first character of `text` that does not fit in one message,
/// and that character.
fn first_overflow(text: &str, limits: TextLimits) -> Option<(usize, char)> {
    let max_bytes = limits.max_bytes.unwrap_or(usize::MAX);
    text.char_indices()
        .enumerate()
        .find(|(n_chars, (offset, character))| {
            *n_chars >= limits.max_chars || offset + character.len_utf8() > max_bytes
        })
        .map(|(_, found)| found)
}

/// Where to split a window of `limit + 1` characters: `(end of the chunk, start of the
/// rest)` in bytes, or `None` when it has no whitespace at all.
fn break_point(window: &str) -> Option<(usize, usize)> {
    if let Some(newline) = window
        .rfind('\n')
        .filter(|index| *index >= window.len() / 2)
    {
        let chunk_end = if window[..newline].ends_with('\r') {
            newline - 1
        } else {
            newline
        };
        return Some((chunk_end, newline + 1));
    }
    window
        .char_indices()
        .rev()
        .find(|(_, character)| character.is_whitespace())
        .map(|(index, character)| {
            // Do not leave a `\r` behind when breaking at the `\n` of a CRLF.
            let chunk_end = if character == '\n' && window[..index].ends_with('\r') {
                index - 1
            } else {
                index
            };
            (chunk_end, index + character.len_utf8())
        })
}

fn push_chunk(chunks: &mut Vec<String>, chunk: &str) {
    if !chunk.trim().is_empty() {
        chunks.push(chunk.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 2000;
    const DISCORD: TextLimits = TextLimits {
        max_chars: LIMIT,
        max_bytes: None,
    };

    fn words(n_words: usize) -> String {
        (0..n_words)
            .map(|i| format!("word{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn assert_within_limit(chunks: &[String], limit: usize) {
        for chunk in chunks {
            let n_chars = chunk.chars().count();
            assert!(n_chars <= limit, "chunk of {n_chars} chars");
            assert!(!chunk.trim().is_empty(), "empty chunk");
        }
    }

    #[test]
    fn short_content_is_one_unchanged_chunk() {
        assert_eq!(split_content("pong", DISCORD), ["pong"]);
        let exact = "a".repeat(2000);
        assert_eq!(split_content(&exact, DISCORD), vec![exact]);
    }

    /// A 5000-character answer becomes three messages that never cut a word.
    #[test]
    fn long_text_splits_at_word_boundaries_in_order() {
        let content = words(700);
        assert!(content.chars().count() > 5000);
        let chunks = split_content(&content, DISCORD);
        assert_eq!(
            chunks.len(),
            3,
            "{:?}",
            chunks.iter().map(String::len).collect::<Vec<_>>()
        );
        assert_within_limit(&chunks, LIMIT);
        assert_eq!(chunks.join(" "), content, "words lost, cut or reordered");
        for chunk in &chunks {
            assert!(
                chunk.starts_with("word") && !chunk.ends_with(' '),
                "{chunk:?}"
            );
        }
    }

    #[test]
    fn line_breaks_are_preferred_over_spaces() {
        let line = "abc ".repeat(199).trim_end().to_owned(); // 795 chars
        let content = vec![line; 4].join("\n");
        let chunks = split_content(&content, DISCORD);
        assert_within_limit(&chunks, LIMIT);
        for chunk in &chunks {
            assert!(chunk.ends_with("abc"), "split inside a line: {chunk:?}");
        }
        assert_eq!(chunks.join("\n"), content);
    }

    #[test]
    fn crlf_is_never_cut_in_half() {
        let content = vec!["x".repeat(1500); 3].join("\r\n");
        let chunks = split_content(&content, DISCORD);
        assert_eq!(chunks.len(), 3);
        for chunk in &chunks {
            assert_eq!(chunk, &"x".repeat(1500));
        }
        // A CRLF found by the whitespace search (first half of the window) too.
        let chunks = split_content("ab\r\ncdefgh", TextLimits::chars(6));
        assert_eq!(chunks, ["ab", "cdefgh"]);
    }

    /// One word longer than the limit must still be sent, cut exactly at the limit.
    #[test]
    fn a_single_huge_word_is_cut_at_the_limit() {
        let content = "y".repeat(4500);
        let chunks = split_content(&content, DISCORD);
        assert_eq!(
            chunks.iter().map(|c| c.chars().count()).collect::<Vec<_>>(),
            [2000, 2000, 500]
        );
        assert_eq!(chunks.concat(), content);
    }

    /// Discord counts code points, not bytes: multi-byte text must not be split early
    /// or on a byte boundary inside a character.
    #[test]
    fn unicode_is_counted_in_characters() {
        let content = "é🦀".repeat(1500); // 3000 chars, 9000 bytes
        let chunks = split_content(&content, DISCORD);
        assert_eq!(
            chunks.iter().map(|c| c.chars().count()).collect::<Vec<_>>(),
            [2000, 1000]
        );
        assert_eq!(chunks.concat(), content);
        let spaced = vec!["日本語"; 800].join(" ");
        let chunks = split_content(&spaced, DISCORD);
        assert_within_limit(&chunks, LIMIT);
        assert!(chunks.iter().all(|chunk| chunk.ends_with('語')));
    }

    #[test]
    fn whitespace_only_chunks_are_never_produced() {
        let content = format!("{}{}", "\n".repeat(3000), "hello");
        let chunks = split_content(&content, DISCORD);
        assert_eq!(chunks.len(), 1, "a chunk of only line breaks was kept");
        assert_eq!(chunks[0].trim(), "hello");
        assert!(split_content(" \n ", DISCORD).is_empty());
    }

    /// Platforms that count bytes (IRC) get chunks within both limits, never a
    /// character cut in half.
    #[test]
    fn byte_limits_are_kept_too() {
        let content = "é".repeat(30); // 60 bytes
        let limits = TextLimits::chars(100).with_max_bytes(25);
        let chunks = split_content(&content, limits);
        assert!(chunks.iter().all(|chunk| chunk.len() <= 25), "{chunks:?}");
        assert_eq!(chunks.concat(), content);
        let words = split_content("abc def ghi", TextLimits::chars(100).with_max_bytes(8));
        assert_eq!(words, ["abc def", "ghi"]);
    }

    /// NUL, ESC and the other C0 controls never reach a platform; line feeds and tabs
    /// do, and CRLF becomes LF.
    #[test]
    fn controls_are_stripped_except_newline_and_tab() {
        assert_eq!(clean_text("plain text"), Cow::Borrowed("plain text"));
        assert_eq!(clean_text("a\tb\nc"), "a\tb\nc");
        assert_eq!(clean_text("one\r\ntwo\rthree"), "one\ntwothree");
        assert_eq!(clean_text("\u{1b}[31mred\u{1b}[0m"), "[31mred[0m");
        assert_eq!(clean_text("nul\0 bel\u{7} del\u{7f}"), "nul bel del");
        assert_eq!(clean_text("\u{0}\u{1b}\u{7f}"), "");
        // C1 controls and other Unicode are left alone.
        assert_eq!(clean_text("caf\u{e9} \u{85}"), "caf\u{e9} \u{85}");
    }
}
