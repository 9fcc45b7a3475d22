//! The promise of issue 12: the unchanged `example-subscriber` answers `!ping` on IRC,
//! through the real binaries (ngircd, redis-server, gateway-irc, example-subscriber),
//! in a channel and in private, across an IRC server restart and a Redis outage.
//! (The round trip's figures: `crates/gateway-irc/tests/it/ping_bench.rs`.)

use std::net::SocketAddr;

use bytebot_e2e::{Daemon, binaries};
use bytebot_test_support::{
    IrcClient, IrcServer, RedisServer, free_local_addr, scrape_until, wait_for_status,
};

/// gateway-irc in `#bytebot` on `irc`, as `bytebot`, ready when this returns; its
/// HTTP address.
async fn gateway(irc: &IrcServer, redis: &RedisServer) -> (Daemon, SocketAddr) {
    let http = free_local_addr().to_string();
    let server = irc.addr();
    let redis_url = redis.url();
    let env = [
        ("IRC_SERVER", server.as_str()),
        ("IRC_NICK", "bytebot"),
        ("IRC_CHANNELS", "#bytebot"),
        ("IRC_NETWORK", "testnet"),
        ("REDIS_URL", redis_url.as_str()),
        ("BYTEBOT_HTTP_ADDR", http.as_str()),
        ("RUST_LOG", "info"),
        ("NO_COLOR", "1"),
    ];
    let daemon = Daemon::spawn(&binaries().gateway_irc, &[], &env);
    if let Err(err) = wait_for_status(http.parse().unwrap(), "/readyz", 200).await {
        panic!(
            "gateway-irc never became ready: {err}\nits log:\n{}",
            daemon.log()
        );
    }
    (daemon, http.parse().unwrap())
}

/// `!ping` from `alice` to `target`; the reply's text.
async fn ping(alice: &mut IrcClient, target: &str) -> String {
    alice.privmsg(target, "!ping").await;
    alice.expect_privmsg_from("bytebot").await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_subscriber_answers_ping_on_irc_across_restarts() {
    let irc = IrcServer::start().await;
    let redis = RedisServer::start().await;
    let _subscriber = Daemon::example_subscriber(&redis.url(), &[]).await;
    let (gateway, http) = gateway(&irc, &redis).await;

    let mut alice = irc.client("alice").await;
    alice.join("#bytebot", None).await;
    assert_eq!(
        ping(&mut alice, "#bytebot").await,
        "pong",
        "{}",
        gateway.log()
    );
    assert_eq!(ping(&mut alice, "bytebot").await, "pong", "in private");

    // `router-tools doctor` lists the IRC gateway among those that carry replies.
    let doctor = bytebot_e2e::router_tools(&redis.url(), &["doctor"], "").await;
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        report.contains("gateway(s):") && report.contains("bytebot:gateway-irc:"),
        "{report}"
    );

    // ngircd restarts: the gateway reconnects and rejoins on its own.
    irc.restart().await;
    let mut alice = irc.client("alice").await;
    alice.join("#bytebot", None).await;
    alice
        .expect(|line| line.command == "JOIN" && line.nick() == Some("bytebot"))
        .await;
    assert_eq!(
        ping(&mut alice, "#bytebot").await,
        "pong",
        "after an IRC restart:\n{}",
        gateway.log()
    );

    // Redis goes away: a `!ping` sent meanwhile waits in the gateway's outbox (its
    // depth says it was read), and is answered once Redis is back and both programs
    // have resubscribed.
    redis.stop().await;
    alice.privmsg("#bytebot", "!ping").await;
    let depth = r#"bytebot_outbox_depth{daemon="gateway-irc"}"#;
    if let Err(err) = scrape_until(http, depth, 1.0).await {
        panic!(
            "the !ping never reached the outbox: {err}\n{}",
            gateway.log()
        );
    }
    redis.restart().await;
    let (_, text) = alice.expect_privmsg_from("bytebot").await;
    assert_eq!(text, "pong", "after a Redis outage:\n{}", gateway.log());
}
