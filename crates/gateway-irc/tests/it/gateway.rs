//! The whole gateway in process: ngircd <-> gateway-irc <-> a private Redis. Topics,
//! escaping, case, emotes, what is never published, receipts.

use std::net::SocketAddr;
use std::time::Duration;

use bytebot_core::bus::{RedisUrl, Subscription};
use bytebot_core::{Direction, Space, Topic};
use bytebot_gateway::GatewayConfig;
use bytebot_test_support::{
    IrcServer, PATIENCE, RedisServer, free_local_addr, http_get, metric_value, next_delivery,
    scrape_until, wait_for_status,
};
use gateway_irc::Config;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::connection::config as irc_config;

pub const NETWORK: &str = "testnet";

/// ngircd, Redis and the gateway, running in this test.
pub struct Gateway {
    pub irc: IrcServer,
    pub redis: RedisServer,
    pub http: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Gateway {
    /// Starts everything with the bot `bytebot` in `channels` and waits for `/readyz`.
    pub async fn start(channels: &str) -> Gateway {
        let gateway = Gateway::launch(IrcServer::start().await, channels).await;
        wait_for_status(gateway.http, "/readyz", 200).await.unwrap();
        gateway
    }

    /// Starts Redis and the gateway for `irc`, without waiting for it to be ready.
    pub async fn launch(irc: IrcServer, channels: &str) -> Gateway {
        let redis = RedisServer::start().await;
        let http = free_local_addr();
        let mut config = Config {
            irc: irc_config(&irc, "bytebot", channels),
            gateway: GatewayConfig::new(RedisUrl::parse(&redis.url()).unwrap()),
        };
        config.irc.network = NETWORK.to_owned();
        config.gateway.http_addr = Some(http);
        config.gateway.shutdown_timeout = Duration::from_secs(5);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway_irc::run(config, async {
            let _ = stopped.await;
        }));
        Gateway {
            irc,
            redis,
            http,
            stop: Some(stop),
            task,
        }
    }

    /// A subscription of the test's own on `pattern`, connected.
    pub async fn subscribe(&self, pattern: &str) -> Subscription {
        self.redis.subscribe(pattern).await
    }

    /// PUBLISHes `payload` on `topic`; how many subscribers got it.
    pub async fn publish(&self, topic: &str, payload: impl AsRef<[u8]>) -> i64 {
        self.redis.publish(topic, payload).await
    }

    /// Stops the gateway as SIGTERM would; what `run` returned.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop_keeping_irc().await.0
    }

    /// Stops the gateway as SIGTERM would; what `run` returned, and ngircd, still
    /// running: it may not have read the bot's last lines yet (it paces every client),
    /// and a test that waits for them needs it alive.
    pub async fn stop_keeping_irc(self) -> (anyhow::Result<()>, IrcServer) {
        let Gateway {
            irc,
            stop,
            mut task,
            ..
        } = self;
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(PATIENCE, &mut task)
            .await
            .expect("the gateway stops within the deadline")
            .expect("the gateway task does not panic");
        (result, irc)
    }
}

/// The next delivery, parsed as JSON, with its channel.
pub async fn next_json(subscription: &mut Subscription) -> (String, serde_json::Value) {
    let delivery = next_delivery(subscription).await;
    let value = serde_json::from_slice(&delivery.payload).expect("JSON payload");
    (delivery.channel, value)
}

/// A channel message is published on `inbound.irc.<network>.<channel>.<nick>`, and an
/// answer on its reply topic reaches the channel.
#[tokio::test]
async fn channel_message_round_trip() {
    let gateway = Gateway::start("#test").await;
    let mut inbound = gateway.subscribe("inbound.irc.*.*.*").await;
    let mut alice = gateway.irc.client("alice").await;
    alice.join("#test", None).await;
    alice.privmsg("#test", "!ping").await;
    let (channel, envelope) = next_json(&mut inbound).await;
    assert_eq!(channel, "inbound.irc.testnet.#test.alice");
    assert_eq!(envelope["content"], "!ping");
    assert_eq!(envelope["author"]["id"], "alice");
    assert_eq!(envelope["author"]["bot"], false);
    assert_eq!(envelope["direct"], false);
    assert!(
        envelope.get("emote").is_none(),
        "plain messages carry no emote flag"
    );

    let reply_topic = envelope["reply_topic"].as_str().unwrap().to_owned();
    assert_eq!(reply_topic, "outbound.irc.testnet.#test.alice");
    let mut receipts = gateway.subscribe("receipt.irc.*.*.*").await;
    let reply = serde_json::json!({"v": 1, "content": "pong", "in_reply_to": envelope["id"]});
    assert_eq!(gateway.publish(&reply_topic, reply.to_string()).await, 1);
    let (target, text) = alice.expect_privmsg_from("bytebot").await;
    assert_eq!((target.as_str(), text.as_str()), ("#test", "pong"));
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(receipt["ok"], true);
    assert_eq!(
        receipt["message_ids"],
        serde_json::json!([]),
        "IRC has no message ids"
    );
    gateway.stop().await.unwrap();
}

/// A private message is published on `inbound.irc.@me.<nick>@<network>.<nick>` and
/// the answer arrives as a private message.
#[tokio::test]
async fn private_message_round_trip() {
    let gateway = Gateway::start("#test").await;
    let mut inbound = gateway.subscribe("inbound.irc.@me.*.*").await;
    let mut alice = gateway.irc.client("alice").await;
    alice.privmsg("bytebot", "hello in private").await;
    let (channel, envelope) = next_json(&mut inbound).await;
    assert_eq!(channel, "inbound.irc.@me.alice@testnet.alice");
    assert_eq!(envelope["direct"], true);
    let reply_topic = envelope["reply_topic"].as_str().unwrap();
    gateway
        .publish(reply_topic, r#"{"v":1,"content":"hello alice"}"#)
        .await;
    let (target, text) = alice.expect_privmsg_from("bytebot").await;
    assert_eq!((target.as_str(), text.as_str()), ("alice", "hello alice"));
    gateway.stop().await.unwrap();
}

/// IRC names with every character the topic grammar must escape or tolerate: the
/// topic parses back to the raw names, and the reply reaches the odd channel and nick.
#[tokio::test]
async fn odd_nicks_and_channel_names_are_escaped_and_answered() {
    let odd_channel = "#a.b*c[d]e\\f^g{h}|i?";
    let odd_nick = "z[a]\\b^c{d}|e";
    let gateway = Gateway::start(odd_channel).await;
    let mut inbound = gateway.subscribe("inbound.irc.testnet.*.*").await;
    let mut human = gateway.irc.client(odd_nick).await;
    human.join(odd_channel, None).await;
    human.privmsg(odd_channel, "odd hello").await;
    let (channel, envelope) = next_json(&mut inbound).await;
    let topic: Topic = channel
        .parse()
        .expect("the published channel is a valid topic");
    assert_eq!(topic.room().as_str(), odd_channel);
    assert_eq!(topic.user().as_str(), odd_nick);
    let expected = Topic::builder(Direction::Inbound, "irc")
        .space(Space::id(NETWORK))
        .room(odd_channel)
        .user(odd_nick)
        .build()
        .unwrap();
    assert_eq!(channel, expected.to_string());
    assert_eq!(envelope["room"], odd_channel);

    gateway
        .publish(
            envelope["reply_topic"].as_str().unwrap(),
            r#"{"v":1,"content":"odd reply"}"#,
        )
        .await;
    let (target, text) = human.expect_privmsg_from("bytebot").await;
    assert_eq!((target.as_str(), text.as_str()), (odd_channel, "odd reply"));

    // And privately, to the odd nick.
    let mut direct = gateway.subscribe("inbound.irc.@me.*.*").await;
    human.privmsg("bytebot", "odd private").await;
    let (_, envelope) = next_json(&mut direct).await;
    assert_eq!(envelope["author"]["id"], odd_nick);
    gateway
        .publish(
            envelope["reply_topic"].as_str().unwrap(),
            r#"{"v":1,"content":"odd pm"}"#,
        )
        .await;
    let (target, text) = human.expect_privmsg_from("bytebot").await;
    assert_eq!((target.as_str(), text.as_str()), (odd_nick, "odd pm"));
    gateway.stop().await.unwrap();
}

/// `#Test`, `#TEST` and `#test` are one channel and one room: the same topic, and a
/// reply to any spelling lands in it.
#[tokio::test]
async fn channel_names_are_case_insensitive() {
    let gateway = Gateway::start("#Test").await;
    let mut inbound = gateway.subscribe("inbound.irc.*.*.*").await;
    let mut alice = gateway.irc.client("alice").await;
    alice.join("#TEST", None).await;
    alice.privmsg("#tEsT", "one").await;
    alice.privmsg("#TEST", "two").await;
    let (first, _) = next_json(&mut inbound).await;
    let (second, _) = next_json(&mut inbound).await;
    assert_eq!(first, "inbound.irc.testnet.#test.alice");
    assert_eq!(second, first);
    gateway
        .publish(
            "outbound.irc.testnet.#TeSt.alice",
            r#"{"v":1,"content":"any case"}"#,
        )
        .await;
    let (_, text) = alice.expect_privmsg_from("bytebot").await;
    assert_eq!(text, "any case");
    gateway.stop().await.unwrap();
}

/// NOTICEs are never published (IRC's rule against bot loops), and neither are the
/// bot's own messages; `/me` is published with the emote flag.
#[tokio::test]
async fn notices_are_ignored_and_actions_are_flagged() {
    let gateway = Gateway::start("#test").await;
    let mut inbound = gateway.subscribe("inbound.irc.*.*.*").await;
    let mut alice = gateway.irc.client("alice").await;
    alice.join("#test", None).await;
    // A private message to itself: the server delivers it back to the bot, which must
    // not publish it. Its receipt means it was written before the next line.
    let mut receipts = gateway.subscribe("receipt.irc.*.*.*").await;
    gateway
        .publish(
            "outbound.irc.@me.bytebot@testnet.bytebot",
            r#"{"v":1,"content":"to myself"}"#,
        )
        .await;
    assert_eq!(next_json(&mut receipts).await.1["ok"], true);
    gateway
        .publish(
            "outbound.irc.testnet.#test.alice",
            r#"{"v":1,"content":"from the bot"}"#,
        )
        .await;
    alice.expect_privmsg_from("bytebot").await;
    alice.notice("#test", "a notice").await;
    alice.notice("bytebot", "a private notice").await;
    alice.privmsg("#test", "\u{1}ACTION waves\u{1}").await;
    let (_, envelope) = next_json(&mut inbound).await;
    assert_eq!(
        envelope["content"], "waves",
        "the notices and the bot's own line came first: {envelope}"
    );
    assert_eq!(envelope["emote"], true);
    // /metrics counts the skipped ones (own message and two notices) and the published.
    let skipped = r#"bytebot_messages_skipped_total{daemon="gateway-irc",reason="own_bot_or_system_message"}"#;
    let metrics = scrape_until(gateway.http, skipped, 3.0).await.unwrap();
    assert_eq!(metric_value(&metrics, skipped), Some(3.0), "{metrics}");
    gateway.stop().await.unwrap();
}

/// Edits, deletions and reactions get a failed receipt that says IRC cannot do them;
/// so do Discord's embeds and components and uploads, and then none of the text is
/// sent either.
#[tokio::test]
async fn actions_irc_cannot_do_get_a_failed_receipt() {
    let gateway = Gateway::start("#test").await;
    let mut receipts = gateway.subscribe("receipt.irc.*.*.*").await;
    let mut alice = gateway.irc.client("alice").await;
    alice.join("#test", None).await;
    let topic = "outbound.irc.testnet.#test.alice";
    for (action, words) in [
        (
            r#"{"v":1,"content":"look","embeds":[{"title":"x"}]}"#,
            "IRC cannot send embeds: only text",
        ),
        (
            r#"{"v":1,"content":"pick","components":[{"type":1,"components":[]}]}"#,
            "IRC cannot send components",
        ),
        (
            r#"{"v":1,"files":[{"filename":"a.txt","base64":"aGk="}]}"#,
            "IRC cannot send files",
        ),
        (
            r#"{"v":1,"action":"edit","message_id":"x","content":"new"}"#,
            "cannot edit",
        ),
        (
            r#"{"v":1,"action":"delete","message_id":"x"}"#,
            "cannot delete",
        ),
        (
            r#"{"v":1,"action":"react","message_id":"x","emoji":"👍"}"#,
            "no reactions",
        ),
        (
            r#"{"v":1,"action":"unreact","message_id":"x","emoji":"👍"}"#,
            "no reactions",
        ),
        (r#"{"v":1,"action":"typing"}"#, "no typing indicator"),
    ] {
        gateway.publish(topic, action).await;
        let (_, receipt) = next_json(&mut receipts).await;
        assert_eq!(receipt["ok"], false, "{receipt}");
        let message = receipt["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{message}");
    }
    // None of the refused texts reached the channel: the next line is this one.
    gateway.publish(topic, r#"{"v":1,"content":"plain"}"#).await;
    let (_, text) = alice.expect_privmsg_from("bytebot").await;
    assert_eq!(text, "plain");
    gateway.stop().await.unwrap();
}

/// A 2 000-character reply through Redis and the runtime becomes PRIVMSG lines that each
/// fit 512 bytes as the server relays them (prefix included), and joined they give the
/// original back; each line break of the content starts a new line.
#[tokio::test]
async fn a_long_reply_is_split_into_lines_that_fit_512_bytes() {
    let gateway = Gateway::start("#test").await;
    let mut alice = gateway.irc.client("alice").await;
    alice.join("#test", None).await;
    let paragraph: String = (0..400)
        .map(|n| format!("wörd{n:03}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(paragraph.chars().count() >= 2000);
    let content = format!("first line\nsecond line\n{paragraph}");
    let reply = serde_json::json!({"v": 1, "content": content});
    gateway
        .publish("outbound.irc.testnet.#test.alice", reply.to_string())
        .await;
    let mut received = Vec::new();
    let mut joined = String::new();
    while joined.len() < paragraph.len() {
        let line = alice
            .expect(|line| line.command == "PRIVMSG" && line.nick() == Some("bytebot"))
            .await;
        assert!(
            line.raw.len() + 2 <= 512,
            "{} bytes: {}",
            line.raw.len() + 2,
            line.raw
        );
        let text = line.params[1].clone();
        if received.len() >= 2 {
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(&text);
        }
        received.push(text);
    }
    assert_eq!(received[..2], ["first line", "second line"]);
    assert!(received.len() >= 7, "{} lines", received.len());
    assert_eq!(joined, paragraph);
    gateway.stop().await.unwrap();
}

/// `/readyz` is ready only once the bot is in every configured channel: registered but
/// refused by a channel's key, it answers 503 and names the channel.
#[tokio::test]
async fn readyz_waits_for_every_configured_channel() {
    let irc = IrcServer::start().await;
    let mut owner = irc.client("owner").await;
    owner.join("#vault", None).await;
    owner.send("MODE #vault +k s3cret").await;
    owner.expect(|line| line.command == "MODE").await;
    let gateway = Gateway::launch(irc, "#open,#vault").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let response = http_get(gateway.http, "/readyz").await;
        if let Some(response) = &response
            && response.body.contains("not in #vault")
        {
            assert_eq!(response.status, 503, "{response:?}");
            assert!(!response.body.contains("#open"), "{response:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never registered without #vault: {response:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gateway.stop().await.unwrap();
}

/// Stopping (SIGTERM's path) first sends the lines already taken, in order, and only
/// then QUITs.
#[tokio::test]
async fn shutdown_sends_what_was_taken_then_quits() {
    let gateway = Gateway::start("#test").await;
    let mut alice = gateway.irc.client("alice").await;
    alice.join("#test", None).await;
    let lines: Vec<String> = (0..12).map(|n| format!("line {n}")).collect();
    let reply = serde_json::json!({"v": 1, "content": lines.join("\n")});
    gateway
        .publish("outbound.irc.testnet.#test.alice", reply.to_string())
        .await;
    // The first line is out: the message was taken; the flood gate holds the rest.
    assert_eq!(alice.expect_privmsg_from("bytebot").await.1, "line 0");
    let stopped = tokio::spawn(gateway.stop_keeping_irc());
    let mut rest = Vec::new();
    loop {
        let line = alice
            .expect(|line| {
                line.nick() == Some("bytebot")
                    && matches!(line.command.as_str(), "PRIVMSG" | "QUIT")
            })
            .await;
        if line.command == "QUIT" {
            break;
        }
        rest.push(line.params[1].clone());
    }
    assert_eq!(rest, lines[1..]);
    let (result, _irc) = stopped.await.unwrap();
    result.unwrap();
}
