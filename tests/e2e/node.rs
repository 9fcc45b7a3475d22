//! The "any language" promise, second proof: the Node.js example, with node-redis
//! only, answers `!ping`, skips what it must skip, and rides out a Redis restart.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use bytebot_core::bus::{SubscribeOptions, Subscription};
use bytebot_core::envelope::{Author, InboundKind, InboundMessage};
use bytebot_core::pattern::Pattern;
use bytebot_core::{Direction, Space, Topic};
use bytebot_e2e::{
    Daemon, PATIENCE, received_by, router_tools, stderr, stdout, target_dir, workspace_root,
};
use bytebot_test_support::{RedisServer, bus_config};

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
