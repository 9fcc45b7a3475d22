//! `send`: publish one message as a gateway would (or a raw payload, or an outbound
//! action as a bot would), report how many subscribers received it, and optionally
//! print the replies (or the action's receipt).

use std::time::Duration;

use anyhow::{Context, bail};
use bytebot_core::Direction;
use bytebot_core::bus::{self, BusConfig, RedisUrl, SubscribeOptions, Subscription};
use bytebot_core::envelope::{OutboundAction, OutboundMessage};
use bytebot_core::pattern::Pattern;
use bytebot_core::receipt::decode_receipt;
use clap::Args;
use uuid::Uuid;

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
    /// Publish an outbound action as a bot would, on the outbound topic of --platform,
    /// --space, --room and --user: send, edit, delete, react, unreact or typing.
    /// `--wait` then prints the gateway's receipt.
    #[arg(long, value_name = "ACTION", conflicts_with_all = ["raw", "bot"])]
    pub action: Option<OutboundAction>,
    /// The platform message to edit, delete or react to (with --action).
    #[arg(long, value_name = "ID", requires = "action")]
    pub message_id: Option<String>,
    /// The emoji to react with or take back (with --action react or unreact).
    #[arg(long, value_name = "EMOJI", requires = "action")]
    pub emoji: Option<String>,
    /// Wait for replies (or, with --action, the receipt) and print them, up to SECONDS
    /// (`--wait` alone: 5; `--wait=10`).
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, require_equals = true, default_missing_value = "5")]
    pub wait: Option<f64>,
    /// The message text (or the raw payload; with --action, the text to send or edit
    /// in).
    pub content: Option<String>,
}

impl SendArgs {
    /// What to publish; an error that says what is missing when `--raw` and `--topic`
    /// do not come together. (Checked here rather than with clap's `requires`, whose
    /// usage line lists every flag given, `--redis-url` from `REDIS_URL` included, as
    /// if it were required.)
    pub fn message(self) -> Result<Message, String> {
        if let Some(action) = self.action {
            if self.topic.is_some() {
                return Err("--topic goes with --raw; an action goes on the outbound topic made of --platform, --space, --room and --user".to_owned());
            }
            let action = OutboundMessage {
                action,
                message_id: self.message_id,
                emoji: self.emoji,
                // Correlates the receipt with this action, for --wait.
                in_reply_to: Some(Uuid::now_v7()),
                ..OutboundMessage::new(self.content.unwrap_or_default())
            };
            action
                .validate()
                .map_err(|err| format!("--action {}: {err}", action.action))?;
            return Ok(Message::Outbound {
                identity: self.identity.identity(false),
                action: Box::new(action),
            });
        }
        let Some(content) = self.content else {
            return Err(
                "the message needs its CONTENT (or --action for an outbound action)".to_owned(),
            );
        };
        match (self.raw, self.topic) {
            (true, Some(channel)) => Ok(Message::Raw {
                channel,
                payload: content.into_bytes(),
            }),
            (true, None) => Err(
                "--raw needs --topic <TOPIC>, the channel to publish the payload on (e.g. --topic inbound.console.local.terminal.me)".to_owned(),
            ),
            (false, Some(_)) => Err(
                "--topic goes with --raw; an inbound message goes on the topic made of --platform, --space, --room and --user".to_owned(),
            ),
            (false, None) => Ok(Message::Inbound {
                identity: self.identity.identity(self.bot),
                content,
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
    /// An outbound action, as a bot would publish it, to this identity's room.
    Outbound {
        /// The address (the outbound topic of its room and user).
        identity: Identity,
        /// The action (`in_reply_to` set, to find its receipt).
        action: Box<OutboundMessage>,
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
        Message::Outbound { identity, action } => {
            let topic = identity.topic()?.with_direction(Direction::Outbound);
            let bus_config = BusConfig::new(config.redis_url, "router-tools");
            // Listen for the receipt before publishing: pub/sub keeps nothing.
            let mut receipts = match config.wait {
                Some(_) => {
                    let receipts = Subscription::start(
                        bus_config.clone(),
                        vec![Pattern::exact(&topic.with_direction(Direction::Receipt))],
                        SubscribeOptions::default(),
                    );
                    receipts
                        .wait_connected(Duration::from_secs(5))
                        .await
                        .with_context(|| format!("cannot reach redis at {}", bus_config.url()))?;
                    Some(receipts)
                }
                None => None,
            };
            let mut connection = bus::connect(&bus_config)
                .await
                .with_context(|| format!("cannot reach redis at {}", bus_config.url()))?;
            let receivers: i64 = redis::cmd("PUBLISH")
                .arg(topic.to_string())
                .arg(action.encode())
                .query_async(&mut connection)
                .await
                .with_context(|| format!("publishing on {topic}"))?;
            println!("received by {receivers} subscriber(s) ({RECEIVERS_NOTE})");
            if let (Some(receipts), Some(timeout)) = (receipts.as_mut(), config.wait) {
                let receipt = tokio::time::timeout(timeout, async {
                    while let Some(delivery) = receipts.recv().await {
                        match decode_receipt(&delivery.payload) {
                            Ok(receipt) if receipt.in_reply_to == action.in_reply_to => {
                                return Some(receipt);
                            }
                            _ => {}
                        }
                    }
                    None
                })
                .await;
                match receipt {
                    Ok(Some(receipt)) => println!("{}", crate::watch::receipt_text(receipt)),
                    _ => bail!(
                        "no receipt for the {} within {timeout:?} (is a gateway for `{}` running?)",
                        action.action,
                        topic.platform()
                    ),
                }
            }
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
