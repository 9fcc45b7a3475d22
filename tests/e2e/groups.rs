//! Replica groups across processes and languages: several example-subscribers and the
//! Python example in one `--group`, each `!ping` answered exactly once. (The Node
//! example's group test, in `node.rs`, uses the helpers here.)

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytebot_core::bus::{SubscribeOptions, Subscription};
use bytebot_core::envelope::{Author, InboundMessage, OutboundAction, decode_outbound};
use bytebot_core::pattern::Pattern;
use bytebot_core::{Direction, Space, Topic};
use bytebot_e2e::{Daemon, PATIENCE, binaries, client_list, workspace_root};
use bytebot_test_support::{
    RedisServer, bus_config, free_local_addr, http_get, metric_value, wait_until,
};
use uuid::Uuid;

/// How many connections named `bytebot:<role>:...` hold a pattern subscription.
async fn subscribed(redis_url: &str, role: &str) -> usize {
    let prefix = format!("name=bytebot:{role}:");
    client_list(redis_url).await.map_or(0, |list| {
        list.lines()
            .filter(|line| line.contains(&prefix) && !line.contains(" psub=0 "))
            .count()
    })
}

pub(crate) async fn wait_for_subscribed(redis_url: &str, role: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while subscribed(redis_url, role).await < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} {role} subscribed",
            subscribed(redis_url, role).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub(crate) fn example_subscriber(redis_url: &str, group: &str, addr: SocketAddr) -> Daemon {
    Daemon::spawn(
        &binaries().example_subscriber,
        &["--http-addr", &addr.to_string()],
        &[
            ("REDIS_URL", redis_url),
            ("BYTEBOT_GROUP", group),
            ("RUST_LOG", "info"),
            ("NO_COLOR", "1"),
        ],
    )
}

/// Polls a replica's `/metrics` until it has claimed or skipped `n` messages; returns
/// how many it won.
async fn wait_decided(addr: SocketAddr, n: f64) -> f64 {
    let won = r#"bytebot_claims_won_total{daemon="example-subscriber"}"#;
    let lost = r#"bytebot_messages_skipped_total{daemon="example-subscriber",reason="claimed_by_another_replica"}"#;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let body = http_get(addr, "/metrics").await.unwrap().body;
        let won = metric_value(&body, won).unwrap_or(0.0);
        if won + metric_value(&body, lost).unwrap_or(0.0) >= n {
            return won;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a replica did not decide on every message:\n{body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Three example-subscriber processes and one Python replica, one group: 200 `!ping`
/// get exactly 200 pongs, and every claim key names the replica that answered.
#[tokio::test]
async fn a_mixed_language_group_answers_each_ping_exactly_once() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let addrs: Vec<SocketAddr> = (0..3).map(|_| free_local_addr()).collect();
    let rust: Vec<Daemon> = addrs
        .iter()
        .map(|addr| example_subscriber(&url, "pingers", *addr))
        .collect();
    let script = workspace_root().join("examples/python/ping_bot.py");
    let python = Daemon::spawn(
        crate::python::python(),
        &["-u", script.to_str().unwrap(), "--group", "pingers"],
        &[("REDIS_URL", &url)],
    );
    wait_for_subscribed(&url, "example-subscriber", 3).await;
    python.wait_subscribed(&url, "python-ping-bot").await;

    ping_the_group(&redis, "pingers", &addrs, 4).await;
    drop((rust, python));
}

/// Publishes 200 `!ping` over 7 rooms to a group whose replicas are subscribed (the
/// Rust ones serving `/metrics` on `rust_addrs`) and checks that each gets exactly one
/// pong, and that the claim keys are as docs/subscribers.md describes them, held by at
/// most `max_holders` replicas. Returns how many claims each replica id holds.
pub(crate) async fn ping_the_group(
    redis: &RedisServer,
    group: &str,
    rust_addrs: &[SocketAddr],
    max_holders: usize,
) -> HashMap<String, usize> {
    let url = redis.url();
    let options = SubscribeOptions {
        queue_capacity: 10_000,
        ..SubscribeOptions::default()
    };
    let mut listener = Subscription::start(
        bus_config(&url, "test-listener"),
        vec![Pattern::parse_raw("outbound.*")],
        options,
    );
    listener.wait_connected(PATIENCE).await.unwrap();
    let pongs: Arc<Mutex<HashMap<Uuid, usize>>> = Arc::default();
    let collected = Arc::clone(&pongs);
    let collector = tokio::spawn(async move {
        while let Some(delivery) = listener.recv().await {
            let reply = decode_outbound(&delivery.payload).unwrap();
            if reply.action == OutboundAction::Send && reply.content == "pong" {
                *collected
                    .lock()
                    .unwrap()
                    .entry(reply.in_reply_to.unwrap())
                    .or_default() += 1;
            }
        }
    });

    let messages: Vec<InboundMessage> = (0..200)
        .map(|i| {
            let topic = Topic::builder(Direction::Inbound, "console")
                .space(Space::id("local"))
                .room(format!("room{}", i % 7))
                .user("alice")
                .build()
                .unwrap();
            InboundMessage::new(topic, i.to_string(), Author::new("alice", "alice"), "!ping")
        })
        .collect();
    let mut connection = redis.connection().await;
    let mut pipeline = redis::pipe();
    for message in &messages {
        pipeline
            .cmd("PUBLISH")
            .arg(message.topic.to_string())
            .arg(message.encode())
            .ignore();
    }
    pipeline.exec_async(&mut connection).await.unwrap();

    let total = || pongs.lock().unwrap().values().sum::<usize>();
    assert!(
        wait_until(PATIENCE, || total() >= 200).await,
        "only {} pongs",
        total()
    );
    // Every Rust replica has decided on all 200 (won or skipped); a duplicate
    // reply from one of them would be published by now.
    let mut won_by_rust = 0.0;
    for addr in rust_addrs {
        won_by_rust += wait_decided(*addr, 200.0).await;
    }

    let pongs = pongs.lock().unwrap().clone();
    let twice: Vec<_> = pongs.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "answered twice: {twice:?}");
    assert_eq!(pongs.len(), 200);
    assert!(messages.iter().all(|m| pongs.contains_key(&m.id)));

    // The claim keys, as docs/subscribers.md describes them.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("bytebot:claim:{group}:*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys.len(), 200);
    let mut holders = HashMap::<String, usize>::new();
    for key in &keys {
        let holder: String = redis::cmd("GET")
            .arg(key)
            .query_async(&mut connection)
            .await
            .unwrap();
        *holders.entry(holder).or_default() += 1;
    }
    eprintln!("claims per replica: {holders:?} (rust replicas won {won_by_rust})");
    assert!(holders.len() <= max_holders, "{holders:?}");
    collector.abort();
    holders
}

/// The Python replica follows the documented protocol on its own: it skips a message
/// whose claim key another replica holds, and its own claims hold its replica id.
#[tokio::test]
async fn the_python_replica_skips_what_another_replica_claimed() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let script = workspace_root().join("examples/python/ping_bot.py");
    let python = Daemon::spawn(
        crate::python::python(),
        &["-u", script.to_str().unwrap(), "--group", "mixed"],
        &[("REDIS_URL", &url)],
    );
    python.wait_subscribed(&url, "python-ping-bot").await;
    let mut listener = Subscription::start(
        bus_config(&url, "test-listener"),
        vec![Pattern::parse_raw("outbound.*")],
        SubscribeOptions::default(),
    );
    listener.wait_connected(PATIENCE).await.unwrap();

    let topic = Topic::builder(Direction::Inbound, "console")
        .space(Space::id("local"))
        .room("r")
        .user("alice")
        .build()
        .unwrap();
    let ping = || InboundMessage::new(topic.clone(), "1", Author::new("alice", "alice"), "!ping");
    let (taken, free) = (ping(), ping());
    let mut connection = redis.connection().await;
    let _: () = redis::cmd("SET")
        .arg(format!("bytebot:claim:mixed:{}", taken.id))
        .arg("rust-replica")
        .query_async(&mut connection)
        .await
        .unwrap();
    for message in [&taken, &free] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(message.topic.to_string())
            .arg(message.encode())
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    // The Python bot handles messages in order: once the second is answered, the
    // first was skipped.
    let delivery = tokio::time::timeout(PATIENCE, listener.recv())
        .await
        .expect("a reply")
        .unwrap();
    let reply = decode_outbound(&delivery.payload).unwrap();
    assert_eq!(reply.in_reply_to, Some(free.id), "{}", python.log());
    assert!(listener.try_recv().is_none());
    let holder: String = redis::cmd("GET")
        .arg(format!("bytebot:claim:mixed:{}", free.id))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(holder.contains(':') && holder != "rust-replica", "{holder}");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("bytebot:claim:mixed:{}", free.id))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 30_000, "{ttl}");
}
