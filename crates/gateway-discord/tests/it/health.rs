//! `--http-addr`: `/healthz`, `/readyz` (Redis and the Discord session) and `/metrics`.

use std::net::SocketAddr;

use crate::fake_discord::FakeDiscord;
use bytebot_test_support::{
    RedisServer, free_local_addr, http_get, metric_value, scrape_until, wait_for_status, wait_until,
};
use tokio::sync::oneshot;

use crate::support::{CHANNEL, Gateway, PATIENCE, config, outbound_topic, wait_posted};

/// The status of `GET path`, or 0 while nothing answers.
async fn status(addr: SocketAddr, path: &str) -> u16 {
    http_get(addr, path)
        .await
        .map_or(0, |response| response.status)
}

/// An orchestrator must not route to (or count as healthy) a gateway without a
/// Discord session or without Redis: `/readyz` says which, and recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_discord_session_and_redis() {
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    discord.hold_identify();
    let addr = free_local_addr();
    let mut config = config(&redis, &discord);
    config.gateway.http_addr = Some(addr);
    let (stop, stopped) = oneshot::channel::<()>();
    let gateway = tokio::spawn(gateway_discord::run(config, async {
        let _ = stopped.await;
    }));

    // Alive, connected to Redis, but Discord has not sent READY.
    wait_for_status(addr, "/healthz", 200).await.unwrap();
    assert!(
        wait_until(PATIENCE, || discord.identify_count() >= 1).await,
        "the gateway never identified"
    );
    let response = http_get(addr, "/readyz").await.unwrap();
    assert_eq!(response.status, 503, "{response:?}");
    assert!(response.body.contains("discord"), "{response:?}");

    discord.release_identify();
    wait_for_status(addr, "/readyz", 200).await.unwrap();

    redis.stop().await;
    wait_for_status(addr, "/readyz", 503).await.unwrap();
    let response = http_get(addr, "/readyz").await.unwrap();
    assert!(response.body.contains("redis"), "{response:?}");
    assert_eq!(
        status(addr, "/healthz").await,
        200,
        "alive during the outage"
    );

    redis.restart().await;
    wait_for_status(addr, "/readyz", 200).await.unwrap();

    let _ = stop.send(());
    let result = tokio::time::timeout(PATIENCE, gateway)
        .await
        .expect("the gateway stops in time")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(
        status(addr, "/healthz").await,
        0,
        "the listener stops with the gateway"
    );
}

/// `/metrics` follows the traffic: a message sent to Discord moves the received and
/// sent counters and lands in the send-latency histogram.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_an_outbound_message_and_its_send_latency() {
    let addr = free_local_addr();
    let gateway = Gateway::start_with(|config| config.gateway.http_addr = Some(addr)).await;
    let before = http_get(addr, "/metrics").await.expect("/metrics answers");
    assert_eq!(before.status, 200);
    let sent = r#"bytebot_messages_sent_total{daemon="gateway-discord"}"#;
    assert_eq!(
        metric_value(&before.body, sent).unwrap_or(0.0),
        0.0,
        "{}",
        before.body
    );

    let payload = serde_json::json!({"v": 1, "content": "hello from metrics"}).to_string();
    assert_eq!(gateway.publish(&outbound_topic(CHANNEL), payload).await, 1);
    assert!(wait_posted(&gateway.discord, CHANNEL, 1).await);
    // The counters move right after the POST returns and the receipt is published.
    let after = scrape_until(addr, sent, 1.0).await.unwrap();
    let received = r#"bytebot_messages_received_total{daemon="gateway-discord"}"#;
    assert!(
        metric_value(&after, received).unwrap_or(0.0) >= 1.0,
        "{after}"
    );
    let count = r#"bytebot_send_duration_seconds_count{daemon="gateway-discord"}"#;
    assert_eq!(metric_value(&after, count), Some(1.0), "{after}");
    assert!(
        after.contains(
            r#"bytebot_send_duration_seconds_bucket{daemon="gateway-discord",le="+Inf"} 1"#
        ),
        "{after}"
    );
    // The delivery receipt went out through the publisher.
    let published = r#"bytebot_messages_published_total{daemon="gateway-discord"}"#;
    scrape_until(addr, published, 1.0).await.unwrap();
    gateway.stop().await.unwrap();
}
