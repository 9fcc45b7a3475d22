//! `watch`: live traffic, one line per message, or JSON lines.

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use bytebot_core::bus::{BusConfig, Delivery, RedisUrl, SubscribeOptions, Subscription};
use bytebot_core::envelope::{
    InboundKind, InboundMessage, OutboundAction, OutboundMessage, decode_inbound, decode_outbound,
};
use bytebot_core::pattern::Pattern;
use bytebot_core::receipt::DeliveryReceipt;
use bytebot_core::receipt::decode_receipt;
use bytebot_core::{Direction, Topic};
use serde_json::json;

/// The connection name's role: `bytebot:router-tools-watch:<host>`, so `doctor` can
/// tell watchers (which receive what they watch, and which `send`'s count includes)
/// from bots.
pub const ROLE: &str = "router-tools-watch";

/// The patterns `watch` uses when given none: `inbound.*`, `outbound.*`, `receipt.*`,
/// one per direction. Two segments rather than five, so that a malformed channel in a
/// Bytebot direction shows up too.
pub fn default_patterns() -> Vec<Pattern> {
    Direction::ALL
        .iter()
        .map(|direction| Pattern::parse_raw(format!("{direction}.*")))
        .collect()
}

/// Settings for [`run`].
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Where Redis is.
    pub redis_url: RedisUrl,
    /// What to watch.
    pub patterns: Vec<Pattern>,
    /// JSON lines instead of text.
    pub json: bool,
}

/// Prints every delivery until `shutdown` resolves; survives Redis restarts (and
/// says so on stderr).
pub async fn run(config: WatchConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    for pattern in &config.patterns {
        for lint in pattern.lint() {
            eprintln!("{pattern}: {lint}");
        }
    }
    let bus_config = BusConfig::new(config.redis_url, ROLE);
    let mut subscription = Subscription::start(
        bus_config.clone(),
        config.patterns.clone(),
        SubscribeOptions::default(),
    );
    subscription
        .wait_connected(Duration::from_secs(5))
        .await
        .with_context(|| {
            format!(
                "cannot reach redis at {} (is redis-server running? try `router-tools doctor`)",
                bus_config.url()
            )
        })?;
    let patterns: Vec<&str> = config.patterns.iter().map(Pattern::as_str).collect();
    eprintln!("watching {} (Ctrl-C to stop)", patterns.join(" "));
    let mut connected = subscription.connected();
    connected.borrow_and_update();
    let mut stdout = std::io::stdout();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            changed = connected.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                if *connected.borrow_and_update() {
                    eprintln!("-- reconnected to redis; watching again");
                } else {
                    eprintln!("-- lost the connection to redis; reconnecting (messages published meanwhile are not seen)");
                }
            }
            delivery = subscription.recv() => {
                let Some(delivery) = delivery else { return Ok(()) };
                let line = if config.json { json_line(&delivery) } else { text_line(&delivery) };
                if writeln!(stdout, "{line}").and_then(|()| stdout.flush()).is_err() {
                    // The reader went away (`watch | head`): stop quietly.
                    return Ok(());
                }
            }
        }
    }
}

fn now() -> String {
    chrono::Utc::now().format("%H:%M:%S%.3f").to_string()
}

/// `12:01:02.345 inbound  console local/terminal alice: !ping`; a direct message
/// `12:01:02.345 inbound  console @me/terminal (direct) alice: hi`.
pub fn text_line(delivery: &Delivery) -> String {
    let time = now();
    let Ok(topic) = delivery.channel.parse::<Topic>() else {
        return format!(
            "{time} {} (not a topic) {}",
            delivery.channel,
            preview(&delivery.payload)
        );
    };
    // The space as its topic segment, so a space literally named `@me` shows as
    // `%40me`, and a direct message is said in words: both decode to `"space": "@me"`.
    let direct = if topic.space().is_direct() {
        " (direct)"
    } else {
        ""
    };
    let place = format!(
        "{:<8} {} {}/{}{direct}",
        topic.direction().as_str(),
        topic.platform(),
        topic.space().segment(),
        topic.room()
    );
    let text = match topic.direction() {
        bytebot_core::Direction::Inbound => match decode_inbound(&delivery.payload) {
            Ok(message) => inbound_text(&message),
            Err(err) => format!(
                "{}: (undecodable: {err}) {}",
                topic.user(),
                preview(&delivery.payload)
            ),
        },
        bytebot_core::Direction::Outbound => match decode_outbound(&delivery.payload) {
            Ok(message) => format!("-> {}: {}", topic.user(), outbound_text(&message)),
            Err(err) => format!(
                "-> {}: (undecodable: {err}) {}",
                topic.user(),
                preview(&delivery.payload)
            ),
        },
        bytebot_core::Direction::Receipt => match decode_receipt(&delivery.payload) {
            Ok(receipt) => format!("<- {}: {}", topic.user(), receipt_text(receipt)),
            Err(err) => format!(
                "<- {}: (undecodable: {err}) {}",
                topic.user(),
                preview(&delivery.payload)
            ),
        },
        _ => format!("{}: {}", topic.user(), preview(&delivery.payload)),
    };
    format!("{time} {place} {text}")
}

/// What an inbound envelope says, by kind: `alice: !ping`, `alice: (edited m1) !pong`,
/// `alice: (deleted m1)`, `alice: (👍 on m1)`, `alice: (took back 👍 on m1)`.
fn inbound_text(message: &InboundMessage) -> String {
    let bot = if message.author.bot { " [bot]" } else { "" };
    let who = format!("{}{bot}", message.author.name);
    let id = &message.message_id;
    let emoji = message
        .reaction
        .as_ref()
        .map_or("", |reaction| reaction.emoji.as_str());
    match message.kind {
        InboundKind::Message => format!("{who}: {}", message.content),
        InboundKind::MessageEdited => format!("{who}: (edited {id}) {}", message.content),
        InboundKind::MessageDeleted => format!("{who}: (deleted {id})"),
        InboundKind::ReactionAdded => format!("{who}: ({emoji} on {id})"),
        InboundKind::ReactionRemoved => format!("{who}: (took back {emoji} on {id})"),
        InboundKind::MemberJoined => format!("{who}: (joined)"),
        other => format!("{who}: ({other} kind, about {id}) {}", message.content),
    }
}

/// What an outbound envelope asks, by action: `pong`, `edit m1: pong (3 ms)`,
/// `delete m1`, `react 🎲 on m1`, `unreact 🎲 on m1`, `typing`.
fn outbound_text(message: &OutboundMessage) -> String {
    let id = message.message_id.as_deref().unwrap_or_default();
    let emoji = message.emoji.as_deref().unwrap_or_default();
    match message.action {
        OutboundAction::Send => message.content.clone(),
        OutboundAction::Edit => format!("edit {id}: {}", message.content),
        OutboundAction::React | OutboundAction::Unreact => {
            format!("{} {emoji} on {id}", message.action)
        }
        OutboundAction::Typing => "typing".to_owned(),
        other => format!("{other} {id}"),
    }
}

/// What a receipt reports: `delivered m1 m2` (a send), `edit done m1`, or
/// `edit failed: 50005 Cannot edit...`.
pub fn receipt_text(receipt: DeliveryReceipt) -> String {
    let ids = receipt.message_ids.join(" ");
    let action = receipt.action;
    if receipt.ok {
        return match action {
            OutboundAction::Send => format!("delivered {ids}"),
            _ => format!("{action} done {ids}").trim_end().to_owned(),
        };
    }
    let error = receipt.error.map_or_else(String::new, |error| {
        let code = error
            .code
            .map_or_else(String::new, |code| format!("{code} "));
        format!("{code}{}", error.message)
    });
    match action {
        OutboundAction::Send => format!("failed: {error}"),
        _ => format!("{action} failed: {error}"),
    }
}

/// One JSON object: time, pattern, topic, and the envelope (or the raw payload and why
/// it did not decode).
pub fn json_line(delivery: &Delivery) -> String {
    let envelope: Result<serde_json::Value, String> =
        match delivery.channel.parse::<Topic>().map(|t| t.direction()) {
            Ok(bytebot_core::Direction::Inbound) => decode_inbound(&delivery.payload)
                .map(|m| json!(m))
                .map_err(|e| e.to_string()),
            Ok(bytebot_core::Direction::Outbound) => decode_outbound(&delivery.payload)
                .map(|m| json!(m))
                .map_err(|e| e.to_string()),
            Ok(bytebot_core::Direction::Receipt) => decode_receipt(&delivery.payload)
                .map(|m| json!(m))
                .map_err(|e| e.to_string()),
            _ => serde_json::from_slice(&delivery.payload).map_err(|e| e.to_string()),
        };
    let mut line = json!({
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "pattern": delivery.pattern,
        "topic": delivery.channel,
    });
    match envelope {
        Ok(envelope) => line["envelope"] = envelope,
        Err(error) => {
            line["error"] = json!(error);
            line["payload"] = json!(String::from_utf8_lossy(&delivery.payload));
        }
    }
    line.to_string()
}

/// The first 120 characters of a payload, on one line.
fn preview(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(payload);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    if text.chars().count() > 120 {
        format!("{one_line}... ({} bytes)", payload.len())
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytebot_core::envelope::{Author, InboundMessage, OutboundMessage};

    fn delivery(channel: &str, payload: Vec<u8>) -> Delivery {
        Delivery {
            pattern: "*".into(),
            channel: channel.into(),
            payload: payload.into(),
        }
    }

    /// Every inbound kind, outbound action and receipt reads as what happened.
    #[test]
    fn text_lines_show_every_kind_and_action() {
        use bytebot_core::envelope::Reaction;
        use bytebot_core::receipt::DeliveryError;

        let topic: Topic = "inbound.console.local.terminal.alice".parse().unwrap();
        let alice = Author::new("alice", "alice");
        let inbound = |message: InboundMessage| {
            let line = text_line(&delivery(&topic.to_string(), message.encode()));
            line.split_once(" alice: ").unwrap().1.to_owned()
        };
        let mut edited = InboundMessage::event(
            InboundKind::MessageEdited,
            topic.clone(),
            "m1",
            alice.clone(),
        );
        edited.content = "!echo bye".into();
        assert_eq!(inbound(edited), "(edited m1) !echo bye");
        let deleted = InboundMessage::event(
            InboundKind::MessageDeleted,
            topic.clone(),
            "m1",
            alice.clone(),
        );
        assert_eq!(inbound(deleted), "(deleted m1)");
        let mut reacted = InboundMessage::event(
            InboundKind::ReactionAdded,
            topic.clone(),
            "m1",
            alice.clone(),
        );
        reacted.reaction = Some(Reaction::unicode("👍"));
        assert_eq!(inbound(reacted.clone()), "(👍 on m1)");
        reacted.kind = InboundKind::ReactionRemoved;
        assert_eq!(inbound(reacted), "(took back 👍 on m1)");

        let outbound = |message: OutboundMessage| {
            let line = text_line(&delivery(&topic.reply().to_string(), message.encode()));
            line.split_once(" -> alice: ").unwrap().1.to_owned()
        };
        assert_eq!(
            outbound(OutboundMessage::edit("m2", "pong (3 ms)")),
            "edit m2: pong (3 ms)"
        );
        assert_eq!(outbound(OutboundMessage::delete("m2")), "delete m2");
        assert_eq!(
            outbound(OutboundMessage::react("m1", "🎲")),
            "react 🎲 on m1"
        );
        assert_eq!(
            outbound(OutboundMessage::unreact("m1", "🎲")),
            "unreact 🎲 on m1"
        );
        assert_eq!(outbound(OutboundMessage::typing()), "typing");

        let receipt_topic = topic.with_direction(bytebot_core::Direction::Receipt);
        let receipt = |receipt: DeliveryReceipt| {
            let line = text_line(&delivery(&receipt_topic.to_string(), receipt.encode()));
            line.split_once(" <- alice: ").unwrap().1.to_owned()
        };
        let edited =
            DeliveryReceipt::delivered(None, vec!["m2".into()]).for_action(OutboundAction::Edit);
        assert_eq!(receipt(edited), "edit done m2");
        let typing =
            DeliveryReceipt::delivered(None, Vec::new()).for_action(OutboundAction::Typing);
        assert_eq!(receipt(typing), "typing done");
        let error = DeliveryError {
            code: Some(10008),
            message: "Unknown Message".into(),
            status: Some(404),
        };
        let failed =
            DeliveryReceipt::failed(None, Vec::new(), error).for_action(OutboundAction::Delete);
        assert_eq!(receipt(failed), "delete failed: 10008 Unknown Message");
    }

    #[test]
    fn text_lines_show_topic_parts_author_and_content() {
        let topic: Topic = "inbound.console.local.terminal.alice".parse().unwrap();
        let message =
            InboundMessage::new(topic.clone(), "1", Author::new("alice", "Alice"), "!ping");
        let line = text_line(&delivery(&topic.to_string(), message.encode()));
        assert!(
            line.ends_with("inbound  console local/terminal Alice: !ping"),
            "{line}"
        );

        let reply = OutboundMessage::reply_to(&message, "pong");
        let line = text_line(&delivery(&topic.reply().to_string(), reply.encode()));
        assert!(
            line.ends_with("outbound console local/terminal -> alice: pong"),
            "{line}"
        );

        let receipt = bytebot_core::receipt::DeliveryReceipt::delivered(None, vec!["42".into()]);
        let receipt_topic = topic.with_direction(bytebot_core::Direction::Receipt);
        let line = text_line(&delivery(&receipt_topic.to_string(), receipt.encode()));
        assert!(
            line.ends_with("receipt  console local/terminal <- alice: delivered 42"),
            "{line}"
        );

        let line = text_line(&delivery(&topic.to_string(), b"{oops".to_vec()));
        assert!(
            line.contains("(undecodable: invalid envelope JSON: ") && line.ends_with("{oops"),
            "{line}"
        );
    }

    /// A direct message and a space literally named `@me` both decode to
    /// `"space": "@me"`: the line tells them apart, as the topic and `direct` do.
    #[test]
    fn text_lines_tell_a_direct_message_from_a_space_named_at_me() {
        let alice = Author::new("alice", "alice");
        let line = |topic: Topic| {
            let message = InboundMessage::new(topic.clone(), "m1", alice.clone(), "hi");
            let inbound = text_line(&delivery(&topic.to_string(), message.encode()));
            let reply = OutboundMessage::reply_to(&message, "yo");
            let outbound = text_line(&delivery(&topic.reply().to_string(), reply.encode()));
            (inbound, outbound)
        };
        let direct = Topic::builder(bytebot_core::Direction::Inbound, "discord")
            .direct()
            .room("42")
            .user("alice")
            .build()
            .unwrap();
        let (inbound, outbound) = line(direct);
        assert!(
            inbound.ends_with(" inbound  discord @me/42 (direct) alice: hi"),
            "{inbound}"
        );
        assert!(
            outbound.ends_with(" outbound discord @me/42 (direct) -> alice: yo"),
            "{outbound}"
        );
        let literal = Topic::builder(bytebot_core::Direction::Inbound, "discord")
            .space(bytebot_core::Space::id("@me"))
            .room("42")
            .user("alice")
            .build()
            .unwrap();
        let (inbound, outbound) = line(literal);
        assert!(
            inbound.ends_with(" inbound  discord %40me/42 alice: hi"),
            "{inbound}"
        );
        assert!(
            outbound.ends_with(" outbound discord %40me/42 -> alice: yo"),
            "{outbound}"
        );
    }

    #[test]
    fn json_lines_carry_the_envelope_or_the_error() {
        let topic = "inbound.console.local.terminal.alice";
        let line: serde_json::Value =
            serde_json::from_str(&json_line(&delivery(topic, b"nope".to_vec()))).unwrap();
        assert_eq!(line["topic"], topic);
        assert_eq!(line["payload"], "nope");
        assert!(line["error"].is_string());
    }
}
