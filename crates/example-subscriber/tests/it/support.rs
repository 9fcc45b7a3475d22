//! Running the bot in-process, and playing the gateway around it.

use std::net::SocketAddr;

use bytebot_core::bot::BotStats;
use bytebot_core::bus::{RedisUrl, SubscribeOptions, Subscription};
use bytebot_core::envelope::{
    Author, InboundKind, InboundMessage, OutboundMessage, decode_outbound,
};
use bytebot_core::pattern::Pattern;
use bytebot_core::receipt::DeliveryReceipt;
use bytebot_core::{Direction, Space, Topic};
use bytebot_test_support::{PATIENCE, RedisServer, bus_config, free_local_addr};
use example_subscriber::Config;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// example-subscriber running in the background, with `/metrics` on `addr`.
pub struct Running {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<BotStats>>,
}

impl Running {
    /// Starts it with its defaults (and `/metrics`), and waits until it is subscribed.
    pub async fn start(redis: &RedisServer) -> Running {
        let addr = free_local_addr();
        let config = Config {
            http_addr: Some(addr),
            ..Config::new(RedisUrl::parse(&redis.url()).unwrap())
        };
        let before = redis.pattern_subscribers().await;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(example_subscriber::run(config, async {
            let _ = stopped.await;
        }));
        assert!(
            redis.wait_for_pattern_subscribers(before + 1).await,
            "example-subscriber never subscribed"
        );
        Running { addr, stop, task }
    }

    /// Stops it and returns its final counters.
    pub async fn stop(self) -> BotStats {
        let _ = self.stop.send(());
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("example-subscriber stops in time")
            .unwrap()
            .unwrap()
    }
}

/// The topic alice writes on in `room`, on the console platform.
pub fn topic(room: &str) -> Topic {
    Topic::builder(Direction::Inbound, "console")
        .space(Space::id("local"))
        .room(room)
        .user("alice")
        .build()
        .unwrap()
}

/// A new message from alice, with the platform id `message_id`.
pub fn message(message_id: &str, content: &str) -> InboundMessage {
    InboundMessage::new(
        topic("r"),
        message_id,
        Author::new("alice", "alice"),
        content,
    )
}

/// An event of `kind` about `message_id` (content `content` for an edit).
pub fn event(kind: InboundKind, message_id: &str, content: &str) -> InboundMessage {
    let mut event =
        InboundMessage::event(kind, topic("r"), message_id, Author::new("alice", "alice"));
    event.content = content.to_owned();
    event
}

/// Publishes `payload` on `channel`, returns how many subscribers received it.
pub async fn publish(redis: &RedisServer, channel: &str, payload: &[u8]) -> i64 {
    redis.publish(channel, payload).await
}

/// Publishes `message` on its topic, as a gateway does.
pub async fn publish_inbound(redis: &RedisServer, message: &InboundMessage) {
    publish(redis, &message.topic.to_string(), &message.encode()).await;
}

/// Plays the gateway's part after `reply` (published on the outbound `channel`):
/// its receipt, the action carried out on the platform messages `message_ids`.
pub async fn deliver(
    redis: &RedisServer,
    channel: &str,
    reply: &OutboundMessage,
    message_ids: &[&str],
) {
    let topic: Topic = channel.parse().unwrap();
    let receipt = DeliveryReceipt::delivered(
        reply.in_reply_to,
        message_ids.iter().map(|id| (*id).to_owned()).collect(),
    )
    .for_action(reply.action);
    let receivers = publish(
        redis,
        &topic.with_direction(Direction::Receipt).to_string(),
        &receipt.encode(),
    )
    .await;
    assert_eq!(receivers, 1, "the bot listens to its receipts");
}

/// What the bot publishes on `outbound.*`, as the gateway sees it.
pub struct Outbound(Subscription);

impl Outbound {
    pub async fn listen(redis: &RedisServer) -> Outbound {
        let subscription = Subscription::start(
            bus_config(&redis.url(), "test-gateway"),
            vec![Pattern::parse_raw("outbound.*")],
            SubscribeOptions::default(),
        );
        subscription.wait_connected(PATIENCE).await.unwrap();
        Outbound(subscription)
    }

    /// The next outbound envelope and the channel it came on.
    pub async fn next(&mut self) -> (String, OutboundMessage) {
        let delivery = tokio::time::timeout(PATIENCE, self.0.recv())
            .await
            .expect("an outbound message in time")
            .unwrap();
        let message = decode_outbound(&delivery.payload).expect("a valid outbound envelope");
        (delivery.channel, message)
    }
}
