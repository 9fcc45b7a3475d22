//! `Conversation`: one console on the bus, shared by `chat` and `send --wait`.
//!
//! It subscribes to the console's reply topic *before* publishing anything (pub/sub
//! keeps nothing for late subscribers), publishes inbound envelopes as a gateway
//! would, and plays the gateway for the replies: carries out each action (prints a
//! message sent; shows an edit, a deletion or a reaction on a message it showed) and
//! publishes the delivery receipt a real gateway would.
//!
//! Publishing goes through a small outbox of our own rather than the bus `Publisher`:
//! a console needs PUBLISH's receiver count for each line (nobody listening, or a reply
//! to wait for), which the `Publisher` does not return. While Redis is down, lines and
//! receipts wait in order; when it is back, they go out once our reply subscription
//! is back and the pattern subscriptions (`PUBSUB NUMPAT`) are as many as before the
//! outage (for at most [`RESUBSCRIBE_GRACE`]), so bots that reconnect on their own
//! schedule receive them.

mod references;

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytebot_core::bus::{self, BusConfig, Delivery, RedisUrl, SubscribeOptions, Subscription};
use bytebot_core::envelope::{InboundMessage, OutboundAction, OutboundMessage, decode_outbound};
use bytebot_core::pattern::Pattern;
use bytebot_core::receipt::{DeliveryError, DeliveryReceipt};
use bytebot_core::{Direction, Topic};
use tokio::sync::watch;
use uuid::Uuid;

pub use references::{Sent, SentLines};

use crate::console::{self, Identity, MessageIds};

/// How long to wait for Redis at start before saying it is unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// After an outage, the longest wait for the bots' pattern subscriptions to come back
/// before sending what was kept (a bot that is gone for good must not hold the
/// console forever). Bots retry every 500 ms at most, so they are normally back long
/// before.
pub const RESUBSCRIBE_GRACE: Duration = Duration::from_secs(5);

/// What became of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Redis took it; this many connections received it.
    Now {
        /// PUBLISH's count: every connection whose pattern or channel matched.
        receivers: i64,
    },
    /// Redis is unreachable: the line is kept and sent when it is back.
    Kept,
}

/// Something to publish, kept in order while Redis is down.
#[derive(Debug)]
enum Outgoing {
    /// A line typed: an inbound envelope.
    Line(Box<InboundMessage>),
    /// The receipt for a reply shown.
    Receipt { channel: String, payload: Vec<u8> },
}

/// One console talking to the bus: publishes lines, shows replies, sends receipts.
pub struct Conversation {
    topic: Topic,
    identity: Identity,
    replies: Subscription,
    bus_config: BusConfig,
    /// The publishing connection; `None` after a failure, until a reconnect works.
    connection: Option<redis::aio::MultiplexedConnection>,
    /// What is not published yet, in order (only while Redis is unreachable).
    outbox: VecDeque<Outgoing>,
    /// `PUBSUB NUMPAT` at the last successful publish: after an outage, what is kept
    /// waits for this many pattern subscriptions.
    patterns_before: i64,
    /// An outage happened since the last publish: the next connection waits for the
    /// subscribers before publishing.
    outage: bool,
    /// The user was told the connection was lost and has not been told it is back.
    announced: bool,
    ids: MessageIds,
    sent: SentLines,
    /// Lines that reached a subscriber and have no reply yet.
    waiting: HashSet<Uuid>,
    /// The platform id of the last reply delivered: each line after it is sent as a
    /// reply to it (inbound `reply_to`), as on a platform where the user answers the bot.
    last_delivered: Option<String>,
    /// Make every receipt a failure with this platform error code.
    fail_with: Option<i64>,
    /// The text of every message shown (lines typed and replies sent), by platform
    /// id: what edits, deletions and reactions act on. A console session is short;
    /// past [`MAX_SHOWN`] the oldest are forgotten.
    shown: HashMap<String, String>,
    shown_order: VecDeque<String>,
    /// PUBLISH's count for the last line published.
    last_receivers: i64,
    warned_nobody: bool,
}

impl Conversation {
    /// Subscribes to the reply topic and connects for publishing, as `role` (connection
    /// name `bytebot:<role>:<host>`); fails with a clear message when Redis cannot be
    /// reached.
    pub async fn open(
        redis_url: RedisUrl,
        role: &str,
        identity: Identity,
    ) -> anyhow::Result<Conversation> {
        let topic = identity.topic()?;
        let bus_config = BusConfig::new(redis_url, role);
        let replies = Subscription::start(
            bus_config.clone(),
            vec![Pattern::exact(&topic.reply())],
            SubscribeOptions::default(),
        );
        let mut connection = bus::connect(&bus_config)
            .await
            .with_context(|| unreachable_hint(&bus_config))?;
        replies
            .wait_connected(CONNECT_TIMEOUT)
            .await
            .with_context(|| unreachable_hint(&bus_config))?;
        let patterns_before = count_patterns(&mut connection).await.unwrap_or(0);
        Ok(Conversation {
            topic,
            identity,
            replies,
            // Reconnects are tried while the user waits: fail fast, try again soon.
            bus_config: bus_config.with_connection_timeout(Duration::from_secs(2)),
            connection: Some(connection),
            outbox: VecDeque::new(),
            patterns_before,
            outage: false,
            announced: false,
            ids: MessageIds::new(),
            sent: SentLines::new(),
            waiting: HashSet::new(),
            last_delivered: None,
            fail_with: None,
            shown: HashMap::new(),
            shown_order: VecDeque::new(),
            last_receivers: 0,
            warned_nobody: false,
        })
    }

    /// Makes every receipt report a failure with this platform error code (Discord's
    /// 50013 is Missing Permissions), and shows replies as not delivered.
    pub fn fail_with(&mut self, code: Option<i64>) {
        self.fail_with = code;
    }

    /// The inbound topic lines go to.
    pub fn topic(&self) -> &Topic {
        &self.topic
    }

    /// Whether the reply subscription is live; changes when Redis goes away and back.
    pub fn connected(&self) -> watch::Receiver<bool> {
        self.replies.connected()
    }

    /// Publishes `content` as an inbound message, after whatever is still kept. Fails
    /// only for a line no subscriber would accept (over the size limit).
    pub async fn send_line(&mut self, content: &str) -> anyhow::Result<Published> {
        let mut message = InboundMessage::new(
            self.topic.clone(),
            self.ids.next_id(),
            self.identity.author(),
            content,
        );
        message.reply_to = self.last_delivered.clone();
        console::check_size("the message, as an envelope,", &message.encode())?;
        self.remember_shown(&message.message_id, content);
        self.sent.insert(
            message.id,
            Sent {
                id: message.id,
                message_id: message.message_id.clone(),
                reply_to: message.reply_to.clone(),
                at: Instant::now(),
            },
        );
        self.outbox.push_back(Outgoing::Line(Box::new(message)));
        self.flush().await;
        // Only this line can be behind what is kept: receipts are queued by
        // `show_reply`, which cannot run meanwhile.
        Ok(if self.outbox.is_empty() {
            Published::Now {
                receivers: self.last_receivers,
            }
        } else {
            Published::Kept
        })
    }

    /// How many typed lines wait for Redis.
    pub fn kept_lines(&self) -> usize {
        self.outbox
            .iter()
            .filter(|outgoing| matches!(outgoing, Outgoing::Line(_)))
            .count()
    }

    /// Whether anything (lines or receipts) waits for Redis.
    pub fn has_kept(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Whether every line that reached a subscriber has had a reply.
    pub fn all_answered(&self) -> bool {
        self.waiting.is_empty()
    }

    /// How many lines reached a subscriber but have no reply yet.
    pub fn unanswered(&self) -> usize {
        self.waiting.len()
    }

    /// Publishes what is kept, in order, until done or Redis fails; what could not be
    /// published stays kept. After a failure it reconnects at once, once (Redis may
    /// have restarted while the console was idle).
    pub async fn flush(&mut self) {
        let kept_lines = if self.outage { self.kept_lines() } else { 0 };
        let mut attempts = 0;
        while !self.outbox.is_empty() {
            if self.connection.is_none() {
                attempts += 1;
                if attempts > 2 || !self.reconnect().await {
                    return;
                }
            }
            let (Some(next), Some(connection)) = (self.outbox.front(), self.connection.as_mut())
            else {
                return;
            };
            let (channel, payload) = match next {
                Outgoing::Line(message) => (message.topic.to_string(), message.encode()),
                Outgoing::Receipt { channel, payload } => (channel.clone(), payload.clone()),
            };
            let result: redis::RedisResult<(i64, i64)> = redis::pipe()
                .cmd("PUBLISH")
                .arg(&channel)
                .arg(payload)
                .cmd("PUBSUB")
                .arg("NUMPAT")
                .query_async(connection)
                .await;
            match result {
                Ok((receivers, patterns)) => {
                    self.patterns_before = patterns;
                    if let Some(Outgoing::Line(message)) = self.outbox.pop_front() {
                        self.published(&message, receivers);
                    }
                }
                Err(err) => {
                    tracing::debug!(error = %err, "publishing failed");
                    self.lost();
                }
            }
        }
        // Back only once a connection was made (not when there was nothing to send).
        if self.outage && self.connection.is_some() {
            self.outage = false;
            if std::mem::take(&mut self.announced) {
                match kept_lines {
                    0 => eprintln!("-- redis is back"),
                    n => eprintln!("-- redis is back; sent the {n} kept line(s)"),
                }
            }
        }
    }

    /// Records a line Redis took.
    fn published(&mut self, message: &InboundMessage, receivers: i64) {
        self.last_receivers = receivers;
        if let Some(sent) = self.sent.get_mut(&message.id) {
            sent.at = Instant::now();
        }
        if receivers > 0 {
            self.waiting.insert(message.id);
        } else if !self.warned_nobody {
            self.warned_nobody = true;
            eprintln!(
                "nobody is subscribed to {}: start a subscriber (e.g. example-subscriber) or check with `router-tools doctor`",
                self.topic
            );
        }
    }

    /// The connection to Redis is gone (a failed publish, or the reply subscription
    /// saw it): say so once, and reconnect before the next publish.
    pub fn lost(&mut self) {
        self.connection = None;
        self.outage = true;
        if !self.announced {
            self.announced = true;
            eprintln!("-- lost the connection to redis; reconnecting");
        }
    }

    /// The reply subscription is back: send what is kept (or only say so).
    pub async fn resume(&mut self) {
        // The publishing connection died with the old server, even if unused since.
        self.connection = None;
        self.outage = true;
        if self.has_kept() {
            self.flush().await;
        } else if std::mem::take(&mut self.announced) {
            eprintln!("-- reconnected to redis");
        }
    }

    /// A fresh publishing connection, once our reply subscription is live (replies to
    /// what we publish would be lost otherwise); after an outage, it first waits for
    /// the bots' pattern subscriptions.
    async fn reconnect(&mut self) -> bool {
        if !*self.replies.connected().borrow() {
            return false;
        }
        let Ok(mut connection) = bus::connect(&self.bus_config).await else {
            return false;
        };
        if self.outage {
            wait_for_patterns(&mut connection, self.patterns_before).await;
        }
        self.connection = Some(connection);
        true
    }

    /// The next reply delivered to the console (cancel-safe: nothing is lost when
    /// another event wins a `select!`). `None` only if the subscription ended.
    pub async fn recv_reply(&mut self) -> Option<Delivery> {
        self.replies.recv().await
    }

    /// Shows a reply as a gateway delivers it: its content on `out` (or marked as not
    /// delivered with `--fail-with`), warnings about how it names the line it answers
    /// on stderr, and its delivery receipt queued (published by the next
    /// [`Conversation::flush`]).
    pub fn show_reply(&mut self, delivery: &Delivery, out: &mut impl Write, latency: bool) {
        let outbound: Topic = delivery
            .channel
            .parse()
            .unwrap_or_else(|_| self.topic.reply());
        let receipt = match decode_outbound(&delivery.payload) {
            Ok(reply) => {
                for problem in references::problems(&reply, &self.sent) {
                    eprintln!("warning: {problem}");
                }
                // A reply that does not say what it answers (both fields are optional)
                // is taken to answer the oldest line still waiting.
                let answered = references::named_by(&reply, &self.sent).or_else(|| {
                    self.waiting
                        .iter()
                        .filter_map(|id| self.sent.get(id))
                        .min_by_key(|sent| sent.at)
                        .map(|sent| sent.id)
                        .filter(|_| reply.action == OutboundAction::Send)
                });
                let sent_at = answered.and_then(|id| {
                    self.waiting.remove(&id);
                    self.sent.get(&id).map(|sent| sent.at)
                });
                let receipt = match self.fail_with {
                    None => self.perform(&reply, out),
                    Some(code) => {
                        let _ = writeln!(out, "[not delivered: error {code}] {}", describe(&reply));
                        DeliveryReceipt::failed(reply.in_reply_to, Vec::new(), simulated(code))
                            .for_action(reply.action)
                    }
                };
                let _ = out.flush();
                if let (true, Some(sent_at)) = (latency, sent_at) {
                    eprintln!("({:.1} ms)", sent_at.elapsed().as_secs_f64() * 1000.0);
                }
                receipt
            }
            Err(err) => {
                let hint = references::undecodable_hint(&delivery.payload, &self.sent)
                    .map_or_else(String::new, |hint| format!("; {hint}"));
                eprintln!(
                    "(an undecodable reply on {}: {err}{hint})",
                    delivery.channel
                );
                // What a gateway answers to a payload that is not an outbound envelope.
                DeliveryReceipt::failed(
                    None,
                    Vec::new(),
                    DeliveryError {
                        code: None,
                        message: format!("invalid outbound envelope: {err}"),
                        status: None,
                    },
                )
            }
        };
        self.outbox.push_back(Outgoing::Receipt {
            channel: outbound.with_direction(Direction::Receipt).to_string(),
            payload: receipt.encode(),
        });
    }

    /// Carries out `reply` as the console platform: a send is printed on `out`; an
    /// edit, a deletion or a reaction is shown on its own line, about a message this
    /// console showed (`(edited)` after the new text, as chat apps show it); typing
    /// goes to stderr. Returns the receipt: a failure for a message it never showed.
    fn perform(&mut self, reply: &OutboundMessage, out: &mut impl Write) -> DeliveryReceipt {
        let action = reply.action;
        if action == OutboundAction::Send {
            let message_id = self.ids.next_id();
            let _ = writeln!(out, "{}", reply.content);
            self.last_delivered = Some(message_id.clone());
            self.remember_shown(&message_id, &reply.content);
            return DeliveryReceipt::delivered(reply.in_reply_to, vec![message_id]);
        }
        if action == OutboundAction::Typing {
            eprintln!("(typing...)");
            return DeliveryReceipt::delivered(reply.in_reply_to, Vec::new()).for_action(action);
        }
        let message_id = reply.message_id.clone().unwrap_or_default();
        let Some(text) = self.shown.get(&message_id).cloned() else {
            eprintln!(
                "warning: {action} of message `{message_id}`, which this console never showed"
            );
            let error = DeliveryError {
                code: None,
                message: format!("unknown message `{message_id}`: this console never showed it"),
                status: None,
            };
            return DeliveryReceipt::failed(reply.in_reply_to, Vec::new(), error)
                .for_action(action);
        };
        let emoji = reply.emoji.as_deref().unwrap_or_default();
        let _ = match action {
            OutboundAction::Edit => {
                self.shown.insert(message_id.clone(), reply.content.clone());
                writeln!(out, "{} (edited)", reply.content)
            }
            OutboundAction::Delete => {
                self.shown.remove(&message_id);
                writeln!(out, "(deleted: {text})")
            }
            OutboundAction::React => writeln!(out, "({emoji} on: {text})"),
            OutboundAction::Unreact => writeln!(out, "({emoji} taken back on: {text})"),
            other => writeln!(out, "({other} on: {text})"),
        };
        DeliveryReceipt::delivered(reply.in_reply_to, vec![message_id]).for_action(action)
    }

    /// Remembers the text of a message shown, for later edits, deletions, reactions.
    fn remember_shown(&mut self, message_id: &str, text: &str) {
        self.shown.insert(message_id.to_owned(), text.to_owned());
        self.shown_order.push_back(message_id.to_owned());
        while self.shown_order.len() > MAX_SHOWN {
            if let Some(oldest) = self.shown_order.pop_front() {
                self.shown.remove(&oldest);
            }
        }
    }

    /// Shows replies until every line has one and nothing more came for `settle`, or
    /// `timeout` passes. Returns how many lines were left unanswered.
    pub async fn wait_for_replies(
        &mut self,
        out: &mut impl Write,
        timeout: Duration,
        settle: Duration,
    ) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let quiet = tokio::time::sleep(settle);
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                () = quiet, if self.all_answered() => break,
                delivery = self.replies.recv() => {
                    let Some(delivery) = delivery else { break };
                    self.show_reply(&delivery, out, false);
                    self.flush().await;
                }
            }
        }
        self.unanswered()
    }
}

/// How many shown messages a console remembers for edits, deletions and reactions.
const MAX_SHOWN: usize = 10_000;

/// A reply in one line, for `--fail-with`: its content, or its action.
fn describe(reply: &OutboundMessage) -> String {
    match reply.action {
        OutboundAction::Send => reply.content.clone(),
        action => format!(
            "{action} {}{}",
            reply.message_id.as_deref().unwrap_or_default(),
            reply
                .emoji
                .as_deref()
                .map_or_else(String::new, |emoji| format!(" {emoji}"))
        ),
    }
}

/// The error of a receipt made to fail with `--fail-with CODE`.
fn simulated(code: i64) -> DeliveryError {
    DeliveryError {
        code: Some(code),
        message: format!("simulated by router-tools chat --fail-with {code}"),
        status: None,
    }
}

fn unreachable_hint(config: &BusConfig) -> String {
    format!(
        "cannot reach redis at {} (is redis-server running? set REDIS_URL, or run `router-tools doctor`)",
        config.url()
    )
}

async fn count_patterns(
    connection: &mut redis::aio::MultiplexedConnection,
) -> redis::RedisResult<i64> {
    redis::cmd("PUBSUB")
        .arg("NUMPAT")
        .query_async(connection)
        .await
}

/// Polls `PUBSUB NUMPAT` until it is at least `minimum`, for at most
/// [`RESUBSCRIBE_GRACE`]: after a Redis restart the bots re-subscribe on their own
/// schedule, and what we publish before they are back reaches nobody.
async fn wait_for_patterns(connection: &mut redis::aio::MultiplexedConnection, minimum: i64) {
    let deadline = tokio::time::Instant::now() + RESUBSCRIBE_GRACE;
    while tokio::time::Instant::now() < deadline {
        match count_patterns(connection).await {
            Ok(count) if count >= minimum => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(25)).await,
            Err(_) => return,
        }
    }
}
