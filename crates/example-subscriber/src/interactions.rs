//! The slash commands of `deploy/example-subscriber.commands.json`, and the button they
//! put on messages:
//!
//! - `/ping` answers `pong` at once (no defer: the gateway sends it as the response).
//! - `/roll dice:NdM` answers the roll with a "Roll again" button; a click rolls the
//!   same dice again and updates the message. The button's `custom_id` is namespaced
//!   (`example-subscriber:roll:again:2d6`): every bot on the channel sees the click.
//! - `/slow` answers after [`SLOW`] (5 s), more than Discord's 3 s, on purpose: the
//!   gateway defers it and the answer edits the "thinking..." placeholder.
//!
//! Anything else (another bot's commands or buttons) gets no answer.

use std::time::Duration;

use bytebot_core::envelope::{ComponentRow, InboundMessage, InteractionType, OutboundMessage};
use serde_json::json;

use crate::commands::Roll;

/// How long `/slow` takes.
pub const SLOW: Duration = Duration::from_secs(5);

/// The prefix of this bot's `custom_id`s.
const NAMESPACE: &str = "example-subscriber:";
/// A "Roll again" button's `custom_id`, before the dice (`2d6`).
const ROLL_AGAIN: &str = "example-subscriber:roll:again:";

/// The answer to an interaction: what to publish, and how long to wait first.
#[derive(Debug)]
pub struct Answer {
    /// Waited before publishing (`/slow`).
    pub after: Duration,
    /// The interaction actions to publish.
    pub actions: Vec<OutboundMessage>,
}

/// The answer to `message` (an `interaction` envelope), or `None` when it is not ours.
pub fn answer(message: &InboundMessage) -> Option<Answer> {
    let interaction = message.interaction.as_ref()?;
    let now = |actions| {
        Some(Answer {
            after: Duration::ZERO,
            actions,
        })
    };
    match interaction.kind {
        InteractionType::Command => match interaction.name.as_deref()? {
            "ping" => now(vec![OutboundMessage::respond(message, "pong")]),
            "roll" => {
                let dice = interaction
                    .options
                    .iter()
                    .find(|option| option.name == "dice")
                    .and_then(|option| option.value.as_ref())
                    .and_then(|value| value.as_str())
                    .unwrap_or_default();
                now(vec![roll(message, dice, false)])
            }
            "slow" => Some(Answer {
                after: SLOW,
                actions: vec![OutboundMessage::respond(
                    message,
                    format!(
                        "🐢 done, after {} s: the gateway said \"thinking...\" for me",
                        SLOW.as_secs()
                    ),
                )],
            }),
            _ => None,
        },
        InteractionType::Component => {
            let custom_id = interaction.custom_id.as_deref()?;
            if !custom_id.starts_with(NAMESPACE) {
                return None;
            }
            let dice = custom_id.strip_prefix(ROLL_AGAIN)?;
            now(vec![roll(message, dice, true)])
        }
        _ => None,
    }
}

/// A roll of `dice` (`NdM`), as a new answer or as an update of the button's message;
/// a valid roll carries the "Roll again" button.
fn roll(message: &InboundMessage, dice: &str, update: bool) -> OutboundMessage {
    let parsed = Roll::parse(dice);
    let valid = matches!(parsed, Roll::Dice { .. });
    let text = parsed.apply(&mut fastrand::Rng::new());
    let mut answer = if update {
        OutboundMessage::update(message, text)
    } else {
        OutboundMessage::respond(message, text)
    };
    if valid {
        answer.components = Some(vec![roll_again_button(dice.trim())]);
    } else if !update {
        // Only the user who typed the bad dice needs to see why.
        answer = answer.ephemeral();
    }
    answer
}

/// An action row with the "Roll again" button for `dice`.
fn roll_again_button(dice: &str) -> ComponentRow {
    let row = json!({"type": 1, "components": [{
        "type": 2,
        "style": 1,
        "label": "Roll again",
        "emoji": {"name": "🎲"},
        "custom_id": format!("{ROLL_AGAIN}{}", dice.to_ascii_lowercase()),
    }]});
    match row {
        serde_json::Value::Object(row) => row,
        _ => unreachable!("an object literal"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytebot_core::envelope::decode_outbound;

    /// Whether every action is a valid envelope, as the gateway decodes it.
    fn all_valid(actions: &[OutboundMessage]) -> bool {
        actions
            .iter()
            .all(|action| decode_outbound(&action.encode()).is_ok())
    }
    use bytebot_core::Topic;
    use bytebot_core::envelope::{
        Author, CommandOption, InboundKind, Interaction, OptionType, OutboundAction,
    };

    fn interaction(details: Interaction) -> InboundMessage {
        let topic: Topic = "inbound.discord.1.2.3".parse().unwrap();
        let mut message = InboundMessage::event(
            InboundKind::Interaction,
            topic,
            "9",
            Author::new("3", "ferris"),
        );
        message.interaction = Some(details);
        message
    }

    fn command(name: &str, options: Vec<CommandOption>) -> InboundMessage {
        let mut details = Interaction::default();
        details.name = Some(name.to_owned());
        details.options = options;
        interaction(details)
    }

    fn dice(value: &str) -> Vec<CommandOption> {
        vec![CommandOption {
            name: "dice".into(),
            kind: OptionType::String,
            value: Some(json!(value)),
            options: Vec::new(),
            focused: false,
        }]
    }

    /// `/ping` answers `pong` at once.
    #[test]
    fn ping_answers_pong_at_once() {
        let message = command("ping", Vec::new());
        let answer = answer(&message).unwrap();
        assert_eq!(answer.after, Duration::ZERO);
        assert_eq!(answer.actions[0].action, OutboundAction::Respond);
        assert!(answer.actions[0].content.contains("pong"));
        assert_eq!(answer.actions[0].in_reply_to, Some(message.id));
        assert!(all_valid(&answer.actions));
    }

    /// `/roll` rolls and offers the namespaced button; a click on it updates the message.
    #[test]
    fn roll_offers_a_button_whose_click_rolls_again() {
        let answer = answer(&command("roll", dice("2d6"))).unwrap();
        let respond = &answer.actions[0];
        assert!(
            respond.content.starts_with("🎲 2d6: "),
            "{}",
            respond.content
        );
        let row = &respond.components.as_ref().unwrap()[0];
        let custom_id = row["components"][0]["custom_id"].as_str().unwrap();
        assert_eq!(custom_id, "example-subscriber:roll:again:2d6");
        assert!(all_valid(&answer.actions));

        let mut click = Interaction::default();
        click.kind = InteractionType::Component;
        click.custom_id = Some(custom_id.to_owned());
        let again = super::answer(&interaction(click)).unwrap();
        assert_eq!(again.actions[0].action, OutboundAction::Update);
        assert!(again.actions[0].content.starts_with("🎲 2d6: "));
        assert!(again.actions[0].components.is_some());
    }

    /// Bad dice get the reason, only for the user, and no button.
    #[test]
    fn bad_dice_are_explained_to_the_user_alone() {
        let answer = answer(&command("roll", dice("0d6"))).unwrap();
        assert!(answer.actions[0].ephemeral);
        assert!(answer.actions[0].components.is_none());
        assert!(answer.actions[0].content.contains("cannot roll 0 dice"));
    }

    /// `/slow` takes longer than Discord's 3 s, on purpose.
    #[test]
    fn slow_takes_longer_than_three_seconds() {
        let answer = answer(&command("slow", Vec::new())).unwrap();
        assert!(answer.after > Duration::from_secs(3));
        assert_eq!(answer.actions[0].action, OutboundAction::Respond);
    }

    /// Other bots' commands and buttons are left alone.
    #[test]
    fn other_commands_and_buttons_get_no_answer() {
        assert!(answer(&command("weather", Vec::new())).is_none());
        let mut click = Interaction::default();
        click.kind = InteractionType::Component;
        click.custom_id = Some("another-bot:vote:yes".into());
        assert!(answer(&interaction(click)).is_none());
    }
}
