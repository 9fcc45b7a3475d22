//! The Redis bus against real, private Redis servers: outages, kills, slow consumers.

use std::time::{Duration, Instant};

use bytebot_core::bus::{self, Backoff, OutboxOptions, Publisher, SubscribeOptions, Subscription};
use bytebot_core::pattern::Pattern;
use bytebot_test_support::{PATIENCE, RedisServer, TcpProxy, bus_config, wait_until};

async fn subscribed(url: &str, patterns: &[&str], options: SubscribeOptions) -> Subscription {
    let subscription = Subscription::start(
        bus_config(url, "test-subscriber"),
        patterns.iter().copied().map(Pattern::parse_raw).collect(),
        options,
    );
    subscription.wait_connected(PATIENCE).await.unwrap();
    subscription
}

async fn next(subscription: &mut Subscription) -> bus::Delivery {
    tokio::time::timeout(PATIENCE, subscription.recv())
        .await
        .expect("a delivery in time")
        .expect("subscription alive")
}

/// Receives until `n` deliveries arrived or nothing came for `quiet`.
async fn collect(subscription: &mut Subscription, n: usize, quiet: Duration) -> Vec<String> {
    let mut payloads = Vec::new();
    while payloads.len() < n {
        match tokio::time::timeout(quiet, subscription.recv()).await {
            Ok(Some(delivery)) => {
                payloads.push(String::from_utf8(delivery.payload.to_vec()).unwrap())
            }
            _ => break,
        }
    }
    payloads
}

#[tokio::test]
async fn published_messages_reach_pattern_subscribers() {
    let redis = RedisServer::start().await;
    let mut subscription = subscribed(
        &redis.url(),
        &["inbound.discord.*"],
        SubscribeOptions::default(),
    )
    .await;
    let publisher = Publisher::start(
        bus_config(&redis.url(), "test-publisher"),
        OutboxOptions::default(),
    );

    publisher.publish("inbound.discord.g.c.u", "hello");
    publisher.publish("inbound.console.g.c.u", "not for this pattern");
    publisher.publish("inbound.discord.g.c.v", "world");

    let first = next(&mut subscription).await;
    assert_eq!(first.pattern, "inbound.discord.*");
    assert_eq!(first.channel, "inbound.discord.g.c.u");
    assert_eq!(&first.payload[..], b"hello");
    assert_eq!(&next(&mut subscription).await.payload[..], b"world");
    assert_eq!(publisher.flush(PATIENCE).await, 0);
    assert_eq!(publisher.stats().published, 3);
}

/// Operators identify programs in CLIENT LIST by name.
#[tokio::test]
async fn every_connection_names_itself() {
    let redis = RedisServer::start().await;
    let _subscription = subscribed(&redis.url(), &["inbound.*"], SubscribeOptions::default()).await;
    let publisher = Publisher::start(
        bus_config(&redis.url(), "test-publisher"),
        OutboxOptions::default(),
    );
    publisher.publish("x", "y");
    assert_eq!(publisher.flush(PATIENCE).await, 0);

    let mut connection = redis.connection().await;
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut connection)
        .await
        .unwrap();
    let host = gethostname_for_test();
    assert!(
        clients.contains(&format!("name=bytebot:test-subscriber:{host} ")),
        "{clients}"
    );
    assert!(
        clients.contains(&format!("name=bytebot:test-publisher:{host} ")),
        "{clients}"
    );
    let subscriber_line = clients
        .lines()
        .find(|line| line.contains("name=bytebot:test-subscriber"))
        .unwrap();
    assert!(subscriber_line.contains(" psub=1 "), "{subscriber_line}");
}

fn gethostname_for_test() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().replace(|c: char| !c.is_ascii_graphic(), "-"))
        .unwrap_or_default()
}

/// Kills Redis for `outage`, restarts it, and measures how long the subscription took
/// to be delivering again. Returns (recovery time, messages lost of those published
/// through the outbox during the outage).
async fn outage_round(outage: Duration) -> (Duration, usize) {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let mut subscription = subscribed(&url, &["inbound.*"], SubscribeOptions::default()).await;
    let publisher = Publisher::start(bus_config(&url, "test-publisher"), OutboxOptions::default());
    let mut connected = subscription.connected();

    publisher.publish("inbound.t.g.c.u", "before");
    assert_eq!(&next(&mut subscription).await.payload[..], b"before");

    redis.stop().await;
    assert!(
        tokio::time::timeout(PATIENCE, connected.wait_for(|up| !*up))
            .await
            .is_ok(),
        "the subscription must notice the outage"
    );
    const DURING: usize = 20;
    for i in 0..DURING {
        publisher.publish("inbound.t.g.c.u", format!("during-{i}"));
    }
    tokio::time::sleep(outage).await;

    redis.restart().await;
    let restarted = Instant::now();
    assert!(
        tokio::time::timeout(PATIENCE, connected.wait_for(|up| *up))
            .await
            .is_ok(),
        "the subscription must come back after a {outage:?} outage"
    );
    let recovered = restarted.elapsed();

    // The outbox flushes after its own reconnect, once the subscription is back
    // (bounded by the resubscribe grace); pub/sub would lose anything sent earlier.
    assert_eq!(publisher.flush(PATIENCE).await, 0, "outbox flushed");
    publisher.publish("inbound.t.g.c.u", "after");
    let payloads = collect(&mut subscription, DURING + 1, Duration::from_secs(2)).await;
    assert_eq!(
        payloads.last().map(String::as_str),
        Some("after"),
        "{payloads:?}"
    );
    let during: Vec<&String> = payloads
        .iter()
        .filter(|p| p.starts_with("during-"))
        .collect();
    let mut sorted = during.clone();
    sorted.sort_by_key(|p| p["during-".len()..].parse::<usize>().unwrap());
    assert_eq!(during, sorted, "outbox order kept");
    assert_eq!(subscription.stats().reconnects, 1);
    let lost = DURING - during.len();
    assert_eq!(
        lost, 0,
        "the outbox waits for subscribers to return: {payloads:?}"
    );
    (recovered, lost)
}

/// A short outage: the subscription comes back by itself.
#[tokio::test]
async fn subscription_recovers_after_a_1s_redis_outage() {
    let (recovered, lost) = outage_round(Duration::from_secs(1)).await;
    println!(
        "1s outage: subscription recovered {recovered:?} after restart; {lost}/20 outbox messages lost"
    );
}

/// Longer than redis-rs' default retry budget (~9.4 s): a manager with default
/// settings would have given up for good here.
#[tokio::test]
async fn subscription_recovers_after_a_15s_redis_outage() {
    let (recovered, lost) = outage_round(Duration::from_secs(15)).await;
    println!(
        "15s outage: subscription recovered {recovered:?} after restart; {lost}/20 outbox messages lost"
    );
}

/// `CLIENT KILL TYPE pubsub` drops only subscribers; they must re-subscribe.
#[tokio::test]
async fn subscription_recovers_after_client_kill_type_pubsub() {
    let redis = RedisServer::start().await;
    let mut subscription =
        subscribed(&redis.url(), &["inbound.*"], SubscribeOptions::default()).await;
    let mut connected = subscription.connected();
    let mut admin = redis.connection().await;

    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(killed, 1, "our subscription is the one pubsub client");
    let killed_at = Instant::now();
    tokio::time::timeout(PATIENCE, connected.wait_for(|up| !*up))
        .await
        .expect("kill noticed")
        .unwrap();
    tokio::time::timeout(PATIENCE, connected.wait_for(|up| *up))
        .await
        .expect("re-subscribed")
        .unwrap();
    let recovered = killed_at.elapsed();

    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("inbound.t.g.c.u")
        .arg("after kill")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(receivers, 1);
    assert_eq!(&next(&mut subscription).await.payload[..], b"after kill");
    assert_eq!(subscription.stats().reconnects, 1);
    println!("CLIENT KILL TYPE pubsub: re-subscribed {recovered:?} after the kill");
}

/// While the publisher cannot reach Redis, messages wait in the outbox and arrive in
/// order once it can. (A proxy cuts only the publisher, so the subscriber is there.)
#[tokio::test]
async fn outbox_holds_messages_through_an_outage_and_flushes_in_order() {
    let redis = RedisServer::start().await;
    let proxy = TcpProxy::start(redis.port()).await;
    let mut subscription =
        subscribed(&redis.url(), &["inbound.*"], SubscribeOptions::default()).await;
    let publisher = Publisher::start(
        bus_config(
            &format!("redis://127.0.0.1:{}", proxy.port()),
            "test-publisher",
        ),
        OutboxOptions::default(),
    );
    publisher.publish("inbound.t.g.c.u", "0");
    assert_eq!(&next(&mut subscription).await.payload[..], b"0");
    let mut publisher_connected = publisher.connected();

    proxy.cut();
    for i in 1..=100 {
        publisher.publish("inbound.t.g.c.u", i.to_string());
    }
    tokio::time::timeout(PATIENCE, publisher_connected.wait_for(|up| !*up))
        .await
        .expect("publisher notices the cut")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(publisher.stats().queued, 100, "held in the outbox");
    assert!(
        subscription.try_recv().is_none(),
        "nothing got through the cut"
    );

    proxy.restore();
    let payloads = collect(&mut subscription, 100, PATIENCE).await;
    let expected: Vec<String> = (1..=100).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected);
    // Deliveries can overtake the PUBLISH replies: wait for the outbox to settle.
    assert_eq!(publisher.flush(PATIENCE).await, 0);
    let stats = publisher.stats();
    assert_eq!((stats.published, stats.dropped, stats.queued), (101, 0, 0));
    assert!(stats.reconnects >= 1);
}

/// After Redis restarts, the outbox waits for the subscribers to re-subscribe
/// instead of publishing what waited out the outage to nobody. (Proxies let the
/// publisher come back 300 ms before the subscriber.)
#[tokio::test]
async fn outbox_waits_for_subscribers_to_return_before_flushing() {
    let redis = RedisServer::start().await;
    let subscriber_proxy = TcpProxy::start(redis.port()).await;
    let publisher_proxy = TcpProxy::start(redis.port()).await;
    let proxied = |proxy: &TcpProxy| format!("redis://127.0.0.1:{}", proxy.port());
    let mut subscription = subscribed(
        &proxied(&subscriber_proxy),
        &["inbound.*"],
        SubscribeOptions::default(),
    )
    .await;
    let mut subscription_connected = subscription.connected();
    let publisher = Publisher::start(
        bus_config(&proxied(&publisher_proxy), "test-publisher"),
        OutboxOptions::default(),
    );
    publisher.publish("inbound.t.g.c.u", "first");
    assert_eq!(&next(&mut subscription).await.payload[..], b"first");

    subscriber_proxy.cut();
    publisher_proxy.cut();
    tokio::time::timeout(PATIENCE, subscription_connected.wait_for(|up| !*up))
        .await
        .expect("subscriber cut")
        .unwrap();
    for i in 0..10 {
        publisher.publish("inbound.t.g.c.u", i.to_string());
    }
    publisher_proxy.restore();
    assert!(
        wait_until(PATIENCE, || publisher.stats().reconnects == 1).await,
        "publisher reconnects first"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        publisher.stats().queued,
        10,
        "held while no subscriber is back"
    );

    subscriber_proxy.restore();
    let payloads = collect(&mut subscription, 10, PATIENCE).await;
    let expected: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected);
}

/// A program started while Redis is down (a gateway receiving chat messages) must
/// not flush its backlog the moment Redis answers: subscribers are reconnecting too.
/// Its own pattern subscription, there first, must not count as "they are back".
#[tokio::test]
async fn outbox_of_a_publisher_started_during_an_outage_waits_for_subscribers() {
    let redis = RedisServer::start().await;
    let subscriber_proxy = TcpProxy::start(redis.port()).await;
    let publisher_proxy = TcpProxy::start(redis.port()).await;
    subscriber_proxy.cut();
    publisher_proxy.cut();
    let proxied = |proxy: &TcpProxy| format!("redis://127.0.0.1:{}", proxy.port());
    // Like a gateway: the publisher's program has its own subscription, connected first.
    let _own = Subscription::start(
        bus_config(&proxied(&publisher_proxy), "test-gateway"),
        vec![Pattern::parse_raw("outbound.*")],
        SubscribeOptions::default(),
    );
    let mut subscription = Subscription::start(
        bus_config(&proxied(&subscriber_proxy), "test-subscriber"),
        vec![Pattern::parse_raw("inbound.*")],
        SubscribeOptions::default(),
    );
    let publisher = Publisher::start(
        bus_config(&proxied(&publisher_proxy), "test-gateway"),
        OutboxOptions::default(),
    );
    for i in 0..10 {
        publisher.publish("inbound.t.g.c.u", i.to_string());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Redis is back for the publisher's program first; the subscriber follows 300 ms
    // later, within the 500 ms reconnect cap that bounds real subscribers.
    publisher_proxy.restore();
    let mut publisher_connected = publisher.connected();
    tokio::time::timeout(PATIENCE, publisher_connected.wait_for(|up| *up))
        .await
        .expect("publisher connects")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        publisher.stats().queued,
        10,
        "held while the subscriber is away"
    );

    subscriber_proxy.restore();
    let payloads = collect(&mut subscription, 10, PATIENCE).await;
    let expected: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected);
}

/// A full outbox drops the oldest messages, counts them, and keeps the newest.
#[tokio::test]
async fn full_outbox_drops_the_oldest_and_counts_them() {
    let redis = RedisServer::start().await;
    let proxy = TcpProxy::start(redis.port()).await;
    proxy.cut();
    let mut subscription =
        subscribed(&redis.url(), &["inbound.*"], SubscribeOptions::default()).await;
    let publisher = Publisher::start(
        bus_config(
            &format!("redis://127.0.0.1:{}", proxy.port()),
            "test-publisher",
        ),
        OutboxOptions {
            capacity: 10,
            batch_size: 4,
            ..OutboxOptions::default()
        },
    );
    for i in 0..25 {
        publisher.publish("inbound.t.g.c.u", i.to_string());
    }
    let stats = publisher.stats();
    assert_eq!((stats.queued, stats.dropped), (10, 15));

    proxy.restore();
    let payloads = collect(&mut subscription, 10, PATIENCE).await;
    let expected: Vec<String> = (15..25).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected);
}

/// `close` drains what it can within its deadline and reports what it could not.
#[tokio::test]
async fn close_reports_messages_it_could_not_deliver() {
    let redis = RedisServer::start().await;
    let proxy = TcpProxy::start(redis.port()).await;
    proxy.cut();
    let publisher = Publisher::start(
        bus_config(
            &format!("redis://127.0.0.1:{}", proxy.port()),
            "test-publisher",
        ),
        OutboxOptions::default(),
    );
    publisher.publish("inbound.t.g.c.u", "stuck");
    let stats_handle = publisher.clone();
    assert_eq!(publisher.close(Duration::from_millis(200)).await, 1);
    assert_eq!(stats_handle.stats().dropped, 1);
}

/// A consumer slower than the traffic must not grow memory: the queue is bounded
/// and the overflow is counted.
#[tokio::test]
async fn slow_consumer_queue_is_bounded_and_drops_are_counted() {
    let redis = RedisServer::start().await;
    let mut subscription = subscribed(
        &redis.url(),
        &["inbound.*"],
        SubscribeOptions {
            queue_capacity: 100,
            ..SubscribeOptions::default()
        },
    )
    .await;
    let publisher = Publisher::start(
        bus_config(&redis.url(), "test-publisher"),
        OutboxOptions::default(),
    );
    for i in 0..5_000 {
        publisher.publish("inbound.t.g.c.u", i.to_string());
    }
    assert_eq!(publisher.flush(PATIENCE).await, 0);
    assert!(
        wait_until(PATIENCE, || subscription.stats().received == 5_000).await,
        "{:?}",
        subscription.stats()
    );
    assert_eq!(subscription.stats().dropped, 4_900);
    let mut queued = 0;
    while subscription.try_recv().is_some() {
        queued += 1;
    }
    assert_eq!(queued, 100);
}

/// A password in the URL authenticates; the wrong one fails without echoing it.
#[tokio::test]
async fn password_urls_authenticate_and_errors_stay_redacted() {
    let redis = RedisServer::builder().password("s3cret-pw").start().await;
    let mut connection = bus::connect(&bus_config(&redis.url(), "test-tool"))
        .await
        .unwrap();
    let pong: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(pong, "PONG");

    let wrong = bus_config(
        &format!("redis://:wr0ng-pw@127.0.0.1:{}", redis.port()),
        "test-tool",
    );
    let err = bus::connect(&wrong).await.unwrap_err();
    let message = format!("{err} {err:?} {:#}", anyhow_like(&err));
    assert!(!message.contains("wr0ng-pw"), "{message}");
    assert!(message.contains(":***@127.0.0.1"), "{message}");
}

/// ACL users (`redis://user:password@host`) authenticate too.
#[tokio::test]
async fn acl_user_urls_authenticate() {
    let redis = RedisServer::start().await;
    let mut admin = redis.connection().await;
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("bot")
        .arg("on")
        .arg(">bot-pw")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .query_async(&mut admin)
        .await
        .unwrap();
    let url = format!("redis://bot:bot-pw@127.0.0.1:{}", redis.port());
    let mut subscription = subscribed(&url, &["inbound.*"], SubscribeOptions::default()).await;
    let publisher = Publisher::start(bus_config(&url, "test-publisher"), OutboxOptions::default());
    publisher.publish("inbound.t.g.c.u", "as bot");
    assert_eq!(&next(&mut subscription).await.payload[..], b"as bot");
    let whoami: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut admin)
        .await
        .unwrap();
    assert!(whoami.contains("user=bot"), "{whoami}");
}

/// The Go gateway logged the Redis password. Run a subscription and a publisher through
/// an outage with every log level on, and search everything that was logged.
#[tokio::test]
async fn the_redis_password_never_reaches_the_logs() {
    let logs = CapturedLogs::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish(),
    );
    let redis = RedisServer::builder()
        .password("pw-in-logs-7f3a")
        .start()
        .await;
    let mut subscription =
        subscribed(&redis.url(), &["inbound.*"], SubscribeOptions::default()).await;
    let publisher = Publisher::start(
        bus_config(&redis.url(), "test-publisher"),
        OutboxOptions::default(),
    );
    publisher.publish("inbound.t.g.c.u", "one");
    next(&mut subscription).await;
    redis.restart().await;
    let mut connected = subscription.connected();
    tokio::time::timeout(PATIENCE, connected.wait_for(|up| *up))
        .await
        .unwrap()
        .unwrap();
    let wrong = bus_config(
        &format!("redis://:pw-in-logs-7f3a-wrong@127.0.0.1:{}", redis.port()),
        "t",
    );
    let failing = Subscription::start(
        wrong,
        vec![Pattern::parse_raw("x")],
        SubscribeOptions::default(),
    );
    assert!(
        failing
            .wait_connected(Duration::from_millis(500))
            .await
            .is_err()
    );
    drop(failing);

    let text = logs.text();
    assert!(
        text.contains("redis://:***@127.0.0.1"),
        "the URL is logged, redacted:\n{text}"
    );
    assert!(
        !text.contains("pw-in-logs-7f3a"),
        "password leaked into logs:\n{text}"
    );
}

/// Redis channel names are bytes: one that is not UTF-8 (no topic is) must be logged
/// with what can be read of it and counted, and the next message delivered as usual.
#[tokio::test]
async fn a_channel_that_is_not_utf8_is_logged_counted_and_skipped() {
    let logs = CapturedLogs::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish(),
    );
    let redis = RedisServer::start().await;
    let mut subscription =
        subscribed(&redis.url(), &["inbound.*"], SubscribeOptions::default()).await;
    let mut connection = redis.connection().await;
    for (channel, payload) in [
        (&b"inbound.t\xffg.c.u"[..], "bad channel"),
        (&b"inbound.t.g.c.u"[..], "good"),
    ] {
        let receivers: i64 = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(receivers, 1, "the pattern matches the raw bytes");
    }

    let delivery = next(&mut subscription).await;
    assert_eq!(&delivery.payload[..], b"good");
    let stats = subscription.stats();
    assert_eq!((stats.received, stats.malformed), (2, 1));
    let text = logs.text();
    let line = text
        .lines()
        .find(|line| line.contains("ignoring a malformed pmessage push"))
        .unwrap_or_else(|| panic!("no warning logged:\n{text}"));
    assert!(line.contains("topic=\"inbound.t\u{fffd}g.c.u\""), "{line}");
}

/// Log lines written by a `tracing` subscriber, for tests that check what was logged.
#[derive(Clone, Default)]
pub(crate) struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// "Connection refused (os error 111)" was printed three times by `{:#}`: in the bus
/// error's text, as its source, and as the source's source. Each cause once.
#[tokio::test]
async fn a_refused_connection_names_its_cause_once() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    redis.stop().await;
    let err = bus::connect(&bus_config(&url, "test-tool"))
        .await
        .unwrap_err();
    let chain = anyhow_like(&err);
    assert_eq!(chain.matches("Connection refused").count(), 1, "{chain}");
    assert!(chain.starts_with(&format!("redis at {url}: ")), "{chain}");
}

fn anyhow_like(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn unix_socket_urls_work() {
    let redis = RedisServer::builder().unix_socket().start().await;
    let path = redis.unix_socket_path().unwrap();
    let url = format!("redis+unix://{}", path.display());
    let mut subscription = subscribed(&url, &["inbound.*"], SubscribeOptions::default()).await;
    let publisher = Publisher::start(bus_config(&url, "test-publisher"), OutboxOptions::default());
    publisher.publish("inbound.t.g.c.u", "over a socket");
    assert_eq!(&next(&mut subscription).await.payload[..], b"over a socket");
}

/// `rediss://` really negotiates TLS (with the rustls `ring` provider compiled in).
#[tokio::test]
async fn tls_urls_work() {
    let redis = RedisServer::builder()
        .tls()
        .password("tls-pw")
        .start()
        .await;
    assert!(redis.url().starts_with("rediss://"));
    let mut subscription =
        subscribed(&redis.url(), &["inbound.*"], SubscribeOptions::default()).await;
    let publisher = Publisher::start(
        bus_config(&redis.url(), "test-publisher"),
        OutboxOptions::default(),
    );
    publisher.publish("inbound.t.g.c.u", "over tls");
    assert_eq!(&next(&mut subscription).await.payload[..], b"over tls");
    // The plain-text protocol is refused on the TLS port, so the bytes above were TLS.
    let plain = bus_config(&format!("redis://:tls-pw@127.0.0.1:{}", redis.port()), "t")
        .with_connection_timeout(Duration::from_secs(2))
        .with_response_timeout(Duration::from_secs(2));
    assert!(bus::connect(&plain).await.is_err());
}

/// A tool that needs Redis now gets a clear, bounded error instead of hanging.
#[tokio::test]
async fn waiting_for_an_absent_redis_times_out_clearly() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let subscription = Subscription::start(
        bus_config(&format!("redis://:pw@127.0.0.1:{port}"), "test-tool").with_backoff(Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
        }),
        vec![Pattern::parse_raw("inbound.*")],
        SubscribeOptions::default(),
    );
    let err = subscription
        .wait_connected(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("redis at redis://:***@127.0.0.1:{port} did not answer within 300ms")
    );
}
