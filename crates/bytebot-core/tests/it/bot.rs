//! The subscriber API (`bot::Bot`) against real, private Redis servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytebot_core::bot::{Bot, BotCounters, BotStats};
use bytebot_core::bus::{BusConfig, RedisUrl, SubscribeOptions, Subscription};
use bytebot_core::envelope::{
    Author, InboundMessage, MAX_PAYLOAD_BYTES, OutboundMessage, decode_outbound,
};
use bytebot_core::{Direction, Topic};
use bytebot_test_support::{RedisServer, wait_until};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::bus::CapturedLogs;

/// Generous bound for "eventually" in tests; never a performance target.
const PATIENCE: Duration = Duration::from_secs(20);

fn config(url: &str, role: &str) -> BusConfig {
    BusConfig::new(RedisUrl::parse(url).unwrap(), role)
}

fn inbound(room: &str, content: &str) -> InboundMessage {
    let topic = Topic::builder(Direction::Inbound, "console")
        .space("local")
        .room(room)
        .user("alice")
        .build()
        .unwrap();
    InboundMessage::new(topic, "m1", Author::new("alice", "alice"), content)
}

/// A bot running in the background, stopped by `stop`.
struct Running {
    counters: BotCounters,
    stop: oneshot::Sender<()>,
    task: JoinHandle<BotStats>,
}

impl Running {
    async fn stop(self) -> BotStats {
        let _ = self.stop.send(());
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("the bot stops in time")
            .unwrap()
    }
}

/// Starts `bot` with `handler` and waits until its pattern is subscribed (one more
/// pattern subscription than before: a reply listener may already hold one).
async fn start<H, F>(redis: &RedisServer, bot: Bot, handler: H) -> Running
where
    H: Fn(InboundMessage) -> F + Send + Sync + 'static,
    F: Future<Output = Vec<OutboundMessage>> + Send + 'static,
{
    let counters = bot.counters();
    let before = pattern_subscribers(redis).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(bot.run(handler, async {
        let _ = stopped.await;
    }));
    wait_for_pattern_subscribers(redis, before + 1).await;
    Running {
        counters,
        stop,
        task,
    }
}

/// `PUBSUB NUMPAT`: pattern subscriptions on the server.
async fn pattern_subscribers(redis: &RedisServer) -> i64 {
    let mut connection = redis.connection().await;
    redis::cmd("PUBSUB")
        .arg("NUMPAT")
        .query_async(&mut connection)
        .await
        .unwrap_or(0)
}

async fn wait_for_pattern_subscribers(redis: &RedisServer, expected: i64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if pattern_subscribers(redis).await >= expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bot never subscribed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn publish(redis: &RedisServer, channel: &str, payload: &[u8]) -> i64 {
    let mut connection = redis.connection().await;
    redis::cmd("PUBLISH")
        .arg(channel)
        .arg(payload)
        .query_async(&mut connection)
        .await
        .unwrap()
}

async fn replies(redis: &RedisServer) -> Subscription {
    let subscription = Subscription::start(
        config(&redis.url(), "test-listener"),
        vec!["outbound.*".into()],
        SubscribeOptions::default(),
    );
    subscription.wait_connected(PATIENCE).await.unwrap();
    subscription
}

async fn next_reply(subscription: &mut Subscription) -> (String, OutboundMessage) {
    let delivery = tokio::time::timeout(PATIENCE, subscription.recv())
        .await
        .expect("a reply in time")
        .unwrap();
    let message = decode_outbound(&delivery.payload).expect("replies are valid envelopes");
    (delivery.channel, message)
}

async fn ping_pong(message: InboundMessage) -> Vec<OutboundMessage> {
    match message.content.as_str() {
        "!ping" => vec![OutboundMessage::reply_to(&message, "pong")],
        _ => Vec::new(),
    }
}

/// The whole point: a reply lands on `reply_topic`, correlated with the inbound id.
#[tokio::test]
async fn replies_are_published_on_the_reply_topic_with_in_reply_to() {
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let bot = start(
        &redis,
        Bot::new(config(&redis.url(), "test-bot"), ["inbound.*.*.*.*"]),
        |message: InboundMessage| async move {
            // `in_reply_to` is filled in even when the handler leaves it out.
            vec![OutboundMessage::new(format!("echo {}", message.content))]
        },
    )
    .await;

    let message = inbound("r", "hello");
    assert_eq!(
        publish(&redis, &message.topic.to_string(), &message.encode()).await,
        1
    );
    let (channel, reply) = next_reply(&mut listener).await;
    assert_eq!(channel, message.reply_topic.to_string());
    assert_eq!(reply.content, "echo hello");
    assert_eq!(reply.in_reply_to, Some(message.id));

    let stats = bot.stop().await;
    assert_eq!((stats.received, stats.decoded, stats.replies), (1, 1, 1));
}

/// One broken publisher must not silence the bot for everyone else.
#[tokio::test]
async fn malformed_and_oversize_payloads_are_skipped_and_counted() {
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let bot = start(
        &redis,
        Bot::new(config(&redis.url(), "test-bot"), ["inbound.*.*.*.*"]),
        ping_pong,
    )
    .await;
    let channel = inbound("r", "!ping").topic.to_string();
    publish(&redis, &channel, b"{not json").await;
    publish(&redis, &channel, &vec![b' '; MAX_PAYLOAD_BYTES + 1]).await;
    publish(&redis, &channel, br#"{"v":2}"#).await;
    let good = inbound("r", "!ping");
    publish(&redis, &channel, &good.encode()).await;

    let (_, reply) = next_reply(&mut listener).await;
    assert_eq!(reply.content, "pong");
    assert_eq!(reply.in_reply_to, Some(good.id));
    let counters = bot.counters.clone();
    assert!(wait_until(PATIENCE, || counters.snapshot().received == 4).await);
    let stats = bot.stop().await;
    assert_eq!(stats.skipped_undecodable, 3);
    assert_eq!(stats.decoded, 1);
    assert_eq!(stats.replies, 1);
}

/// An envelope delivered on a channel that is not its own topic was not routed by its
/// address (the channel below is one the grammar forbids, still delivered by a `*`
/// pattern): answering it would let any publisher steer the bot's replies.
#[tokio::test]
async fn a_message_on_a_channel_that_is_not_its_topic_is_skipped_and_counted() {
    let logs = CapturedLogs::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .finish(),
    );
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let bot = start(
        &redis,
        Bot::new(config(&redis.url(), "test-bot"), ["inbound.*.*.*.*"]),
        move |message: InboundMessage| {
            seen.fetch_add(1, Ordering::SeqCst);
            ping_pong(message)
        },
    )
    .await;
    let message = inbound("r", "!ping");
    for channel in [
        "inbound.console.local.r*.alice",
        "inbound.console.local.other.alice",
    ] {
        assert_eq!(publish(&redis, channel, &message.encode()).await, 1);
    }
    // The same address spelled differently (`%72` is `r`) is its topic.
    let respelled = inbound("r", "!ping");
    publish(
        &redis,
        "inbound.console.local.%72.alice",
        &respelled.encode(),
    )
    .await;

    let (channel, reply) = next_reply(&mut listener).await;
    assert_eq!(reply.in_reply_to, Some(respelled.id));
    assert_eq!(channel, "outbound.console.local.r.alice");
    let stats = bot.stop().await;
    assert_eq!((stats.decoded, stats.skipped_topic_mismatch), (3, 2));
    assert_eq!(stats.replies, 1);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the handler never saw them"
    );
    let text = logs.text();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("not its topic"))
        .collect();
    assert_eq!(warnings.len(), 2, "{text}");
    assert!(
        warnings[0].contains("channel=inbound.console.local.r*.alice")
            && warnings[0].contains("topic=inbound.console.local.r.alice"),
        "{}",
        warnings[0]
    );
}

/// Two bots that answer each other would never stop: bot authors are ignored by default.
#[tokio::test]
async fn bot_authors_get_no_reply_by_default() {
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let bot = start(
        &redis,
        Bot::new(config(&redis.url(), "test-bot"), ["inbound.*.*.*.*"]),
        move |message: InboundMessage| {
            seen.fetch_add(1, Ordering::SeqCst);
            ping_pong(message)
        },
    )
    .await;
    let mut from_bot = inbound("r", "!ping");
    from_bot.author.bot = true;
    publish(&redis, &from_bot.topic.to_string(), &from_bot.encode()).await;
    let human = inbound("r", "!ping");
    publish(&redis, &human.topic.to_string(), &human.encode()).await;

    let (_, reply) = next_reply(&mut listener).await;
    assert_eq!(
        reply.in_reply_to,
        Some(human.id),
        "only the human is answered"
    );
    let stats = bot.stop().await;
    assert_eq!(stats.skipped_bot_author, 1);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the handler never saw the bot"
    );
}

/// Platforms refuse empty messages, so a blank reply must never reach the bus.
#[tokio::test]
async fn blank_replies_are_never_published() {
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let bot = start(
        &redis,
        Bot::new(config(&redis.url(), "test-bot"), ["inbound.*.*.*.*"]),
        |message: InboundMessage| async move {
            vec![
                OutboundMessage::reply_to(&message, ""),
                OutboundMessage::reply_to(&message, " \n\t"),
                OutboundMessage::reply_to(&message, "after the blanks"),
            ]
        },
    )
    .await;
    let message = inbound("r", "x");
    publish(&redis, &message.topic.to_string(), &message.encode()).await;
    let (_, reply) = next_reply(&mut listener).await;
    assert_eq!(reply.content, "after the blanks");
    let stats = bot.stop().await;
    assert_eq!((stats.replies, stats.replies_refused), (1, 2));
}

/// A slow answer holds up later answers in its own room only; handlers run concurrently.
#[tokio::test]
async fn replies_keep_their_order_within_a_room_while_rooms_run_concurrently() {
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let bot = start(
        &redis,
        Bot::new(config(&redis.url(), "test-bot"), ["inbound.*.*.*.*"]),
        |message: InboundMessage| async move {
            if message.content == "slow" {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            vec![OutboundMessage::reply_to(
                &message,
                format!("{}:{}", message.room, message.content),
            )]
        },
    )
    .await;
    for (room, content) in [("a", "slow"), ("a", "fast"), ("b", "fast")] {
        let message = inbound(room, content);
        publish(&redis, &message.topic.to_string(), &message.encode()).await;
    }
    let mut order = Vec::new();
    for _ in 0..3 {
        order.push(next_reply(&mut listener).await.1.content);
    }
    assert_eq!(order, ["b:fast", "a:slow", "a:fast"]);
    bot.stop().await;
}

/// After a Redis restart the bot must be subscribed again without anyone's help.
#[tokio::test]
async fn the_bot_answers_again_after_a_redis_restart() {
    let redis = RedisServer::start().await;
    let bot = start(
        &redis,
        Bot::new(config(&redis.url(), "test-bot"), ["inbound.*.*.*.*"]),
        ping_pong,
    )
    .await;
    redis.restart().await;
    let mut listener = replies(&redis).await;
    wait_for_pattern_subscribers(&redis, 2).await;
    let message = inbound("r", "!ping");
    publish(&redis, &message.topic.to_string(), &message.encode()).await;
    let (_, reply) = next_reply(&mut listener).await;
    assert_eq!(reply.in_reply_to, Some(message.id));
    bot.stop().await;
}

/// SIGTERM during a slow answer: the answer still goes out before the bot exits.
#[tokio::test]
async fn shutdown_lets_handlers_in_flight_finish_and_flushes_their_replies() {
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let started = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&started);
    let bot = start(
        &redis,
        Bot::new(config(&redis.url(), "test-bot"), ["inbound.*.*.*.*"]),
        move |message: InboundMessage| {
            let notify = Arc::clone(&notify);
            async move {
                notify.notify_one();
                tokio::time::sleep(Duration::from_millis(300)).await;
                vec![OutboundMessage::reply_to(&message, "late but sent")]
            }
        },
    )
    .await;
    let message = inbound("r", "x");
    publish(&redis, &message.topic.to_string(), &message.encode()).await;
    tokio::time::timeout(PATIENCE, started.notified())
        .await
        .unwrap();
    let stats = bot.stop().await;
    assert_eq!(stats.replies, 1);
    assert_eq!(stats.abandoned_at_shutdown, 0);
    let (_, reply) = next_reply(&mut listener).await;
    assert_eq!(reply.content, "late but sent");
}

/// A handler that panics costs its own message only: it is counted, and the next
/// message of the same room (which waits for it) is still answered.
#[tokio::test]
async fn a_panicking_handler_is_counted_and_its_room_goes_on() {
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let bot = start(
        &redis,
        Bot::new(config(&redis.url(), "test-bot"), ["inbound.*.*.*.*"]),
        |message: InboundMessage| async move {
            assert_ne!(message.content, "boom", "a handler bug");
            vec![OutboundMessage::reply_to(&message, "still answering")]
        },
    )
    .await;
    for content in ["boom", "!ping"] {
        let message = inbound("r", content);
        publish(&redis, &message.topic.to_string(), &message.encode()).await;
    }
    let (_, reply) = next_reply(&mut listener).await;
    assert_eq!(reply.content, "still answering");
    let counters = bot.counters.clone();
    assert!(wait_until(PATIENCE, || counters.snapshot().handler_failures == 1).await);
    let stats = bot.stop().await;
    assert_eq!((stats.replies, stats.handler_failures), (1, 1));
}
