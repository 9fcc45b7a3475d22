//! Greetings: `hello`, `hi`, `hey`... (no prefix) get a greeting back.

/// Words that count as a greeting when they are the whole message (give or take
/// punctuation and a following "there", "all" or "bot").
const GREETINGS: &[&str] = &[
    "hello",
    "hi",
    "hey",
    "hiya",
    "howdy",
    "yo",
    "greetings",
    "bonjour",
    "hallo",
    "hola",
];
const FILLERS: &[&str] = &["there", "all", "everyone", "bot", "bytebot"];

/// A greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting;

impl Greeting {
    /// Only short messages that are a greeting, so "hi, can someone review my PR?"
    /// does not get a cheerful non-answer.
    pub fn parse(content: &str) -> Option<Greeting> {
        let words: Vec<String> = content
            .split_whitespace()
            .map(|word| {
                word.trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            })
            .filter(|word| !word.is_empty())
            .collect();
        match words.as_slice() {
            [greeting] if GREETINGS.contains(&greeting.as_str()) => Some(Greeting),
            [greeting, filler]
                if GREETINGS.contains(&greeting.as_str()) && FILLERS.contains(&filler.as_str()) =>
            {
                Some(Greeting)
            }
            _ => None,
        }
    }

    /// `hello, <name>!`
    pub fn apply(self, author_name: &str) -> String {
        format!("hello, {author_name}! 👋")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_greetings_are_recognised() {
        for content in [
            "hello",
            "Hi!",
            "hey there",
            "HOWDY, all",
            "yo bot",
            "  hiya  ",
        ] {
            assert_eq!(Greeting::parse(content), Some(Greeting), "{content:?}");
        }
        assert_eq!(Greeting.apply("alice"), "hello, alice! 👋");
    }

    #[test]
    fn greetings_inside_a_sentence_are_not() {
        for content in [
            "hi, can someone review my PR?",
            "high",
            "this",
            "hello world again",
            "",
        ] {
            assert_eq!(Greeting::parse(content), None, "{content:?}");
        }
    }
}
