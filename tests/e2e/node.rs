//! The "any language" promise, second proof: the Node.js example, with node-redis
//! only, answers `!ping`, skips what it must skip, rides out a Redis restart, and joins
//! replica groups with Rust replicas.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use bytebot_core::bus::{SubscribeOptions, Subscription};
use bytebot_core::envelope::{Author, InboundKind, InboundMessage, decode_outbound};
use bytebot_core::pattern::Pattern;
use bytebot_core::{Direction, Space, Topic};
use bytebot_e2e::{
    Daemon, PATIENCE, received_by, router_tools, stderr, stdout, target_dir, workspace_root,
};
use bytebot_test_support::{RedisServer, bus_config, free_local_addr};

use crate::groups::{example_subscriber, ping_the_group, wait_for_subscribed};

/// The oldest Node.js the example supports (`engines` in its package.json).
const NODE_MAJOR: u32 = 20;

/// The example's files, copied under the target directory with its dependencies
/// installed from `package-lock.json` (`npm ci`), reused while the lock file stays the
/// same (the npm registry is needed once). `None`, after saying so, when `node` is not
/// installed: the only reason to skip.
fn node_example() -> Option<&'static PathBuf> {
    static EXAMPLE: OnceLock<Option<PathBuf>> = OnceLock::new();
    EXAMPLE
        .get_or_init(|| {
            let version = match Command::new("node").arg("--version").output() {
                Ok(output) => output,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    eprintln!(
                        "SKIPPED: the Node.js example's test needs `node` ({NODE_MAJOR} or newer) on PATH \
                         (on Debian: apt-get install nodejs npm)"
                    );
                    return None;
                }
                Err(err) => panic!("running node --version: {err}"),
            };
            let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
            let major: u32 = version
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|major| major.parse().ok())
                .unwrap_or_else(|| panic!("unexpected `node --version`: {version}"));
            assert!(
                major >= NODE_MAJOR,
                "the Node.js example needs node {NODE_MAJOR} or newer, found {version}"
            );

            let source = workspace_root().join("examples/node");
            let example = target_dir().join("e2e-node");
            std::fs::create_dir_all(&example).expect("creating target/e2e-node");
            let lock = std::fs::read_to_string(source.join("package-lock.json"))
                .expect("reading examples/node/package-lock.json");
            for file in ["package.json", "package-lock.json", "ping_bot.js"] {
                std::fs::copy(source.join(file), example.join(file))
                    .unwrap_or_else(|err| panic!("copying examples/node/{file}: {err}"));
            }
            let stamp = example.join("bytebot-package-lock.json");
            let installed = example.join("node_modules/@redis/client/package.json");
            if std::fs::read_to_string(&stamp).ok().as_deref() != Some(lock.as_str())
                || !installed.exists()
            {
                let output = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                    .current_dir(&example)
                    .output()
                    .expect("running npm (on Debian: apt-get install npm)");
                assert!(
                    output.status.success(),
                    "npm ci in {} failed:\n{}",
                    example.display(),
                    String::from_utf8_lossy(&output.stderr)
                );
                std::fs::write(&stamp, lock).expect("writing the npm stamp");
            }
            Some(example)
        })
        .as_ref()
}

/// A subscriber in a second language, written from the docs, talks to router-tools:
/// `pong` with the right references (chat warns otherwise), nothing for bots, edits
/// or undecodable payloads, and still `pong` after Redis restarts (node-redis
/// re-subscribes by itself).
#[tokio::test]
async fn the_node_subscriber_answers_ping() {
    let Some(example) = node_example() else {
        return;
    };
    let redis = RedisServer::start().await;
    let script = example.join("ping_bot.js");
    let mut bot = Daemon::spawn(
        std::path::Path::new("node"),
        &[script.to_str().unwrap()],
        &[("REDIS_URL", &redis.url())],
    );
    bot.wait_subscribed(&redis.url(), "node-ping-bot").await;

    let output = router_tools(&redis.url(), &["chat"], "!ping\n!ping\n").await;
    assert_eq!(
        stdout(&output),
        "pong\npong\n",
        "{}\n{}",
        stderr(&output),
        bot.log()
    );
    assert!(
        !stderr(&output).contains("warning"),
        "chat found wrong in_reply_to/reply_to:\n{}",
        stderr(&output)
    );
    let sent = router_tools(&redis.url(), &["send", "--wait", "!ping"], "").await;
    assert_eq!(stdout(&sent), received_by(1) + "pong\n", "{}", bot.log());

    // It skips what it cannot decode, a valid envelope on another channel than its
    // topic, other kinds than `message`, and bots. All are published on one
    // connection, then a `!ping` from "marker": Redis delivers them in that order, so
    // the first reply must be the marker's if none of the others was answered.
    let mut replies = Subscription::start(
        bus_config(&redis.url(), "test"),
        vec![Pattern::parse_raw("outbound.*")],
        SubscribeOptions::default(),
    );
    replies.wait_connected(PATIENCE).await.unwrap();
    let message = |user: &str| {
        let topic = Topic::builder(Direction::Inbound, "console")
            .space(Space::id("local"))
            .room("terminal")
            .user(user)
            .build()
            .unwrap();
        InboundMessage::new(topic, format!("{user}-1"), Author::new(user, user), "!ping")
    };
    let mut edited = message("editor");
    edited.kind = InboundKind::MessageEdited;
    let mut from_bot = message("otherbot");
    from_bot.author.bot = true;
    let elsewhere = message("mallory");
    let marker = message("marker");
    let mut connection = redis.connection().await;
    for (channel, payload) in [
        (
            "inbound.console.local.terminal.x".to_owned(),
            b"{oops".to_vec(),
        ),
        (
            "inbound.console.local.elsewhere.mallory".to_owned(),
            elsewhere.encode(),
        ),
        (edited.topic.to_string(), edited.encode()),
        (from_bot.topic.to_string(), from_bot.encode()),
        (marker.topic.to_string(), marker.encode()),
    ] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    let first = tokio::time::timeout(PATIENCE, replies.recv())
        .await
        .expect("a reply to the marker")
        .expect("the subscription is open");
    assert_eq!(
        first.channel,
        marker.reply_topic.to_string(),
        "{}",
        bot.log()
    );
    let reply: serde_json::Value = serde_json::from_slice(&first.payload).unwrap();
    assert_eq!(
        reply,
        serde_json::json!({
            "v": 1,
            "content": "pong",
            "reply_to": "marker-1",
            "in_reply_to": marker.id.to_string(),
        })
    );
    let log = bot.log();
    assert!(
        log.contains("skipping an undecodable message on inbound.console.local.terminal.x"),
        "{log}"
    );
    assert!(
        log.contains(
            "skipping an undecodable message on inbound.console.local.elsewhere.mallory: its topic is"
        ),
        "{log}"
    );

    // A Redis restart: node-redis reconnects and re-subscribes without help.
    redis.stop().await;
    redis.restart().await;
    bot.wait_subscribed(&redis.url(), "node-ping-bot").await;
    let again = router_tools(&redis.url(), &["chat"], "!ping\n").await;
    assert_eq!(
        stdout(&again),
        "pong\n",
        "{}\n{}",
        stderr(&again),
        bot.log()
    );
    assert!(bot.log().contains("redis unavailable"), "{}", bot.log());

    let status = bot.terminate().await;
    assert!(status.success(), "{status:?}\n{}", bot.log());
}

/// The Node replica of `group`, subscribed.
async fn node_replica(example: &std::path::Path, redis: &RedisServer, group: &str) -> Daemon {
    let script = example.join("ping_bot.js");
    let bot = Daemon::spawn(
        std::path::Path::new("node"),
        &[script.to_str().unwrap(), "--group", group],
        &[("REDIS_URL", &redis.url())],
    );
    bot.wait_subscribed(&redis.url(), "node-ping-bot").await;
    bot
}

/// Two example-subscriber processes and the Node example (`--group`), one group: each
/// of 200 `!ping` gets exactly one pong, whoever claimed it.
#[tokio::test]
async fn a_rust_and_node_group_answers_each_ping_exactly_once() {
    let Some(example) = node_example() else {
        return;
    };
    let redis = RedisServer::start().await;
    let url = redis.url();
    let addrs: Vec<std::net::SocketAddr> = (0..2).map(|_| free_local_addr()).collect();
    let rust: Vec<Daemon> = addrs
        .iter()
        .map(|addr| example_subscriber(&url, "mixed", *addr))
        .collect();
    let node = node_replica(example, &redis, "mixed").await;
    wait_for_subscribed(&url, "example-subscriber", 2).await;
    let holders = ping_the_group(&redis, "mixed", &addrs, 3).await;
    eprintln!("node log:\n{}", node.log());
    assert!(
        node.log().contains("as replica") && node.log().contains("of group mixed"),
        "{}",
        node.log()
    );
    drop((rust, holders));
}

/// The Node replica follows the documented protocol on its own: it skips a message
/// whose claim key another replica holds (`BYTEBOT_GROUP` works like `--group`), and
/// its own claims hold its replica id for 30 s at most.
#[tokio::test]
async fn the_node_replica_skips_what_another_replica_claimed() {
    let Some(example) = node_example() else {
        return;
    };
    let redis = RedisServer::start().await;
    let url = redis.url();
    let script = example.join("ping_bot.js");
    let mut node = Daemon::spawn(
        std::path::Path::new("node"),
        &[script.to_str().unwrap()],
        &[("REDIS_URL", &url), ("BYTEBOT_GROUP", "mixed")],
    );
    node.wait_subscribed(&url, "node-ping-bot").await;
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
    // Both claims go out on one connection in order, so the taken one is decided
    // first, and a reply to it would be published before the free one's.
    let delivery = tokio::time::timeout(PATIENCE, listener.recv())
        .await
        .expect("a reply")
        .unwrap();
    let reply = decode_outbound(&delivery.payload).unwrap();
    assert_eq!(reply.in_reply_to, Some(free.id), "{}", node.log());
    assert!(listener.try_recv().is_none(), "{}", node.log());
    let holder: String = redis::cmd("GET")
        .arg(format!("bytebot:claim:mixed:{}", free.id))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(holder.contains(':') && holder != "rust-replica", "{holder}");
    assert!(node.log().contains(&holder), "{holder}\n{}", node.log());
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("bytebot:claim:mixed:{}", free.id))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 30_000, "{ttl}");
    let status = node.terminate().await;
    assert!(status.success(), "{status:?}\n{}", node.log());
}
