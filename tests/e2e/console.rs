//! `router-tools chat` as a console gateway: riding out Redis outages, delivery
//! receipts, the payload limit, and warnings about how replies name what they answer.

use std::process::Stdio;

use bytebot_core::bus::{Delivery, SubscribeOptions, Subscription};
use bytebot_core::envelope::{InboundMessage, MAX_PAYLOAD_BYTES, OutboundMessage, decode_inbound};
use bytebot_core::pattern::Pattern;
use bytebot_core::receipt::decode_receipt;
use bytebot_e2e::{
    Daemon, PATIENCE, binaries, router_tools, stderr, stdout, wait_for_subscriber,
    without_round_trip,
};
use bytebot_test_support::{RedisServer, bus_config, wait_until};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio::sync::mpsc;

/// A subscription of the test's own to `patterns`, live when this returns.
async fn listen(redis: &RedisServer, patterns: &[&str]) -> Subscription {
    let config = bus_config(&redis.url(), "test");
    let subscription = Subscription::start(
        config,
        patterns.iter().map(|p| Pattern::parse_raw(*p)).collect(),
        SubscribeOptions::default(),
    );
    subscription.wait_connected(PATIENCE).await.unwrap();
    subscription
}

async fn next(subscription: &mut Subscription) -> Delivery {
    tokio::time::timeout(PATIENCE, subscription.recv())
        .await
        .expect("a delivery in time")
        .expect("the subscription is running")
}

/// `router-tools chat` with its stdin, stdout and stderr as pipes (stderr lines go to
/// a channel, so a test can wait for what chat says).
struct Chat {
    child: Child,
    input: Option<tokio::process::ChildStdin>,
    replies: Lines<BufReader<ChildStdout>>,
    notes: mpsc::UnboundedReceiver<String>,
    /// Every stderr line seen so far, for failure messages.
    seen: Vec<String>,
}

impl Chat {
    async fn start(redis: &RedisServer, args: &[&str]) -> Chat {
        let mut child = tokio::process::Command::new(&binaries().router_tools)
            .arg("chat")
            .args(args)
            .env("REDIS_URL", redis.url())
            .env("USER", "tester")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let (sender, notes) = mpsc::unbounded_channel();
        let mut errors = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = errors.next_line().await {
                let _ = sender.send(line);
            }
        });
        let chat = Chat {
            input: child.stdin.take(),
            replies: BufReader::new(child.stdout.take().unwrap()).lines(),
            child,
            notes,
            seen: Vec::new(),
        };
        assert!(wait_for_subscriber(&redis.url(), "router-tools-chat").await);
        chat
    }

    async fn type_lines(&mut self, text: &str) {
        let input = self.input.as_mut().expect("input still open");
        input.write_all(text.as_bytes()).await.unwrap();
        input.flush().await.unwrap();
    }

    fn end_input(&mut self) {
        self.input = None;
    }

    async fn reply(&mut self) -> String {
        let line = tokio::time::timeout(PATIENCE, self.replies.next_line()).await;
        match line {
            Ok(Ok(Some(line))) => line,
            other => panic!(
                "no reply: {other:?}; stderr so far: {:?}",
                self.drain_notes()
            ),
        }
    }

    fn drain_notes(&mut self) -> &[String] {
        while let Ok(line) = self.notes.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }

    /// Waits until chat writes a stderr line containing `needle`.
    async fn wait_note(&mut self, needle: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !self.seen.iter().any(|line| line.contains(needle)) {
            match tokio::time::timeout_at(deadline, self.notes.recv()).await {
                Ok(Some(line)) => self.seen.push(line),
                _ => panic!("chat never said {needle:?}; it said: {:?}", self.seen),
            }
        }
    }

    async fn exit_code(&mut self) -> Option<i32> {
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("chat exits in time")
            .unwrap();
        status.code()
    }
}

/// A Redis outage mid-session loses nothing: what is typed meanwhile (and the end of
/// the input) is kept, and once Redis is back every line is sent and answered.
#[tokio::test]
async fn lines_typed_while_redis_is_down_are_sent_when_it_is_back() {
    let redis = RedisServer::start().await;
    let subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let mut chat = Chat::start(&redis, &["--timeout", "10"]).await;
    chat.type_lines("!echo zero\n").await;
    assert_eq!(chat.reply().await, "zero");

    redis.stop().await;
    chat.type_lines("!echo one\n!echo two\n").await;
    chat.end_input();
    chat.wait_note("end of input; 2 line(s) wait for redis")
        .await;

    redis.restart().await;
    assert_eq!(chat.reply().await, "one", "{}", subscriber.log());
    assert_eq!(chat.reply().await, "two");
    assert_eq!(chat.exit_code().await, Some(0), "{:?}", chat.drain_notes());
    chat.wait_note("redis is back; sent the 2 kept line(s)")
        .await;
}

/// The round trip on the console platform: example-subscriber answers `pong`, gets
/// chat's receipt with the message's id, and edits it to show the time; chat shows
/// the edit, and a reaction on the line it concerns.
#[tokio::test]
async fn chat_shows_edits_and_reactions_on_the_messages_it_showed() {
    let redis = RedisServer::start().await;
    let subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let mut chat = Chat::start(&redis, &["--timeout", "10"]).await;
    chat.type_lines("!ping\n").await;
    assert_eq!(chat.reply().await, "pong");
    let edited = chat.reply().await;
    assert_eq!(
        without_round_trip(&edited),
        "",
        "{edited:?}\n{}",
        subscriber.log()
    );
    chat.type_lines("!roll 2d6\n").await;
    let roll = chat.reply().await;
    assert!(roll.starts_with("🎲 2d6: "), "{roll}");
    assert_eq!(chat.reply().await, "(🎲 on: !roll 2d6)");
    chat.end_input();
    assert_eq!(chat.exit_code().await, Some(0), "{:?}", chat.drain_notes());
}

/// `send --action` publishes every action as a bot would and, with `--wait`, prints the
/// gateway's receipt; chat, the console gateway, carries each out on the messages it
/// showed; `watch` shows each action and receipt readably.
#[tokio::test]
async fn send_publishes_every_action_chat_performs_it_and_watch_shows_it() {
    let redis = RedisServer::start().await;
    let watch = Daemon::watch(&redis.url()).await;
    let mut chat = Chat::start(&redis, &["--timeout", "10"]).await;
    chat.type_lines("hello\n").await;
    assert!(wait_until(PATIENCE, || watch.log().contains("tester: hello")).await);
    let session = format!("console-{}", chat.child.id().unwrap());
    let (line, reply) = (format!("{session}-1"), format!("{session}-2"));
    let send = async |args: &[&str]| {
        let mut all = vec!["send", "--user", "tester", "--wait"];
        all.extend_from_slice(args);
        let output = router_tools(&redis.url(), &all, "").await;
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
            .lines()
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        send(&["--action", "react", "--message-id", &line, "--emoji", "👍"]).await,
        format!("react done {line}")
    );
    assert_eq!(chat.reply().await, "(👍 on: hello)");
    assert_eq!(
        send(&["--action", "send", "hi there"]).await,
        format!("delivered {reply}")
    );
    assert_eq!(chat.reply().await, "hi there");
    assert_eq!(
        send(&["--action", "edit", "--message-id", &reply, "hi again"]).await,
        format!("edit done {reply}")
    );
    assert_eq!(chat.reply().await, "hi again (edited)");
    assert_eq!(
        send(&[
            "--action",
            "unreact",
            "--message-id",
            &line,
            "--emoji",
            "👍"
        ])
        .await,
        format!("unreact done {line}")
    );
    assert_eq!(chat.reply().await, "(👍 taken back on: hello)");
    assert_eq!(
        send(&["--action", "delete", "--message-id", &reply]).await,
        format!("delete done {reply}")
    );
    assert_eq!(chat.reply().await, "(deleted: hi again)");
    assert_eq!(send(&["--action", "typing"]).await, "typing done");
    assert_eq!(
        send(&["--action", "edit", "--message-id", &reply, "too late"]).await,
        format!("edit failed: unknown message `{reply}`: this console never showed it")
    );

    // An action that is not a valid envelope is refused before anything is published.
    let refused = router_tools(
        &redis.url(),
        &["send", "--action", "react", "--message-id", &line],
        "",
    )
    .await;
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("`react` needs `emoji`"),
        "{}",
        stderr(&refused)
    );

    for shown in [
        format!("-> tester: react 👍 on {line}"),
        format!("<- tester: react done {line}"),
        format!("-> tester: edit {reply}: hi again"),
        format!("-> tester: delete {reply}"),
        "-> tester: typing".to_owned(),
        format!("<- tester: edit failed: unknown message `{reply}`"),
    ] {
        assert!(
            wait_until(PATIENCE, || watch.log().contains(&shown)).await,
            "watch never showed {shown:?}:\n{}",
            watch.log()
        );
    }
    chat.end_input();
    assert_eq!(chat.exit_code().await, Some(0), "{:?}", chat.drain_notes());
}

/// What a gateway does after each outbound message, the console does for each reply it
/// shows: a receipt on the receipt topic at the same address, correlated by
/// `in_reply_to`, with a message id of the console's.
#[tokio::test]
async fn chat_publishes_a_delivery_receipt_for_every_reply() {
    let redis = RedisServer::start().await;
    let _subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let mut bus = listen(&redis, &["inbound.console.*", "receipt.console.*"]).await;
    let output = router_tools(&redis.url(), &["chat"], "!echo one\n!echo hi\n").await;
    assert_eq!(stdout(&output), "one\nhi\n", "{}", stderr(&output));

    let mut lines: Vec<InboundMessage> = Vec::new();
    let mut receipts = Vec::new();
    while receipts.len() < 2 {
        let delivery = next(&mut bus).await;
        if delivery.channel.starts_with("inbound.") {
            lines.push(decode_inbound(&delivery.payload).unwrap());
        } else {
            assert_eq!(delivery.channel, "receipt.console.local.terminal.tester");
            receipts.push(decode_receipt(&delivery.payload).unwrap());
        }
    }
    let session = lines[0].message_id.rsplit_once('-').unwrap().0.to_owned();
    assert!(session.starts_with("console-"), "{session}");
    let mut ids = Vec::new();
    for (line, receipt) in lines.iter().zip(&receipts) {
        assert!(receipt.ok, "{receipt:?}");
        assert_eq!(receipt.in_reply_to, Some(line.id));
        let [id] = &receipt.message_ids[..] else {
            panic!("one message id: {receipt:?}");
        };
        assert!(id.starts_with(&format!("{session}-")), "{id}");
        ids.push(id.clone());
        ids.push(line.message_id.clone());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "message ids are unique: {ids:?}");
}

/// `--fail-with CODE` plays a gateway that cannot deliver: the receipt carries the
/// platform error code, and the console shows the reply as not delivered.
#[tokio::test]
async fn fail_with_makes_every_receipt_a_failure_with_that_code() {
    let redis = RedisServer::start().await;
    let _subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let mut bus = listen(&redis, &["inbound.console.*", "receipt.console.*"]).await;
    let output = router_tools(&redis.url(), &["chat", "--fail-with", "50013"], "!ping\n").await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "[not delivered: error 50013] pong\n");

    let line = decode_inbound(&next(&mut bus).await.payload).unwrap();
    let delivery = next(&mut bus).await;
    assert_eq!(delivery.channel, "receipt.console.local.terminal.tester");
    let receipt = decode_receipt(&delivery.payload).unwrap();
    assert!(!receipt.ok);
    assert_eq!(receipt.in_reply_to, Some(line.id));
    assert!(receipt.message_ids.is_empty());
    let error = receipt.error.expect("a failed receipt says why");
    assert_eq!(error.code, Some(50013));
    assert!(error.message.contains("--fail-with 50013"), "{error:?}");
}

/// A line no subscriber would accept is refused before it is published (instead of a
/// wait for a reply that cannot come); the session goes on, and the exit status says
/// a line was not sent.
#[tokio::test]
async fn a_line_over_the_payload_limit_is_refused_and_the_next_one_is_sent() {
    let redis = RedisServer::start().await;
    let subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let mut inbound = listen(&redis, &["inbound.*"]).await;
    let input = format!("!echo {}\n!ping\n", "x".repeat(MAX_PAYLOAD_BYTES));
    let output = router_tools(&redis.url(), &["chat"], &input).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "over the 1048576-byte (1 MiB) limit every subscriber enforces; nothing was published"
        ),
        "{}",
        stderr(&output)
    );
    assert_eq!(without_round_trip(&stdout(&output)), "pong\n");
    let first = decode_inbound(&next(&mut inbound).await.payload).unwrap();
    assert_eq!(first.content, "!ping");
    assert!(
        !subscriber.log().contains("skipping"),
        "{}",
        subscriber.log()
    );
}

/// A bot that answers with the inbound `reply_to` (the message the user replied to)
/// instead of its `message_id` is told so, before it quotes the wrong message on a
/// real platform. Each line after a reply is sent as a reply to it, so the mistake
/// shows from the second line on.
#[tokio::test]
async fn chat_warns_when_a_reply_copies_the_inbound_reply_to() {
    let redis = RedisServer::start().await;
    let mut inbound = listen(&redis, &["inbound.*"]).await;
    let mut connection = redis.connection().await;
    let careless_bot = tokio::spawn(async move {
        for _ in 0..2 {
            let delivery = inbound.recv().await.unwrap();
            let message = decode_inbound(&delivery.payload).unwrap();
            let mut reply = OutboundMessage::reply_to(&message, "noted");
            reply.reply_to = message.reply_to.clone();
            let _: i64 = redis::cmd("PUBLISH")
                .arg(message.reply_topic.to_string())
                .arg(reply.encode())
                .query_async(&mut connection)
                .await
                .unwrap();
        }
    });
    let mut chat = Chat::start(&redis, &[]).await;
    chat.type_lines("first\n").await;
    assert_eq!(chat.reply().await, "noted");
    chat.type_lines("second\n").await;
    assert_eq!(chat.reply().await, "noted");
    chat.wait_note("warning: reply_to `console-").await;
    chat.wait_note("is the inbound envelope's own reply_to")
        .await;
    careless_bot.await.unwrap();
    chat.end_input();
    assert_eq!(chat.exit_code().await, Some(0));
    let warnings = chat
        .drain_notes()
        .iter()
        .filter(|l| l.contains("warning"))
        .count();
    assert_eq!(
        warnings, 1,
        "only the second reply is wrong: {:?}",
        chat.seen
    );
}
