//! The HTTP listener on a real socket: routes, status codes, content types, stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytebot_daemon::{DaemonShell, Health, HttpServer, Metrics};
use bytebot_test_support::http_get;

/// Readiness with one check, `name`, that fails with `reason` until the returned flag
/// is set.
fn switched_health(name: &'static str, reason: &'static str) -> (Arc<AtomicBool>, Health) {
    let up = Arc::new(AtomicBool::new(false));
    let probe = Arc::clone(&up);
    let health = Health::new().check(name, move || {
        if probe.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(reason.to_owned())
        }
    });
    (up, health)
}

/// `/readyz` follows the checks and says why it is not ready; `/healthz` does not
/// care; unknown paths are 404; after `stop` nothing listens.
#[tokio::test]
async fn endpoints_answer_from_health_and_metrics() {
    let (up, health) = switched_health("redis", "not subscribed");
    let metrics = Arc::new(Metrics::new("test-daemon"));
    metrics.on_render(|metrics| {
        metrics
            .counter(bytebot_daemon::metrics::names::SENT, &[])
            .absolute(7);
    });
    let server = HttpServer::start("127.0.0.1:0".parse().unwrap(), health.clone(), metrics)
        .await
        .unwrap();
    let addr = server.local_addr();

    let healthz = http_get(addr, "/healthz").await.unwrap();
    assert_eq!((healthz.status, healthz.body.as_str()), (200, "ok\n"));
    let readyz = http_get(addr, "/readyz").await.unwrap();
    assert_eq!(readyz.status, 503);
    assert_eq!(readyz.body, "not ready: redis: not subscribed\n");
    up.store(true, Ordering::Relaxed);
    assert_eq!(http_get(addr, "/readyz").await.unwrap().status, 200);
    let metrics = http_get(addr, "/metrics").await.unwrap();
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("bytebot_messages_sent_total{daemon=\"test-daemon\"} 7"),
        "{}",
        metrics.body
    );
    assert_eq!(http_get(addr, "/nope").await.unwrap().status, 404);

    health.set_draining();
    let readyz = http_get(addr, "/readyz").await.unwrap();
    assert_eq!(
        (readyz.status, readyz.body.as_str()),
        (503, "not ready: shutting down\n")
    );

    server.stop().await;
    assert!(http_get(addr, "/healthz").await.is_none());
}

/// The daemon shell's order: listening (alive, not ready) before the work is ready;
/// `/readyz` 503 from the moment shutdown begins while the work still drains, with
/// `/metrics` still served; nothing listening after `stop`.
#[tokio::test]
async fn the_shell_drains_before_it_stops_listening() {
    let (up, health) = switched_health("work", "starting");
    let shell = DaemonShell::start("test-daemon", Some("127.0.0.1:0".parse().unwrap()), health)
        .await
        .unwrap();
    let addr = shell.local_addr().unwrap();
    shell.metrics().on_render(|metrics| {
        metrics
            .counter(bytebot_daemon::metrics::names::SENT, &[])
            .absolute(3);
    });
    assert_eq!(http_get(addr, "/healthz").await.unwrap().status, 200);
    let readyz = http_get(addr, "/readyz").await.unwrap();
    assert_eq!(
        (readyz.status, readyz.body.as_str()),
        (503, "not ready: work: starting\n")
    );
    up.store(true, Ordering::Relaxed);
    assert_eq!(http_get(addr, "/readyz").await.unwrap().status, 200);

    // The "work": runs until its shutdown signal, then checks what a scraper sees
    // during its drain.
    let (signal, signalled) = tokio::sync::oneshot::channel::<()>();
    let shutdown = shell.draining_on(async move {
        let _ = signalled.await;
    });
    let work = async move {
        shutdown.await;
        let readyz = http_get(addr, "/readyz").await.unwrap();
        let metrics = http_get(addr, "/metrics").await.unwrap();
        (readyz, metrics)
    };
    signal.send(()).unwrap();
    let (readyz, metrics) = work.await;
    assert_eq!(
        (readyz.status, readyz.body.as_str()),
        (503, "not ready: shutting down\n")
    );
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("bytebot_messages_sent_total{daemon=\"test-daemon\"} 3"),
        "{}",
        metrics.body
    );

    shell.stop().await;
    assert!(http_get(addr, "/healthz").await.is_none());
}
