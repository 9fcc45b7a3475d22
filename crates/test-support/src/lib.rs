//! Test harness shared by Bytebot's tests: private `redis-server` and `ngircd`
//! processes (with [`IrcClient`], a plain IRC client playing the human), a TCP proxy
//! for outages, and the helpers every test file would otherwise repeat ([`PATIENCE`],
//! [`bus_config`], waiting for `PUBSUB NUMPAT`, polling `/readyz` and `/metrics`).
//!
//! Every test that needs Redis starts its own server on a free port with persistence
//! off, so tests run in parallel, never touch a Redis that happens to run on 6379, and
//! can stop and restart "their" Redis to inject outages.
//!
//! ```no_run
//! # async fn demo() {
//! let redis = bytebot_test_support::RedisServer::start().await;
//! let url = redis.url(); // redis://127.0.0.1:<port>
//! redis.stop().await; // outage begins
//! redis.restart().await; // same port, empty server
//! # }
//! ```
//!
//! When a test panics while a server is alive, the server's log is printed to stderr
//! (it lands in the failing test's captured output), so a failure in CI shows what
//! Redis saw.

mod http;
mod irc_server;
mod proxy;
mod redis_cluster;
mod redis_server;

pub use http::{
    HttpResponse, free_local_addr, http_get, metric_value, scrape_until, wait_for_status,
};
pub use irc_server::{IrcClient, IrcLine, IrcServer, IrcServerBuilder};
pub use proxy::TcpProxy;
pub use redis_cluster::{RedisCluster, RedisClusterBuilder};
pub use redis_server::{RedisServer, RedisServerBuilder};

/// The generous bound for "eventually" in every test: a guard against hangs, never a
/// performance target (the machines that run the tests are shared and noisy).
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

/// A bus configuration for `url` (a [`RedisServer::url`] or a [`TcpProxy`] in front of
/// one) whose connections are named `bytebot:<role>:<host>`.
pub fn bus_config(url: &str, role: &str) -> bytebot_core::bus::BusConfig {
    let url = bytebot_core::bus::RedisUrl::parse(url).expect("a valid redis url");
    bytebot_core::bus::BusConfig::new(url, role)
}

/// The next delivery of `subscription`, within [`PATIENCE`]; panics when none comes or
/// the subscription has ended.
pub async fn next_delivery(
    subscription: &mut bytebot_core::bus::Subscription,
) -> bytebot_core::bus::Delivery {
    tokio::time::timeout(PATIENCE, subscription.recv())
        .await
        .expect("a delivery in time")
        .expect("subscription alive")
}

/// Polls `condition` every 10 ms until it returns true or `timeout` passes.
///
/// Returns whether the condition became true. Tests assert on the result, so a
/// condition that never holds fails the test with the caller's message instead of
/// hanging forever.
pub async fn wait_until(timeout: std::time::Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The binary `bin` of workspace package `package`, built (`cargo build -q`) with the
/// calling test binary's target directory and profile (`<target>/<profile>/deps/...`).
/// `cargo test -p X` builds only X's own binaries; benchmarks that run another
/// package's daemon (example-subscriber) get it from here, in the same profile, so a
/// `--release` bench measures release binaries.
pub fn cargo_binary(package: &str, bin: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("<target>/<profile>/deps");
    let target = profile_dir.parent().expect("<target>/<profile>");
    let profile = profile_dir
        .file_name()
        .expect("<profile>")
        .to_string_lossy()
        .into_owned();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "-q", "-p", package, "--bin", bin]);
    build.arg("--target-dir").arg(target);
    if profile == "release" {
        build.arg("--release");
    }
    let status = build.status().expect("running cargo build");
    assert!(status.success(), "cargo build -p {package} failed");
    profile_dir.join(bin)
}

/// A child process killed (and reaped) when dropped: no orphan survives a failed test.
#[derive(Debug)]
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
