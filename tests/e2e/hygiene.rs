//! Error hygiene of the real binaries: each cause printed once, no colour codes in
//! logs that do not go to a terminal, usage lines that do not mislead.

use std::process::Stdio;
use std::time::{Duration, Instant};

use bytebot_e2e::{PATIENCE, binaries, router_tools, stderr};
use bytebot_test_support::RedisServer;

/// A closed port: started, then stopped, so nothing listens there.
async fn closed_url() -> String {
    let redis = RedisServer::start().await;
    let url = redis.url();
    redis.stop().await;
    url
}

/// "Connection refused (os error 111)" was printed three times in one message: the
/// bus error's text, then its source, then the source's source. Each cause once.
#[tokio::test]
async fn a_refused_connection_is_reported_once() {
    let url = closed_url().await;
    for args in [&["doctor"][..], &["send", "hello"]] {
        let output = router_tools(&url, args, "").await;
        assert!(!output.status.success(), "{args:?}");
        let text = stderr(&output);
        let error_line = text
            .lines()
            .find(|line| line.starts_with("router-tools: "))
            .unwrap_or_else(|| panic!("{args:?}: no error line in {text}"));
        assert_eq!(
            error_line.matches("Connection refused").count(),
            1,
            "{args:?}: {error_line}"
        );
        assert!(
            error_line.contains(&format!("cannot reach redis at {url}")),
            "{args:?}: {error_line}"
        );
    }
}

/// Log lines written to a pipe or a file (docker logs, Fly) carry no ANSI colour codes,
/// even without NO_COLOR.
#[tokio::test]
async fn logs_to_a_pipe_have_no_colour_codes() {
    let url = closed_url().await;
    let mut child = tokio::process::Command::new(&binaries().example_subscriber)
        .env("REDIS_URL", &url)
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawning example-subscriber");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let mut log = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    // It logs a warning while Redis is away; read until one has arrived.
    while !String::from_utf8_lossy(&log).contains("WARN") {
        assert!(
            Instant::now() < deadline,
            "no warning logged: {}",
            String::from_utf8_lossy(&log)
        );
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::io::AsyncReadExt::read(&mut stderr, &mut chunk),
        )
        .await;
        if let Ok(Ok(n)) = read {
            log.extend_from_slice(&chunk[..n]);
        }
    }
    let _ = child.kill().await;
    let text = String::from_utf8_lossy(&log);
    assert!(!text.contains('\u{1b}'), "{text:?}");
}

/// `send --raw` without `--topic` names what is missing, and its usage line does not
/// list `--redis-url` as if it were required, given as a flag or in the environment.
#[tokio::test]
async fn send_raw_without_topic_has_a_usage_line_without_redis_url() {
    for args in [
        &["send", "--raw", "{oops"][..],
        &[
            "send",
            "--redis-url",
            "redis://127.0.0.1:1",
            "--raw",
            "{oops",
        ],
    ] {
        let output = router_tools("redis://127.0.0.1:1", args, "").await;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let text = stderr(&output);
        assert!(text.contains("--raw needs --topic <TOPIC>"), "{text}");
        assert!(
            text.contains("Usage: router-tools send [OPTIONS] [CONTENT]"),
            "{text}"
        );
        assert!(!text.contains("--redis-url"), "{args:?}: {text}");
    }
}

/// serenity's HTTP errors print their cause and also return it as their source, so
/// `{:#}` printed "Provided value is an invalid header value." twice for a token that
/// cannot go in a header (a line feed pasted with it). Each cause once, and never the
/// token.
#[tokio::test]
async fn a_token_that_is_not_a_header_value_is_reported_once() {
    let redis = RedisServer::start().await;
    let output = bytebot_e2e::run(
        &binaries().gateway_discord,
        &[],
        &[
            ("DISCORD_TOKEN", "MTE5MDgw.pasted\nSECRETtail"),
            ("REDIS_URL", &redis.url()),
            ("RUST_LOG", "trace"),
            ("NO_COLOR", "1"),
        ],
        "",
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    let error_line = text
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in {text}"));
    assert_eq!(
        error_line.matches("invalid header value").count(),
        1,
        "{error_line}"
    );
    assert!(
        error_line.contains("checking the bot token"),
        "{error_line}"
    );
    assert!(!text.contains("SECRETtail"), "{text}");
    assert!(!text.contains("MTE5MDgw"), "{text}");
}
