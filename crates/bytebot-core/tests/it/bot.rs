//! The subscriber API (`bot::Bot`) against real, private Redis servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytebot_core::bot::{Bot, BotCounters, BotOptions, BotStats, Receipt};
use bytebot_core::bus::{SubscribeOptions, Subscription};
use bytebot_core::envelope::{
    Author, InboundKind, InboundMessage, MAX_PAYLOAD_BYTES, OutboundAction, OutboundMessage,
    Reaction, decode_outbound,
};
use bytebot_core::pattern::Pattern;
use bytebot_core::receipt::{DeliveryError, DeliveryReceipt};
use bytebot_core::{Direction, Space, Topic};
use bytebot_test_support::{PATIENCE, RedisServer, bus_config, wait_until};
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

use crate::bus::CapturedLogs;

fn inbound(room: &str, content: &str) -> InboundMessage {
    let topic = Topic::builder(Direction::Inbound, "console")
        .space(Space::id("local"))
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
    let before = redis.pattern_subscribers().await;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(bot.run(handler, async {
        let _ = stopped.await;
    }));
    assert!(
        redis.wait_for_pattern_subscribers(before + 1).await,
        "bot never subscribed"
    );
    Running {
        counters,
        stop,
        task,
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
        bus_config(&redis.url(), "test-listener"),
        vec![Pattern::parse_raw("outbound.*")],
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
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        ),
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
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        ),
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
    assert!(wait_until(PATIENCE, || counters.stats().received == 4).await);
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
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        ),
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
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        ),
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

/// The events about a message, one per kind, on room `r` (an edit of `!ping`, its
/// deletion, a reaction and its removal), and a kind from a newer gateway.
fn events() -> Vec<Vec<u8>> {
    let topic = inbound("r", "").topic;
    let author = Author::new("alice", "alice");
    let mut edited = InboundMessage::event(
        InboundKind::MessageEdited,
        topic.clone(),
        "m1",
        author.clone(),
    );
    edited.content = "!ping".into();
    let deleted = InboundMessage::event(
        InboundKind::MessageDeleted,
        topic.clone(),
        "m1",
        Author::unknown(),
    );
    let mut reacted = InboundMessage::event(
        InboundKind::ReactionAdded,
        topic.clone(),
        "m1",
        author.clone(),
    );
    reacted.reaction = Some(Reaction::unicode("👍"));
    let mut unreacted = reacted.clone();
    unreacted.kind = InboundKind::ReactionRemoved;
    let mut newer: serde_json::Value =
        serde_json::from_slice(&inbound("r", "!ping").encode()).unwrap();
    newer["kind"] = "message_pinned".into();
    vec![
        edited.encode(),
        deleted.encode(),
        reacted.encode(),
        unreacted.encode(),
        serde_json::to_vec(&newer).unwrap(),
    ]
}

/// A handler written for new messages must not answer an edited `!ping` as a second
/// `!ping`: by default it gets only `message`, and the other kinds (unknown ones
/// included) are skipped and counted.
#[tokio::test]
async fn only_new_messages_reach_the_handler_by_default_other_kinds_are_skipped_and_counted() {
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let kinds = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&kinds);
    let bot = start(
        &redis,
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        ),
        move |message: InboundMessage| {
            seen.lock().unwrap().push(message.kind);
            ping_pong(message)
        },
    )
    .await;
    let channel = inbound("r", "").topic.to_string();
    for payload in events() {
        assert_eq!(publish(&redis, &channel, &payload).await, 1);
    }
    let message = inbound("r", "!ping");
    publish(&redis, &channel, &message.encode()).await;

    let (_, reply) = next_reply(&mut listener).await;
    assert_eq!(
        reply.in_reply_to,
        Some(message.id),
        "the new message, not the edit"
    );
    let stats = bot.stop().await;
    assert_eq!(
        (stats.decoded, stats.skipped_kind, stats.replies),
        (6, 5, 1)
    );
    assert_eq!(*kinds.lock().unwrap(), [InboundKind::Message]);
}

/// A bot that asks for events gets those, and only those.
#[tokio::test]
async fn a_bot_gets_the_kinds_it_asks_for() {
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let bot = start(
        &redis,
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        )
        .kinds([InboundKind::MessageEdited, InboundKind::Unknown]),
        |message: InboundMessage| async move {
            vec![OutboundMessage::reply_to(
                &message,
                format!("{:?}", message.kind),
            )]
        },
    )
    .await;
    let channel = inbound("r", "").topic.to_string();
    for payload in events() {
        publish(&redis, &channel, &payload).await;
    }
    publish(&redis, &channel, &inbound("r", "!ping").encode()).await;
    let mut answered = Vec::new();
    for _ in 0..2 {
        answered.push(next_reply(&mut listener).await.1.content);
    }
    assert_eq!(answered, ["MessageEdited", "Unknown"]);
    let stats = bot.stop().await;
    assert_eq!((stats.skipped_kind, stats.replies), (4, 2));
}

/// A handler may answer with any action, not only a send; one that is not a valid
/// envelope (a reaction without an emoji) is refused and counted, never published.
#[tokio::test]
async fn handlers_may_answer_with_any_valid_action() {
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let bot = start(
        &redis,
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        ),
        |message: InboundMessage| async move {
            let mut no_emoji = OutboundMessage::react(message.message_id.clone(), "x");
            no_emoji.emoji = None;
            vec![
                OutboundMessage::typing(),
                no_emoji,
                OutboundMessage::react(message.message_id.clone(), "🎲"),
                OutboundMessage::delete("m0"),
            ]
        },
    )
    .await;
    let message = inbound("r", "!roll");
    publish(&redis, &message.topic.to_string(), &message.encode()).await;
    let mut actions = Vec::new();
    for _ in 0..3 {
        let (_, reply) = next_reply(&mut listener).await;
        assert_eq!(reply.in_reply_to, Some(message.id));
        actions.push((reply.action, reply.message_id, reply.emoji));
    }
    assert_eq!(
        actions,
        [
            (OutboundAction::Typing, None, None),
            (OutboundAction::React, Some("m1".into()), Some("🎲".into())),
            (OutboundAction::Delete, Some("m0".into()), None),
        ]
    );
    let stats = bot.stop().await;
    assert_eq!((stats.replies, stats.replies_refused), (3, 1));
}

/// The round trip: reply, receipt, edit. A bot gets the receipts of its own replies
/// (from the same subscription), can act on the messages they name, and gets the
/// receipts of those actions too; receipts for other subscribers' replies are skipped.
#[tokio::test]
async fn a_bot_gets_the_receipts_of_its_own_replies_and_edits_what_it_sent() {
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let receipts = Arc::new(std::sync::Mutex::new(Vec::<Receipt>::new()));
    let seen = Arc::clone(&receipts);
    let bot = start(
        &redis,
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        )
        .on_receipt(move |receipt: Receipt| {
            seen.lock().unwrap().push(receipt.clone());
            async move {
                match receipt.receipt.message_ids.first() {
                    Some(id) if receipt.action() == OutboundAction::Send && receipt.ok() => {
                        vec![OutboundMessage::edit(id.clone(), "pong (edited)")]
                    }
                    _ => Vec::new(),
                }
            }
        }),
        ping_pong,
    )
    .await;
    let ping = inbound("r", "!ping");
    publish(&redis, &ping.topic.to_string(), &ping.encode()).await;
    let (channel, reply) = next_reply(&mut listener).await;
    assert_eq!(reply.content, "pong");

    // Play the gateway: another subscriber's receipt first, then ours.
    let receipt_topic = ping
        .reply_topic
        .with_direction(Direction::Receipt)
        .to_string();
    assert_eq!(channel, ping.reply_topic.to_string());
    let theirs = DeliveryReceipt::delivered(Some(inbound("r", "x").id), vec!["41".into()]);
    assert_eq!(
        publish(&redis, &receipt_topic, &theirs.encode()).await,
        1,
        "the bot subscribed to receipts"
    );
    let ours = DeliveryReceipt::delivered(reply.in_reply_to, vec!["42".into()]);
    publish(&redis, &receipt_topic, &ours.encode()).await;

    let (channel, edit) = next_reply(&mut listener).await;
    assert_eq!(
        channel,
        ping.reply_topic.to_string(),
        "where the reply went"
    );
    assert_eq!(edit.action, OutboundAction::Edit);
    assert_eq!(edit.message_id.as_deref(), Some("42"));
    assert_eq!(edit.content, "pong (edited)");
    assert_eq!(
        edit.in_reply_to,
        Some(ping.id),
        "still correlated with the !ping"
    );

    let failed = DeliveryReceipt::failed(
        edit.in_reply_to,
        vec!["42".into()],
        DeliveryError {
            code: Some(50005),
            message: "Cannot edit a message authored by another user".into(),
            status: Some(403),
        },
    )
    .for_action(OutboundAction::Edit);
    publish(&redis, &receipt_topic, &failed.encode()).await;
    let counters = bot.counters.clone();
    assert!(wait_until(PATIENCE, || counters.stats().receipts == 2).await);
    let stats = bot.stop().await;
    assert_eq!((stats.receipts, stats.skipped_receipt_not_ours), (2, 1));
    assert_eq!(stats.replies, 2);
    let receipts = receipts.lock().unwrap();
    assert_eq!(receipts[0].receipt, ours);
    assert_eq!(receipts[0].reply, reply);
    assert_eq!(receipts[0].answered_message_id, ping.message_id);
    assert_eq!(receipts[1].receipt, failed);
    assert_eq!(receipts[1].reply, edit);
}

/// Without a receipt handler the bot does not subscribe to receipts at all.
#[tokio::test]
async fn a_bot_without_a_receipt_handler_hears_no_receipts() {
    let redis = RedisServer::start().await;
    let bot = start(
        &redis,
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        ),
        ping_pong,
    )
    .await;
    let topic = inbound("r", "")
        .reply_topic
        .with_direction(Direction::Receipt);
    let receipt = DeliveryReceipt::delivered(None, vec!["1".into()]);
    assert_eq!(
        publish(&redis, &topic.to_string(), &receipt.encode()).await,
        0
    );
    bot.stop().await;
}

/// Platforms refuse empty messages, so a blank reply must never reach the bus.
#[tokio::test]
async fn blank_replies_are_never_published() {
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let bot = start(
        &redis,
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        ),
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
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        ),
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
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        ),
        ping_pong,
    )
    .await;
    redis.restart().await;
    let mut listener = replies(&redis).await;
    assert!(
        redis.wait_for_pattern_subscribers(2).await,
        "bot never subscribed"
    );
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
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        ),
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
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        ),
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
    assert!(wait_until(PATIENCE, || counters.stats().handler_failures == 1).await);
    let stats = bot.stop().await;
    assert_eq!((stats.replies, stats.handler_failures), (1, 1));
}

/// One stuck room must not stall the others: room A's first handler blocks (until the
/// test releases it, or 10 s) while 200 more messages arrive in A; room B is answered
/// meanwhile, and A's 201 messages are all answered, in order, once it is released.
#[tokio::test]
async fn a_stuck_room_does_not_hold_up_other_rooms_and_loses_nothing() {
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let released_by_test = Arc::new(AtomicBool::new(false));
    let handler = {
        let (started, release) = (Arc::clone(&started), Arc::clone(&release));
        let released_by_test = Arc::clone(&released_by_test);
        move |message: InboundMessage| {
            let (started, release) = (Arc::clone(&started), Arc::clone(&release));
            let released_by_test = Arc::clone(&released_by_test);
            async move {
                if message.content == "0" && message.room == "a" {
                    started.notify_one();
                    let released =
                        tokio::time::timeout(Duration::from_secs(10), release.notified());
                    released_by_test.store(released.await.is_ok(), Ordering::SeqCst);
                }
                vec![OutboundMessage::reply_to(
                    &message,
                    format!("{}:{}", message.room, message.content),
                )]
            }
        }
    };
    let bot = start(
        &redis,
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        ),
        handler,
    )
    .await;
    let first = inbound("a", "0");
    publish(&redis, &first.topic.to_string(), &first.encode()).await;
    tokio::time::timeout(PATIENCE, started.notified())
        .await
        .expect("room a's first handler started");
    let mut pipeline = redis::pipe();
    for n in 1..=200 {
        let message = inbound("a", &n.to_string());
        pipeline
            .cmd("PUBLISH")
            .arg(message.topic.to_string())
            .arg(message.encode())
            .ignore();
    }
    let other = inbound("b", "B");
    pipeline
        .cmd("PUBLISH")
        .arg(other.topic.to_string())
        .arg(other.encode())
        .ignore();
    let mut connection = redis.connection().await;
    let () = pipeline.query_async(&mut connection).await.unwrap();

    let (_, reply) = next_reply(&mut listener).await;
    assert_eq!(reply.content, "b:B", "room b answered first");
    // Room a's handler is still blocked: b did not wait for it.
    release.notify_one();
    let mut answered = Vec::new();
    for _ in 0..=200 {
        answered.push(next_reply(&mut listener).await.1.content);
    }
    assert!(
        released_by_test.load(Ordering::SeqCst),
        "room a's handler ran out its 10 s before room b was answered"
    );
    let expected: Vec<String> = (0..=200).map(|n| format!("a:{n}")).collect();
    assert_eq!(answered, expected);
    let subscription = bot.counters.subscription().unwrap().stats().unwrap();
    let stats = bot.stop().await;
    assert_eq!((stats.replies, stats.dropped_room_queue_full), (202, 0));
    assert_eq!(subscription.dropped, 0);
}

/// Rooms run concurrently, but never more handlers at once than `max_in_flight`.
#[tokio::test]
async fn rooms_run_concurrently_up_to_max_in_flight() {
    let mut options = BotOptions::default();
    options.max_in_flight = 2;
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (release, gate) = watch::channel(0usize);
    let handler = {
        let (running, most) = (Arc::clone(&running), Arc::clone(&most));
        move |message: InboundMessage| {
            let (running, most, mut gate) = (Arc::clone(&running), Arc::clone(&most), gate.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // Each handler waits until the test has released at least its number.
                let number: usize = message.content.parse().unwrap();
                let _ = gate.wait_for(|released| *released >= number).await;
                running.fetch_sub(1, Ordering::SeqCst);
                vec![OutboundMessage::reply_to(&message, message.content.clone())]
            }
        }
    };
    let bot = start(
        &redis,
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        )
        .options(options),
        handler,
    )
    .await;
    for (room, number) in [("a", "1"), ("b", "2"), ("c", "3")] {
        let message = inbound(room, number);
        publish(&redis, &message.topic.to_string(), &message.encode()).await;
    }
    let counters = bot.counters.clone();
    assert!(wait_until(PATIENCE, || counters.stats().decoded == 3).await);
    assert!(wait_until(PATIENCE, || running.load(Ordering::SeqCst) == 2).await);
    for number in 1..=3 {
        release.send_replace(number);
        let (_, reply) = next_reply(&mut listener).await;
        assert_eq!(reply.content, number.to_string());
    }
    assert_eq!(most.load(Ordering::SeqCst), 2, "two at once, never three");
    bot.stop().await;
}

/// At the bot-wide bound the bot stops reading: what does not fit in the
/// subscription's queue is dropped there, counted, and nothing is lost silently.
#[tokio::test]
async fn at_the_bot_wide_bound_deliveries_wait_in_the_subscription_queue() {
    let mut options = BotOptions::default();
    options.max_queued = 3;
    options.subscribe.queue_capacity = 2;
    let redis = RedisServer::start().await;
    let mut listener = replies(&redis).await;
    let (release, gate) = watch::channel(false);
    let bot = start(
        &redis,
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        )
        .options(options),
        move |message: InboundMessage| {
            let mut gate = gate.clone();
            async move {
                let _ = gate.wait_for(|released| *released).await;
                vec![OutboundMessage::reply_to(&message, message.content.clone())]
            }
        },
    )
    .await;
    let mut pipeline = redis::pipe();
    for n in 0..12 {
        let message = inbound(if n == 11 { "b" } else { "a" }, &n.to_string());
        pipeline
            .cmd("PUBLISH")
            .arg(message.topic.to_string())
            .arg(message.encode())
            .ignore();
    }
    let mut connection = redis.connection().await;
    let () = pipeline.query_async(&mut connection).await.unwrap();
    let subscription = bot.counters.subscription().unwrap();
    // At most 3 taken, 1 waiting for room in the dispatcher, 2 in the subscription's
    // queue: the other 6 or more are dropped by the subscription, and counted.
    assert!(
        wait_until(PATIENCE, || {
            subscription
                .stats()
                .is_some_and(|stats| stats.received == 12)
        })
        .await
    );
    let dropped = subscription.stats().unwrap().dropped;
    assert!(dropped >= 6, "{dropped}");
    release.send_replace(true);
    let mut answered = 0;
    while answered + dropped < 12 {
        next_reply(&mut listener).await;
        answered += 1;
    }
    let stats = bot.stop().await;
    assert_eq!(stats.replies, answered);
    assert_eq!(stats.dropped_room_queue_full, 0);
}

/// Shutdown is bounded even when a room is stuck: at the deadline the stuck handler is
/// cancelled, and it and the messages queued behind it are counted as abandoned.
#[tokio::test]
async fn shutdown_cancels_what_is_left_at_the_deadline_and_counts_it() {
    struct Cancelled(Arc<AtomicBool>);
    impl Drop for Cancelled {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let redis = RedisServer::start().await;
    let started = Arc::new(Notify::new());
    let cancelled = Arc::new(AtomicBool::new(false));
    let handler = {
        let (started, cancelled) = (Arc::clone(&started), Arc::clone(&cancelled));
        move |message: InboundMessage| {
            let (started, cancelled) = (Arc::clone(&started), Arc::clone(&cancelled));
            async move {
                if message.content == "stuck" {
                    let _guard = Cancelled(cancelled);
                    started.notify_one();
                    std::future::pending::<()>().await;
                }
                vec![OutboundMessage::reply_to(&message, "never")]
            }
        }
    };
    let mut options = BotOptions::default();
    options.shutdown_deadline = Duration::from_millis(200);
    let bot = start(
        &redis,
        Bot::new(
            bus_config(&redis.url(), "test-bot"),
            [Pattern::all_inbound()],
        )
        .options(options),
        handler,
    )
    .await;
    for content in ["stuck", "1", "2", "3"] {
        let message = inbound("a", content);
        publish(&redis, &message.topic.to_string(), &message.encode()).await;
    }
    tokio::time::timeout(PATIENCE, started.notified())
        .await
        .unwrap();
    let counters = bot.counters.clone();
    assert!(wait_until(PATIENCE, || counters.stats().decoded == 4).await);
    let stats = bot.stop().await;
    assert_eq!((stats.abandoned_at_shutdown, stats.replies), (4, 0));
    assert!(
        cancelled.load(Ordering::SeqCst),
        "the stuck handler was cancelled"
    );
}
