//! gateway-irc: the IRC <-> Redis bridge, a small adapter on the platform-neutral
//! runtime of `bytebot-gateway` (subscriptions, per-room workers, splitting, receipts,
//! counters and the lifecycle live there).
//!
//! - [`connection`]: one task per server connection (registration, keepalive,
//!   reconnect, rejoin) and its [`Connection`] handle;
//! - [`adapter`]: IRC messages <-> envelopes and topics, the runtime's `Adapter`;
//! - [`split`]: outbound text into lines of at most 512 bytes as the server relays them;
//! - [`flood`]: the token bucket every PRIVMSG goes through;
//! - [`session`]: what the server said about its rules (CASEMAPPING) and about us;
//! - [`config`]: server, nick, channels and secrets, parsed once.
//!
//! `main.rs` parses flags into a [`Config`] and calls [`run`].

pub mod adapter;
pub mod config;
pub mod connection;
pub mod flood;
pub mod session;
pub mod split;
mod wire;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use bytebot_core::Platform;
use bytebot_daemon::Health;
use bytebot_gateway::{GatewayConfig, GatewayRuntime};
use tokio::sync::watch;

pub use bytebot_gateway::{GatewayCounters, GatewayStats};
pub use config::IrcConfig;

use crate::adapter::Irc;
use crate::connection::{Connection, EventSink, Status};

/// Validated settings for [`run`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The IRC side: server, nick, channels, secrets, flood limit.
    pub irc: IrcConfig,
    /// What every gateway is configured with: Redis, `--http-addr`, the shutdown
    /// deadline, `--include-bots`, `--max-parts`, the counters.
    pub gateway: GatewayConfig,
}

/// Runs the gateway until `shutdown` resolves (then sends QUIT and drains within the
/// shutdown timeout). Lost IRC and Redis connections are ridden out: the IRC
/// connection reconnects with a capped backoff and rejoins, the Redis outbox keeps
/// inbound messages meanwhile. Only start-up failures (the HTTP address in use) are
/// errors.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let platform = Platform::new(adapter::PLATFORM).expect("`irc` is a valid platform name");
    let Config { irc, gateway } = config;
    let status: Arc<OnceLock<watch::Receiver<Status>>> = Arc::default();
    let health = {
        let status = Arc::clone(&status);
        Health::new().check("irc", move || match status.get() {
            Some(status) => status.borrow().ready(),
            None => Err("starting".to_owned()),
        })
    };
    tracing::info!(
        server = %irc.server,
        tls = irc.tls,
        nick = %irc.nick,
        network = %irc.network,
        channels = ?irc.channels.iter().map(|channel| channel.name.as_str()).collect::<Vec<_>>(),
        redis = %gateway.redis_url,
        "starting"
    );
    let runtime = GatewayRuntime::start(platform, gateway, health).await?;
    runtime
        .run(
            |inbound| async move {
                let network = irc.network.clone();
                let events: EventSink = {
                    let network = network.clone();
                    Arc::new(move |event, session| {
                        adapter::publish(&inbound, &network, event, session);
                    })
                };
                let connection = Arc::new(Connection::start(irc, events));
                let _ = status.set(connection.status());
                let mut closed = connection.status();
                let session = async move {
                    let _ = closed.wait_for(|status| status.closed).await;
                    anyhow::anyhow!("the IRC connection closed")
                };
                Ok((Irc::new(network, connection), session))
            },
            shutdown,
        )
        .await
}
