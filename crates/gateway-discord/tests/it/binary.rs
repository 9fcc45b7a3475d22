//! The built binary: flags, environment, exit codes and what it logs.

use std::process::{Command, Stdio};
use std::time::Duration;

use bytebot_test_support::{
    DiscordMessage, FakeDiscord, RedisServer, free_local_addr, http_get, wait_until,
};

use crate::support::{ALICE, CHANNEL, GUILD, PATIENCE, TOKEN, outbound_topic, subscribe};

fn gateway_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gateway-discord"));
    command
        .env_remove("DISCORD_TOKEN")
        .env_remove("DISCORD_API_URL")
        .env_remove("REDIS_URL")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `command` to completion on a blocking thread, with a deadline.
async fn output(mut command: Command) -> std::process::Output {
    tokio::time::timeout(
        PATIENCE,
        tokio::task::spawn_blocking(move || command.output().expect("spawning the gateway")),
    )
    .await
    .expect("the gateway exits in time")
    .unwrap()
}

/// Without a token the gateway says so in one line and fails, before touching anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_token_is_one_clear_line() {
    let out = output(gateway_command()).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("DISCORD_TOKEN is not set"), "{stderr}");
}

/// The token is a secret: it must not be a flag, and `--help` must not show secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_every_flag_and_hides_secrets() {
    let mut command = gateway_command();
    command
        .arg("--help")
        .env("REDIS_URL", "redis://:hunter2@127.0.0.1:1");
    let out = output(command).await;
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--redis-url",
        "--discord-api-url",
        "--include-bots",
        "--allow-mass-mentions",
        "--log-format",
        "--http-addr",
        "DISCORD_TOKEN",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
    assert!(!help.contains("--token"), "{help}");
    assert!(!help.contains("hunter2"), "{help}");
}

/// Close 4014 through the binary: a non-zero exit and the hint, printed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_4014_exits_non_zero_with_the_hint() {
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    discord.close_on_identify(4014);
    let mut command = gateway_command();
    command
        .env("DISCORD_TOKEN", TOKEN)
        .env("REDIS_URL", redis.url())
        .env("DISCORD_API_URL", discord.api_url());
    let out = output(command).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let hints: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error: "))
        .collect();
    assert_eq!(hints.len(), 1, "{stderr}");
    assert!(hints[0].contains("Message Content Intent"), "{stderr}");
    assert!(!stderr.contains(TOKEN), "the token leaked:\n{stderr}");
}

/// Run a full session (login, inbound, outbound, resume, shutdown) at trace level and
/// search everything the binary printed for the token (in JSON logs, which must all
/// parse).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_never_appears_in_logs_at_trace_level() {
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    let mut inbound = subscribe(&redis, "inbound.discord.*").await;
    let http_addr = free_local_addr();
    let mut command = gateway_command();
    command
        .env("DISCORD_TOKEN", TOKEN)
        .env("REDIS_URL", redis.url())
        .env("DISCORD_API_URL", discord.api_url())
        .env("RUST_LOG", "trace")
        .env("BYTEBOT_HTTP_ADDR", http_addr.to_string())
        .arg("--log-format")
        .arg("json");
    let child = command.spawn().expect("spawning the gateway");
    let pid = child.id();
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap());

    assert!(
        wait_until(PATIENCE, || discord.connected()).await,
        "never logged in"
    );
    discord.send_message(&DiscordMessage::guild(GUILD, CHANNEL, ALICE, "hello"));
    tokio::time::timeout(PATIENCE, inbound.recv())
        .await
        .unwrap()
        .unwrap();
    let mut connection = redis.connection().await;
    let mut sent = false;
    for _ in 0..200 {
        let receivers: i64 = redis::cmd("PUBLISH")
            .arg(outbound_topic(CHANNEL))
            .arg("\"pong\"")
            .query_async(&mut connection)
            .await
            .unwrap();
        if receivers > 0 {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sent, "the gateway never subscribed to outbound topics");
    assert!(wait_until(PATIENCE, || !discord.posted().is_empty()).await);
    discord.close_connection(4000);
    assert!(wait_until(PATIENCE, || discord.resume_count() >= 1).await);
    // What the HTTP endpoints say must not hold the token either.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = http_get(http_addr, path)
            .await
            .expect("the listener answers");
        assert!(
            !response.body.contains(TOKEN),
            "the token leaked into {path}"
        );
    }

    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::time::timeout(PATIENCE, waiter)
        .await
        .expect("the gateway exits on SIGTERM")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}:\n{stderr}", out.status);
    assert!(
        stderr.lines().count() > 50,
        "trace logging was not on:\n{stderr}"
    );
    for line in stderr.lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "not a JSON log line: {line}"
        );
    }
    // The token, and its distinctive middle part in case something logs it altered.
    for secret in [TOKEN, "S3CR3T-do-not-log"] {
        assert!(!stderr.contains(secret), "the token leaked into the logs");
        assert!(!stdout.contains(secret), "the token leaked onto stdout");
    }
}

/// SIGTERM while outbound messages stream in: the gateway exits 0 within the
/// deadline, and every outbound message it took from Redis was POSTed to Discord
/// (none taken and then lost), as its final counters show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_outbound_traffic_posts_everything_taken() {
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    // Slow enough that sends are in flight when the signal comes.
    discord.delay_posts(Duration::from_millis(5));
    let http_addr = free_local_addr();
    let mut command = gateway_command();
    command
        .env("DISCORD_TOKEN", TOKEN)
        .env("REDIS_URL", redis.url())
        .env("DISCORD_API_URL", discord.api_url())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .arg("--http-addr")
        .arg(http_addr.to_string());
    let child = command.spawn().expect("spawning the gateway");
    let pid = child.id();
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap());
    assert!(
        wait_ready(http_addr).await,
        "the gateway never became ready"
    );

    // Four channels, round robin, until told to stop.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_publishing = std::sync::Arc::clone(&stop);
    let mut connection = redis.connection().await;
    let publisher = tokio::spawn(async move {
        let mut n = 0u64;
        while !stop_publishing.load(std::sync::atomic::Ordering::Relaxed) {
            let channel = CHANNEL + n % 4;
            let payload = format!(r#"{{"v": 1, "content": "message {n}"}}"#);
            let _: i64 = redis::cmd("PUBLISH")
                .arg(outbound_topic(channel))
                .arg(payload)
                .query_async(&mut connection)
                .await
                .unwrap();
            n += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        n
    });
    assert!(
        wait_until(PATIENCE, || discord.posted().len() >= 40).await,
        "no outbound traffic reached the fake"
    );
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::time::timeout(PATIENCE, waiter)
        .await
        .expect("the gateway exits on SIGTERM within the deadline")
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let n_published = publisher.await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}:\n{stderr}", out.status);

    let received = final_count(&stderr, "outbound_received");
    let sent = final_count(&stderr, "outbound_sent");
    assert!(received > 0 && received <= n_published, "{stderr}");
    for lost in ["outbound_failed", "outbound_malformed", "outbound_dropped"] {
        assert_eq!(final_count(&stderr, lost), 0, "{lost}:\n{stderr}");
    }
    assert_eq!(sent, received, "taken from redis but not sent:\n{stderr}");
    assert_eq!(discord.posted().len() as u64, sent, "{stderr}");
}

/// Polls `/readyz` until it answers 200.
async fn wait_ready(addr: std::net::SocketAddr) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if http_get(addr, "/readyz")
            .await
            .is_some_and(|r| r.status == 200)
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// `field` from the gateway's final `stopped stats=GatewayStats { ... }` line.
fn final_count(log: &str, field: &str) -> u64 {
    let line = log
        .lines()
        .rev()
        .find(|line| line.contains("GatewayStats"))
        .unwrap_or_else(|| panic!("no final counters in:\n{log}"));
    let start = line
        .find(&format!("{field}: "))
        .unwrap_or_else(|| panic!("no {field} in {line}"))
        + field.len()
        + 2;
    line[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}
