//! Discord -> Redis: messages become envelopes on the right topics.

use crate::fake_discord::{DiscordMessage, FAKE_BOT_USER_ID};
use bytebot_core::envelope::decode_inbound;

use crate::support::{ALICE, CHANNEL, GUILD, Gateway, next};

/// A guild message reaches subscribers of its guild/channel/author topic, complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guild_message_is_published_on_its_topic() {
    let gateway = Gateway::start().await;
    let mut inbound = gateway.subscribe("inbound.discord.*").await;
    let mut message = DiscordMessage::guild(GUILD, CHANNEL, ALICE, "!ping <@99>");
    message.reply_to = Some(1_443_167_930_991_900_000);
    let message_id = gateway.discord.send_message(&message);

    let delivery = next(&mut inbound).await;
    assert_eq!(
        delivery.channel,
        format!("inbound.discord.{GUILD}.{CHANNEL}.{ALICE}")
    );
    let envelope = decode_inbound(&delivery.payload).expect("a valid inbound envelope");
    assert_eq!(envelope.content, "!ping <@99>");
    assert_eq!(envelope.message_id, message_id.to_string());
    assert_eq!(envelope.author.id, ALICE.to_string());
    assert_eq!(envelope.author.name, format!("user{ALICE}"));
    assert!(!envelope.author.bot);
    assert_eq!(envelope.reply_to.as_deref(), Some("1443167930991900000"));
    assert_eq!(
        envelope.reply_topic.to_string(),
        format!("outbound.discord.{GUILD}.{CHANNEL}.{ALICE}")
    );
    assert_eq!(gateway.counters.stats().inbound_published, 1);
    gateway.stop().await.unwrap();
}

/// A DM has no guild: it is published with the documented `@me` space.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_message_is_published_with_the_at_me_space() {
    let gateway = Gateway::start().await;
    let mut inbound = gateway.subscribe("inbound.discord.@me.*.*").await;
    gateway
        .discord
        .send_message(&DiscordMessage::direct(CHANNEL, ALICE, "hello bot"));

    let delivery = next(&mut inbound).await;
    assert_eq!(
        delivery.channel,
        format!("inbound.discord.@me.{CHANNEL}.{ALICE}")
    );
    let envelope = decode_inbound(&delivery.payload).unwrap();
    assert!(envelope.is_direct());
    assert_eq!(envelope.space, "@me");
    assert_eq!(envelope.content, "hello bot");
    gateway.stop().await.unwrap();
}

/// The bot's own messages would loop through subscribers; other bots' are opt-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_and_bot_messages_are_not_published() {
    let gateway = Gateway::start().await;
    let mut inbound = gateway.subscribe("inbound.discord.*").await;
    let mut own = DiscordMessage::guild(GUILD, CHANNEL, FAKE_BOT_USER_ID, "my own reply");
    own.author_bot = true;
    gateway.discord.send_message(&own);
    gateway
        .discord
        .send_message(&DiscordMessage::guild(GUILD, CHANNEL, 42, "another bot").by_bot());
    // A human message after them: once it arrives, the others had their chance.
    gateway
        .discord
        .send_message(&DiscordMessage::guild(GUILD, CHANNEL, ALICE, "human"));

    let delivery = next(&mut inbound).await;
    let envelope = decode_inbound(&delivery.payload).unwrap();
    assert_eq!(envelope.content, "human");
    assert!(
        bytebot_test_support::wait_until(crate::support::PATIENCE, || gateway
            .counters
            .stats()
            .inbound_ignored
            == 2)
        .await
    );
    assert!(inbound.try_recv().is_none(), "a bot message was published");
    gateway.stop().await.unwrap();
}

/// `--include-bots` publishes other bots, still never the gateway's own messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_bots_publishes_other_bots_but_never_itself() {
    let gateway = Gateway::start_with(|config| config.gateway.include_bots = true).await;
    let mut inbound = gateway.subscribe("inbound.discord.*").await;
    let mut own = DiscordMessage::guild(GUILD, CHANNEL, FAKE_BOT_USER_ID, "my own reply");
    own.author_bot = true;
    gateway.discord.send_message(&own);
    gateway
        .discord
        .send_message(&DiscordMessage::guild(GUILD, CHANNEL, 42, "another bot").by_bot());

    let envelope = decode_inbound(&next(&mut inbound).await.payload).unwrap();
    assert_eq!(envelope.content, "another bot");
    assert!(envelope.author.bot);
    assert!(
        bytebot_test_support::wait_until(crate::support::PATIENCE, || gateway
            .counters
            .stats()
            .inbound_ignored
            == 1)
        .await
    );
    assert!(inbound.try_recv().is_none(), "the gateway published itself");
    gateway.stop().await.unwrap();
}

/// A burst of messages in one channel reaches subscribers in the order people wrote
/// them (serenity runs each event handler on its own task, so this is not a given).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_in_one_channel_is_published_in_order() {
    let gateway = Gateway::start().await;
    let mut inbound = gateway.subscribe("inbound.discord.*").await;
    for i in 0..50 {
        gateway.discord.send_message(&DiscordMessage::guild(
            GUILD,
            CHANNEL,
            ALICE,
            &format!("message {i}"),
        ));
    }
    let mut contents = Vec::new();
    while contents.len() < 50 {
        contents.push(
            decode_inbound(&next(&mut inbound).await.payload)
                .unwrap()
                .content,
        );
    }
    let expected: Vec<String> = (0..50).map(|i| format!("message {i}")).collect();
    assert_eq!(contents, expected);
    gateway.stop().await.unwrap();
}
