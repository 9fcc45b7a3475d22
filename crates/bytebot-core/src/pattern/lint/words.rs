//! Small helpers for the checks' wording and fixes: escaping, spelling, lists.

use crate::topic::{
    DIRECT_MESSAGE_SPACE, Direction, Platform, Segment, escape_segment, must_escape,
    unescape_segment,
};

/// Characters that no topic contains anywhere, whatever the segment.
pub(super) fn never_in_topics(character: char) -> bool {
    matches!(character, '*' | '?' | '[' | ']' | '\\')
        || character.is_whitespace()
        || character.is_control()
}

/// Whether `text[at..]` starts with `%` and two hex digits.
pub(super) fn is_percent_escape(text: &[u8], at: usize) -> bool {
    text.get(at) == Some(&b'%')
        && text.get(at + 1).is_some_and(u8::is_ascii_hexdigit)
        && text.get(at + 2).is_some_and(u8::is_ascii_hexdigit)
}

/// The characters of a literal segment that topics would have escaped, and the segment
/// with just those percent-encoded.
pub(super) fn escape_offenders(literal: &str) -> (Vec<char>, String) {
    let mut offenders = Vec::new();
    let mut fixed = String::with_capacity(literal.len() + 8);
    for (index, (at, character)) in literal.char_indices().enumerate() {
        let kept_escape = character == '%' && is_percent_escape(literal.as_bytes(), at);
        if must_escape(index, character) && !kept_escape {
            push_unique(&mut offenders, character);
            let mut buffer = [0u8; 4];
            for byte in character.encode_utf8(&mut buffer).bytes() {
                fixed.push_str(&format!("%{byte:02X}"));
            }
        } else {
            fixed.push(character);
        }
    }
    (offenders, fixed)
}

/// Classic edit distance, to suggest `inbound` for `inbund`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Formats characters for a message: `' '`, `'*'`.
pub(super) fn list_characters(characters: &[char]) -> String {
    characters
        .iter()
        .map(|c| format!("{c:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `literal` is spelled exactly as a topic would spell a value at `position`
/// (any of space, room or user when the position is not certain).
pub(super) fn valid_value(position: Option<Segment>, literal: &str) -> bool {
    match position {
        Some(Segment::Direction) => Direction::ALL
            .iter()
            .any(|direction| direction.as_str() == literal),
        Some(Segment::Platform) => Platform::new(literal).is_ok(),
        position => {
            (literal == DIRECT_MESSAGE_SPACE
                && !matches!(position, Some(Segment::Room | Segment::User)))
                || unescape_segment(literal, Segment::Room)
                    .is_ok_and(|raw| escape_segment(&raw) == literal)
        }
    }
}

/// Adds `character` to `characters` unless it is already there.
///
/// The lists it builds hold distinct characters that topics escape (whitespace, control
/// characters, a few ASCII symbols), so they stay short whatever the input's length.
pub(super) fn push_unique(characters: &mut Vec<char>, character: char) {
    if !characters.contains(&character) {
        characters.push(character);
    }
}

/// "a", "a or b", "a, b or c".
pub(super) fn or_list(items: &[String]) -> String {
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => items.concat(),
    }
}

/// Every direction topics have, quoted: "`inbound`, `outbound` or `receipt`".
pub(super) fn directions() -> String {
    or_list(&Direction::ALL.map(|direction| format!("`{direction}`")))
}

/// The direction Bytebot publishes that `text` most likely misspells, if any.
pub(super) fn closest_direction(text: &str) -> Option<Direction> {
    const MAX_TYPOS: usize = 3;
    let length = text.chars().count();
    Direction::ALL
        .into_iter()
        // Lengths that far apart are that many edits apart: skip the long computation.
        .filter(|direction| length.abs_diff(direction.as_str().len()) <= MAX_TYPOS)
        .map(|direction| (edit_distance(text, direction.as_str()), direction))
        .min()
        .filter(|(distance, _)| *distance <= MAX_TYPOS)
        .map(|(_, direction)| direction)
}
