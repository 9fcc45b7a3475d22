//! `router-tools bench`: the commands work and count right. Small N, so these are
//! functional tests; the figures themselves belong in docs/performance.md, never in a
//! test's assertions.

use bytebot_e2e::{Daemon, binaries, router_tools, stderr, stdout};
use bytebot_test_support::RedisServer;
use serde_json::Value;

async fn bench_json(redis_url: &str, args: &[&str]) -> Value {
    let output = router_tools(redis_url, args, "").await;
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap_or_else(|err| {
        panic!(
            "bench --json prints one object ({err}): {}",
            stdout(&output)
        )
    })
}

/// `bench raw` publishes N messages to its own subscription and sees all of them.
#[tokio::test]
async fn bench_raw_delivers_every_message() {
    let redis = RedisServer::start().await;
    let report = bench_json(
        &redis.url(),
        &["bench", "raw", "--messages", "3000", "--json"],
    )
    .await;
    assert_eq!(report["published"], 3000, "{report}");
    assert_eq!(report["delivered"], 3000, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
}

/// Every phase's replies, matched by `in_reply_to`.
fn assert_every_reply(report: &Value) {
    let phases = report["phases"].as_array().expect("phases");
    assert_eq!(phases.len(), 2, "{report}");
    for phase in phases {
        assert_eq!(phase["lost"], 0, "{report}");
        assert!(phase["replies"].as_u64().unwrap() > 0, "{report}");
        assert_eq!(phase["replies"], phase["sent"], "{report}");
    }
}

const SHORT_RUN: [&str; 13] = [
    "bench",
    "roundtrip",
    "--content",
    "hello there",
    "--window",
    "8",
    "--rate",
    "200",
    "--duration",
    "0.5",
    "--warmup",
    "0.1",
    "--json",
];

/// `bench roundtrip` gets a reply to every message from example-subscriber in echo
/// mode, and reads its memory through `--pid`.
#[tokio::test]
async fn bench_roundtrip_gets_every_reply_from_the_echo_subscriber() {
    let redis = RedisServer::start().await;
    let subscriber = Daemon::example_subscriber(&redis.url(), &["--echo"]).await;
    let pid = subscriber.id().to_string();
    let mut args = SHORT_RUN.to_vec();
    args.extend(["--pid", &pid]);
    let report = bench_json(&redis.url(), &args).await;
    assert_every_reply(&report);
    assert!(report["idle_rss_kib"].as_u64().unwrap() > 0, "{report}");
}

/// The framework-free echo answers the same envelopes, so the two compare.
#[tokio::test]
async fn bench_echo_server_answers_roundtrip() {
    let redis = RedisServer::start().await;
    let echo = Daemon::spawn(
        &binaries().router_tools,
        &["bench", "echo-server", "--current-thread"],
        &[("REDIS_URL", &redis.url())],
    );
    echo.wait_subscribed(&redis.url(), "bench-echo").await;
    let report = bench_json(&redis.url(), &SHORT_RUN).await;
    assert_every_reply(&report);
}

/// With nobody answering, `bench roundtrip` says so instead of reporting zeros.
#[tokio::test]
async fn bench_roundtrip_without_a_subscriber_fails_with_a_hint() {
    let redis = RedisServer::start().await;
    let output = router_tools(&redis.url(), &SHORT_RUN, "").await;
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("is a subscriber running"),
        "{}",
        stderr(&output)
    );
}
