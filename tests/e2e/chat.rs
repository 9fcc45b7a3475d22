//! Talking to example-subscriber through `router-tools chat` and `send`.

use std::process::Stdio;
use std::time::Duration;

use bytebot_core::Topic;
use bytebot_core::envelope::{Author, InboundMessage, MAX_PAYLOAD_BYTES};
use bytebot_e2e::{
    Daemon, PATIENCE, binaries, received_by, router_tools, stderr, stdout, wait_for_subscriber,
    without_round_trip,
};
use bytebot_test_support::RedisServer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The README's promise: `printf '!ping\n' | router-tools chat` prints `pong` and exits.
#[tokio::test]
async fn piped_ping_through_chat_prints_pong_and_exits() {
    let redis = RedisServer::start().await;
    let _subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let output = router_tools(&redis.url(), &["chat"], "!ping\n").await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        without_round_trip(&stdout(&output)),
        "pong\n",
        "stderr: {}",
        stderr(&output)
    );
}

/// Every command answers, in the order asked (one room keeps its order).
#[tokio::test]
async fn every_command_gets_its_reply_in_order() {
    let redis = RedisServer::start().await;
    let _subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let input = "!ping\n!echo hello   world\n!roll 3d6\n!roll 1000d6\n!roll banana\n!shrug\n\
                 !tableflip\n!unflip\nhello\n!help\n";
    let output = router_tools(&redis.url(), &["chat", "--user", "alice"], input).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = without_round_trip(&stdout(&output));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "pong", "{text}");
    assert_eq!(lines[1], "hello   world", "{text}");
    let roll = lines[2].strip_prefix("🎲 3d6: ").expect(&text);
    let (dice, total) = roll.split_once(" = ").expect(&text);
    let dice: Vec<u32> = dice.split(" + ").map(|d| d.parse().unwrap()).collect();
    assert!(dice.iter().all(|d| (1..=6).contains(d)), "{text}");
    assert_eq!(dice.iter().sum::<u32>(), total.parse::<u32>().unwrap());
    // A valid roll also gets a 🎲 on the command's message.
    assert_eq!(lines[3], "(🎲 on: !roll 3d6)", "{text}");
    assert_eq!(lines[4], "cannot roll 1000 dice: from 1 to 100, please");
    assert!(
        lines[5].starts_with("`banana` is not NdM; usage: !roll NdM"),
        "{text}"
    );
    assert_eq!(lines[6], r"¯\_(ツ)_/¯");
    assert_eq!(lines[7], "(╯°□°)╯︵ ┻━┻");
    assert_eq!(lines[8], "┬─┬ノ( º _ ºノ)");
    assert_eq!(lines[9], "hello, alice! 👋");
    assert_eq!(lines[10], "commands:");
    for command in [
        "!ping",
        "!echo",
        "!roll NdM",
        "!shrug",
        "!tableflip",
        "!unflip",
        "!help",
    ] {
        assert!(
            text.contains(&format!("  {command}")),
            "{command} missing: {text}"
        );
    }
}

/// Ordinary chat is not a command: the subscriber stays quiet, chat gives up after
/// its timeout and says so.
#[tokio::test]
async fn ordinary_chat_gets_no_reply_and_chat_says_so() {
    let redis = RedisServer::start().await;
    let _subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let output = router_tools(
        &redis.url(),
        &["chat", "--timeout", "1"],
        "what a nice day\n",
    )
    .await;
    assert!(output.status.success());
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output).contains("no reply to 1 message(s)"),
        "{}",
        stderr(&output)
    );
}

/// The loop guard, end to end: a message marked as written by a bot gets no reply.
#[tokio::test]
async fn a_bot_author_gets_no_reply() {
    let redis = RedisServer::start().await;
    let subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let from_bot = router_tools(&redis.url(), &["send", "--bot", "--wait=1", "!ping"], "").await;
    assert!(from_bot.status.success(), "{}", stderr(&from_bot));
    assert_eq!(stdout(&from_bot), received_by(1));
    let from_human = router_tools(&redis.url(), &["send", "--wait", "!ping"], "").await;
    assert_eq!(
        without_round_trip(&stdout(&from_human)),
        received_by(1) + "pong\n",
        "{}",
        subscriber.log()
    );
}

/// One broken publisher must not silence the bot: a malformed payload and one over the
/// size limit are logged with their topic and skipped, and the next message is answered.
#[tokio::test]
async fn malformed_and_oversize_payloads_are_skipped_and_the_next_message_is_answered() {
    let redis = RedisServer::start().await;
    let subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let topic = "inbound.console.local.terminal.mallory";
    let raw = router_tools(
        &redis.url(),
        &["send", "--raw", "--topic", topic, "{not json"],
        "",
    )
    .await;
    assert_eq!(stdout(&raw), received_by(1), "{}", stderr(&raw));
    // Too big for a command-line argument: published directly.
    let mut connection = redis.connection().await;
    let oversize = InboundMessage::new(
        topic.parse::<Topic>().unwrap(),
        "big",
        Author::new("mallory", "mallory"),
        "!echo ".to_owned() + &"x".repeat(MAX_PAYLOAD_BYTES),
    );
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg(topic)
        .arg(oversize.encode())
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(receivers, 1);

    let output = router_tools(&redis.url(), &["chat"], "!ping\n").await;
    assert_eq!(
        without_round_trip(&stdout(&output)),
        "pong\n",
        "{}",
        subscriber.log()
    );
    let log = subscriber.log();
    let skipped: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("skipping an undecodable message"))
        .collect();
    assert_eq!(skipped.len(), 2, "{log}");
    assert!(skipped.iter().all(|line| line.contains(topic)), "{log}");
    assert!(
        skipped
            .iter()
            .any(|line| line.contains("over the 1048576-byte limit")),
        "{log}"
    );
}

/// A Redis restart in the middle of a chat session: both the subscriber and the chat
/// re-subscribe by themselves and the conversation goes on.
#[tokio::test]
async fn a_chat_session_survives_a_redis_restart() {
    let redis = RedisServer::start().await;
    let _subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let mut chat = tokio::process::Command::new(&binaries().router_tools)
        .args(["chat", "--timeout", "10"])
        .env("REDIS_URL", redis.url())
        .env("USER", "tester")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = chat.stdin.take().unwrap();
    let mut replies = BufReader::new(chat.stdout.take().unwrap()).lines();
    assert!(wait_for_subscriber(&redis.url(), "router-tools-chat").await);

    input.write_all(b"!echo before\n").await.unwrap();
    let first = tokio::time::timeout(PATIENCE, replies.next_line()).await;
    assert_eq!(first.unwrap().unwrap().as_deref(), Some("before"));

    redis.restart().await;
    assert!(wait_for_subscriber(&redis.url(), "example-subscriber").await);
    assert!(wait_for_subscriber(&redis.url(), "router-tools-chat").await);

    input.write_all(b"!echo still here\n").await.unwrap();
    let second = tokio::time::timeout(PATIENCE, replies.next_line()).await;
    assert_eq!(second.unwrap().unwrap().as_deref(), Some("still here"));

    drop(input);
    let status = tokio::time::timeout(PATIENCE, chat.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

/// Docker and Fly stop containers with SIGTERM: the subscriber must exit cleanly.
#[tokio::test]
async fn example_subscriber_exits_cleanly_on_sigterm() {
    let redis = RedisServer::start().await;
    let mut subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let started = std::time::Instant::now();
    let status = subscriber.terminate().await;
    assert!(status.success(), "{status:?}\n{}", subscriber.log());
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        subscriber.log().contains("received SIGTERM"),
        "{}",
        subscriber.log()
    );
}

/// A pattern that can never match is a start-up error, with the linter's explanation.
#[tokio::test]
async fn example_subscriber_refuses_a_pattern_that_never_matches() {
    let mut subscriber = Daemon::spawn(
        &binaries().example_subscriber,
        &["--pattern", "inbound.discord.G1.*.*.*"],
        &[("REDIS_URL", "redis://127.0.0.1:1")],
    );
    let status = subscriber.wait_exit().await;
    assert!(!status.success());
    assert!(
        subscriber.log().contains("too-many-segments"),
        "{}",
        subscriber.log()
    );
}

/// `--prefix` and a narrower `--pattern` come from flags or the environment.
#[tokio::test]
async fn prefix_and_patterns_are_configurable() {
    let redis = RedisServer::start().await;
    let _subscriber = Daemon::example_subscriber(
        &redis.url(),
        &["--prefix", "?", "--pattern", "inbound.console.local.*.*"],
    )
    .await;
    let output = router_tools(&redis.url(), &["chat", "--timeout", "1"], "!ping\n?ping\n").await;
    assert_eq!(without_round_trip(&stdout(&output)), "pong\n");
    let elsewhere = router_tools(
        &redis.url(),
        &["send", "--space", "other", "--wait=1", "?ping"],
        "",
    )
    .await;
    assert_eq!(stdout(&elsewhere), received_by(0));
}

/// Subscribers written for the previous gateway reply with a bare JSON string and no
/// `in_reply_to`: chat still prints the reply and counts the message as answered.
#[tokio::test]
async fn chat_accepts_uncorrelated_bare_string_replies() {
    use bytebot_core::bus::{SubscribeOptions, Subscription};
    use bytebot_core::pattern::Pattern;

    let redis = RedisServer::start().await;
    let config = bytebot_test_support::bus_config(&redis.url(), "legacy-bot");
    let mut inbound = Subscription::start(
        config,
        vec![Pattern::all_inbound()],
        SubscribeOptions::default(),
    );
    inbound.wait_connected(PATIENCE).await.unwrap();
    let mut connection = redis.connection().await;
    let legacy_bot = tokio::spawn(async move {
        let delivery = inbound.recv().await.unwrap();
        let topic: Topic = delivery.channel.parse().unwrap();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(topic.reply().to_string())
            .arg("\"pong\"")
            .query_async(&mut connection)
            .await
            .unwrap();
    });
    let output = router_tools(&redis.url(), &["chat", "--timeout", "15"], "!ping\n").await;
    legacy_bot.await.unwrap();
    assert_eq!(stdout(&output), "pong\n");
    assert!(!stderr(&output).contains("no reply"), "{}", stderr(&output));
}
