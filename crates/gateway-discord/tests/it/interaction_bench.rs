//! The time from a `/ping` INTERACTION_CREATE (the fake's dispatch) to the callback
//! POST that answers it, through the real binaries: gateway-discord, example-subscriber
//! and a private Redis, against the fake Discord on loopback. One interaction at a time
//! (closed loop), after a warm-up. Ignored in the normal run (figures, not assertions):
//!
//! ```text
//! cargo test --release -p gateway-discord --test it interaction_bench -- --ignored --nocapture
//! ```

use std::process::{Command, Stdio};

use bytebot_test_support::{KillOnDrop, RedisServer, cargo_binary, wait_until};
use serde_json::json;

use crate::fake_discord::{DiscordInteraction, FakeDiscord};
use crate::support::{ALICE, CHANNEL, GUILD, PATIENCE, TOKEN};

/// Interactions measured (after [`WARM_UP`] that are not).
const MEASURED: usize = 500;
const WARM_UP: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: prints figures, asserts nothing about speed"]
async fn interaction_bench() {
    let subscriber = cargo_binary("example-subscriber", "example-subscriber");
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    let quiet = |command: &mut Command| {
        command
            .env("REDIS_URL", redis.url())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
    };
    let mut gateway = Command::new(env!("CARGO_BIN_EXE_gateway-discord"));
    quiet(&mut gateway);
    gateway
        .env("DISCORD_TOKEN", TOKEN)
        .env("DISCORD_API_URL", discord.api_url());
    let _gateway = KillOnDrop(gateway.spawn().expect("spawning the gateway"));
    let mut bot = Command::new(&subscriber);
    quiet(&mut bot);
    let _bot = KillOnDrop(bot.spawn().expect("spawning example-subscriber"));
    assert!(
        wait_until(PATIENCE, || discord.connected()).await,
        "never logged in"
    );
    assert!(
        redis.wait_for_pattern_subscribers(2).await,
        "the gateway and the bot never subscribed"
    );

    let ping = DiscordInteraction::command(GUILD, CHANNEL, ALICE, "ping", json!([]));
    let mut latencies = Vec::with_capacity(MEASURED);
    let mut deferred = 0;
    for i in 0..WARM_UP + MEASURED {
        let dispatched = discord.interact(&ping);
        let call = discord
            .first_call(dispatched.id, PATIENCE)
            .await
            .unwrap_or_else(|| panic!("no answer to interaction {i}"));
        assert_eq!(call.content(), Some("pong"), "{call:?}");
        if call.callback_type() != Some(4) {
            deferred += 1;
        }
        if i >= WARM_UP {
            latencies.push(call.at.duration_since(dispatched.at));
        }
    }
    latencies.sort();
    let at = |q: f64| {
        let index = ((latencies.len() as f64 * q) as usize).min(latencies.len() - 1);
        latencies[index].as_secs_f64() * 1000.0
    };
    println!(
        "interaction /ping, INTERACTION_CREATE -> callback POST, {} measured one at a time ({deferred} deferred): p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        latencies.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        latencies.last().unwrap().as_secs_f64() * 1000.0
    );
    println!(
        "{}",
        json!({
            "bench": "gateway-interaction-ping",
            "measured": latencies.len(),
            "deferred": deferred,
            "latency_ms": {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99)},
        })
    );
}
