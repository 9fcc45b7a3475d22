//! The built binary: flags, environment, exit codes and what it logs.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::fake_discord::{DiscordMessage, FakeDiscord};
use bytebot_test_support::{
    RedisServer, free_local_addr, http_get, metric_value, scrape_until, wait_for_status, wait_until,
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
        "--max-parts",
        "BYTEBOT_MAX_PARTS",
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

/// SIGTERM while outbound messages are queued and in flight: the gateway exits 0
/// within the deadline, and every outbound message Redis delivered to it was POSTed
/// to Discord (none taken and then lost). "Delivered" is the gateway's own count on
/// `/metrics`, read before the signal; no log line is parsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_sends_in_flight_posts_everything_taken() {
    const MESSAGES: u64 = 200;
    let received = r#"bytebot_messages_received_total{daemon="gateway-discord"}"#;
    let sent = r#"bytebot_messages_sent_total{daemon="gateway-discord"}"#;
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    // 50 messages for each of 4 channels, 20 ms each: about a second of sending per
    // channel, so most are still queued when the signal comes (well within the
    // gateway's default 10 s shutdown timeout).
    discord.delay_posts(Duration::from_millis(20));
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
    wait_for_status(http_addr, "/readyz", 200)
        .await
        .expect("the gateway becomes ready");

    let mut connection = redis.connection().await;
    for n in 0..MESSAGES {
        let payload = format!(r#"{{"v": 1, "content": "message {n}"}}"#);
        let receivers: i64 = redis::cmd("PUBLISH")
            .arg(outbound_topic(CHANNEL + n % 4))
            .arg(payload)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(receivers, 1, "the gateway is the only subscriber");
    }
    let metrics = scrape_until(http_addr, received, MESSAGES as f64)
        .await
        .expect("every message reaches the gateway");
    let sent_before = metric_value(&metrics, sent).unwrap_or(0.0);

    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::time::timeout(PATIENCE, waiter)
        .await
        .expect("the gateway exits on SIGTERM within the deadline")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}:\n{stderr}", out.status);
    assert_eq!(
        discord.posted().len() as u64,
        MESSAGES,
        "{sent_before} of {MESSAGES} were sent before SIGTERM; the rest must be sent \
         during the drain:\n{stderr}"
    );
}

/// `gateway-discord healthcheck`, as compose runs it in the container: unhealthy
/// (exit 1, the reason on stderr) until Discord has sent READY, then healthy (exit 0,
/// `ready`); it needs no token and prints none, and `--http-addr` may follow the
/// subcommand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_subcommand_waits_for_the_discord_session() {
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    discord.hold_identify();
    let http_addr = free_local_addr();
    let mut command = gateway_command();
    command
        .env("DISCORD_TOKEN", TOKEN)
        .env("REDIS_URL", redis.url())
        .env("DISCORD_API_URL", discord.api_url())
        .env("BYTEBOT_HTTP_ADDR", http_addr.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut gateway = command.spawn().expect("spawning the gateway");
    let healthcheck = |addr: Option<std::net::SocketAddr>| {
        let mut command = gateway_command();
        command.arg("healthcheck");
        if let Some(addr) = addr {
            command.args(["--http-addr", &addr.to_string()]);
        }
        output(command)
    };

    wait_for_status(http_addr, "/healthz", 200).await.unwrap();
    assert!(
        wait_until(PATIENCE, || discord.identify_count() >= 1).await,
        "the gateway never identified"
    );
    let waiting = healthcheck(Some(http_addr)).await;
    let reason = String::from_utf8_lossy(&waiting.stderr).into_owned();
    assert_eq!(waiting.status.code(), Some(1), "{reason}");
    assert!(
        reason.starts_with("healthcheck: 503 Service Unavailable from ")
            && reason.contains("not ready: discord: "),
        "{reason}"
    );

    discord.release_identify();
    wait_for_status(http_addr, "/readyz", 200).await.unwrap();
    let ready = healthcheck(Some(http_addr)).await;
    assert_eq!(
        ready.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ready.stdout), "ready\n");
    for out in [&waiting, &ready] {
        assert!(!String::from_utf8_lossy(&out.stdout).contains(TOKEN));
        assert!(!String::from_utf8_lossy(&out.stderr).contains(TOKEN));
    }

    let status = Command::new("kill")
        .args(["-TERM", &gateway.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || gateway.wait().unwrap());
    let exit = tokio::time::timeout(PATIENCE, exit).await.unwrap().unwrap();
    assert!(exit.success(), "{exit:?}");
}
