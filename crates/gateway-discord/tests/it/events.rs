//! Discord -> Redis beyond new messages: edits, deletions and reactions become
//! `message_edited`, `message_deleted`, `reaction_added` and `reaction_removed`.

use bytebot_core::envelope::{InboundKind, decode_inbound};

use crate::fake_discord::{DiscordMessage, DiscordReaction, FAKE_BOT_USER_ID};
use crate::support::{ALICE, CHANNEL, GUILD, Gateway, next};

/// An edit is published with the new content on the author's topic; an update that is
/// not an edit (Discord adding a link preview) is not published at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_are_published_and_embed_updates_are_not() {
    let gateway = Gateway::start().await;
    let mut inbound = gateway.subscribe("inbound.discord.*").await;
    let mut message = DiscordMessage::guild(GUILD, CHANNEL, ALICE, "!pnig");
    message.id = 1_443_167_930_991_902_725;
    gateway.discord.send_message(&message);
    gateway.discord.add_embed(Some(GUILD), CHANNEL, message.id);
    message.content = "!ping".to_owned();
    gateway.discord.edit_message(&message);

    let first = decode_inbound(&next(&mut inbound).await.payload).unwrap();
    assert_eq!(
        (first.kind, first.content.as_str()),
        (InboundKind::Message, "!pnig")
    );
    let delivery = next(&mut inbound).await;
    assert_eq!(
        delivery.channel,
        format!("inbound.discord.{GUILD}.{CHANNEL}.{ALICE}")
    );
    let edited = decode_inbound(&delivery.payload).unwrap();
    assert_eq!(edited.kind, InboundKind::MessageEdited);
    assert_eq!(edited.message_id, message.id.to_string());
    assert_eq!(edited.content, "!ping");
    assert_eq!(edited.author.id, ALICE.to_string());
    assert!(
        inbound.try_recv().is_none(),
        "the embed update was published"
    );
    let stats = gateway.counters.stats();
    assert_eq!((stats.inbound_published, stats.inbound_ignored), (2, 1));
    gateway.stop().await.unwrap();
}

/// Discord says only which message was deleted: the user segment is `@unknown`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletions_are_published_with_the_unknown_user() {
    let gateway = Gateway::start().await;
    let mut inbound = gateway.subscribe("inbound.discord.*.*.*").await;
    gateway
        .discord
        .delete_message(Some(GUILD), CHANNEL, 1_443_167_930_991_902_725);
    let delivery = next(&mut inbound).await;
    assert_eq!(
        delivery.channel,
        format!("inbound.discord.{GUILD}.{CHANNEL}.%40unknown")
    );
    let deleted = decode_inbound(&delivery.payload).unwrap();
    assert_eq!(deleted.kind, InboundKind::MessageDeleted);
    assert_eq!(deleted.message_id, "1443167930991902725");
    assert!(deleted.author.is_unknown());
    assert_eq!(deleted.content, "");
    gateway.stop().await.unwrap();
}

/// Reactions name who reacted (topic and author), the emoji, and on additions who
/// wrote the message; the bot's own reactions are never published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_are_published_but_never_the_bots_own() {
    let gateway = Gateway::start().await;
    let mut inbound = gateway.subscribe("inbound.discord.*").await;
    let message_id = 1_443_167_930_991_902_725;
    let mut own = DiscordReaction::guild(GUILD, CHANNEL, message_id, FAKE_BOT_USER_ID, "🎲");
    own.user_bot = true;
    gateway.discord.react(&own, true);
    let alice = DiscordReaction::guild(GUILD, CHANNEL, message_id, ALICE, "👀");
    gateway.discord.react(&alice, true);
    gateway.discord.react(
        &DiscordReaction::guild(
            GUILD,
            CHANNEL,
            message_id,
            ALICE,
            "party:1190804811990446000",
        ),
        false,
    );

    let delivery = next(&mut inbound).await;
    assert_eq!(
        delivery.channel,
        format!("inbound.discord.{GUILD}.{CHANNEL}.{ALICE}")
    );
    let added = decode_inbound(&delivery.payload).unwrap();
    assert_eq!(added.kind, InboundKind::ReactionAdded);
    assert_eq!(added.message_id, message_id.to_string());
    assert_eq!(added.author.name, format!("user{ALICE}"));
    assert_eq!(added.reaction.as_ref().unwrap().emoji, "👀");
    assert_eq!(
        added.discord.as_ref().unwrap().message_author_id.as_deref(),
        Some(FAKE_BOT_USER_ID.to_string().as_str())
    );

    let removed = decode_inbound(&next(&mut inbound).await.payload).unwrap();
    assert_eq!(removed.kind, InboundKind::ReactionRemoved);
    assert_eq!(removed.author.id, ALICE.to_string());
    let reaction = removed.reaction.unwrap();
    assert_eq!(reaction.emoji, "party");
    assert_eq!(reaction.emoji_id.as_deref(), Some("1190804811990446000"));
    assert!(
        inbound.try_recv().is_none(),
        "the bot's own reaction was published"
    );
    assert_eq!(gateway.counters.stats().inbound_ignored, 1);
    gateway.stop().await.unwrap();
}
