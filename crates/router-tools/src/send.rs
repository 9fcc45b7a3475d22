//! `send`: publish one message as a gateway would (or a raw payload), report how many
//! subscribers received it, and optionally print the replies.

use std::time::Duration;

use anyhow::{Context, bail};
use bytebot_core::bus::{self, BusConfig, RedisUrl};
use clap::Args;

use crate::console::{self, Identity, IdentityArgs};
use crate::conversation::{Conversation, Published};

/// The flags of `router-tools send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub identity: IdentityArgs,
    /// Mark the author as a bot (subscribers ignore bots by default).
    #[arg(long)]
    pub bot: bool,
    /// Publish CONTENT as is on --topic, not as an envelope.
    #[arg(long)]
    pub raw: bool,
    /// The channel for --raw.
    #[arg(long)]
    pub topic: Option<String>,
    /// Wait for replies and print them, up to SECONDS (`--wait` alone: 5; `--wait=10`).
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, require_equals = true, default_missing_value = "5")]
    pub wait: Option<f64>,
    /// The message text (or the raw payload).
    pub content: String,
}

impl SendArgs {
    /// What to publish; an error that says what is missing when `--raw` and `--topic`
    /// do not come together. (Checked here rather than with clap's `requires`, whose
    /// usage line lists every flag given, `--redis-url` from `REDIS_URL` included, as
    /// if it were required.)
    pub fn message(self) -> Result<Message, &'static str> {
        match (self.raw, self.topic) {
            (true, Some(channel)) => Ok(Message::Raw {
                channel,
                payload: self.content.into_bytes(),
            }),
            (true, None) => Err(
                "--raw needs --topic <TOPIC>, the channel to publish the payload on (e.g. --topic inbound.console.local.terminal.me)",
            ),
            (false, Some(_)) => Err(
                "--topic goes with --raw; an inbound message goes on the topic made of --platform, --space, --room and --user",
            ),
            (false, None) => Ok(Message::Inbound {
                identity: self.identity.identity(self.bot),
                content: self.content,
            }),
        }
    }
}

/// What to publish.
#[derive(Debug, Clone)]
pub enum Message {
    /// A well-formed inbound envelope from this identity.
    Inbound {
        /// Author and address.
        identity: Identity,
        /// The text.
        content: String,
    },
    /// Any payload on any channel, untouched (to test how subscribers cope).
    Raw {
        /// The channel (topic) to publish on.
        channel: String,
        /// The payload bytes.
        payload: Vec<u8>,
    },
}

/// Settings for [`run`].
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// Where Redis is.
    pub redis_url: RedisUrl,
    /// What to publish.
    pub message: Message,
    /// Wait this long for replies and print them (inbound messages only).
    pub wait: Option<Duration>,
    /// Once a reply came, how long to wait for more before exiting.
    pub settle: Duration,
}

/// What PUBLISH's count means, printed after it: it is not a count of bots.
const RECEIVERS_NOTE: &str =
    "every connection whose pattern or channel matched, `router-tools watch` included";

/// Publishes, prints `received by N subscriber(s)` and what N counts, then the replies
/// when asked.
pub async fn run(config: SendConfig) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout();
    match config.message {
        Message::Raw { channel, payload } => {
            if config.wait.is_some() {
                bail!("--wait needs an inbound message, not --raw");
            }
            console::check_size("the payload", &payload)?;
            let bus_config = BusConfig::new(config.redis_url, "router-tools");
            let mut connection = bus::connect(&bus_config)
                .await
                .with_context(|| format!("cannot reach redis at {}", bus_config.url()))?;
            let receivers: i64 = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(payload)
                .query_async(&mut connection)
                .await
                .with_context(|| format!("publishing on {channel}"))?;
            println!("received by {receivers} subscriber(s) ({RECEIVERS_NOTE})");
        }
        Message::Inbound { identity, content } => {
            let mut conversation =
                Conversation::open(config.redis_url, "router-tools", identity).await?;
            let receivers = match conversation.send_line(&content).await? {
                Published::Now { receivers } => receivers,
                Published::Kept => bail!(
                    "lost the connection to redis: the message was not published (try `router-tools doctor`)"
                ),
            };
            println!("received by {receivers} subscriber(s) ({RECEIVERS_NOTE})");
            if let Some(timeout) = config.wait {
                let unanswered = conversation
                    .wait_for_replies(&mut stdout, timeout, config.settle)
                    .await;
                if unanswered > 0 {
                    eprintln!("no reply within {timeout:?}");
                }
            }
        }
    }
    Ok(())
}
