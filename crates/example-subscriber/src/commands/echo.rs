//! `!echo <text>`: says the text back.

/// `!echo <text>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    text: String,
}

impl Echo {
    /// The text after the command name, trimmed (may be empty).
    pub fn parse(args: &str) -> Echo {
        Echo {
            text: args.trim().to_owned(),
        }
    }

    /// The text, or a usage line when there is none (a blank reply is never sent).
    pub fn apply(self) -> String {
        if self.text.is_empty() {
            "usage: !echo <text>".to_owned()
        } else {
            self.text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_the_text_and_explains_when_there_is_none() {
        assert_eq!(Echo::parse("  hello   world ").apply(), "hello   world");
        assert_eq!(Echo::parse("").apply(), "usage: !echo <text>");
    }
}
