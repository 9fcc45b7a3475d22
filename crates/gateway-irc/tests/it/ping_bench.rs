//! The `!ping` round trip through a real IRC server: a plain IRC client (the human)
//! sends `!ping` in a channel on ngircd, the real gateway-irc binary publishes it to a
//! private Redis, the real example-subscriber answers, and the time until the client
//! reads the `pong` line is measured. One ping at a time (closed loop), after a
//! warm-up. Ignored in the normal run (figures, not assertions):
//!
//! ```text
//! cargo test --release -p gateway-irc --test it ping_bench -- --ignored --nocapture
//! ```
//!
//! Neither flood control paces the measurement: ngircd runs with `MaxPenaltyTime = 0`
//! (otherwise it reads a client's lines at about 2 a second, and the human's `!ping`s
//! would queue behind its penalty), and the gateway's bucket is made larger than the
//! run (`IRC_FLOOD_BURST`, 1 ms per line after it).

use std::process::{Command, Stdio};
use std::time::Instant;

use bytebot_test_support::{
    IrcServer, KillOnDrop, RedisServer, cargo_binary, free_local_addr, wait_for_status,
};
use serde_json::json;

/// Pings measured (after [`WARM_UP`] that are not).
const MEASURED: usize = 200;
const WARM_UP: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: prints figures, asserts nothing about speed"]
async fn ping_bench() {
    let subscriber = cargo_binary("example-subscriber", "example-subscriber");
    let irc = IrcServer::builder().no_penalties().start().await;
    let redis = RedisServer::start().await;
    let http = free_local_addr();
    let quiet = |command: &mut Command| {
        command
            .env("REDIS_URL", redis.url())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
    };
    let mut gateway = Command::new(env!("CARGO_BIN_EXE_gateway-irc"));
    quiet(&mut gateway);
    gateway
        .env("IRC_SERVER", irc.addr())
        .env("IRC_NICK", "bytebot")
        .env("IRC_CHANNELS", "#bench")
        .env("IRC_NETWORK", "testnet")
        .env("IRC_FLOOD_BURST", (10 * (WARM_UP + MEASURED)).to_string())
        .env("IRC_FLOOD_INTERVAL_MS", "1")
        .env("BYTEBOT_HTTP_ADDR", http.to_string());
    let _gateway = KillOnDrop(gateway.spawn().expect("spawning gateway-irc"));
    let mut bot = Command::new(&subscriber);
    quiet(&mut bot);
    let _bot = KillOnDrop(bot.spawn().expect("spawning example-subscriber"));
    wait_for_status(http, "/readyz", 200).await.unwrap();
    assert!(
        redis.wait_for_pattern_subscribers(2).await,
        "the gateway and the bot never subscribed"
    );

    let mut alice = irc.client("alice").await;
    alice.join("#bench", None).await;
    let mut latencies = Vec::with_capacity(MEASURED);
    for _ in 0..WARM_UP + MEASURED {
        let sent = Instant::now();
        alice.privmsg("#bench", "!ping").await;
        let (target, text) = alice.expect_privmsg_from("bytebot").await;
        let elapsed = sent.elapsed();
        assert_eq!((target.as_str(), text.as_str()), ("#bench", "pong"));
        latencies.push(elapsed);
    }
    let mut latencies = latencies.split_off(WARM_UP);
    latencies.sort();
    let at = |q: f64| {
        let index = ((latencies.len() as f64 * q) as usize).min(latencies.len() - 1);
        latencies[index].as_secs_f64() * 1000.0
    };
    let max = latencies.last().unwrap().as_secs_f64() * 1000.0;
    println!(
        "IRC !ping, PRIVMSG sent -> pong read, through ngircd, gateway-irc, Redis and example-subscriber, {} measured one at a time: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {max:.3} ms",
        latencies.len(),
        at(0.5),
        at(0.9),
        at(0.99),
    );
    println!(
        "{}",
        json!({
            "bench": "irc-ping-round-trip",
            "measured": latencies.len(),
            "latency_ms": {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": max},
        })
    );
}
