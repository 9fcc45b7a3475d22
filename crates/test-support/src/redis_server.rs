//! A private `redis-server` process per test, on a free loopback port.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a server may take to answer PING after it is spawned.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Options for a [`RedisServer`]; [`RedisServer::start`] uses the defaults.
#[derive(Debug, Default, Clone)]
pub struct RedisServerBuilder {
    password: Option<String>,
    unix_socket: bool,
    tls: bool,
}

impl RedisServerBuilder {
    /// Requires clients to authenticate with this password (`requirepass`).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Also listens on a Unix socket inside the server's temporary directory.
    pub fn unix_socket(mut self) -> Self {
        self.unix_socket = true;
        self
    }

    /// Serves TLS only, with a self-signed certificate made by the `openssl` command;
    /// [`RedisServer::url`] is then `rediss://...#insecure`.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Starts the server and waits until it answers PING.
    ///
    /// Panics (failing the test) when `redis-server` is not installed or does not
    /// come up, with the server's log in the message.
    pub async fn start(self) -> RedisServer {
        let dir = tempfile::Builder::new()
            .prefix("bytebot-redis-")
            .tempdir()
            .expect("creating a temporary directory for redis-server");
        let server = RedisServer {
            port: free_port(),
            options: self,
            dir,
            child: Mutex::new(None),
        };
        server.spawn().await;
        server
    }
}

/// A `redis-server` child process owned by one test; killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    options: RedisServerBuilder,
    dir: tempfile::TempDir,
    child: Mutex<Option<Child>>,
}

impl RedisServer {
    /// Starts a server with default options (no password, TCP only).
    pub async fn start() -> RedisServer {
        RedisServerBuilder::default().start().await
    }

    /// Options for a server with a password or a Unix socket.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// The loopback port this server listens on (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`, with the password when one is set
    /// (`rediss://...#insecure` for a TLS server: its certificate is self-signed).
    pub fn url(&self) -> String {
        let (scheme, fragment) = if self.options.tls {
            ("rediss", "#insecure")
        } else {
            ("redis", "")
        };
        match &self.options.password {
            Some(password) => format!("{scheme}://:{password}@127.0.0.1:{}{fragment}", self.port),
            None => format!("{scheme}://127.0.0.1:{}{fragment}", self.port),
        }
    }

    /// The Unix socket path, when the server was built with one.
    pub fn unix_socket_path(&self) -> Option<PathBuf> {
        self.options
            .unix_socket
            .then(|| self.dir.path().join("redis.sock"))
    }

    /// The server's log file; its contents are printed when a test panics.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// The server's log so far (empty when it cannot be read).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A plain redis-rs client for the test's own commands (PUBLISH, CLIENT KILL, ...).
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("a valid redis url")
    }

    /// A multiplexed connection for the test's own commands.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        self.client()
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|err| panic!("connecting to test redis: {err}\n{}", self.log()))
    }

    /// `PUBLISH channel payload` on a fresh connection; how many subscribers got it.
    pub async fn publish(&self, channel: &str, payload: impl AsRef<[u8]>) -> i64 {
        let mut connection = self.connection().await;
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload.as_ref())
            .query_async(&mut connection)
            .await
            .unwrap_or_else(|err| panic!("PUBLISH on test redis: {err}\n{}", self.log()))
    }

    /// A subscription of the test's own (`bytebot:test:<host>`) on `pattern`, raw (not
    /// linted: tests also subscribe to patterns the linter would warn about), connected.
    pub async fn subscribe(&self, pattern: &str) -> bytebot_core::bus::Subscription {
        let subscription = bytebot_core::bus::Subscription::start(
            crate::bus_config(&self.url(), "test"),
            vec![bytebot_core::pattern::Pattern::parse_raw(pattern)],
            bytebot_core::bus::SubscribeOptions::default(),
        );
        subscription
            .wait_connected(crate::PATIENCE)
            .await
            .unwrap_or_else(|err| panic!("subscribing to {pattern}: {err}\n{}", self.log()));
        subscription
    }

    /// `PUBSUB NUMPAT`: the pattern subscriptions on the server now (0 while it is
    /// down). Pub/sub delivers only to whoever is subscribed at that moment, so tests
    /// wait for this before publishing to a daemon or bot.
    pub async fn pattern_subscribers(&self) -> i64 {
        let Ok(mut connection) = self.client().get_multiplexed_async_connection().await else {
            return 0;
        };
        redis::cmd("PUBSUB")
            .arg("NUMPAT")
            .query_async(&mut connection)
            .await
            .unwrap_or(0)
    }

    /// Polls [`RedisServer::pattern_subscribers`] until there are at least `at_least`
    /// (a program subscribed, or re-subscribed after an outage); whether that happened
    /// within [`crate::PATIENCE`].
    pub async fn wait_for_pattern_subscribers(&self, at_least: i64) -> bool {
        let deadline = tokio::time::Instant::now() + crate::PATIENCE;
        loop {
            if self.pattern_subscribers().await >= at_least {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Kills the server (SIGKILL: clients see the connection drop, as in a crash).
    pub async fn stop(&self) {
        let child = self.child.lock().expect("lock").take();
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Wait until the port is really closed so a restart cannot race the old process.
        let deadline = Instant::now() + START_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "redis-server did not stop");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts the server again on the same port (after [`RedisServer::stop`]). The
    /// new server is empty: persistence is off, as in a real outage without disks.
    pub async fn restart(&self) {
        self.stop().await;
        self.spawn().await;
    }

    async fn spawn(&self) {
        let mut command = Command::new("redis-server");
        if self.options.tls {
            let (cert, key) = self_signed_certificate(self.dir.path());
            command
                .args(["--port", "0", "--tls-port"])
                .arg(self.port.to_string())
                .arg("--tls-cert-file")
                .arg(&cert)
                .arg("--tls-key-file")
                .arg(&key)
                .arg("--tls-ca-cert-file")
                .arg(&cert)
                .args(["--tls-auth-clients", "no"]);
        } else {
            command.arg("--port").arg(self.port.to_string());
        }
        command
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.log_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = &self.options.password {
            command.arg("--requirepass").arg(password);
        }
        if let Some(path) = self.unix_socket_path() {
            command.arg("--unixsocket").arg(path);
            command.args(["--unixsocketperm", "700"]);
        }
        let child = command.spawn().unwrap_or_else(|err| {
            panic!("starting redis-server (is it installed and on PATH?): {err}")
        });
        *self.child.lock().expect("lock") = Some(child);
        self.wait_for_ping().await;
    }

    async fn wait_for_ping(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(mut connection) = self.client().get_multiplexed_async_connection().await {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut connection).await;
                if pong.is_ok() {
                    return;
                }
            }
            if let Some(status) = self.exited() {
                panic!(
                    "redis-server exited during start-up ({status}); log:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING within {START_TIMEOUT:?}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn exited(&self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.lock().expect("lock");
        child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- redis-server on port {} (log {}) ----\n{}",
                self.port,
                display(&self.log_path()),
                self.log()
            );
        }
        if let Ok(mut child) = self.child.lock()
            && let Some(mut child) = child.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// Makes (once) a self-signed certificate for 127.0.0.1 in a server's directory.
pub(crate) fn self_signed_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("tls.crt");
    let key = dir.join("tls.key");
    if !cert.exists() {
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|err| panic!("running openssl (is it installed?): {err}"));
        assert!(
            status.success(),
            "openssl could not make a test certificate"
        );
    }
    (cert, key)
}

/// A loopback port that was free a moment ago. The kernel hands out ephemeral ports
/// round-robin, so a port just released is unlikely to be handed out again at once.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .expect("binding an ephemeral port");
    listener.local_addr().expect("local address").port()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outage tests rely on stop/restart keeping the port and really cutting clients off.
    #[tokio::test]
    async fn restart_keeps_the_port_and_empties_the_server() {
        let server = RedisServer::start().await;
        let mut connection = server.connection().await;
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query_async(&mut connection)
            .await
            .unwrap();
        let port = server.port();

        server.stop().await;
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());

        server.restart().await;
        assert_eq!(server.port(), port);
        let mut connection = server.connection().await;
        let value: Option<String> = redis::cmd("GET")
            .arg("k")
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(value, None, "persistence must be off");
    }

    /// A password-protected server refuses clients that do not authenticate.
    #[tokio::test]
    async fn password_is_required_when_set() {
        let server = RedisServer::builder().password("hunter2").start().await;
        let mut anonymous = redis::Client::open(format!("redis://127.0.0.1:{}", server.port()))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let denied: redis::RedisResult<String> =
            redis::cmd("PING").query_async(&mut anonymous).await;
        assert!(denied.is_err());
        let mut authenticated = server.connection().await;
        let pong: String = redis::cmd("PING")
            .query_async(&mut authenticated)
            .await
            .unwrap();
        assert_eq!(pong, "PONG");
    }
}
