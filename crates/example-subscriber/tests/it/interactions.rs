//! Slash commands and buttons through Redis: the test plays the Discord gateway.

use bytebot_core::envelope::{InboundKind, Interaction, InteractionType, OutboundAction};
use bytebot_test_support::RedisServer;

use crate::support::{Outbound, Running, event, publish_inbound};

/// `/ping` is answered with `respond` (`pong`) by the interaction's envelope id, and a
/// click on the "Roll again" button of `/roll` updates its message.
#[tokio::test]
async fn slash_commands_and_buttons_are_answered_by_the_envelope_id() {
    let redis = RedisServer::start().await;
    let mut outbound = Outbound::listen(&redis).await;
    let bot = Running::start(&redis).await;

    let mut ping = event(InboundKind::Interaction, "i1", "");
    let mut details = Interaction::default();
    details.name = Some("ping".into());
    ping.interaction = Some(details);
    publish_inbound(&redis, &ping).await;
    let (channel, pong) = outbound.next().await;
    assert_eq!(channel, ping.reply_topic.to_string());
    assert_eq!(pong.action, OutboundAction::Respond);
    assert!(pong.content.contains("pong"));
    assert_eq!(pong.in_reply_to, Some(ping.id));

    let mut click = event(InboundKind::Interaction, "m7", "");
    let mut details = Interaction::default();
    details.kind = InteractionType::Component;
    details.custom_id = Some("example-subscriber:roll:again:3d4".into());
    click.interaction = Some(details);
    publish_inbound(&redis, &click).await;
    let (_, update) = outbound.next().await;
    assert_eq!(update.action, OutboundAction::Update);
    assert!(update.content.starts_with("🎲 3d4: "), "{}", update.content);
    assert_eq!(update.in_reply_to, Some(click.id));
    let stats = bot.stop().await;
    assert_eq!(stats.replies, 2);
}
