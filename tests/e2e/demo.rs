//! `scripts/demo`, the README's first command, run non-interactively.

use std::net::TcpStream;

use bytebot_e2e::{binaries, run, stderr, stdout, workspace_root};
use bytebot_test_support::RedisServer;

/// A port nothing listens on (it was free a moment ago).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Processes whose environment holds exactly `REDIS_URL=<url>`: what the demo started.
fn processes_using(url: &str) -> Vec<String> {
    let needle = format!("REDIS_URL={url}\0");
    let own = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid == own || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if String::from_utf8_lossy(&environ).contains(&needle) {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    found
}

async fn demo(url: &str, input: &str) -> std::process::Output {
    let bin_dir = binaries().dir.to_str().unwrap().to_owned();
    run(
        &workspace_root().join("scripts/demo"),
        &[],
        &[
            ("REDIS_URL", url),
            ("BYTEBOT_BIN_DIR", &bin_dir),
            ("USER", "tester"),
        ],
        input,
    )
    .await
}

/// Without Redis running: the demo starts one, answers, and stops everything it started.
#[tokio::test]
async fn the_demo_starts_redis_answers_ping_and_leaves_nothing_running() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let output = demo(&url, "!ping\n!roll 2d6\n").await;
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("pong\n🎲 2d6: "),
        "{text}\n{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("starting redis-server"),
        "{}",
        stderr(&output)
    );
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the demo's redis-server is still up"
    );
    assert_eq!(processes_using(&url), Vec::<String>::new(), "left running");
}

/// With Redis already running: the demo uses it and leaves it running.
#[tokio::test]
async fn the_demo_uses_a_running_redis_and_leaves_it_alone() {
    let redis = RedisServer::start().await;
    let output = demo(&redis.url(), "!ping\n").await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "pong\n", "{}", stderr(&output));
    assert!(
        stderr(&output).contains("using the Redis already running"),
        "{}",
        stderr(&output)
    );
    assert!(
        TcpStream::connect(("127.0.0.1", redis.port())).is_ok(),
        "the demo stopped a Redis it did not start"
    );
    assert_eq!(
        processes_using(&redis.url()),
        Vec::<String>::new(),
        "left running"
    );
}
