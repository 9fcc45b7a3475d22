//! `send`: publish one message as a gateway would (or a raw payload), report how many
//! subscribers received it, and optionally print the replies.

use std::time::Duration;

use anyhow::Context;
use bytebot_core::bus::{self, BusConfig, RedisUrl};

use crate::chat::{Conversation, Identity};

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

/// Publishes, prints `received by N subscriber(s)`, then the replies when asked.
pub async fn run(config: SendConfig) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout();
    match config.message {
        Message::Raw { channel, payload } => {
            if config.wait.is_some() {
                anyhow::bail!("--wait needs an inbound message, not --raw");
            }
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
            println!("received by {receivers} subscriber(s)");
        }
        Message::Inbound { identity, content } => {
            let mut conversation = Conversation::open(config.redis_url, identity).await?;
            let receivers = conversation.send(&content).await?;
            println!("received by {receivers} subscriber(s)");
            if let Some(timeout) = config.wait {
                let unanswered = conversation
                    .wait_for_replies(&mut stdout, timeout, config.settle, false)
                    .await;
                if unanswered > 0 {
                    eprintln!("no reply within {timeout:?}");
                }
            }
        }
    }
    Ok(())
}
