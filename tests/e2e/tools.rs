//! The other router-tools subcommands: watch, doctor, topic, schema.

use std::process::Stdio;

use bytebot_e2e::{
    Daemon, PATIENCE, binaries, received_by, router_tools, stderr, stdout, wait_for_subscriber,
    workspace_root,
};
use bytebot_test_support::RedisServer;
use tokio::io::{AsyncBufReadExt, BufReader};

/// `watch` shows both sides of a conversation, one line each, and keeps watching
/// across a Redis restart.
#[tokio::test]
async fn watch_prints_one_line_per_message_and_survives_a_restart() {
    let redis = RedisServer::start().await;
    let _subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let mut watch = tokio::process::Command::new(&binaries().router_tools)
        .arg("watch")
        .env("REDIS_URL", redis.url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    assert!(wait_for_subscriber(&redis.url(), "router-tools-watch").await);

    router_tools(&redis.url(), &["chat", "--user", "alice"], "!echo pong\n").await;
    let mut next = async || {
        tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("watch is still running")
    };
    let inbound = next().await;
    assert!(
        inbound.ends_with(" inbound  console local/terminal alice: !echo pong"),
        "{inbound}"
    );
    let outbound = next().await;
    assert!(
        outbound.ends_with(" outbound console local/terminal -> alice: pong"),
        "{outbound}"
    );
    // chat, the console gateway, answers the reply with a delivery receipt.
    let receipt = next().await;
    assert!(
        receipt.contains(" receipt  console local/terminal <- alice: delivered console-"),
        "{receipt}"
    );

    redis.restart().await;
    assert!(wait_for_subscriber(&redis.url(), "example-subscriber").await);
    assert!(wait_for_subscriber(&redis.url(), "router-tools-watch").await);
    router_tools(
        &redis.url(),
        &["send", "--user", "bob", "after the restart"],
        "",
    )
    .await;
    let after = next().await;
    assert!(after.ends_with("bob: after the restart"), "{after}");
}

/// `watch --json` prints one parseable object per message, with the decoded envelope.
#[tokio::test]
async fn watch_json_prints_envelopes() {
    let redis = RedisServer::start().await;
    let mut watch = tokio::process::Command::new(&binaries().router_tools)
        .args(["watch", "--json", "inbound.*"])
        .env("REDIS_URL", redis.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    assert!(wait_for_subscriber(&redis.url(), "router-tools-watch").await);
    router_tools(&redis.url(), &["send", "--room", "lobby", "hi all"], "").await;
    let line = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["pattern"], "inbound.*");
    assert_eq!(value["topic"], "inbound.console.local.lobby.tester");
    assert_eq!(value["envelope"]["content"], "hi all");
    assert_eq!(value["envelope"]["author"]["bot"], false);
}

/// `doctor` names who is connected, says what is missing, and never prints the password.
#[tokio::test]
async fn doctor_reports_subscribers_and_never_prints_the_password() {
    let redis = RedisServer::builder().password("s3cret-pw").start().await;
    let _subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let output = router_tools(&redis.url(), &["doctor"], "").await;
    let text = stdout(&output) + &stderr(&output);
    assert!(output.status.success(), "{text}");
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert!(
        text.contains(&format!("redis://:***@127.0.0.1:{}", redis.port())),
        "{text}"
    );
    assert!(text.contains("version     "), "{text}");
    assert!(text.contains("round trip"), "{text}");
    assert!(
        text.contains("inbound     1 bot(s) subscribed to patterns: bytebot:example-subscriber:"),
        "{text}"
    );
    assert!(text.contains("outbound    no gateway"), "{text}");

    let wrong = format!("redis://:wrong-pw@127.0.0.1:{}", redis.port());
    let denied = router_tools(&wrong, &["doctor"], "").await;
    let text = stdout(&denied) + &stderr(&denied);
    assert!(!denied.status.success());
    assert!(!text.contains("wrong-pw"), "{text}");
    assert!(
        text.contains("cannot reach redis at redis://:***@"),
        "{text}"
    );
}

/// `doctor` lists connections by role: two instances of one bot are a warning, a
/// watcher is listed as one (and `send` counts it, as it says), and a connection with
/// only a channel subscription outside the topics is not taken for an inbound listener.
#[tokio::test]
async fn doctor_lists_watchers_warns_about_duplicate_bots_and_judges_channels() {
    let redis = RedisServer::start().await;
    let _first = Daemon::example_subscriber(&redis.url(), &[]).await;
    let mut watch = Daemon::watch(&redis.url()).await;
    let sent = router_tools(&redis.url(), &["send", "hello"], "").await;
    assert_eq!(stdout(&sent), received_by(2), "{}", stderr(&sent));

    // A news reader named like a bot, subscribed to one plain channel.
    let (pushes, _news_pushes) = tokio::sync::mpsc::unbounded_channel();
    let mut news = redis::Client::open(format!("{}/0?protocol=resp3", redis.url()))
        .unwrap()
        .get_multiplexed_async_connection_with_config(
            &redis::AsyncConnectionConfig::new().set_push_sender(pushes),
        )
        .await
        .unwrap();
    redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("bytebot:newsreader:box")
        .exec_async(&mut news)
        .await
        .unwrap();
    news.subscribe("news").await.unwrap();
    let report = stdout(&router_tools(&redis.url(), &["doctor"], "").await);
    assert!(
        report.contains("inbound     1 bot(s) subscribed to patterns: bytebot:example-subscriber:"),
        "{report}"
    );
    assert!(
        report.contains("watchers    1 router-tools watch: bytebot:router-tools-watch:"),
        "{report}"
    );
    assert!(!report.contains("warning"), "{report}");

    let _second = Daemon::spawn(
        &binaries().example_subscriber,
        &[],
        &[("REDIS_URL", &redis.url())],
    );
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let report = loop {
        let report = stdout(&router_tools(&redis.url(), &["doctor"], "").await);
        if report.contains("inbound     2 bot(s)") || tokio::time::Instant::now() > deadline {
            break report;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        report.contains("warning     2 instances of example-subscriber are subscribed"),
        "{report}"
    );
    watch.terminate().await;
}

/// No Redis at all: a clear, actionable message and a non-zero exit, fast.
#[tokio::test]
async fn doctor_and_chat_explain_an_unreachable_redis() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    redis.stop().await;
    for args in [&["doctor"][..], &["chat"]] {
        let output = router_tools(&url, args, "!ping\n").await;
        assert!(!output.status.success(), "{args:?}");
        let text = stderr(&output);
        assert!(
            text.contains(&format!("cannot reach redis at {url}")),
            "{args:?}: {text}"
        );
        assert!(text.contains("redis-server"), "{args:?}: {text}");
    }
}

/// `topic` works offline and answers with its exit status too.
#[tokio::test]
async fn topic_parse_build_match_and_lint() {
    let url = "redis://127.0.0.1:1";
    let parsed = router_tools(url, &["topic", "parse", "inbound.discord.@me.42.7"], "").await;
    assert!(
        stdout(&parsed).contains("space:     @me (direct message)"),
        "{}",
        stdout(&parsed)
    );
    assert!(stdout(&parsed).contains("reply on:  outbound.discord.@me.42.7"));

    let built = router_tools(
        url,
        &[
            "topic",
            "build",
            "--platform",
            "irc",
            "--space",
            "libera",
            "--room",
            "#rust.beginners",
            "--user",
            "ali ce",
        ],
        "",
    )
    .await;
    assert_eq!(
        stdout(&built),
        "inbound.irc.libera.#rust%2Ebeginners.ali%20ce\n"
    );

    let matched = router_tools(
        url,
        &[
            "topic",
            "match",
            "inbound.discord.*.*.*",
            "inbound.discord.1.2.3",
        ],
        "",
    )
    .await;
    assert!(matched.status.success());
    assert_eq!(stdout(&matched), "match\n");
    let unmatched = router_tools(
        url,
        &[
            "topic",
            "match",
            "inbound.discord.*.*.*",
            "inbound.slack.1.2.3",
        ],
        "",
    )
    .await;
    assert_eq!(unmatched.status.code(), Some(1));

    let lint = router_tools(url, &["topic", "lint", "inbound.discord.G1.*.*.*"], "").await;
    assert_eq!(lint.status.code(), Some(1));
    assert!(
        stdout(&lint).contains("suggestion: inbound.discord.G1.*.*"),
        "{}",
        stdout(&lint)
    );
    let clean = router_tools(url, &["topic", "lint", "inbound.*.*.*.*"], "").await;
    assert!(clean.status.success());
}

/// A flag missing from `send --raw` is named, with a usage line that does not make
/// `--redis-url` (set through `REDIS_URL`) look required.
#[tokio::test]
async fn send_raw_without_topic_says_what_is_missing() {
    let output = router_tools("redis://127.0.0.1:1", &["send", "--raw", "{oops"], "").await;
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(
        text.contains("--raw needs --topic <TOPIC>, the channel to publish the payload on"),
        "{text}"
    );
    assert!(
        text.contains("Usage: router-tools send [OPTIONS] [CONTENT]"),
        "{text}"
    );
    assert!(!text.contains("--redis-url"), "{text}");
}

/// `schema` prints exactly the committed files that other languages read.
#[tokio::test]
async fn schema_prints_the_committed_schemas() {
    for (envelope, file) in [
        ("inbound", "inbound.v1.json"),
        ("outbound", "outbound.v1.json"),
        ("receipt", "receipt.v1.json"),
    ] {
        let output = router_tools("redis://127.0.0.1:1", &["schema", envelope], "").await;
        let committed =
            std::fs::read_to_string(workspace_root().join("schema").join(file)).unwrap();
        assert_eq!(stdout(&output), committed, "{envelope}");
    }
}

/// Every subcommand explains itself.
#[tokio::test]
async fn every_subcommand_has_help_that_mentions_redis_url() {
    for subcommand in ["watch", "send", "chat", "doctor"] {
        let output = router_tools("redis://127.0.0.1:1", &[subcommand, "--help"], "").await;
        assert!(output.status.success());
        assert!(
            stdout(&output).contains("REDIS_URL"),
            "{subcommand}: {}",
            stdout(&output)
        );
    }
    for subcommand in ["topic", "schema"] {
        let output = router_tools("redis://127.0.0.1:1", &[subcommand, "--help"], "").await;
        assert!(output.status.success(), "{subcommand}");
    }
}

/// Ctrl-C ends `watch` cleanly (exit status 0).
#[tokio::test]
async fn watch_ends_cleanly_on_ctrl_c() {
    let redis = RedisServer::start().await;
    let mut watch = Daemon::watch(&redis.url()).await;
    let pid = watch.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = watch.wait_exit().await;
    assert!(status.success(), "{status:?}\n{}", watch.log());
}
