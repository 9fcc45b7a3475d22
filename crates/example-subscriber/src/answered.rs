//! What the bot answered, so that it can follow the command's message afterwards: which
//! command each message was and the platform ids of the answer. Bounded: at most
//! [`MAX_REMEMBERED`] messages, each for [`REMEMBER_FOR`]; the oldest go first.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytebot_core::{Platform, RoomId, Space, Topic};
use tokio::time::Instant;

use crate::commands::Command;

/// The most command messages remembered at once.
pub const MAX_REMEMBERED: usize = 10_000;

/// How long a command message is followed: an edit or a deletion a day later no
/// longer changes the answer.
pub const REMEMBER_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// A message on a platform: its room and its platform id (ids are unique per platform,
/// the room keeps two platforms' ids apart).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageKey {
    platform: Platform,
    space: Space,
    room: RoomId,
    message_id: String,
}

impl MessageKey {
    /// The message `message_id` in the room of `topic` (any direction).
    pub fn new(topic: &Topic, message_id: &str) -> MessageKey {
        MessageKey {
            platform: topic.platform().clone(),
            space: topic.space().clone(),
            room: topic.room().clone(),
            message_id: message_id.to_owned(),
        }
    }
}

/// A command the bot answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The command as the message says it now.
    pub command: Command,
    /// The platform ids of the answer (several if a long answer was split); empty
    /// until the gateway's receipt says where it went.
    pub answer_ids: Vec<String>,
}

/// The command messages answered, oldest first.
#[derive(Debug, Default)]
pub struct Answered {
    answers: HashMap<MessageKey, (Answer, u64)>,
    /// Every remembered key with the sequence number and time it was remembered
    /// under, oldest first (an entry whose sequence no longer matches was replaced).
    order: VecDeque<(MessageKey, u64, Instant)>,
    next_sequence: u64,
}

impl Answered {
    /// Remembers that the message `key` was `command`, answered (ids to come).
    pub fn remember(&mut self, key: MessageKey, command: Command) {
        let now = Instant::now();
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.order.push_back((key.clone(), sequence, now));
        let answer = Answer {
            command,
            answer_ids: Vec::new(),
        };
        self.answers.insert(key, (answer, sequence));
        self.forget_old(now);
    }

    /// The answer to the message `key`, if it is remembered.
    pub fn get(&mut self, key: &MessageKey) -> Option<&mut Answer> {
        self.forget_old(Instant::now());
        self.answers.get_mut(key).map(|(answer, _)| answer)
    }

    /// Forgets the message `key`, returning its answer.
    pub fn forget(&mut self, key: &MessageKey) -> Option<Answer> {
        self.forget_old(Instant::now());
        self.answers.remove(key).map(|(answer, _)| answer)
    }

    /// How many messages are remembered.
    pub fn len(&self) -> usize {
        self.answers.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }

    fn forget_old(&mut self, now: Instant) {
        while let Some((key, sequence, at)) = self.order.front() {
            let current = self
                .answers
                .get(key)
                .is_some_and(|(_, current)| current == sequence);
            let expired = now.saturating_duration_since(*at) > REMEMBER_FOR;
            if current && !expired && self.answers.len() <= MAX_REMEMBERED {
                break;
            }
            if current {
                self.answers.remove(key);
            }
            self.order.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::Ping;
    use bytebot_core::Direction;

    fn key(message_id: &str) -> MessageKey {
        let topic = Topic::builder(Direction::Inbound, "console")
            .space(Space::id("local"))
            .room("r")
            .user("alice")
            .build()
            .unwrap();
        MessageKey::new(&topic, message_id)
    }

    /// An edit a day later no longer touches the answer, and a flood of commands
    /// cannot grow the memory without bound.
    #[tokio::test(start_paused = true)]
    async fn messages_are_forgotten_after_a_day_or_past_the_bound() {
        let mut answered = Answered::default();
        answered.remember(key("old"), Command::Ping(Ping));
        tokio::time::advance(REMEMBER_FOR + Duration::from_secs(1)).await;
        assert!(answered.get(&key("old")).is_none());
        for n in 0..=MAX_REMEMBERED {
            answered.remember(key(&n.to_string()), Command::Ping(Ping));
        }
        assert_eq!(answered.len(), MAX_REMEMBERED);
        assert!(answered.get(&key("0")).is_none(), "the oldest went");
        assert!(answered.get(&key("1")).is_some());
        // Remembering a message again keeps only its newest answer.
        answered.remember(key("1"), Command::Ping(Ping));
        assert_eq!(answered.len(), MAX_REMEMBERED);
        assert!(answered.forget(&key("1")).is_some());
        assert!(answered.get(&key("1")).is_none());
    }
}
