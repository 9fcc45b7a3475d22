//! A running gateway wired to a private Redis and a fake Discord, plus helpers.

use std::time::Duration;

use crate::fake_discord::FakeDiscord;
use bytebot_core::bus::{RedisUrl, Subscription};
use bytebot_test_support::{RedisServer, free_local_addr, wait_for_status, wait_until};
use gateway_discord::{Config, GatewayCounters};
use secrecy::SecretString;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use bytebot_test_support::PATIENCE;

/// The token every test gateway uses; searched for in logs.
pub const TOKEN: &str = "MTEST.fake-token.S3CR3T-do-not-log";

/// Ids used across tests.
pub const GUILD: u64 = 1_190_804_811_990_446_190;
pub const CHANNEL: u64 = 1_200_058_256_127_688_735;
pub const OTHER_CHANNEL: u64 = 1_200_058_256_127_688_999;
pub const ALICE: u64 = 179_258_058_118_135_808;

/// A gateway running in this process.
pub struct Gateway {
    pub redis: RedisServer,
    pub discord: FakeDiscord,
    pub counters: GatewayCounters,
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub http_addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Gateway {
    /// Starts Redis, the fake and the gateway, and waits until the gateway is logged
    /// in to the fake and subscribed to `outbound.discord.*.*.*`.
    pub async fn start() -> Gateway {
        Gateway::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Gateway {
        let redis = RedisServer::start().await;
        let discord = FakeDiscord::start().await;
        let mut config = config(&redis, &discord);
        // `/readyz` tells when the gateway publishes in order (see `wait_ready`).
        config.gateway.http_addr = Some(free_local_addr());
        configure(&mut config);
        let http_addr = config.gateway.http_addr.expect("an http address");
        let counters = config.gateway.counters.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway_discord::run(config, async {
            let _ = stopped.await;
        }));
        let gateway = Gateway {
            http_addr,
            redis,
            discord,
            counters,
            stop: Some(stop),
            task,
        };
        gateway.wait_ready().await;
        gateway
    }

    /// Waits for a live gateway session and the outbound subscription.
    pub async fn wait_ready(&self) {
        assert!(
            wait_until(PATIENCE, || self.discord.connected()).await,
            "the gateway never logged in to the fake discord"
        );
        assert!(
            self.discord.gateway_url_requested(),
            "serenity did not ask the fake for the gateway url: it would talk to the real discord"
        );
        assert!(
            self.redis.wait_for_pattern_subscribers(1).await,
            "the gateway never subscribed to outbound.discord.*.*.*"
        );
        // Ready only once the in-order collector is registered: events injected right
        // after READY would otherwise be published by the handlers, in any order.
        wait_for_status(self.http_addr, "/readyz", 200)
            .await
            .expect("the gateway becomes ready");
    }

    /// A subscription of the test's own on `pattern`, connected.
    pub async fn subscribe(&self, pattern: &str) -> Subscription {
        subscribe(&self.redis, pattern).await
    }

    /// PUBLISHes `payload` on `topic` and returns how many subscribers got it.
    pub async fn publish(&self, topic: &str, payload: impl AsRef<[u8]>) -> i64 {
        self.redis.publish(topic, payload).await
    }

    /// Stops the gateway as SIGTERM would and returns what `run` returned.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop_keeping_discord().await.0
    }

    /// [`Gateway::stop`], keeping the fake Discord to inspect afterwards.
    pub async fn stop_keeping_discord(mut self) -> (anyhow::Result<()>, FakeDiscord) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("the gateway stops within the deadline")
            .expect("the gateway task does not panic");
        (result, self.discord)
    }
}

pub fn config(redis: &RedisServer, discord: &FakeDiscord) -> Config {
    config_for_url(&redis.url(), discord)
}

/// [`config`] for any Redis URL (a cluster's).
pub fn config_for_url(redis_url: &str, discord: &FakeDiscord) -> Config {
    let mut config = Config::new(
        SecretString::from(TOKEN),
        RedisUrl::parse(redis_url).unwrap(),
    );
    config.discord_api_url = Some(discord.api_url());
    config.gateway.shutdown_timeout = Duration::from_secs(5);
    config
}

pub async fn subscribe(redis: &RedisServer, pattern: &str) -> Subscription {
    redis.subscribe(pattern).await
}

pub use bytebot_test_support::next_delivery as next;

/// The next delivery parsed as JSON.
pub async fn next_json(subscription: &mut Subscription) -> (String, serde_json::Value) {
    let delivery = next(subscription).await;
    let value = serde_json::from_slice(&delivery.payload).expect("JSON payload");
    (delivery.channel, value)
}

/// Waits until the fake has `n` posted messages in `channel`.
pub async fn wait_posted(discord: &FakeDiscord, channel: u64, n: usize) -> bool {
    wait_until(PATIENCE, || discord.posted_in(channel).len() >= n).await
}

/// The outbound topic of a channel in the test guild, answering Alice.
pub fn outbound_topic(channel: u64) -> String {
    format!("outbound.discord.{GUILD}.{channel}.{ALICE}")
}
