//! What example-subscriber does with each message, event and receipt: answers
//! commands, then follows what it answered.
//!
//! - A new message that is a command gets its reply (a platform reply to it), and
//!   `!roll` also gets a 🎲 reaction on the command's message.
//! - When the gateway's receipt says the reply was delivered, the bot remembers the
//!   reply's platform ids (in [`Answered`]); for `!ping` it edits the reply to
//!   `pong (N ms)`, the round trip.
//! - When a command it answered is edited, the answer is edited to match (nothing
//!   when the command is unchanged, the answer deleted when the message is no longer
//!   a command); when a command it answered is deleted, the answer is deleted too.
//!
//! Edits and deletions of messages it did not answer (or answered more than a day
//! ago, or before the last 10 000 answers) change nothing; neither does an edit that
//! arrives before the answer's receipt (the answer's id is not known yet).

use std::sync::Mutex;

use bytebot_core::bot::Receipt;
use bytebot_core::envelope::{InboundKind, InboundMessage, OutboundAction, OutboundMessage};

use crate::answered::{Answered, MessageKey};
use crate::commands::Command;

/// The inbound kinds the handler takes (the others are skipped by the `Bot`).
pub const KINDS: [InboundKind; 4] = [
    InboundKind::Message,
    InboundKind::MessageEdited,
    InboundKind::MessageDeleted,
    InboundKind::Interaction,
];

/// The commands, and what the bot answered.
#[derive(Debug)]
pub struct Handler {
    prefix: String,
    answered: Mutex<Answered>,
}

impl Handler {
    /// Commands start with `prefix`.
    pub fn new(prefix: impl Into<String>) -> Handler {
        Handler {
            prefix: prefix.into(),
            answered: Mutex::default(),
        }
    }

    /// What to publish for an inbound envelope (on its `reply_topic`).
    pub fn on_message(&self, message: &InboundMessage) -> Vec<OutboundMessage> {
        match message.kind {
            InboundKind::Message => self.on_new(message),
            InboundKind::MessageEdited => self.on_edited(message),
            InboundKind::MessageDeleted => self.on_deleted(message),
            _ => Vec::new(),
        }
    }

    /// What to publish for the receipt of one of the bot's replies (where the reply
    /// went).
    pub fn on_receipt(&self, receipt: &Receipt) -> Vec<OutboundMessage> {
        if !receipt.ok() {
            tracing::warn!(
                topic = %receipt.reply_topic,
                action = %receipt.action(),
                error = ?receipt.receipt.error,
                "the gateway could not carry out a reply"
            );
            return Vec::new();
        }
        if receipt.action() != OutboundAction::Send || receipt.receipt.message_ids.is_empty() {
            return Vec::new();
        }
        let key = MessageKey::new(&receipt.reply_topic, &receipt.answered_message_id);
        let mut answered = self.answered.lock().expect("answered lock");
        let Some(answer) = answered.get(&key) else {
            return Vec::new();
        };
        answer
            .answer_ids
            .extend(receipt.receipt.message_ids.iter().cloned());
        match &answer.command {
            Command::Ping(ping) => vec![OutboundMessage::edit(
                receipt.receipt.message_ids[0].clone(),
                ping.with_round_trip(receipt.elapsed),
            )],
            _ => Vec::new(),
        }
    }

    fn on_new(&self, message: &InboundMessage) -> Vec<OutboundMessage> {
        let Some(command) = Command::parse(&message.content, &self.prefix) else {
            return Vec::new();
        };
        tracing::debug!(topic = %message.topic, ?command, "answering");
        let mut replies = vec![OutboundMessage::reply_to(
            message,
            command
                .clone()
                .apply(author_name(message), &message.platform),
        )];
        if let Some(emoji) = command.reaction() {
            replies.push(OutboundMessage::react(message.message_id.clone(), emoji));
        }
        let key = MessageKey::new(&message.topic, &message.message_id);
        self.answered
            .lock()
            .expect("answered lock")
            .remember(key, command);
        replies
    }

    fn on_edited(&self, message: &InboundMessage) -> Vec<OutboundMessage> {
        let key = MessageKey::new(&message.topic, &message.message_id);
        let mut answered = self.answered.lock().expect("answered lock");
        let Some(answer) = answered.get(&key) else {
            return Vec::new();
        };
        let Some((first, rest)) = answer.answer_ids.split_first() else {
            tracing::debug!(topic = %message.topic, "a command was edited before its answer was delivered");
            return Vec::new();
        };
        let (first, rest) = (first.clone(), rest.to_vec());
        match Command::parse(&message.content, &self.prefix) {
            Some(command) if command == answer.command => Vec::new(),
            Some(command) => {
                tracing::debug!(topic = %message.topic, ?command, "a command was edited; editing its answer");
                answer.command = command.clone();
                answer.answer_ids.truncate(1);
                let text = command.apply(author_name(message), &message.platform);
                let mut actions = vec![OutboundMessage::edit(first, text)];
                actions.extend(rest.into_iter().map(OutboundMessage::delete));
                actions
            }
            None => {
                tracing::debug!(topic = %message.topic, "a command was edited into no command; deleting its answer");
                answered.forget(&key);
                std::iter::once(first)
                    .chain(rest)
                    .map(OutboundMessage::delete)
                    .collect()
            }
        }
    }

    fn on_deleted(&self, message: &InboundMessage) -> Vec<OutboundMessage> {
        let key = MessageKey::new(&message.topic, &message.message_id);
        let answer = self.answered.lock().expect("answered lock").forget(&key);
        let Some(answer) = answer else {
            return Vec::new();
        };
        tracing::debug!(topic = %message.topic, "a command was deleted; deleting its answer");
        answer
            .answer_ids
            .into_iter()
            .map(OutboundMessage::delete)
            .collect()
    }
}

/// The name a greeting uses.
fn author_name(message: &InboundMessage) -> &str {
    message
        .author
        .display_name
        .as_deref()
        .unwrap_or(&message.author.name)
}
