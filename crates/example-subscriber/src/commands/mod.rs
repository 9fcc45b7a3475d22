//! The commands, one file each, and the `Command` enum that parses and applies them.
//!
//! In the style of mini-redis' `src/cmd/`: [`Command::parse`] turns a message into a
//! command (or nothing), and [`Command::apply`] turns the command into the reply text.
//! Adding a command is one new file, one variant, one line in `parse` and one in
//! `apply`, and one line in [`help::COMMANDS`]. What a command does beyond its reply
//! (a reaction on `!roll`, the round trip on `!ping`) is asked of the command too
//! ([`Command::reaction`], [`Ping::with_round_trip`]), so the handler
//! (`crate::handler`) stays the same for every command.

mod echo;
mod greeting;
pub mod help;
mod ping;
mod reactions;
mod roll;

pub use echo::Echo;
pub use greeting::Greeting;
pub use help::Help;
pub use ping::Ping;
pub use reactions::Reaction;
pub use roll::Roll;

/// A message this bot answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `!ping` -> `pong`.
    Ping(Ping),
    /// `!echo <text>` -> `<text>`.
    Echo(Echo),
    /// `!roll NdM` -> the dice and their sum (or why the request is refused).
    Roll(Roll),
    /// `!help` -> the list of commands.
    Help(Help),
    /// `!shrug`, `!tableflip`, `!unflip`.
    Reaction(Reaction),
    /// `hello`, `hi`, ... (no prefix) -> a greeting back.
    Greeting(Greeting),
}

impl Command {
    /// The command in `content`, if any. `prefix` starts every command except greetings
    /// (`!` by default). Unknown commands are `None`: other bots in the same room may
    /// own them, so this bot stays quiet rather than saying "unknown command".
    pub fn parse(content: &str, prefix: &str) -> Option<Command> {
        let content = content.trim();
        let Some(invocation) = content.strip_prefix(prefix).filter(|_| !prefix.is_empty()) else {
            return Greeting::parse(content).map(Command::Greeting);
        };
        let (name, args) = match invocation.split_once(char::is_whitespace) {
            Some((name, args)) => (name, args.trim()),
            None => (invocation, ""),
        };
        let command = match name.to_ascii_lowercase().as_str() {
            "ping" => Command::Ping(Ping),
            "echo" => Command::Echo(Echo::parse(args)),
            "roll" => Command::Roll(Roll::parse(args)),
            "help" => Command::Help(Help::new(prefix)),
            other => Command::Reaction(Reaction::parse(other)?),
        };
        Some(command)
    }

    /// The reaction the bot adds to the command's message besides its reply: 🎲 on a
    /// valid `!roll`.
    pub fn reaction(&self) -> Option<&'static str> {
        match self {
            Command::Roll(Roll::Dice { .. }) => Some("🎲"),
            _ => None,
        }
    }

    /// The reply, given the author's name (for greetings) and the platform (for its
    /// markup quirks). Never blank.
    pub fn apply(self, author_name: &str, platform: &str) -> String {
        match self {
            Command::Ping(ping) => ping.apply(),
            Command::Echo(echo) => echo.apply(),
            Command::Roll(roll) => roll.apply(&mut fastrand::Rng::new()),
            Command::Help(help) => help.apply(),
            Command::Reaction(reaction) => reaction.apply(platform).to_owned(),
            Command::Greeting(greeting) => greeting.apply(author_name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_command_with_the_prefix() {
        assert_eq!(Command::parse("!ping", "!"), Some(Command::Ping(Ping)));
        assert_eq!(Command::parse("  !PING  ", "!"), Some(Command::Ping(Ping)));
        assert!(matches!(
            Command::parse("!echo hi there", "!"),
            Some(Command::Echo(_))
        ));
        assert!(matches!(
            Command::parse("!roll 2d6", "!"),
            Some(Command::Roll(_))
        ));
        assert!(matches!(
            Command::parse("!help", "!"),
            Some(Command::Help(_))
        ));
        assert!(matches!(
            Command::parse("!shrug", "!"),
            Some(Command::Reaction(_))
        ));
        assert!(matches!(
            Command::parse("hello", "!"),
            Some(Command::Greeting(_))
        ));
    }

    /// Another bot may own `!weather`; answering "unknown command" would be noise.
    #[test]
    fn unknown_commands_and_ordinary_chat_get_no_reply() {
        for content in [
            "!weather",
            "!",
            "ping",
            "hello everyone, long time no see",
            "",
            "!pingpong",
        ] {
            assert_eq!(Command::parse(content, "!"), None, "{content:?}");
        }
    }

    #[test]
    fn only_a_valid_roll_gets_a_reaction() {
        let reaction = |content| Command::parse(content, "!").unwrap().reaction();
        assert_eq!(reaction("!roll 2d6"), Some("🎲"));
        assert_eq!(reaction("!roll 0d6"), None);
        assert_eq!(reaction("!ping"), None);
    }

    #[test]
    fn a_custom_prefix_replaces_the_bang() {
        assert_eq!(Command::parse("?ping", "?"), Some(Command::Ping(Ping)));
        assert_eq!(Command::parse("!ping", "?"), None);
        assert_eq!(
            Command::parse("bot ping", "bot "),
            Some(Command::Ping(Ping))
        );
    }

    #[test]
    fn every_reply_is_non_blank() {
        for content in [
            "!ping",
            "!echo",
            "!echo   ",
            "!roll",
            "!roll 0d6",
            "!help",
            "!shrug",
            "!tableflip",
            "!unflip",
            "hi",
        ] {
            let reply = Command::parse(content, "!")
                .expect(content)
                .apply("alice", "console");
            assert!(!reply.trim().is_empty(), "{content:?}");
        }
    }
}
