//! Operating example-subscriber: `--http-addr` (`/healthz`, `/readyz`, `/metrics`)
//! and SIGTERM in the middle of traffic.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytebot_core::bus::{SubscribeOptions, Subscription};
use bytebot_core::envelope::{Author, InboundMessage};
use bytebot_core::pattern::Pattern;
use bytebot_core::{Direction, Space, Topic};
use bytebot_e2e::{Daemon, PATIENCE, router_tools, stderr, stdout, without_round_trip};
use bytebot_test_support::{
    RedisServer, bus_config, free_local_addr, http_get, metric_value, scrape_until,
    wait_for_status, wait_until,
};

/// What an orchestrator relies on: alive all along, ready only while subscribed to
/// Redis (and again after an outage, by itself), counters that follow the traffic,
/// and a listener that goes away with the process.
#[tokio::test]
async fn health_and_metrics_follow_redis_and_traffic() {
    let redis = RedisServer::start().await;
    let addr = free_local_addr();
    let mut subscriber =
        Daemon::example_subscriber(&redis.url(), &["--http-addr", &addr.to_string()]).await;
    assert_eq!(
        wait_for_status(addr, "/healthz", 200).await.unwrap().body,
        "ok\n"
    );
    wait_for_status(addr, "/readyz", 200).await.unwrap();

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
    assert_eq!(
        without_round_trip(&stdout(&output)),
        "pong\n",
        "{}",
        stderr(&output)
    );
    scrape_until(addr, received, 1.0).await.unwrap();
    scrape_until(addr, replies, 1.0).await.unwrap();
    let after = scrape_until(addr, published, 1.0).await.unwrap();
    assert!(
        after.contains("# TYPE bytebot_outbox_depth gauge"),
        "{after}"
    );
    assert!(
        after.contains(r#"bytebot_redis_reconnects_total{daemon="example-subscriber",connection="subscription"} 0"#),
        "{after}"
    );

    redis.stop().await;
    let body = wait_for_status(addr, "/readyz", 503).await.unwrap().body;
    assert!(body.contains("redis"), "{body}");
    assert_eq!(
        wait_for_status(addr, "/healthz", 200).await.unwrap().body,
        "ok\n"
    );
    redis.restart().await;
    wait_for_status(addr, "/readyz", 200).await.unwrap();
    let reconnected =
        r#"bytebot_redis_reconnects_total{daemon="example-subscriber",connection="subscription"}"#;
    scrape_until(addr, reconnected, 1.0).await.unwrap();

    let status = subscriber.terminate().await;
    assert!(status.success(), "{status:?}\n{}", subscriber.log());
    assert!(
        http_get(addr, "/healthz").await.is_none(),
        "still listening after exit"
    );
}

/// SIGTERM under a steady stream of `!ping`: exit 0, nothing abandoned or dropped, and
/// every reply the bot had handed to its publisher reached Redis before the exit. The
/// bot's counts come from `/metrics`, scraped until the listener goes away (it stops
/// only after the bot's drain); no log line is parsed. (The exact "everything taken is
/// answered" at the very end is `bytebot-core`'s in-process shutdown tests, which read
/// the `BotStats` that `Bot::run` returns.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_traffic_exits_zero_and_answers_everything_taken() {
    let redis = RedisServer::start().await;
    let addr = free_local_addr();
    let mut subscriber =
        Daemon::example_subscriber(&redis.url(), &["--http-addr", &addr.to_string()]).await;
    wait_for_status(addr, "/readyz", 200).await.unwrap();

    // Count the replies as they arrive.
    let mut replies = Subscription::start(
        bus_config(&redis.url(), "test"),
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

    // Terminate while messages are flowing, scraping /metrics until the listener goes.
    assert!(
        wait_until(PATIENCE, || n_replies.load(Ordering::Relaxed) >= 50).await,
        "no replies flowing; log:\n{}",
        subscriber.log()
    );
    // One scrape before the signal, then as many as the drain leaves time for.
    let mut last = http_get(addr, "/metrics")
        .await
        .expect("/metrics answers")
        .body;
    let scraper = tokio::spawn(async move {
        while let Some(response) = http_get(addr, "/metrics").await {
            last = response.body;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        last
    });
    let status = subscriber.terminate().await;
    stop.store(true, Ordering::Relaxed);
    let n_sent = publisher.await.unwrap();
    assert!(status.success(), "{status:?}\n{}", subscriber.log());
    let last = tokio::time::timeout(PATIENCE, scraper)
        .await
        .expect("the listener goes away with the process")
        .unwrap();

    let value = |series: &str| {
        let series = format!("{series}{{daemon=\"example-subscriber\"}}");
        metric_value(&last, &series).unwrap_or_else(|| panic!("no {series} in:\n{last}"))
    };
    let abandoned = r#"bytebot_messages_skipped_total{daemon="example-subscriber",reason="abandoned_at_shutdown"}"#;
    assert_eq!(metric_value(&last, abandoned), Some(0.0), "{last}");
    assert_eq!(value("bytebot_outbox_dropped_total"), 0.0, "{last}");
    assert_eq!(value("bytebot_handler_failures_total"), 0.0, "{last}");
    let replies = value("bytebot_replies_total") as u64;
    assert!(replies <= n_sent, "{replies} replies > {n_sent} messages");
    assert!(
        wait_until(PATIENCE, || n_replies.load(Ordering::Relaxed) >= replies).await,
        "{} replies reached redis, the bot had handed out {replies}",
        n_replies.load(Ordering::Relaxed)
    );
    reader.abort();
}
