//! `!help`: lists the commands.

/// Every command, as `(name after the prefix, what it does)`; `!help` prints these.
pub const COMMANDS: &[(&str, &str)] = &[
    ("ping", "answers pong"),
    ("echo <text>", "says <text> back"),
    (
        "roll NdM",
        "rolls N dice with M sides, e.g. 2d6 (N up to 100, M up to 1000)",
    ),
    ("shrug", "¯\\_(ツ)_/¯"),
    ("tableflip", "(╯°□°)╯︵ ┻━┻"),
    ("unflip", "┬─┬ノ( º _ ºノ)"),
    ("help", "this list"),
];

/// `!help`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Help {
    prefix: String,
}

impl Help {
    /// Help that shows commands with `prefix`.
    pub fn new(prefix: &str) -> Help {
        Help {
            prefix: prefix.to_owned(),
        }
    }

    /// One line per command, then the greetings.
    pub fn apply(self) -> String {
        let mut text = String::from("commands:");
        for (name, what) in COMMANDS {
            text.push_str(&format!("\n  {}{name} - {what}", self.prefix));
        }
        text.push_str("\nand say hello, hi or hey to be greeted back");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_command_with_the_prefix() {
        let help = Help::new("!").apply();
        for name in [
            "!ping",
            "!echo",
            "!roll NdM",
            "!shrug",
            "!tableflip",
            "!unflip",
            "!help",
        ] {
            assert!(help.contains(name), "{name} missing from {help}");
        }
    }
}
