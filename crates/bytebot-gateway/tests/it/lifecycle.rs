//! Start, shutdown and the end of a platform session.

use std::time::Duration;

use bytebot_core::Platform;
use bytebot_core::bus::RedisUrl;
use bytebot_daemon::Health;
use bytebot_gateway::{GatewayConfig, GatewayRuntime};
use bytebot_test_support::{
    PATIENCE, RedisServer, free_local_addr, http_get, wait_for_status, wait_until,
};

use crate::support::{Toy, next_receipt, outbound};
use crate::toy::{ToyAdapter, ToyChat};

/// On SIGTERM the messages already taken from Redis are performed and their receipts
/// published before `run` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_what_was_taken() {
    let toy = Toy::start().await;
    let mut receipts = toy.subscribe("receipt.toy.*.*.*").await;
    toy.chat.hold(true);
    let messages: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| (outbound("north"), format!("\"{i}\"").into_bytes()))
        .collect();
    toy.publish_all(&messages).await;
    assert!(wait_until(PATIENCE, || toy.counters.stats().outbound_received == 3).await);
    let chat = toy.chat.clone();
    let stopping = tokio::spawn(toy.stop_keeping_redis());
    // Released only once shutdown has begun.
    tokio::time::sleep(Duration::from_millis(100)).await;
    chat.hold(false);
    let (stopped, _redis) = stopping.await.unwrap();
    stopped.unwrap();
    assert_eq!(chat.texts_in("north"), ["0", "1", "2"]);
    for _ in 0..3 {
        assert!(next_receipt(&mut receipts).await.1.ok);
    }
}

/// A request that never completes cannot hold the gateway past its shutdown deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shutdown_deadline_bounds_a_stuck_request() {
    let toy = Toy::start_with(|config| config.shutdown_timeout = Duration::from_secs(1)).await;
    toy.chat.hold(true);
    toy.publish(&outbound("north"), "\"stuck\"").await;
    assert!(wait_until(PATIENCE, || toy.counters.stats().outbound_received == 1).await);
    // `stop` fails the test if the gateway is not gone within PATIENCE.
    toy.stop().await.unwrap();
}

/// When the platform session ends for good (a revoked token, say), `run` returns its
/// reason as the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_of_the_session_ends_run_with_its_reason() {
    let mut toy = Toy::start().await;
    let _ = toy
        .end_session
        .take()
        .unwrap()
        .send("token revoked".to_owned());
    let error = toy.join().await.unwrap_err();
    assert_eq!(format!("{error:#}"), "token revoked");
}

/// The HTTP listener is up before the platform connects ("alive, not ready"), a
/// shutdown during the login ends `run` cleanly, and the listener stops last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alive_before_login_and_a_shutdown_during_login_is_clean() {
    let redis = RedisServer::start().await;
    let addr = free_local_addr();
    let mut config = GatewayConfig::new(RedisUrl::parse(&redis.url()).unwrap());
    config.http_addr = Some(addr);
    let health = Health::new().check("toy", || Err("logging in".to_owned()));
    let runtime = GatewayRuntime::start(Platform::new("toy").unwrap(), config, health)
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(runtime.run(
        |inbound| async move {
            // A login that never finishes.
            std::future::pending::<()>().await;
            Ok((ToyAdapter::new(ToyChat::default(), inbound), async {
                anyhow::anyhow!("unreachable")
            }))
        },
        async {
            let _ = stopped.await;
        },
    ));
    wait_for_status(addr, "/healthz", 200).await.unwrap();
    let readyz = http_get(addr, "/readyz").await.unwrap();
    assert_eq!(readyz.status, 503);
    assert!(readyz.body.contains("toy: logging in"), "{readyz:?}");
    stop.send(()).unwrap();
    tokio::time::timeout(PATIENCE, run)
        .await
        .expect("stops in time")
        .unwrap()
        .unwrap();
    assert!(
        http_get(addr, "/healthz").await.is_none(),
        "the listener stops with run"
    );
}
