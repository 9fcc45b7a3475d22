//! How a reply names the message it answers: `in_reply_to` must be the inbound
//! envelope's `id`, `reply_to` its platform `message_id`. A console knows both for
//! every line it sent, so it can say when a bot got them wrong, before the bot meets a
//! real platform (where a wrong `reply_to` quotes the wrong message, or fails).

use std::collections::HashMap;
use std::time::Instant;

use bytebot_core::envelope::OutboundMessage;
use uuid::Uuid;

/// What a console remembers about one line it published.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The inbound envelope's `id`: what a reply's `in_reply_to` must be.
    pub id: Uuid,
    /// The platform id of the line: what a reply's `reply_to` must be.
    pub message_id: String,
    /// The inbound envelope's own `reply_to` (the message the line replied to).
    pub reply_to: Option<String>,
    /// When it was published (for `--latency`).
    pub at: Instant,
}

/// The lines sent, by envelope id.
pub type SentLines = HashMap<Uuid, Sent>;

/// The line `reply` answers, as it says itself: by `in_reply_to`, else by `reply_to`.
pub fn named_by(reply: &OutboundMessage, sent: &SentLines) -> Option<Uuid> {
    match (reply.in_reply_to, &reply.reply_to) {
        (Some(id), _) => sent.contains_key(&id).then_some(id),
        (None, Some(reply_to)) => sent
            .values()
            .find(|line| &line.message_id == reply_to)
            .map(|line| line.id),
        (None, None) => None,
    }
}

/// What is wrong with how `reply` names the line it answers, one sentence each
/// (nothing when both fields are absent: they are optional).
pub fn problems(reply: &OutboundMessage, sent: &SentLines) -> Vec<String> {
    let mut problems = Vec::new();
    let answered = match reply.in_reply_to {
        Some(id) => match sent.get(&id) {
            Some(line) => Some(line),
            None => {
                problems.push(format!(
                    "in_reply_to {id} is not the id of any line this console sent (in_reply_to must be the inbound envelope's `id`)"
                ));
                None
            }
        },
        None => None,
    };
    if let Some(reply_to) = &reply.reply_to {
        let problem = match answered {
            Some(line) if &line.message_id == reply_to => None,
            Some(line) => Some(mismatch(reply_to, line, sent)),
            None if reply.in_reply_to.is_some() => None,
            None => unknown(reply_to, sent),
        };
        problems.extend(problem);
    }
    problems
}

/// `reply_to` is not the `message_id` of `line`, the line `in_reply_to` names.
fn mismatch(reply_to: &str, line: &Sent, sent: &SentLines) -> String {
    let expected = &line.message_id;
    if line.reply_to.as_deref() == Some(reply_to) {
        format!(
            "reply_to `{reply_to}` is the inbound envelope's own reply_to (the message that line replied to); to answer the line, reply_to must be its message_id `{expected}`"
        )
    } else if reply_to == line.id.to_string() {
        format!(
            "reply_to is the inbound envelope's id; it must be its message_id `{expected}` (the id goes in in_reply_to)"
        )
    } else if sent.values().any(|other| other.message_id == reply_to) {
        format!(
            "reply_to `{reply_to}` names another line than in_reply_to does; it must be the message_id of the line answered, `{expected}`"
        )
    } else {
        format!(
            "reply_to `{reply_to}` is not the message_id of the line answered; it must be `{expected}`"
        )
    }
}

/// `reply_to` without `in_reply_to`: fine when it is one of our lines' `message_id`.
fn unknown(reply_to: &str, sent: &SentLines) -> Option<String> {
    if sent.values().any(|line| line.message_id == reply_to) {
        None
    } else if sent
        .values()
        .any(|line| line.reply_to.as_deref() == Some(reply_to))
    {
        Some(format!(
            "reply_to `{reply_to}` is a copy of an inbound envelope's reply_to (the message that line replied to); it must be the inbound message_id"
        ))
    } else if sent.values().any(|line| line.id.to_string() == reply_to) {
        Some(
            "reply_to is an inbound envelope's id; it must be its message_id (the id goes in in_reply_to)"
                .to_owned(),
        )
    } else {
        Some(format!(
            "reply_to `{reply_to}` is not the message_id of any line this console sent"
        ))
    }
}

/// A hint for a reply that did not decode because its `in_reply_to` is not a UUID
/// but one of our lines' `message_id` (the two fields swapped).
pub fn undecodable_hint(payload: &[u8], sent: &SentLines) -> Option<&'static str> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let in_reply_to = value.get("in_reply_to")?.as_str()?;
    sent.values()
        .any(|line| line.message_id == in_reply_to)
        .then_some("in_reply_to must be the inbound envelope's `id` (a UUID), not its message_id")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u128, message_id: &str, reply_to: Option<&str>) -> Sent {
        Sent {
            id: Uuid::from_u128(n),
            message_id: message_id.to_owned(),
            reply_to: reply_to.map(str::to_owned),
            at: Instant::now(),
        }
    }

    fn reply(in_reply_to: Option<u128>, reply_to: Option<&str>) -> OutboundMessage {
        let mut reply = OutboundMessage::new("pong");
        reply.in_reply_to = in_reply_to.map(Uuid::from_u128);
        reply.reply_to = reply_to.map(str::to_owned);
        reply
    }

    /// Line 1 was the first line; line 3 replied to the bot's message `c-2`.
    fn session() -> SentLines {
        [line(1, "c-1", None), line(3, "c-3", Some("c-2"))]
            .into_iter()
            .map(|line| (line.id, line))
            .collect()
    }

    #[test]
    fn correct_or_absent_references_are_fine() {
        let sent = session();
        assert!(problems(&reply(Some(3), Some("c-3")), &sent).is_empty());
        assert!(problems(&reply(Some(3), None), &sent).is_empty());
        assert!(problems(&reply(None, Some("c-3")), &sent).is_empty());
        assert!(problems(&reply(None, None), &sent).is_empty());
        assert_eq!(
            named_by(&reply(None, Some("c-3")), &sent),
            Some(Uuid::from_u128(3))
        );
        assert_eq!(named_by(&reply(Some(9), None), &sent), None);
    }

    /// The natural mistake: `reply_to: inbound.reply_to` instead of `message_id`.
    #[test]
    fn a_copied_inbound_reply_to_is_explained() {
        let sent = session();
        let [problem] = &problems(&reply(Some(3), Some("c-2")), &sent)[..] else {
            panic!("one problem expected");
        };
        assert!(
            problem.contains("the inbound envelope's own reply_to") && problem.contains("`c-3`"),
            "{problem}"
        );
        let [problem] = &problems(&reply(None, Some("c-2")), &sent)[..] else {
            panic!("one problem expected");
        };
        assert!(problem.contains("a copy of an inbound envelope's reply_to"));
    }

    #[test]
    fn swapped_unknown_and_crossed_references_are_explained() {
        let sent = session();
        let id = Uuid::from_u128(3).to_string();
        let swapped = problems(&reply(Some(3), Some(&id)), &sent);
        assert!(
            swapped[0].contains("the inbound envelope's id"),
            "{swapped:?}"
        );
        let crossed = problems(&reply(Some(3), Some("c-1")), &sent);
        assert!(crossed[0].contains("names another line"), "{crossed:?}");
        let unknown = problems(&reply(Some(9), None), &sent);
        assert!(
            unknown[0].contains("is not the id of any line"),
            "{unknown:?}"
        );
        let stranger = problems(&reply(None, Some("x")), &sent);
        assert!(
            stranger[0].contains("not the message_id of any line"),
            "{stranger:?}"
        );
        assert!(undecodable_hint(br#"{"content": "pong", "in_reply_to": "c-3"}"#, &sent).is_some());
        assert!(undecodable_hint(br#"{"content": 1}"#, &sent).is_none());
    }
}
