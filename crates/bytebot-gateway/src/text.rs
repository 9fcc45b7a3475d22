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
///
/// With [`TextLimits::code_fences`], a ` ``` ` code block cut by a split is closed at
/// the end of its chunk (` ``` ` on a line of its own) and reopened at the start of the
/// next with the same language tag (` ```rust `), all within the limits; see
/// [`split_fenced`].
pub fn split_content(content: &str, limits: TextLimits) -> Vec<String> {
    if limits.code_fences
        && content.contains(FENCE)
        && let Some(chunks) = split_fenced(content, limits)
    {
        return chunks;
    }
    let mut chunks = Vec::new();
    let mut rest = content;
    loop {
        let Some((chunk_end, resume)) = next_cut(rest, limits) else {
            push_chunk(&mut chunks, rest);
            return chunks;
        };
        push_chunk(&mut chunks, &rest[..chunk_end]);
        rest = &rest[resume..];
    }
}

/// Where the first chunk of `text` ends and the rest resumes (bytes), or `None` when
/// all of `text` fits.
fn next_cut(text: &str, limits: TextLimits) -> Option<(usize, usize)> {
    // The byte offset of the first character past the limits, if there is one.
    let (window_end, next) = first_overflow(text, limits)?;
    // The window includes that next character, so a separator right after a full
    // chunk counts as a boundary.
    let window = &text[..window_end + next.len_utf8()];
    Some(break_point(window).unwrap_or((window_end, window_end)))
}

/// A Markdown code fence, as Discord reads it: three backticks, paired anywhere in the
/// text (not only at line starts); an opening fence followed by a tag and a line break
/// gives the block its language.
const FENCE: &str = "```";

/// The longest language tag carried over to a reopened block; a longer "tag" is text.
const MAX_LANGUAGE: usize = 32;

/// The smallest room left for text in a chunk once a reopening fence and a closing
/// one are counted; below it (a platform with tiny messages) fences are not kept.
const MIN_FENCED_BODY: usize = 16;

/// [`split_content`] for text with code fences: each chunk is cut with room for the
/// fences it may need (a reopening ` ```lang\n ` before, a closing `\n``` ` after), so
/// that every chunk but the last has balanced fences. `None` when the limits are too
/// small for that; the caller then splits plainly.
pub fn split_fenced(content: &str, limits: TextLimits) -> Option<Vec<String>> {
    let mut chunks = Vec::new();
    let mut rest = content;
    // The language of the block open at the start of `rest` (Some("") for none).
    let mut open: Option<String> = None;
    loop {
        let reopen = open
            .as_deref()
            .map(|language| format!("{FENCE}{language}\n"))
            .unwrap_or_default();
        let close = format!("\n{FENCE}");
        let reserved_chars = reopen.chars().count() + close.len();
        let budget = TextLimits {
            max_chars: limits.max_chars.checked_sub(reserved_chars)?,
            max_bytes: match limits.max_bytes {
                Some(bytes) => Some(bytes.checked_sub(reopen.len() + close.len())?),
                None => None,
            },
            code_fences: false,
        };
        if budget.max_chars < MIN_FENCED_BODY
            || budget
                .max_bytes
                .is_some_and(|bytes| bytes < MIN_FENCED_BODY * 4)
        {
            return None;
        }
        let (body, resume) = match next_cut(rest, budget) {
            None => (rest, rest.len()),
            Some((chunk_end, resume)) => {
                // Never cut a run of backticks: that would make or break a fence.
                let backticks =
                    rest[..chunk_end].len() - rest[..chunk_end].trim_end_matches('`').len();
                if backticks > 0 && rest[chunk_end..].starts_with('`') && backticks < chunk_end {
                    let end = chunk_end - backticks;
                    (&rest[..end], end)
                } else {
                    (&rest[..chunk_end], resume)
                }
            }
        };
        // Nothing but whitespace after the cut: this is the last chunk (a block
        // reopened for it would be empty).
        let last = rest[resume..].trim().is_empty();
        let after = fence_state(body, open.clone());
        let mut chunk = reopen;
        chunk.push_str(body);
        if after.is_some() && !last {
            if !chunk.ends_with('\n') {
                chunk.push('\n');
            }
            chunk.push_str(FENCE);
        }
        push_chunk(&mut chunks, &chunk);
        if last {
            return Some(chunks);
        }
        rest = &rest[resume..];
        open = after;
    }
}

/// Whether a code block is open at the end of `text`, given the state at its start
/// (`Some(language)`, `""` for a block without one), counting fences as Discord pairs
/// them.
fn fence_state(text: &str, mut open: Option<String>) -> Option<String> {
    let mut rest = text;
    while let Some(index) = rest.find(FENCE) {
        let after = &rest[index + FENCE.len()..];
        open = match open {
            Some(_) => None,
            None => Some(language(after)),
        };
        rest = after;
    }
    open
}

/// The language tag right after an opening fence: `[a-z0-9_+\-.#]` up to a line break.
fn language(after_fence: &str) -> String {
    let Some((tag, _)) = after_fence.split_once('\n') else {
        return String::new();
    };
    let valid = !tag.is_empty()
        && tag.chars().count() <= MAX_LANGUAGE
        && tag.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '_' | '+' | '-' | '.' | '#')
        });
    if valid { tag.to_owned() } else { String::new() }
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
    use proptest::prelude::*;

    const LIMIT: usize = 2000;
    const DISCORD: TextLimits = TextLimits {
        max_chars: LIMIT,
        max_bytes: None,
        code_fences: true,
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

    fn fences(text: &str) -> usize {
        text.matches(FENCE).count()
    }

    /// A code block cut by the 2000-character split is closed at the end of the first
    /// part and reopened with its language at the start of the next: both render as
    /// Rust, and no line of code is lost.
    #[test]
    fn a_code_block_cut_by_the_split_is_closed_and_reopened() {
        let code: Vec<String> = (0..150).map(|i| format!("let x{i} = {i};")).collect();
        let content = format!("Here:\n```rust\n{}\n```\nDone.", code.join("\n"));
        assert!(content.chars().count() > 2000);
        let chunks = split_content(&content, DISCORD);
        assert_eq!(chunks.len(), 2, "{chunks:#?}");
        assert_within_limit(&chunks, LIMIT);
        assert!(chunks[0].starts_with("Here:\n```rust\nlet x0 = 0;"));
        assert!(chunks[0].ends_with(";\n```"), "{}", &chunks[0][1900..]);
        assert!(
            chunks[1].starts_with("```rust\nlet x"),
            "{}",
            &chunks[1][..40]
        );
        assert!(chunks[1].ends_with("let x149 = 149;\n```\nDone."));
        for chunk in &chunks {
            assert_eq!(fences(chunk) % 2, 0, "unbalanced: {chunk}");
        }
        let lines: Vec<&str> = chunks
            .iter()
            .flat_map(|chunk| chunk.lines())
            .filter(|line| line.starts_with("let "))
            .collect();
        assert_eq!(lines, code, "a line of code was lost, cut or repeated");
    }

    /// Without a language the block is reopened bare; text without fences splits as it
    /// always did; a platform without code blocks gets no fences added.
    #[test]
    fn fences_are_added_only_where_a_block_is_cut() {
        let content = format!("```\n{}\n```", "word ".repeat(600).trim_end());
        let chunks = split_content(&content, DISCORD);
        assert!(chunks.len() >= 2);
        assert!(chunks[1].starts_with("```\nword"), "{}", &chunks[1][..20]);
        assert!(chunks.iter().all(|chunk| fences(chunk) == 2));
        // Two blocks: wherever the cuts fall, each part is balanced and a cut block
        // goes on as Python.
        let block = format!("```py\n{}\n```", "x = 1\n".repeat(250).trim_end());
        let chunks = split_content(&format!("{block}\n{block}"), DISCORD);
        assert_eq!(chunks.len(), 2);
        assert!(
            chunks[1].starts_with("```py\nx = 1"),
            "{}",
            &chunks[1][..20]
        );
        assert!(chunks.iter().all(|chunk| fences(chunk).is_multiple_of(2)));
        let n_lines: usize = chunks
            .iter()
            .map(|chunk| chunk.matches("x = 1").count())
            .sum();
        assert_eq!(n_lines, 500);
        // An unclosed block in the input stays unclosed at the end (the author's text).
        let open = format!("```\n{}", "y ".repeat(1500));
        let chunks = split_content(&open, DISCORD);
        assert_eq!(fences(&chunks[0]), 2);
        assert_eq!(fences(chunks.last().unwrap()), 1);
        // IRC and other platforms without code blocks: plain splitting.
        let plain = TextLimits::chars(2000);
        assert!(split_content(&content, plain)[1].starts_with("word"));
    }

    /// Discord pairs fences anywhere (```inline```), and a tag is only a tag when a line
    /// break follows it.
    #[test]
    fn fence_state_follows_discords_pairing() {
        assert_eq!(fence_state("a ```x``` b", None), None);
        assert_eq!(fence_state("```rust\nfn", None).as_deref(), Some("rust"));
        assert_eq!(fence_state("```not a tag\nfn", None).as_deref(), Some(""));
        assert_eq!(fence_state("fn\n```\nok", Some("rust".into())), None);
        assert_eq!(
            fence_state("no fences", Some("c".into())).as_deref(),
            Some("c")
        );
        assert_eq!(language("c++\n"), "c++");
        assert_eq!(language(&format!("{}\n", "a".repeat(40))), "");
    }

    /// Tiny limits (the toy platform's 10 characters) leave no room for fences: plain
    /// splitting, never a panic or a chunk over the limit.
    #[test]
    fn tiny_limits_fall_back_to_plain_splitting() {
        let tiny = TextLimits::chars(10).with_code_fences();
        let chunks = split_content("```rust\nfn main() {}\n```", tiny);
        assert_within_limit(&chunks, 10);
    }

    /// Markdown made of words, line breaks, backticks, inline and block fences with and
    /// without a language. The words are non-ASCII, so that none becomes a language tag
    /// (which a reopened block repeats): the one tag is `+++`, left out when comparing.
    fn markdown() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            4 => "[éßøü]{1,12}".prop_map(|word| word),
            3 => Just(" ".to_owned()),
            3 => Just("\n".to_owned()),
            1 => Just("```".to_owned()),
            1 => Just("```\n".to_owned()),
            1 => Just("```+++\n".to_owned()),
            1 => Just("`".to_owned()),
            1 => "[éß🦀]{20,60}".prop_map(|word| word),
        ];
        proptest::collection::vec(token, 0..120).prop_map(|tokens| tokens.concat())
    }

    proptest! {
        /// Every part is within the limits and never blank; every part but the last has
        /// balanced fences (the last too when the input had); no word is lost.
        #[test]
        fn split_code_blocks_stay_fenced(content in markdown(), max_chars in 40usize..120, bytes in proptest::bool::ANY) {
            let mut limits = TextLimits::chars(max_chars).with_code_fences();
            if bytes {
                limits = limits.with_max_bytes(max_chars * 2);
            }
            let chunks = split_content(&content, limits);
            for chunk in &chunks {
                prop_assert!(chunk.chars().count() <= limits.max_chars, "{chunk:?}");
                prop_assert!(chunk.len() <= limits.max_bytes.unwrap_or(usize::MAX), "{chunk:?}");
                prop_assert!(!chunk.trim().is_empty());
            }
            if let Some((last, others)) = chunks.split_last() {
                for chunk in others {
                    prop_assert_eq!(fences(chunk) % 2, 0, "unbalanced part {:?} of {:?}", chunk, chunks);
                }
                if fences(&content).is_multiple_of(2) {
                    prop_assert_eq!(fences(last) % 2, 0, "unbalanced last part of {:?}", chunks);
                }
            }
            // Only backticks, whitespace and reopened language tags are added.
            let letters = |text: &str| -> String {
                text.chars().filter(|c| !c.is_whitespace() && !matches!(c, '`' | '+')).collect()
            };
            prop_assert_eq!(letters(&chunks.concat()), letters(&content));
        }
    }
}
