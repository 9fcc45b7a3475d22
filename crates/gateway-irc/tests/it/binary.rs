//! The built binary: secrets stay out of its output even at trace level, `--help`
//! shows no values, SIGTERM sends QUIT and exits 0, TLS with a self-signed certificate.

use std::process::{Command, Stdio};
use std::time::Duration;

use bytebot_test_support::{IrcServer, PATIENCE, RedisServer, free_local_addr, wait_for_status};

use crate::connection::{config, connect, wait_ready};

const SERVER_PASSWORD: &str = "srv-Pa55-do-not-log";
const CHANNEL_KEY: &str = "chan-K3y-do-not-log";
const REDIS_PASSWORD: &str = "redis-Pa55-do-not-log";

fn gateway_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gateway-irc"));
    for name in [
        "IRC_SERVER",
        "IRC_TLS",
        "IRC_TLS_INSECURE",
        "IRC_NICK",
        "IRC_CHANNELS",
        "IRC_NETWORK",
        "IRC_PASSWORD",
        "IRC_SASL_USER",
        "IRC_SASL_PASSWORD",
        "REDIS_URL",
        "RUST_LOG",
        "BYTEBOT_HTTP_ADDR",
        "BYTEBOT_LOG_FORMAT",
    ] {
        command.env_remove(name);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Every secret at once (server password, channel key, Redis password), at trace
/// level, through registration, a join, a message and shutdown: none is ever printed.
/// SIGTERM makes the bot QUIT (the channel sees it) and exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_output_and_sigterm_quits() {
    let irc = IrcServer::builder().password(SERVER_PASSWORD).start().await;
    let redis = RedisServer::builder()
        .password(REDIS_PASSWORD)
        .start()
        .await;
    let mut owner =
        bytebot_test_support::IrcClient::connect(irc.port(), "owner", Some(SERVER_PASSWORD))
            .await
            .unwrap();
    owner.join("#vault", None).await;
    owner.send(&format!("MODE #vault +k {CHANNEL_KEY}")).await;
    owner.expect(|line| line.command == "MODE").await;

    let http = free_local_addr();
    let mut command = gateway_command();
    command
        .env("IRC_SERVER", irc.addr())
        .env("IRC_PASSWORD", SERVER_PASSWORD)
        .env("IRC_CHANNELS", format!("#vault:{CHANNEL_KEY}"))
        .env("IRC_NETWORK", "testnet")
        .env("REDIS_URL", redis.url())
        .env("BYTEBOT_HTTP_ADDR", http.to_string())
        .env("RUST_LOG", "trace");
    let child = command.spawn().expect("spawning gateway-irc");
    let pid = child.id();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output());

    wait_for_status(http, "/readyz", 200).await.unwrap();
    owner
        .expect(|line| line.command == "JOIN" && line.nick() == Some("bytebot"))
        .await;
    // Published means read and logged: no sleep needed before SIGTERM.
    let mut inbound = bytebot_core::bus::Subscription::start(
        bytebot_test_support::bus_config(&redis.url(), "test"),
        vec![bytebot_core::pattern::Pattern::parse_raw(
            "inbound.irc.*.*.*",
        )],
        bytebot_core::bus::SubscribeOptions::default(),
    );
    inbound.wait_connected(PATIENCE).await.unwrap();
    owner.privmsg("#vault", "a message to log at trace").await;
    tokio::time::timeout(PATIENCE, inbound.recv())
        .await
        .expect("the message is published")
        .unwrap();

    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    owner
        .expect(|line| line.command == "QUIT" && line.nick() == Some("bytebot"))
        .await;
    let output = tokio::time::timeout(PATIENCE, output)
        .await
        .expect("the gateway exits after SIGTERM")
        .unwrap()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "exit {:?}:\n{printed}",
        output.status
    );
    assert!(
        printed.contains("a message to log at trace"),
        "trace logging was on:\n{printed}"
    );
    for secret in [SERVER_PASSWORD, CHANNEL_KEY, REDIS_PASSWORD] {
        assert!(
            !printed.contains(secret),
            "{secret} was printed:\n{printed}"
        );
    }
}

/// `--help` lists the IRC flags and shows no environment values, the secrets' least of all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_the_flags_and_hides_secret_values() {
    let mut command = gateway_command();
    command
        .arg("--help")
        .env("IRC_PASSWORD", SERVER_PASSWORD)
        .env("IRC_SASL_PASSWORD", SERVER_PASSWORD)
        .env("IRC_CHANNELS", format!("#vault:{CHANNEL_KEY}"))
        .env(
            "REDIS_URL",
            format!("redis://:{REDIS_PASSWORD}@127.0.0.1:1"),
        );
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--server",
        "--tls",
        "--tls-insecure",
        "--nick",
        "--channels",
        "--network",
        "--sasl-user",
        "--redis-url",
        "--http-addr",
        "--log-format",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
    for env in [
        "IRC_PASSWORD",
        "IRC_SASL_PASSWORD",
        "IRC_SERVER",
        "IRC_CHANNELS",
    ] {
        assert!(help.contains(env), "{env} missing from --help:\n{help}");
    }
    for secret in [SERVER_PASSWORD, CHANNEL_KEY, REDIS_PASSWORD] {
        assert!(!help.contains(secret), "{secret} in --help:\n{help}");
    }
}

/// A bad IRC_CHANNELS entry is refused at start-up without echoing its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_refused_without_echoing_secrets() {
    let mut command = gateway_command();
    command
        .env("IRC_SERVER", "127.0.0.1:1")
        .env("IRC_CHANNELS", format!("nochan:{CHANNEL_KEY}"));
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("IRC_CHANNELS"), "{stderr}");
    assert!(!stderr.contains(CHANNEL_KEY), "{stderr}");
}

/// TLS against ngircd with a self-signed certificate: refused when verifying, accepted
/// with IRC_TLS_INSECURE.
#[tokio::test]
async fn tls_with_a_self_signed_certificate() {
    let irc = IrcServer::builder().tls().start().await;
    let mut insecure = config(&irc, "tlsbot", "#secure");
    insecure.tls = true;
    insecure.tls_insecure = true;
    let (connection, _events) = connect(insecure);
    let status = wait_ready(&connection).await;
    assert!(status.session.in_channel("#secure"));
    connection.quit("bye").await;

    let mut verifying = config(&irc, "strictbot", "#secure");
    verifying.tls = true;
    let (connection, _events) = connect(verifying);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !connection.status().borrow().registered,
        "a self-signed certificate must not pass verification"
    );
    connection.quit("bye").await;
}
