//! `chat` (a console gateway) and the conversation machinery `send --wait` shares.
//!
//! A [`Conversation`] subscribes to one console's reply topic *before* publishing
//! anything (pub/sub keeps nothing for late subscribers), publishes inbound envelopes
//! as a gateway would, and prints the replies that come back on that reply topic.

use std::collections::HashMap;
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytebot_core::bus::{self, BusConfig, RedisUrl, SubscribeOptions, Subscription};
use bytebot_core::envelope::{Author, InboundMessage, decode_outbound};
use bytebot_core::pattern::Pattern;
use bytebot_core::{Direction, Space, Topic};
use tokio::io::AsyncBufReadExt;

/// How long to wait for Redis at start before saying it is unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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

    fn author(&self) -> Author {
        let mut author = Author::new(
            self.user.clone(),
            self.name.as_deref().unwrap_or(&self.user),
        );
        author.bot = self.bot;
        author
    }
}

/// Settings for [`run`].
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// Where Redis is.
    pub redis_url: RedisUrl,
    /// Who is talking, and where.
    pub identity: Identity,
    /// After the input ends, the longest wait for replies still due.
    pub timeout: Duration,
    /// Once every message has a reply, how long to wait for more (a second reply, a
    /// second bot) before exiting.
    pub settle: Duration,
    /// Print each reply's round-trip time to stderr.
    pub latency: bool,
}

/// One console talking to the bus: publishes lines, collects replies.
pub struct Conversation {
    topic: Topic,
    identity: Identity,
    replies: Subscription,
    connection: redis::aio::MultiplexedConnection,
    bus_config: BusConfig,
    /// Envelope id -> when it was sent, for messages without a reply yet.
    waiting: HashMap<String, Instant>,
    /// Envelope id -> when it was sent, for every message (latency of later replies).
    sent_at: HashMap<String, Instant>,
    n_messages: u64,
    warned_nobody: bool,
}

impl Conversation {
    /// Subscribes to the reply topic and connects for publishing; fails with a clear
    /// message when Redis cannot be reached.
    pub async fn open(redis_url: RedisUrl, identity: Identity) -> anyhow::Result<Conversation> {
        let topic = identity.topic()?;
        let bus_config = BusConfig::new(redis_url, "router-tools");
        let replies = Subscription::start(
            bus_config.clone(),
            vec![Pattern::exact(&topic.reply())],
            SubscribeOptions::default(),
        );
        let connection = bus::connect(&bus_config)
            .await
            .with_context(|| unreachable_hint(&bus_config))?;
        replies
            .wait_connected(CONNECT_TIMEOUT)
            .await
            .with_context(|| unreachable_hint(&bus_config))?;
        Ok(Conversation {
            topic,
            identity,
            replies,
            connection,
            bus_config,
            waiting: HashMap::new(),
            sent_at: HashMap::new(),
            n_messages: 0,
            warned_nobody: false,
        })
    }

    /// The inbound topic messages go to.
    pub fn topic(&self) -> &Topic {
        &self.topic
    }

    /// Publishes `content` as an inbound message; returns how many subscribers got it.
    pub async fn send(&mut self, content: &str) -> anyhow::Result<i64> {
        self.n_messages += 1;
        let message_id = format!("console-{}-{}", std::process::id(), self.n_messages);
        let message = InboundMessage::new(
            self.topic.clone(),
            message_id,
            self.identity.author(),
            content,
        );
        let receivers: i64 = match self.publish(&message).await {
            Ok(receivers) => receivers,
            Err(_) => {
                // One retry on a fresh connection: Redis may have restarted.
                self.connection = bus::connect(&self.bus_config)
                    .await
                    .with_context(|| unreachable_hint(&self.bus_config))?;
                self.publish(&message)
                    .await
                    .with_context(|| format!("publishing on {}", self.topic))?
            }
        };
        let id = message.id.to_string();
        let now = Instant::now();
        if receivers > 0 {
            self.waiting.insert(id.clone(), now);
        } else if !self.warned_nobody {
            self.warned_nobody = true;
            eprintln!(
                "nobody is subscribed to {}: start a subscriber (e.g. example-subscriber) or check with `router-tools doctor`",
                self.topic
            );
        }
        self.sent_at.insert(id, now);
        Ok(receivers)
    }

    async fn publish(&mut self, message: &InboundMessage) -> redis::RedisResult<i64> {
        redis::cmd("PUBLISH")
            .arg(self.topic.to_string())
            .arg(message.encode())
            .query_async(&mut self.connection)
            .await
    }

    /// Whether every message that reached a subscriber has had a reply.
    pub fn all_answered(&self) -> bool {
        self.waiting.is_empty()
    }

    /// How many messages reached a subscriber but have no reply yet.
    pub fn unanswered(&self) -> usize {
        self.waiting.len()
    }

    /// The next reply, printed to `out` (content only, one reply per line group).
    /// `None` only if the subscription ended.
    async fn next_reply(&mut self, out: &mut impl Write, latency: bool) -> Option<()> {
        let delivery = self.replies.recv().await?;
        match decode_outbound(&delivery.payload) {
            Ok(reply) => {
                let correlated = reply
                    .in_reply_to
                    .map(|id| id.to_string())
                    .filter(|id| self.sent_at.contains_key(id));
                // A reply that does not say what it answers (`in_reply_to` is
                // optional) is taken to answer the oldest message still waiting.
                let id = correlated.or_else(|| {
                    self.waiting
                        .iter()
                        .min_by_key(|(_, sent)| **sent)
                        .map(|(id, _)| id.clone())
                });
                let sent = id.and_then(|id| {
                    self.waiting.remove(&id);
                    self.sent_at.get(&id).copied()
                });
                let _ = writeln!(out, "{}", reply.content);
                let _ = out.flush();
                if let (true, Some(sent)) = (latency, sent) {
                    eprintln!("({:.1} ms)", sent.elapsed().as_secs_f64() * 1000.0);
                }
            }
            Err(err) => {
                eprintln!("(an undecodable reply on {}: {err})", delivery.channel);
            }
        }
        Some(())
    }

    /// Prints replies until every message has one and nothing more came for `settle`,
    /// or `timeout` passes. Returns how many messages were left unanswered.
    pub async fn wait_for_replies(
        &mut self,
        out: &mut impl Write,
        timeout: Duration,
        settle: Duration,
        latency: bool,
    ) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let quiet = tokio::time::sleep(settle);
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                () = quiet, if self.all_answered() => break,
                received = self.next_reply(out, latency) => {
                    if received.is_none() {
                        break;
                    }
                }
            }
        }
        self.unanswered()
    }
}

fn unreachable_hint(config: &BusConfig) -> String {
    format!(
        "cannot reach redis at {} (is redis-server running? set REDIS_URL, or run `router-tools doctor`)",
        config.url()
    )
}

/// Runs the console gateway: each line of stdin is an inbound message; replies are
/// printed as they come. Ends at end of input (once the replies are in, or after
/// `timeout`) or when `shutdown` resolves (Ctrl-C).
pub async fn run(config: ChatConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let mut conversation =
        Conversation::open(config.redis_url.clone(), config.identity.clone()).await?;
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!(
            "chatting as {} on {} (replies from {}); try !help. Ctrl-D or Ctrl-C to quit.",
            config.identity.user,
            conversation.topic(),
            conversation.topic().reply(),
        );
    }
    let mut stdout = std::io::stdout();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            line = lines.next_line() => {
                match line.context("reading stdin")? {
                    Some(line) if line.trim().is_empty() => {}
                    Some(line) => {
                        conversation.send(&line).await?;
                    }
                    None => break,
                }
            }
            received = conversation.next_reply(&mut stdout, config.latency) => {
                if received.is_none() {
                    bail!("the reply subscription ended");
                }
            }
        }
    }
    let unanswered = tokio::select! {
        () = &mut shutdown => return Ok(()),
        unanswered = conversation.wait_for_replies(&mut stdout, config.timeout, config.settle, config.latency) => unanswered,
    };
    if unanswered > 0 {
        eprintln!(
            "no reply to {unanswered} message(s) within {:?} (not a command any subscriber knows?)",
            config.timeout
        );
    }
    Ok(())
}
