//! Outages: Discord disconnects, Redis restarts, fatal close codes.

use std::time::Duration;

use crate::fake_discord::{DiscordMessage, FakeDiscord};
use bytebot_core::envelope::{OutboundMessage, decode_inbound};
use bytebot_test_support::{RedisServer, wait_until};
use tokio::sync::oneshot;

use crate::support::{
    ALICE, CHANNEL, GUILD, Gateway, PATIENCE, config, next, outbound_topic, subscribe, wait_posted,
};

/// Disconnects the gateway with `disconnect`, injects messages while it reconnects,
/// and checks every message arrives and the session was resumed, not re-identified.
async fn survives_disconnect(disconnect: impl FnOnce(&FakeDiscord)) {
    let gateway = Gateway::start().await;
    let mut inbound = gateway.subscribe("inbound.discord.*").await;
    gateway
        .discord
        .send_message(&DiscordMessage::guild(GUILD, CHANNEL, ALICE, "before"));
    assert_eq!(
        decode_inbound(&next(&mut inbound).await.payload)
            .unwrap()
            .content,
        "before"
    );
    let sessions = gateway.discord.sessions_started();

    disconnect(&gateway.discord);
    // Queued in the session: delivered live if the client is still there, or replayed
    // on RESUME.
    for i in 0..3 {
        gateway.discord.send_message(&DiscordMessage::guild(
            GUILD,
            CHANNEL,
            ALICE,
            &format!("during {i}"),
        ));
    }
    assert!(
        wait_until(PATIENCE, || gateway.discord.sessions_started() > sessions).await,
        "the gateway did not reconnect"
    );
    gateway
        .discord
        .send_message(&DiscordMessage::guild(GUILD, CHANNEL, ALICE, "after"));

    let mut contents = Vec::new();
    while contents.len() < 4 {
        contents.push(
            decode_inbound(&next(&mut inbound).await.payload)
                .unwrap()
                .content,
        );
    }
    contents.sort();
    assert_eq!(contents, ["after", "during 0", "during 1", "during 2"]);
    assert_eq!(
        gateway.discord.identify_count(),
        1,
        "the session was not resumed"
    );
    assert!(gateway.discord.resume_count() >= 1);

    // And outbound still works.
    gateway
        .publish(&outbound_topic(CHANNEL), "\"still here\"")
        .await;
    assert!(wait_posted(&gateway.discord, CHANNEL, 1).await);
    gateway.stop().await.unwrap();
}

/// Close code 4000 is resumable: serenity must RESUME and lose nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_close_4000_without_losing_messages() {
    survives_disconnect(|discord| discord.close_connection(4000)).await;
}

/// A dropped TCP connection (no close frame) must be noticed and resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_a_dropped_tcp_connection_without_losing_messages() {
    survives_disconnect(FakeDiscord::drop_connection).await;
}

/// Op 7 (Discord asking the client to reconnect) is routine during deploys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_a_reconnect_request() {
    survives_disconnect(FakeDiscord::request_reconnect).await;
}

/// Messages from Discord during a Redis outage wait in the outbox and are published
/// once Redis is back and subscribers have re-subscribed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_waits_for_redis_to_come_back() {
    let gateway = Gateway::start().await;
    let mut inbound = gateway.subscribe("inbound.discord.*").await;
    // One message first: the publisher connects lazily, and only a *re*connect waits
    // for subscribers to come back before flushing (it knows how many there were).
    gateway
        .discord
        .send_message(&DiscordMessage::guild(GUILD, CHANNEL, ALICE, "before"));
    assert_eq!(
        decode_inbound(&next(&mut inbound).await.payload)
            .unwrap()
            .content,
        "before"
    );
    gateway.redis.stop().await;
    for i in 0..3 {
        gateway.discord.send_message(&DiscordMessage::guild(
            GUILD,
            CHANNEL,
            ALICE,
            &format!("during outage {i}"),
        ));
    }
    assert!(
        wait_until(PATIENCE, || gateway.counters.stats().inbound_published == 4).await,
        "the gateway stopped reading discord while redis was down"
    );
    gateway.redis.restart().await;

    let mut contents = Vec::new();
    while contents.len() < 3 {
        contents.push(
            decode_inbound(&next(&mut inbound).await.payload)
                .unwrap()
                .content,
        );
    }
    contents.sort();
    assert_eq!(
        contents,
        ["during outage 0", "during outage 1", "during outage 2"]
    );
    gateway.stop().await.unwrap();
}

/// After a Redis restart the gateway re-subscribes to outbound topics by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_resumes_after_redis_restarts() {
    let gateway = Gateway::start().await;
    gateway
        .publish(&outbound_topic(CHANNEL), "\"before\"")
        .await;
    assert!(wait_posted(&gateway.discord, CHANNEL, 1).await);

    gateway.redis.stop().await;
    gateway.redis.restart().await;
    // Pub/sub delivers only to whoever is subscribed at that moment: wait for the
    // gateway's re-subscription before publishing.
    assert!(
        gateway.redis.wait_for_pattern_subscribers(1).await,
        "the gateway never re-subscribed"
    );
    assert_eq!(
        gateway
            .publish(
                &outbound_topic(CHANNEL),
                OutboundMessage::new("after").encode()
            )
            .await,
        1
    );
    assert!(wait_posted(&gateway.discord, CHANNEL, 2).await);
    assert_eq!(gateway.discord.posted_in(CHANNEL)[1].content(), "after");
    gateway.stop().await.unwrap();
}

/// Without the Message Content intent enabled in the developer portal Discord closes
/// with 4014; the gateway must stop and say exactly what to do, not retry forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_4014_ends_with_the_message_content_hint() {
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    discord.close_on_identify(4014);
    let (_stop, stopped) = oneshot::channel::<()>();
    let result = tokio::time::timeout(
        PATIENCE,
        gateway_discord::run(config(&redis, &discord), async {
            let _ = stopped.await;
        }),
    )
    .await
    .expect("the gateway gives up instead of retrying");
    let message = format!("{:#}", result.unwrap_err());
    assert!(message.contains("4014"), "{message}");
    assert!(message.contains("Message Content Intent"), "{message}");
    assert!(message.contains("developer portal"), "{message}");
}

/// A subscriber on a pattern receives what the gateway publishes even when it started
/// after the gateway: a sanity check of the harness itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_subscribers_receive_later_messages() {
    let gateway = Gateway::start().await;
    let mut late = subscribe(&gateway.redis, "inbound.discord.*.*.*").await;
    gateway
        .discord
        .send_message(&DiscordMessage::guild(GUILD, CHANNEL, ALICE, "hi"));
    assert_eq!(
        decode_inbound(&next(&mut late).await.payload)
            .unwrap()
            .content,
        "hi"
    );
    gateway.stop().await.unwrap();
}

/// Op 9 with `d: false` ends the session: serenity identifies again (after a pause
/// Discord requires) and the gateway keeps publishing, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifies_again_after_an_invalid_session() {
    let gateway = Gateway::start().await;
    let mut inbound = gateway.subscribe("inbound.discord.*").await;
    gateway.discord.invalidate_session(false);
    assert!(
        wait_until(PATIENCE, || gateway.discord.identify_count() == 2
            && gateway.discord.connected())
        .await,
        "no new session after op 9"
    );
    for i in 0..10 {
        gateway.discord.send_message(&DiscordMessage::guild(
            GUILD,
            CHANNEL,
            ALICE,
            &format!("new session {i}"),
        ));
    }
    let mut contents = Vec::new();
    while contents.len() < 10 {
        contents.push(
            decode_inbound(&next(&mut inbound).await.payload)
                .unwrap()
                .content,
        );
    }
    let expected: Vec<String> = (0..10).map(|i| format!("new session {i}")).collect();
    assert_eq!(contents, expected);
    gateway.stop().await.unwrap();
}

/// Messages Discord dispatches right after READY, before the gateway's in-order
/// collector is registered, are published too (by the event handler).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_right_after_ready_are_not_lost() {
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    let mut inbound = subscribe(&redis, "inbound.discord.*").await;
    // Queued before the gateway connects: the fake sends them in the same burst as READY.
    for i in 0..5 {
        discord.send_message(&DiscordMessage::guild(
            GUILD,
            CHANNEL,
            ALICE,
            &format!("early {i}"),
        ));
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let gateway = tokio::spawn(gateway_discord::run(config(&redis, &discord), async {
        let _ = stopped.await;
    }));
    let mut contents = Vec::new();
    while contents.len() < 5 {
        contents.push(
            decode_inbound(&next(&mut inbound).await.payload)
                .unwrap()
                .content,
        );
    }
    contents.sort();
    assert_eq!(
        contents,
        ["early 0", "early 1", "early 2", "early 3", "early 4"]
    );
    // Exactly once each.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), inbound.recv())
            .await
            .is_err(),
        "a message was published twice"
    );
    stop.send(()).unwrap();
    gateway.await.unwrap().unwrap();
}

/// On SIGTERM the sends already taken from Redis finish before the gateway exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_sends_in_flight() {
    let gateway = Gateway::start().await;
    gateway.discord.delay_posts(Duration::from_millis(300));
    for i in 0..3 {
        gateway
            .publish(&outbound_topic(CHANNEL), format!("\"in flight {i}\""))
            .await;
    }
    // All three taken from Redis (queued for the channel), the first one in flight.
    assert!(
        wait_until(PATIENCE, || gateway.counters.stats().outbound_received == 3
            && gateway
                .discord
                .requests()
                .iter()
                .any(|request| request.method == "POST"))
        .await
    );
    let posted_before = gateway.discord.posted_in(CHANNEL).len();
    assert!(posted_before < 3, "too late: everything was already sent");
    let (stopped, discord) = gateway.stop_keeping_discord().await;
    stopped.unwrap();
    let contents: Vec<String> = discord
        .posted_in(CHANNEL)
        .iter()
        .map(|posted| posted.content().to_owned())
        .collect();
    assert_eq!(contents, ["in flight 0", "in flight 1", "in flight 2"]);
}

/// A send that never completes cannot hold the gateway past its shutdown deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_deadline_bounds_a_stuck_send() {
    let gateway =
        Gateway::start_with(|config| config.gateway.shutdown_timeout = Duration::from_secs(1))
            .await;
    gateway.discord.delay_posts(Duration::from_secs(3600));
    gateway.publish(&outbound_topic(CHANNEL), "\"stuck\"").await;
    assert!(
        wait_until(PATIENCE, || gateway
            .discord
            .requests()
            .iter()
            .any(|request| request.method == "POST"))
        .await
    );
    // `stop` fails the test if the gateway is not gone within PATIENCE.
    gateway.stop().await.unwrap();
}
