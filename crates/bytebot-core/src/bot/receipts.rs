//! The receipts of a bot's own replies ([`Bot::on_receipt`](super::Bot::on_receipt)):
//! which replies are waiting for one, and how a receipt is matched to its reply.
//!
//! A gateway publishes a [`DeliveryReceipt`] for every outbound message, on the
//! `receipt` topic with the reply's address, correlated only by `in_reply_to` (the
//! inbound envelope the reply answered). Every subscriber of that topic gets every
//! receipt, so a bot keeps a bounded record of the replies it published ([`Sent`])
//! and hands its receipt handler only the receipts that match one of them: the same
//! `in_reply_to`, the same address, the same action and, for an action on a message,
//! the same message. A receipt matches at most one reply, the oldest that fits
//! (a gateway answers one room's messages in order), and that reply is then
//! forgotten. Receipts that match nothing (another bot's replies, or a reply
//! forgotten because it waited longer than [`KEEP_FOR`] or past [`MAX_WAITING`]
//! others) are skipped and counted.
//!
//! Limitation, documented in docs/subscribers.md: two bots that answer the *same*
//! inbound message with the same action cannot tell their receipts apart (the wire
//! format has nothing else to correlate with); each may take the other's.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;
use uuid::Uuid;

use crate::envelope::{OutboundAction, OutboundMessage};
use crate::receipt::DeliveryReceipt;
use crate::topic::{Direction, Topic};

/// How long a published reply waits for its receipt before it is forgotten. A gateway
/// answers within seconds; this leaves room for a gateway riding out a Redis outage.
pub const KEEP_FOR: Duration = Duration::from_secs(300);

/// How many published replies may wait for a receipt at once; past that the oldest is
/// forgotten, so a bot whose gateway never answers keeps bounded memory.
pub const MAX_WAITING: usize = 10_000;

/// A receipt for one of the bot's own replies, as its receipt handler gets it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Receipt {
    /// What the gateway reported: `ok`, the platform's `message_ids` (for a send, the
    /// new messages: keep them to edit or delete them), or the error.
    pub receipt: DeliveryReceipt,
    /// The reply this receipt is about, as the bot published it (`in_reply_to` set).
    pub reply: OutboundMessage,
    /// Where the reply was published (an outbound topic). What the receipt handler
    /// returns is published here too.
    pub reply_topic: Topic,
    /// The platform message id of the inbound message the reply answered (for a
    /// follow-up published by a receipt handler: the one the first reply answered).
    pub answered_message_id: String,
    /// From handing the reply to the publisher to the receipt's arrival: the round
    /// trip through Redis, the gateway and the platform.
    pub elapsed: Duration,
}

impl Receipt {
    /// Whether the gateway carried the action out.
    pub fn ok(&self) -> bool {
        self.receipt.ok
    }

    /// The action the receipt is about.
    pub fn action(&self) -> OutboundAction {
        self.reply.action
    }

    /// The id of the inbound envelope the reply answered.
    pub fn in_reply_to(&self) -> Option<Uuid> {
        self.reply.in_reply_to
    }
}

/// A receipt handler, boxed so that [`Bot`](super::Bot) stays one type whether it has
/// one or not.
#[derive(Clone)]
pub(super) struct ReceiptHandler(
    Arc<dyn Fn(Receipt) -> BoxFuture<'static, Vec<OutboundMessage>> + Send + Sync>,
);

impl ReceiptHandler {
    pub(super) fn new<R, F>(handler: R) -> ReceiptHandler
    where
        R: Fn(Receipt) -> F + Send + Sync + 'static,
        F: Future<Output = Vec<OutboundMessage>> + Send + 'static,
    {
        ReceiptHandler(Arc::new(move |receipt| Box::pin(handler(receipt))))
    }

    pub(super) fn call(&self, receipt: Receipt) -> BoxFuture<'static, Vec<OutboundMessage>> {
        (self.0)(receipt)
    }
}

impl fmt::Debug for ReceiptHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReceiptHandler")
    }
}

/// A reply published and waiting for its receipt.
#[derive(Debug)]
struct Sent {
    /// Tells this entry apart in the expiry queue once others were taken.
    sequence: u64,
    reply: OutboundMessage,
    reply_topic: Topic,
    answered_message_id: String,
    published: Instant,
}

/// The replies waiting for a receipt, shared by the rooms (which record them before
/// publishing) and the dispatch loop (which matches receipts).
#[derive(Debug, Default)]
pub(super) struct Waiting {
    inner: Mutex<WaitingInner>,
}

#[derive(Debug, Default)]
struct WaitingInner {
    /// By `in_reply_to`, oldest first.
    by_inbound: HashMap<Uuid, VecDeque<Sent>>,
    /// Every entry of `by_inbound` (and some already taken), oldest first: what to
    /// forget first.
    expiry: VecDeque<(Uuid, u64, Instant)>,
    next_sequence: u64,
    len: usize,
}

impl Waiting {
    /// Remembers `reply` (whose `in_reply_to` is set), published on `reply_topic` in
    /// answer to the message `answered_message_id`. Forgets what is too old or too many.
    pub(super) fn record(
        &self,
        reply: &OutboundMessage,
        reply_topic: &Topic,
        answered_message_id: &str,
    ) {
        let Some(in_reply_to) = reply.in_reply_to else {
            return;
        };
        let now = Instant::now();
        let mut inner = self.inner.lock().expect("waiting replies lock");
        let sequence = inner.next_sequence;
        inner.next_sequence += 1;
        inner.expiry.push_back((in_reply_to, sequence, now));
        inner.len += 1;
        inner
            .by_inbound
            .entry(in_reply_to)
            .or_default()
            .push_back(Sent {
                sequence,
                reply: reply.clone(),
                reply_topic: reply_topic.clone(),
                answered_message_id: answered_message_id.to_owned(),
                published: now,
            });
        inner.forget_old(now);
    }

    /// The reply `receipt` (delivered on `channel`) is about, taken out of the
    /// waiting list; `None` when it is about no reply of this bot's.
    pub(super) fn take(&self, receipt: DeliveryReceipt, channel: &str) -> Option<Receipt> {
        let in_reply_to = receipt.in_reply_to?;
        let now = Instant::now();
        let mut inner = self.inner.lock().expect("waiting replies lock");
        inner.forget_old(now);
        let sent = inner.by_inbound.get_mut(&in_reply_to)?;
        let position = sent
            .iter()
            .position(|sent| matches(sent, &receipt, channel))?;
        let sent = sent.remove(position).expect("a position found in the list");
        inner.len -= 1;
        if inner
            .by_inbound
            .get(&in_reply_to)
            .is_some_and(VecDeque::is_empty)
        {
            inner.by_inbound.remove(&in_reply_to);
        }
        Some(Receipt {
            receipt,
            reply: sent.reply,
            reply_topic: sent.reply_topic,
            answered_message_id: sent.answered_message_id,
            elapsed: now.saturating_duration_since(sent.published),
        })
    }

    /// How many replies wait for a receipt.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().expect("waiting replies lock").len
    }
}

impl WaitingInner {
    /// Forgets the replies that waited longer than [`KEEP_FOR`], and the oldest past
    /// [`MAX_WAITING`].
    fn forget_old(&mut self, now: Instant) {
        // Taken entries stay in `expiry` until they reach its front; drop them all
        // now and then, so that `expiry` stays bounded however fast receipts come.
        if self.expiry.len() > 2 * MAX_WAITING {
            let by_inbound = &self.by_inbound;
            self.expiry.retain(|(in_reply_to, sequence, _)| {
                is_waiting(by_inbound, in_reply_to, *sequence)
            });
        }
        while let Some(&(in_reply_to, sequence, published)) = self.expiry.front() {
            if !is_waiting(&self.by_inbound, &in_reply_to, sequence) {
                self.expiry.pop_front();
                continue;
            }
            let too_old = now.saturating_duration_since(published) > KEEP_FOR;
            if !too_old && self.len <= MAX_WAITING {
                break;
            }
            self.expiry.pop_front();
            if let Some(sent) = self.by_inbound.get_mut(&in_reply_to) {
                sent.retain(|sent| sent.sequence != sequence);
                if sent.is_empty() {
                    self.by_inbound.remove(&in_reply_to);
                }
            }
            self.len -= 1;
            tracing::debug!(%in_reply_to, "forgetting a reply whose receipt never came");
        }
    }
}

/// Whether the entry `sequence` for `in_reply_to` still waits for its receipt.
fn is_waiting(
    by_inbound: &HashMap<Uuid, VecDeque<Sent>>,
    in_reply_to: &Uuid,
    sequence: u64,
) -> bool {
    by_inbound
        .get(in_reply_to)
        .is_some_and(|sent| sent.iter().any(|sent| sent.sequence == sequence))
}

/// Whether `receipt`, delivered on `channel`, is about `sent`: the same address, the
/// same action and, for an action on a message, the same message.
fn matches(sent: &Sent, receipt: &DeliveryReceipt, channel: &str) -> bool {
    if sent.reply.action != receipt.action
        || !sent
            .reply_topic
            .with_direction(Direction::Receipt)
            .is_channel(channel)
    {
        return false;
    }
    match (&sent.reply.message_id, receipt.message_ids.first()) {
        (Some(target), Some(acted_on)) if sent.reply.action.targets_message() => target == acted_on,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic::Space;

    fn reply_topic(room: &str) -> Topic {
        Topic::builder(Direction::Outbound, "console")
            .space(Space::id("local"))
            .room(room)
            .user("alice")
            .build()
            .unwrap()
    }

    fn receipt_channel(room: &str) -> String {
        reply_topic(room)
            .with_direction(Direction::Receipt)
            .to_string()
    }

    fn sent(in_reply_to: Uuid, reply: OutboundMessage) -> OutboundMessage {
        OutboundMessage {
            in_reply_to: Some(in_reply_to),
            ..reply
        }
    }

    /// Another bot's receipts on the same topic, or receipts for another room, are
    /// not this bot's.
    #[tokio::test]
    async fn only_receipts_for_recorded_replies_match() {
        let waiting = Waiting::default();
        let ours = Uuid::now_v7();
        waiting.record(
            &sent(ours, OutboundMessage::new("pong")),
            &reply_topic("r"),
            "m1",
        );
        let theirs = DeliveryReceipt::delivered(Some(Uuid::now_v7()), vec!["9".into()]);
        assert!(waiting.take(theirs, &receipt_channel("r")).is_none());
        let elsewhere = DeliveryReceipt::delivered(Some(ours), vec!["9".into()]);
        assert!(waiting.take(elsewhere, &receipt_channel("other")).is_none());
        let edit = DeliveryReceipt::delivered(Some(ours), vec!["9".into()])
            .for_action(OutboundAction::Edit);
        assert!(waiting.take(edit, &receipt_channel("r")).is_none());

        let receipt = DeliveryReceipt::delivered(Some(ours), vec!["9".into()]);
        let matched = waiting
            .take(receipt.clone(), &receipt_channel("r"))
            .unwrap();
        assert_eq!(matched.reply.content, "pong");
        assert_eq!(matched.answered_message_id, "m1");
        assert_eq!(matched.receipt, receipt);
        assert!(
            waiting.take(receipt, &receipt_channel("r")).is_none(),
            "a reply is matched once"
        );
        assert_eq!(waiting.len(), 0);
    }

    /// Several replies to one message: sends match in order, actions on a message
    /// match by that message.
    #[tokio::test]
    async fn replies_to_one_message_match_by_action_then_order() {
        let waiting = Waiting::default();
        let id = Uuid::now_v7();
        let channel = receipt_channel("r");
        for reply in [
            OutboundMessage::new("first"),
            OutboundMessage::react("m1", "🎲"),
            OutboundMessage::react("m2", "🎲"),
            OutboundMessage::new("second"),
        ] {
            waiting.record(&sent(id, reply), &reply_topic("r"), "m1");
        }
        let react = |message: &str| {
            DeliveryReceipt::delivered(Some(id), vec![message.into()])
                .for_action(OutboundAction::React)
        };
        let send = DeliveryReceipt::delivered(Some(id), vec!["7".into()]);
        let take = |receipt| waiting.take(receipt, &channel).unwrap().reply;
        assert_eq!(take(react("m2")).message_id.as_deref(), Some("m2"));
        assert_eq!(take(send.clone()).content, "first");
        assert_eq!(take(send).content, "second");
        assert_eq!(take(react("m1")).message_id.as_deref(), Some("m1"));
        assert_eq!(waiting.len(), 0);
    }

    /// A gateway that never answers must not make the bot grow without bound.
    #[tokio::test(start_paused = true)]
    async fn replies_are_forgotten_after_a_while_or_past_the_bound() {
        let waiting = Waiting::default();
        let old = Uuid::now_v7();
        waiting.record(
            &sent(old, OutboundMessage::new("old")),
            &reply_topic("r"),
            "m",
        );
        tokio::time::advance(KEEP_FOR + Duration::from_secs(1)).await;
        let late = DeliveryReceipt::delivered(Some(old), Vec::new());
        assert!(waiting.take(late, &receipt_channel("r")).is_none());
        assert_eq!(waiting.len(), 0);

        let ids: Vec<Uuid> = (0..=MAX_WAITING).map(|_| Uuid::now_v7()).collect();
        for id in &ids {
            waiting.record(
                &sent(*id, OutboundMessage::new("x")),
                &reply_topic("r"),
                "m",
            );
        }
        waiting.record(
            &sent(old, OutboundMessage::new("y")),
            &reply_topic("r"),
            "m",
        );
        assert_eq!(waiting.len(), MAX_WAITING);
        let first = DeliveryReceipt::delivered(Some(ids[0]), Vec::new());
        assert!(
            waiting.take(first, &receipt_channel("r")).is_none(),
            "the oldest went"
        );
        let last = DeliveryReceipt::delivered(Some(old), Vec::new());
        assert!(waiting.take(last, &receipt_channel("r")).is_some());
    }
}
