//! A toy gateway running in this process, wired to a private Redis.

use bytebot_core::Platform;
use bytebot_core::bus::{RedisUrl, Subscription};
use bytebot_core::receipt::{DeliveryReceipt, decode_receipt};
use bytebot_daemon::Health;
use bytebot_gateway::{GatewayConfig, GatewayCounters, GatewayRuntime};
use bytebot_test_support::{PATIENCE, RedisServer};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::toy::{ToyAdapter, ToyChat};

/// A toy gateway: Redis, the toy platform, and `GatewayRuntime::run`.
pub struct Toy {
    pub redis: RedisServer,
    pub chat: ToyChat,
    /// The adapter's inbound side, to make people talk.
    pub adapter: ToyAdapter,
    pub counters: GatewayCounters,
    stop: Option<oneshot::Sender<()>>,
    /// Ends the platform session with this reason, as a fatal platform error would.
    pub end_session: Option<oneshot::Sender<String>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Toy {
    pub async fn start() -> Toy {
        Toy::start_with(|_| {}).await
    }

    /// Starts Redis and the gateway, and waits until the platform is connected and the
    /// outbound subscription is up.
    pub async fn start_with(configure: impl FnOnce(&mut GatewayConfig)) -> Toy {
        let redis = RedisServer::start().await;
        let mut config = GatewayConfig::new(RedisUrl::parse(&redis.url()).unwrap());
        configure(&mut config);
        let counters = config.counters.clone();
        let chat = ToyChat::default();
        let runtime = GatewayRuntime::start(Platform::new("toy").unwrap(), config, Health::new())
            .await
            .unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let (end_session, session_ended) = oneshot::channel::<String>();
        let (connected, adapter) = oneshot::channel();
        let platform = chat.clone();
        let task = tokio::spawn(runtime.run(
            move |inbound| async move {
                let _ = connected.send(ToyAdapter::new(platform.clone(), inbound.clone()));
                let adapter = ToyAdapter::new(platform, inbound);
                let closed = adapter.session();
                let session = async move {
                    tokio::select! {
                        Ok(reason) = session_ended => anyhow::anyhow!(reason),
                        closed = closed => closed,
                    }
                };
                Ok((adapter, session))
            },
            async {
                let _ = stopped.await;
            },
        ));
        let adapter = tokio::time::timeout(PATIENCE, adapter)
            .await
            .expect("connected in time")
            .expect("connect ran");
        assert!(
            redis.wait_for_pattern_subscribers(1).await,
            "the runtime never subscribed to outbound.toy.*.*.*"
        );
        Toy {
            redis,
            chat,
            adapter,
            counters,
            stop: Some(stop),
            end_session: Some(end_session),
            task,
        }
    }

    /// PUBLISHes `payload` on `topic`; returns how many subscribers got it.
    pub async fn publish(&self, topic: &str, payload: impl AsRef<[u8]>) -> i64 {
        self.redis.publish(topic, payload).await
    }

    /// PUBLISHes every `(topic, payload)` in one pipeline (they arrive back to back).
    pub async fn publish_all(&self, messages: &[(String, Vec<u8>)]) {
        let mut connection = self.redis.connection().await;
        let mut pipeline = redis::pipe();
        for (topic, payload) in messages {
            pipeline.cmd("PUBLISH").arg(topic).arg(payload).ignore();
        }
        pipeline.exec_async(&mut connection).await.unwrap();
    }

    /// A subscription of the test's own on `pattern`, connected.
    pub async fn subscribe(&self, pattern: &str) -> Subscription {
        self.redis.subscribe(pattern).await
    }

    /// Stops the gateway as SIGTERM would and returns what `run` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.join().await
    }

    /// Like [`Toy::stop`], but hands the Redis server back, so that a test can still read
    /// what the gateway published while stopping: a killed server resets its connections,
    /// and a subscriber loses what it had not read yet.
    pub async fn stop_keeping_redis(mut self) -> (anyhow::Result<()>, RedisServer) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = self.join().await;
        (result, self.redis)
    }

    /// Waits for `run` to return by itself.
    pub async fn join(&mut self) -> anyhow::Result<()> {
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("the gateway stops within the deadline")
            .expect("the gateway task does not panic")
    }
}

/// `outbound.toy.world.<room>.alice`.
pub fn outbound(room: &str) -> String {
    format!("outbound.toy.world.{room}.alice")
}

pub use bytebot_test_support::next_delivery as next;

/// The next receipt and the topic it came on.
pub async fn next_receipt(subscription: &mut Subscription) -> (String, DeliveryReceipt) {
    let delivery = next(subscription).await;
    let receipt = decode_receipt(&delivery.payload).expect("a valid receipt");
    (delivery.channel, receipt)
}
