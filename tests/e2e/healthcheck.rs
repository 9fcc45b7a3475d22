//! `<daemon> healthcheck`, the container healthcheck of a distroless image (no curl),
//! run as docker compose runs it: the real binary, next to the real daemon, with the
//! daemon's own `BYTEBOT_HTTP_ADDR`. (The gateway's, which needs a fake Discord, is in
//! gateway-discord's `tests/it/binary.rs`.)

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;

use bytebot_e2e::{Daemon, binaries, run, stderr, stdout};
use bytebot_test_support::{RedisServer, free_local_addr, wait_for_status};

/// `program healthcheck` with `BYTEBOT_HTTP_ADDR=addr` (or none), nothing else set.
async fn healthcheck(program: &Path, addr: Option<SocketAddr>) -> Output {
    let addr = addr.map(|addr| addr.to_string());
    let mut env = vec![("NO_COLOR", "1")];
    if let Some(addr) = &addr {
        env.push(("BYTEBOT_HTTP_ADDR", addr));
    }
    run(program, &["healthcheck"], &env, "").await
}

/// The check follows the bot's `/readyz`: exit 1 while nothing listens, 0 and `ready`
/// once it is subscribed, 1 with the reason during a Redis outage, 0 again after it.
#[tokio::test]
async fn example_subscriber_healthcheck_follows_readyz() {
    let program = &binaries().example_subscriber;
    let addr = free_local_addr();
    let before = healthcheck(program, Some(addr)).await;
    assert_eq!(before.status.code(), Some(1), "{}", stderr(&before));
    assert!(
        stderr(&before).starts_with(&format!("healthcheck: connecting to {addr}: ")),
        "{}",
        stderr(&before)
    );

    let redis = RedisServer::start().await;
    let mut subscriber = Daemon::spawn(
        program,
        &[],
        &[
            ("REDIS_URL", &redis.url()),
            ("BYTEBOT_HTTP_ADDR", &addr.to_string()),
            ("NO_COLOR", "1"),
        ],
    );
    subscriber
        .wait_subscribed(&redis.url(), "example-subscriber")
        .await;
    wait_for_status(addr, "/readyz", 200).await.unwrap();
    let ready = healthcheck(program, Some(addr)).await;
    assert_eq!(ready.status.code(), Some(0), "{}", stderr(&ready));
    assert_eq!(stdout(&ready), "ready\n");
    assert_eq!(stderr(&ready), "");

    redis.stop().await;
    wait_for_status(addr, "/readyz", 503).await.unwrap();
    let outage = healthcheck(program, Some(addr)).await;
    assert_eq!(outage.status.code(), Some(1));
    let reason = stderr(&outage);
    assert!(
        reason.starts_with("healthcheck: 503 Service Unavailable from ")
            && reason.contains("not ready: redis: "),
        "{reason}"
    );
    assert_eq!(reason.lines().count(), 1, "{reason}");

    redis.restart().await;
    wait_for_status(addr, "/readyz", 200).await.unwrap();
    let again = healthcheck(program, Some(addr)).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));

    let status = subscriber.terminate().await;
    assert!(status.success(), "{status:?}\n{}", subscriber.log());
}

/// Without an address there is nothing to ask: exit 1, saying which variable to set.
/// Every daemon's healthcheck parses without the settings the daemon itself needs
/// (`gateway-irc healthcheck` once refused to run without `IRC_SERVER`).
#[tokio::test]
async fn healthcheck_without_an_address_says_what_to_set() {
    for program in [
        &binaries().example_subscriber,
        &binaries().gateway_discord,
        &binaries().gateway_irc,
    ] {
        let output = healthcheck(program, None).await;
        assert_eq!(output.status.code(), Some(1), "{}", program.display());
        assert!(
            stderr(&output).contains("set BYTEBOT_HTTP_ADDR"),
            "{}",
            stderr(&output)
        );
    }
}

/// `gateway-irc healthcheck`, as compose runs it: with only the address, nothing
/// listening there is "not ready" (exit 1), not a usage error about `--server`.
#[tokio::test]
async fn gateway_irc_healthcheck_needs_only_the_address() {
    let addr = free_local_addr();
    let output = healthcheck(&binaries().gateway_irc, Some(addr)).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).starts_with(&format!("healthcheck: connecting to {addr}: ")),
        "{}",
        stderr(&output)
    );
}
