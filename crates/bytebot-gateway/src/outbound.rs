//! Redis -> platform: read `outbound.<platform>.*`, turn each envelope into the
//! adapter's requests, and hand them to the room's worker (`rooms.rs`).
//!
//! One dispatcher reads the subscription. Bad input (a topic that does not parse or
//! addresses no room, a payload that is not an outbound envelope, one the adapter
//! refuses) is logged with its topic, counted and skipped: nothing a publisher sends
//! can stop the gateway. Every envelope on a valid topic ends with a receipt, also the
//! refused ones. The text of a send or an edit is cleaned ([`clean_text`]) and split at
//! the platform's limit here, so that a message over `--max-parts` or left blank is
//! refused before anything of it is sent.

use std::sync::Arc;

use bytebot_core::bus::{Delivery, Subscription};
use bytebot_core::envelope::{OutboundAction, OutboundMessage, decode_outbound};
use bytebot_core::receipt::DeliveryReceipt;
use bytebot_core::{Direction, Topic};
use tokio::sync::watch;

use crate::adapter::{Action, Adapter, InteractionReply, PrepareError, Route, Text, local_error};
use crate::rooms::{Job, Rooms, Shared};
use crate::text::{clean_text, split_content};

/// Why the runtime refuses an envelope before the adapter sees it.
enum Refusal {
    /// Nothing but controls and whitespace once controls were stripped.
    Blank,
    /// More parts than `--max-parts` (or more than one for an edit).
    TooManyParts(String),
    /// An action this version of the gateway does not know.
    Unsupported(String),
}

/// Runs until `stop` turns true (or the subscription ends), then stops reading Redis
/// and lets the rooms finish what they hold within the drain timeout.
pub(crate) async fn run<A: Adapter>(
    mut subscription: Subscription,
    shared: Arc<Shared<A>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut rooms = Rooms::new(Arc::clone(&shared));
    let mut sweep = rooms.sweep_interval();
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => break,
            delivery = subscription.recv() => {
                let Some(delivery) = delivery else { break };
                dispatch(delivery, &shared, &mut rooms);
            }
            _ = sweep.tick() => rooms.sweep(),
        }
    }
    // Stop reading Redis first, then let each worker drain its queue.
    drop(subscription);
    rooms.drain().await;
}

/// Validates one delivery and queues it for its room's worker.
fn dispatch<A: Adapter>(delivery: Delivery, shared: &Arc<Shared<A>>, rooms: &mut Rooms<A>) {
    let counters = &shared.counters;
    counters.add(|c| &c.outbound_received);
    let topic_text = delivery.channel;
    let topic = match topic_text.parse::<Topic>() {
        Ok(topic) => topic,
        Err(err) => {
            tracing::warn!(topic = %topic_text, error = %err, "skipping outbound message: malformed topic");
            counters.add(|c| &c.outbound_malformed);
            return;
        }
    };
    if topic.direction() != Direction::Outbound || topic.platform() != shared.adapter.platform() {
        tracing::warn!(%topic, "skipping outbound message: not an outbound topic of this platform");
        counters.add(|c| &c.outbound_malformed);
        return;
    }
    let room = match shared.adapter.route(&topic) {
        Route::Room(room) => room,
        Route::NotMine => {
            tracing::debug!(%topic, "ignoring outbound message for another gateway");
            counters.add(|c| &c.outbound_not_mine);
            return;
        }
        Route::Invalid(reason) => {
            tracing::warn!(%topic, error = %reason, "skipping outbound message: bad topic");
            counters.add(|c| &c.outbound_malformed);
            return;
        }
    };
    let message = match decode_outbound(&delivery.payload) {
        Ok(message) => message,
        Err(err) => {
            let error = format!("{err:#}");
            tracing::warn!(%topic, error = %error, "skipping outbound message: invalid payload");
            counters.add(|c| &c.outbound_malformed);
            let reason = format!("invalid outbound envelope: {error}");
            shared.publish_receipt(
                &topic,
                &DeliveryReceipt::failed(None, Vec::new(), local_error(reason)),
            );
            return;
        }
    };
    let refuse = |reason: String, counter: fn(&crate::counters::Counts) -> &_| {
        tracing::warn!(%topic, action = %message.action, error = %reason, "refusing outbound message");
        counters.add(counter);
        let receipt = DeliveryReceipt::failed(message.in_reply_to, Vec::new(), local_error(reason))
            .for_action(message.action);
        shared.publish_receipt(&topic, &receipt);
    };
    let delivery_key = DeliveryKey::new(&topic_text, &delivery.payload);
    let actions = match actions(&message, &delivery_key, shared) {
        Ok(actions) => actions,
        Err(Refusal::Blank) => {
            return refuse(
                "nothing to send: the content is blank once control characters are removed"
                    .to_owned(),
                |c| &c.outbound_blank,
            );
        }
        Err(Refusal::TooManyParts(reason)) => {
            return refuse(reason, |c| &c.outbound_too_many_parts);
        }
        Err(Refusal::Unsupported(reason)) => {
            return refuse(reason, |c| &c.outbound_unsupported);
        }
    };
    let mut steps = Vec::with_capacity(actions.len());
    for action in actions {
        match shared.adapter.prepare(&room, action) {
            Ok(step) => steps.push(step),
            Err(PrepareError::Unsupported(reason)) => {
                return refuse(reason, |c| &c.outbound_unsupported);
            }
            Err(PrepareError::NotMine) => {
                tracing::debug!(%topic, action = %message.action, "ignoring outbound message for another gateway process");
                counters.add(|c| &c.outbound_not_mine);
                return;
            }
            Err(err) => {
                return refuse(format!("invalid outbound envelope: {err}"), |c| {
                    &c.outbound_malformed
                });
            }
        }
    }
    rooms.queue(
        room,
        Job {
            topic,
            in_reply_to: message.in_reply_to,
            action: message.action,
            steps,
        },
    );
}

/// The platform-neutral actions for one envelope: one `Send` per part of its content,
/// or the one action it asks for.
fn actions<A: Adapter>(
    message: &OutboundMessage,
    delivery_key: &DeliveryKey,
    shared: &Shared<A>,
) -> Result<Vec<Action>, Refusal> {
    let message_id = || message.message_id.clone().unwrap_or_default();
    let emoji = || message.emoji.clone().unwrap_or_default();
    let action = match message.action {
        OutboundAction::Send => {
            let parts = text_parts(message, shared)?;
            let last = parts.len() - 1;
            return Ok(parts
                .into_iter()
                .enumerate()
                .map(|(index, content)| {
                    // Embeds, buttons and files go under the end of the text.
                    let is_last = index == last;
                    Action::Send(Text {
                        content,
                        // Only the first part quotes the question.
                        reply_to: if index == 0 {
                            message.reply_to.clone()
                        } else {
                            None
                        },
                        mentions: message.mentions,
                        idempotency_key: Some(delivery_key.part(index)),
                        embeds: message.embeds.clone().filter(|_| is_last),
                        components: message.components.clone().filter(|_| is_last),
                        files: if is_last {
                            message.files.clone()
                        } else {
                            Vec::new()
                        },
                    })
                })
                .collect());
        }
        OutboundAction::Edit => {
            let mut parts = text_parts(message, shared)?;
            if parts.len() > 1 {
                return Err(Refusal::TooManyParts(format!(
                    "the new content does not fit in one message ({} characters at most): an edit cannot be split",
                    shared.adapter.text_limits().max_chars
                )));
            }
            Action::Edit {
                message_id: message_id(),
                text: Text {
                    content: parts.remove(0),
                    reply_to: None,
                    mentions: message.mentions,
                    idempotency_key: Some(delivery_key.part(0)),
                    embeds: message.embeds.clone(),
                    components: message.components.clone(),
                    files: message.files.clone(),
                },
            }
        }
        OutboundAction::Delete => Action::Delete {
            message_id: message_id(),
        },
        OutboundAction::React => Action::React {
            message_id: message_id(),
            emoji: emoji(),
        },
        OutboundAction::Unreact => Action::Unreact {
            message_id: message_id(),
            emoji: emoji(),
        },
        OutboundAction::Typing => Action::Typing,
        OutboundAction::StartThread => Action::StartThread {
            message_id: message_id(),
            name: message
                .thread_name
                .as_deref()
                .unwrap_or_default()
                .trim()
                .to_owned(),
        },
        action if action.is_interaction() => {
            let interaction = message
                .in_reply_to
                .expect("decode_outbound checks that interaction actions have in_reply_to");
            let text = if action.has_content() {
                let mut parts = text_parts(message, shared)?;
                if parts.len() > 1 {
                    return Err(Refusal::TooManyParts(format!(
                        "the content does not fit in one message ({} characters at most): an interaction answer is not split (send the rest as `followup`s)",
                        shared.adapter.text_limits().max_chars
                    )));
                }
                Some(Text {
                    content: parts.remove(0),
                    reply_to: None,
                    mentions: message.mentions,
                    idempotency_key: Some(delivery_key.part(0)),
                    embeds: message.embeds.clone(),
                    components: message.components.clone(),
                    files: message.files.clone(),
                })
            } else {
                None
            };
            Action::Interaction(InteractionReply {
                interaction,
                action,
                text,
                envelope: Box::new(message.clone()),
            })
        }
        other => {
            return Err(Refusal::Unsupported(format!(
                "this gateway does not know the action `{other}`"
            )));
        }
    };
    Ok(vec![action])
}

/// What makes one delivery the same delivery in every gateway process: its topic and
/// its payload, hashed once; [`DeliveryKey::part`] derives the key of each part.
///
/// Redis pub/sub hands every subscriber the same bytes, so every process computes the
/// same keys without talking to the others. Two deliveries with the same bytes on the
/// same topic share their keys too (a publisher retrying a PUBLISH, or a bot saying
/// exactly the same thing twice without `in_reply_to`): a platform that enforces the key
/// posts the second one only after its deduplication window (a few minutes on Discord).
struct DeliveryKey(sha1::Sha1);

impl DeliveryKey {
    fn new(topic: &str, payload: &[u8]) -> DeliveryKey {
        use sha1::Digest as _;
        let mut hasher = sha1::Sha1::new();
        hasher.update(topic.as_bytes());
        hasher.update([0]);
        hasher.update(payload);
        DeliveryKey(hasher)
    }

    /// 24 hex digits (96 bits): within Discord's 25-character limit on a nonce.
    fn part(&self, index: usize) -> String {
        use sha1::Digest as _;
        use std::fmt::Write as _;
        let mut hasher = self.0.clone();
        hasher.update([0]);
        hasher.update(index.to_string().as_bytes());
        let digest = hasher.finalize();
        digest[..12]
            .iter()
            .fold(String::with_capacity(24), |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            })
    }
}

/// The cleaned content, split at the platform's limit; refused when blank or longer
/// than `--max-parts` parts. Blank content with embeds or files (a send), or with a
/// change of them (an edit), is one empty part: never empty.
fn text_parts<A: Adapter>(
    message: &OutboundMessage,
    shared: &Shared<A>,
) -> Result<Vec<String>, Refusal> {
    let cleaned = clean_text(&message.content);
    if cleaned.trim().is_empty() {
        if message.has_rich_content() {
            return Ok(vec![String::new()]);
        }
        return Err(Refusal::Blank);
    }
    let limits = shared.adapter.text_limits();
    let parts = split_content(&cleaned, limits);
    if parts.len() > shared.max_parts {
        return Err(Refusal::TooManyParts(format!(
            "the message would be sent as {} parts of at most {} characters, more than the gateway's limit of {} (--max-parts)",
            parts.len(),
            limits.max_chars,
            shared.max_parts
        )));
    }
    if parts.is_empty() {
        return Err(Refusal::Blank);
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::DeliveryKey;

    /// Every process must derive the same key from the same delivery, and no two parts
    /// or deliveries may share one (Discord would drop the second as a duplicate).
    #[test]
    fn delivery_keys_are_stable_and_distinct() {
        let topic = "outbound.discord.1.2.3";
        let key = DeliveryKey::new(topic, b"{\"content\":\"hi\"}");
        assert_eq!(
            key.part(0),
            DeliveryKey::new(topic, b"{\"content\":\"hi\"}").part(0)
        );
        assert_eq!(key.part(0).len(), 24);
        assert!(key.part(0).bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(key.part(0), key.part(1));
        assert_ne!(
            key.part(0),
            DeliveryKey::new(topic, b"{\"content\":\"ho\"}").part(0)
        );
        assert_ne!(
            key.part(0),
            DeliveryKey::new("outbound.discord.1.2.4", b"{\"content\":\"hi\"}").part(0)
        );
        // Pinned, so that a change of algorithm (which would break a rolling deploy's
        // deduplication between old and new processes) is a deliberate one.
        assert_eq!(
            DeliveryKey::new("t", b"p").part(0),
            key_of(concat!("t\0p\0", "0"))
        );
    }

    fn key_of(input: &str) -> String {
        use sha1::Digest as _;
        let digest = sha1::Sha1::digest(input.as_bytes());
        digest[..12]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}
