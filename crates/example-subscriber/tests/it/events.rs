//! Events about messages (edits, deletions, reactions): the bot answers new messages
//! only, unless it answered the message concerned.

use bytebot_core::envelope::{InboundKind, OutboundAction, OutboundMessage, Reaction};
use bytebot_test_support::{RedisServer, scrape_until};

use crate::support::{Outbound, Running, deliver, event, message, publish_inbound};

/// Once gateways publish edits, an edited `!ping` must not be answered as a second
/// `!ping` (the bot only follows edits of commands it answered); kinds the bot does
/// not handle (reactions) are skipped and show in /metrics.
#[tokio::test]
async fn events_about_unanswered_messages_get_no_reply_and_are_counted() {
    let redis = RedisServer::start().await;
    let mut outbound = Outbound::listen(&redis).await;
    let bot = Running::start(&redis).await;
    let mut reaction = event(InboundKind::ReactionAdded, "m0", "");
    reaction.reaction = Some(Reaction::unicode("👍"));
    for event in [event(InboundKind::MessageEdited, "m0", "!ping"), reaction] {
        publish_inbound(&redis, &event).await;
    }
    let ping = message("m1", "!ping");
    publish_inbound(&redis, &ping).await;

    let (_, reply) = outbound.next().await;
    assert_eq!(
        reply.in_reply_to,
        Some(ping.id),
        "the new !ping, not the edit"
    );
    assert_eq!(reply.content, "pong");
    let series = r#"bytebot_messages_skipped_total{daemon="example-subscriber",reason="kind"}"#;
    scrape_until(bot.addr, series, 1.0).await.unwrap();
    let stats = bot.stop().await;
    assert_eq!((stats.skipped_kind, stats.replies), (1, 1));
}

/// The round trip: `pong`, the receipt with its platform id, then the edit that shows
/// how long it took.
#[tokio::test]
async fn ping_is_answered_then_edited_to_show_the_round_trip() {
    let redis = RedisServer::start().await;
    let mut outbound = Outbound::listen(&redis).await;
    let bot = Running::start(&redis).await;
    let ping = message("m1", "!ping");
    publish_inbound(&redis, &ping).await;
    let (channel, pong) = outbound.next().await;
    assert_eq!(channel, ping.reply_topic.to_string());
    assert_eq!(
        (pong.action, pong.content.as_str()),
        (OutboundAction::Send, "pong")
    );
    assert_eq!(pong.reply_to.as_deref(), Some("m1"));

    deliver(&redis, &channel, &pong, &["a1"]).await;
    let (channel, edit) = outbound.next().await;
    assert_eq!(channel, ping.reply_topic.to_string());
    assert_eq!(edit.action, OutboundAction::Edit);
    assert_eq!(edit.message_id.as_deref(), Some("a1"));
    let millis = edit
        .content
        .strip_prefix("pong (")
        .and_then(|rest| rest.strip_suffix(" ms)"))
        .unwrap_or_else(|| panic!("{:?}", edit.content));
    assert!(millis.parse::<u64>().is_ok(), "{:?}", edit.content);
    assert_eq!(edit.in_reply_to, Some(ping.id));

    // The edit's own receipt is taken (it is ours) and changes nothing more.
    deliver(&redis, &channel, &edit, &["a1"]).await;
    let receipts = r#"bytebot_receipts_total{daemon="example-subscriber"}"#;
    scrape_until(bot.addr, receipts, 2.0).await.unwrap();
    let stats = bot.stop().await;
    assert_eq!((stats.replies, stats.receipts), (2, 2));
}

/// `!roll` gets its dice, and a 🎲 on the command's message.
#[tokio::test]
async fn roll_is_answered_and_gets_a_dice_reaction() {
    let redis = RedisServer::start().await;
    let mut outbound = Outbound::listen(&redis).await;
    let bot = Running::start(&redis).await;
    let roll = message("m1", "!roll 2d6");
    publish_inbound(&redis, &roll).await;
    let (_, answer) = outbound.next().await;
    assert!(
        answer.content.starts_with("🎲 2d6: "),
        "{:?}",
        answer.content
    );
    let (_, reaction) = outbound.next().await;
    assert_eq!(
        (
            reaction.action,
            reaction.message_id.as_deref(),
            reaction.emoji.as_deref()
        ),
        (OutboundAction::React, Some("m1"), Some("🎲"))
    );
    assert_eq!(reaction.in_reply_to, Some(roll.id));
    bot.stop().await;
}

/// The bot follows the commands it answered: an edit changes the answer (an edit that
/// leaves the command as it was changes nothing), an edit into ordinary chat or a
/// deletion removes it.
#[tokio::test]
async fn edited_and_deleted_commands_edit_and_delete_their_answers() {
    let redis = RedisServer::start().await;
    let mut outbound = Outbound::listen(&redis).await;
    let bot = Running::start(&redis).await;
    let answered =
        async |outbound: &mut Outbound, message_id: &str, content: &str, answer_id: &str| {
            let command = message(message_id, content);
            publish_inbound(&redis, &command).await;
            let (channel, answer) = outbound.next().await;
            deliver(&redis, &channel, &answer, &[answer_id]).await;
            answer
        };
    assert_eq!(
        answered(&mut outbound, "m1", "!echo hi", "a1")
            .await
            .content,
        "hi"
    );
    assert_eq!(
        answered(&mut outbound, "m2", "!echo two", "a2")
            .await
            .content,
        "two"
    );

    // Unchanged (only whitespace), then changed: only the change is answered.
    for content in ["!echo hi ", "!echo bye"] {
        publish_inbound(&redis, &event(InboundKind::MessageEdited, "m1", content)).await;
    }
    let (_, edit) = outbound.next().await;
    assert_eq!(
        edit,
        OutboundMessage {
            in_reply_to: edit.in_reply_to,
            ..OutboundMessage::edit("a1", "bye")
        }
    );

    publish_inbound(&redis, &event(InboundKind::MessageDeleted, "m1", "")).await;
    let (_, delete) = outbound.next().await;
    assert_eq!(
        (delete.action, delete.message_id.as_deref()),
        (OutboundAction::Delete, Some("a1"))
    );

    publish_inbound(
        &redis,
        &event(InboundKind::MessageEdited, "m2", "never mind"),
    )
    .await;
    let (_, delete) = outbound.next().await;
    assert_eq!(
        (delete.action, delete.message_id.as_deref()),
        (OutboundAction::Delete, Some("a2"))
    );

    // Both are forgotten now: deleting them again does nothing, and a new command is
    // answered as usual (the next thing published).
    for message_id in ["m1", "m2"] {
        publish_inbound(&redis, &event(InboundKind::MessageDeleted, message_id, "")).await;
    }
    publish_inbound(&redis, &message("m3", "!ping")).await;
    assert_eq!(outbound.next().await.1.content, "pong");
    bot.stop().await;
}
