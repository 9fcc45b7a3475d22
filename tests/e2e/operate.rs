//! Operating example-subscriber: `--http-addr` (`/healthz`, `/readyz`, `/metrics`)
//! and SIGTERM in the middle of traffic.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytebot_core::bus::{BusConfig, RedisUrl, SubscribeOptions, Subscription};
use bytebot_core::envelope::{Author, InboundMessage};
use bytebot_core::pattern::Pattern;
use bytebot_core::{Direction, Space, Topic};
use bytebot_e2e::{Daemon, PATIENCE, router_tools, stderr, stdout};
use bytebot_test_support::{RedisServer, free_local_addr, http_get, metric_value, wait_until};

/// Polls `GET path` until it answers `expected`; the last response on failure.
async fn wait_status(addr: SocketAddr, path: &str, expected: u16) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let response = http_get(addr, path).await;
        if let Some(response) = &response
            && response.status == expected
        {
            return Ok(response.body.clone());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{path} never answered {expected}; last: {response:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Scrapes `/metrics` until `series` is at least `at_least`; the last scrape.
async fn scrape_until(addr: SocketAddr, series: &str, at_least: f64) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let body = http_get(addr, "/metrics")
            .await
            .map(|r| r.body)
            .unwrap_or_default();
        if metric_value(&body, series).is_some_and(|value| value >= at_least) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} never reached {at_least}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What an orchestrator relies on: alive all along, ready only while subscribed to
/// Redis (and again after an outage, by itself), counters that follow the traffic,
/// and a listener that goes away with the process.
#[tokio::test]
async fn health_and_metrics_follow_redis_and_traffic() {
    let redis = RedisServer::start().await;
    let addr = free_local_addr();
    let mut subscriber =
        Daemon::example_subscriber(&redis.url(), &["--http-addr", &addr.to_string()]).await;
    assert_eq!(wait_status(addr, "/healthz", 200).await.unwrap(), "ok\n");
    wait_status(addr, "/readyz", 200).await.unwrap();

    let received = r#"bytebot_messages_received_total{daemon="example-subscriber"}"#;
    let replies = r#"bytebot_replies_total{daemon="example-subscriber"}"#;
    let published = r#"bytebot_messages_published_total{daemon="example-subscriber"}"#;
    let before = http_get(addr, "/metrics").await.unwrap().body;
    assert_eq!(
        metric_value(&before, received).unwrap_or(0.0),
        0.0,
        "{before}"
    );
    let output = router_tools(&redis.url(), &["chat"], "!ping\n").await;
    assert_eq!(stdout(&output), "pong\n", "{}", stderr(&output));
    scrape_until(addr, received, 1.0).await;
    scrape_until(addr, replies, 1.0).await;
    let after = scrape_until(addr, published, 1.0).await;
    assert!(
        after.contains("# TYPE bytebot_outbox_depth gauge"),
        "{after}"
    );
    assert!(
        after.contains(r#"bytebot_redis_reconnects_total{daemon="example-subscriber",connection="subscription"} 0"#),
        "{after}"
    );

    redis.stop().await;
    let body = wait_status(addr, "/readyz", 503).await.unwrap();
    assert!(body.contains("redis"), "{body}");
    assert_eq!(wait_status(addr, "/healthz", 200).await.unwrap(), "ok\n");
    redis.restart().await;
    wait_status(addr, "/readyz", 200).await.unwrap();
    let reconnected =
        r#"bytebot_redis_reconnects_total{daemon="example-subscriber",connection="subscription"}"#;
    scrape_until(addr, reconnected, 1.0).await;

    let status = subscriber.terminate().await;
    assert!(status.success(), "{status:?}\n{}", subscriber.log());
    assert!(
        http_get(addr, "/healthz").await.is_none(),
        "still listening after exit"
    );
}

/// SIGTERM under a steady stream of `!ping`: exit 0, and every message the bot took
/// (counted as decoded in its final log line) got its reply published before exit.
#[tokio::test]
async fn sigterm_during_traffic_exits_zero_and_answers_everything_taken() {
    let redis = RedisServer::start().await;
    let mut subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let url = RedisUrl::parse(&redis.url()).unwrap();

    // Count the replies as they arrive.
    let mut replies = Subscription::start(
        BusConfig::new(url.clone(), "test"),
        vec![Pattern::parse_raw("outbound.*")],
        SubscribeOptions::default(),
    );
    replies.wait_connected(PATIENCE).await.unwrap();
    let n_replies = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&n_replies);
    let reader = tokio::spawn(async move {
        while replies.recv().await.is_some() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });

    // A stream of !ping until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let stop_publishing = Arc::clone(&stop);
    let mut connection = redis.connection().await;
    let publisher = tokio::spawn(async move {
        let mut n_sent = 0u64;
        while !stop_publishing.load(Ordering::Relaxed) {
            let topic = Topic::builder(Direction::Inbound, "console")
                .space(Space::id("local"))
                .room(format!("room{}", n_sent % 4))
                .user("alice")
                .build()
                .unwrap();
            let message = InboundMessage::new(
                topic.clone(),
                n_sent.to_string(),
                Author::new("alice", "alice"),
                "!ping",
            );
            let _: i64 = redis::cmd("PUBLISH")
                .arg(topic.to_string())
                .arg(message.encode())
                .query_async(&mut connection)
                .await
                .expect("PUBLISH");
            n_sent += 1;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        n_sent
    });

    // Terminate while messages are flowing.
    assert!(
        wait_until(PATIENCE, || n_replies.load(Ordering::Relaxed) >= 50).await,
        "no replies flowing; log:\n{}",
        subscriber.log()
    );
    let status = subscriber.terminate().await;
    stop.store(true, Ordering::Relaxed);
    let n_sent = publisher.await.unwrap();
    assert!(status.success(), "{status:?}\n{}", subscriber.log());

    let log = subscriber.log();
    let decoded = final_count(&log, "decoded");
    let abandoned = final_count(&log, "abandoned_at_shutdown");
    assert_eq!(abandoned, 0, "{log}");
    assert!(decoded <= n_sent, "{decoded} > {n_sent}");
    assert!(
        wait_until(PATIENCE, || n_replies.load(Ordering::Relaxed) >= decoded).await,
        "{} replies for {decoded} messages taken; log:\n{log}",
        n_replies.load(Ordering::Relaxed)
    );
    assert_eq!(n_replies.load(Ordering::Relaxed), decoded, "{log}");
    reader.abort();
}

/// `field` from the bot's final `stopped stats=BotStats { ... }` log line.
fn final_count(log: &str, field: &str) -> u64 {
    let line = log
        .lines()
        .rev()
        .find(|line| line.contains("stopped") && line.contains("BotStats"))
        .unwrap_or_else(|| panic!("no final stats line in:\n{log}"));
    let start = line
        .find(&format!("{field}: "))
        .unwrap_or_else(|| panic!("no {field} in {line}"))
        + field.len()
        + 2;
    line[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}
