//! `scripts/demo`, the README's first command, run non-interactively.

use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytebot_e2e::{PATIENCE, binaries, run, stderr, stdout, without_round_trip, workspace_root};
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
    let text = without_round_trip(&stdout(&output));
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
    assert_eq!(
        without_round_trip(&stdout(&output)),
        "pong\n",
        "{}",
        stderr(&output)
    );
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

/// Ctrl-C in the terminal (SIGINT to the whole foreground process group) stops the
/// chat, the subscriber and the Redis the demo started.
#[tokio::test]
async fn ctrl_c_stops_everything_the_demo_started() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut demo = Command::new(workspace_root().join("scripts/demo"))
        .env("REDIS_URL", &url)
        .env("BYTEBOT_BIN_DIR", &binaries().dir)
        .stdin(Stdio::piped()) // kept open: the chat waits for input, as in a terminal
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap())
        // Its own process group, like a shell job, so the signal reaches only the demo.
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !std::fs::read_to_string(log.path())
        .unwrap()
        .contains("is listening")
    {
        assert!(
            Instant::now() < deadline,
            "{}",
            std::fs::read_to_string(log.path()).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the chat subscribe, as a user would take a moment to press Ctrl-C.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let group = format!("-{}", demo.id());
    assert!(
        Command::new("kill")
            .args(["-INT", "--", &group])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + PATIENCE;
    // The exit status is not checked: the chat treats Ctrl-C as a normal way to quit.
    let started = Instant::now();
    while demo.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the demo did not stop on Ctrl-C");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("stopped {:?} after Ctrl-C", started.elapsed());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the demo's redis-server is still up"
    );
    assert_eq!(processes_using(&url), Vec::<String>::new(), "left running");
}
