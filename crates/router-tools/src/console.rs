//! The `console` platform that `chat` and `send` play: who is talking and where, and
//! the message ids a console invents.

use anyhow::Context;
use bytebot_core::envelope::{Author, MAX_PAYLOAD_BYTES};
use bytebot_core::{Direction, Space, Topic};
use clap::Args;

/// Who is talking, and where: the address of the console's messages.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The platform segment (`console`).
    pub platform: String,
    /// The space (`local`), or [`Space::Direct`] for a direct message (`@me`).
    pub space: Space,
    /// The room (`terminal`).
    pub room: String,
    /// The user id (`$USER`).
    pub user: String,
    /// The author's display name (defaults to the user id).
    pub name: Option<String>,
    /// Mark the author as a bot (subscribers then ignore it, by default).
    pub bot: bool,
}

impl Identity {
    /// The inbound topic these messages are published on.
    pub fn topic(&self) -> anyhow::Result<Topic> {
        Topic::builder(Direction::Inbound, self.platform.clone())
            .space(self.space.clone())
            .room(self.room.clone())
            .user(self.user.clone())
            .build()
            .context("building the inbound topic")
    }

    /// The author of this console's messages.
    pub fn author(&self) -> Author {
        let mut author = Author::new(
            self.user.clone(),
            self.name.as_deref().unwrap_or(&self.user),
        );
        author.bot = self.bot;
        author
    }
}

/// Where a console's messages come from (flags shared by `chat` and `send`). Defaults:
/// platform `console`, space `local`, room `terminal`, user `$USER`.
#[derive(Debug, Args)]
pub struct IdentityArgs {
    /// Platform segment of the topic.
    #[arg(long, env = "BYTEBOT_PLATFORM", default_value = "console")]
    pub platform: String,
    /// Space (guild/server) segment.
    #[arg(
        long,
        env = "BYTEBOT_SPACE",
        default_value = "local",
        conflicts_with = "direct"
    )]
    pub space: String,
    /// Send as a direct message (space `@me`) instead of in --space.
    #[arg(long)]
    pub direct: bool,
    /// Room (channel) segment.
    #[arg(long, env = "BYTEBOT_ROOM", default_value = "terminal")]
    pub room: String,
    /// User segment and author id.
    #[arg(long, env = "USER", default_value = "console-user")]
    pub user: String,
    /// Author display name (default: the user).
    #[arg(long)]
    pub name: Option<String>,
}

impl IdentityArgs {
    /// The identity these flags describe; `bot` marks the author as a bot.
    pub fn identity(self, bot: bool) -> Identity {
        Identity {
            platform: self.platform,
            space: if self.direct {
                Space::Direct
            } else {
                Space::id(self.space)
            },
            room: self.room,
            user: self.user,
            name: self.name,
            bot,
        }
    }
}

/// The platform message ids of one console session: `console-<pid>-<n>`, where `n`
/// counts every message the console shows (the lines typed and the replies delivered),
/// from 1. Like a platform's ids they are unique (per session: the process id tells
/// two sessions apart) and increase in the order the messages appeared, so a bot
/// author can predict them: the first line is `console-<pid>-1`, its reply
/// `console-<pid>-2`.
#[derive(Debug)]
pub struct MessageIds {
    prefix: String,
    last: u64,
}

impl MessageIds {
    /// The ids of this process's session.
    pub fn new() -> MessageIds {
        MessageIds {
            prefix: format!("console-{}", std::process::id()),
            last: 0,
        }
    }

    /// The next id.
    pub fn next_id(&mut self) -> String {
        self.last += 1;
        format!("{}-{}", self.prefix, self.last)
    }
}

impl Default for MessageIds {
    fn default() -> MessageIds {
        MessageIds::new()
    }
}

/// Refuses a payload no subscriber would accept ([`MAX_PAYLOAD_BYTES`]), before it is
/// published: published anyway, it reaches subscribers that all skip it, and the
/// sender waits for a reply that cannot come.
pub fn check_size(what: &str, payload: &[u8]) -> anyhow::Result<()> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        anyhow::bail!(
            "{what} is {} bytes, over the {MAX_PAYLOAD_BYTES}-byte (1 MiB) limit every subscriber enforces; nothing was published",
            payload.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_count_up_from_one() {
        let mut ids = MessageIds::new();
        let pid = std::process::id();
        assert_eq!(ids.next_id(), format!("console-{pid}-1"));
        assert_eq!(ids.next_id(), format!("console-{pid}-2"));
    }

    #[test]
    fn payloads_over_the_limit_are_refused_with_their_size() {
        assert!(check_size("the payload", &vec![b'x'; MAX_PAYLOAD_BYTES]).is_ok());
        let err = check_size("the payload", &vec![b'x'; MAX_PAYLOAD_BYTES + 1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the payload is 1048577 bytes, over the 1048576-byte (1 MiB) limit every subscriber enforces; nothing was published"
        );
    }
}
