//! `<daemon> healthcheck`: the daemon binary asks a running copy of itself whether it
//! is ready, for container healthchecks.
//!
//! The image is distroless: no shell, no curl. So each daemon binary takes a
//! `healthcheck` subcommand that sends `GET /readyz` to the daemon's own listener
//! (`--http-addr` / `BYTEBOT_HTTP_ADDR`, which the container already has) and exits 0
//! on `200`, 1 otherwise, printing the answer or the reason. docker compose runs it as
//! the service's `healthcheck:`; `docker compose ps` then says `healthy`, and
//! `depends_on: condition: service_healthy` can wait for it.
//!
//! The request goes to loopback when the listener binds every interface (`0.0.0.0`,
//! `[::]`), and has a deadline, so a hung daemon is reported, not waited on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use bytebot_logging::error_chain;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{CONNECTION, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long `healthcheck` waits for the whole exchange by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The subcommands every daemon binary shares: add
/// `#[command(subcommand)] command: Option<bytebot_daemon::healthcheck::Command>` to
/// its flags and call [`Command::run`] with its `--http-addr`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Exit 0 if the running daemon's /readyz (at --http-addr or BYTEBOT_HTTP_ADDR)
    /// answers 200, else 1: a container healthcheck that needs no curl.
    Healthcheck {
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = DEFAULT_TIMEOUT.as_secs())]
        timeout: u64,
    },
}

impl Command {
    /// Runs the subcommand against the daemon listening on `http_addr`, printing the
    /// outcome (stdout when ready, stderr otherwise), and returns the exit code.
    pub fn run(&self, http_addr: Option<SocketAddr>) -> ExitCode {
        match self {
            Command::Healthcheck { timeout } => {
                match healthcheck(http_addr, Duration::from_secs(*timeout)) {
                    Ok(body) => {
                        println!("{}", body.trim_end());
                        ExitCode::SUCCESS
                    }
                    Err(err) => {
                        eprintln!("healthcheck: {}", error_chain(&err));
                        ExitCode::FAILURE
                    }
                }
            }
        }
    }
}

/// Why a daemon is not healthy, or could not be asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HealthcheckError {
    /// The daemon has no listener configured, so there is nothing to ask.
    #[error("no address to check: set BYTEBOT_HTTP_ADDR (or --http-addr), as for the daemon")]
    NoAddress,
    /// Nothing accepted the connection (the daemon is not running, or not listening yet).
    #[error("connecting to {addr}")]
    Connect {
        /// Where the request went.
        addr: SocketAddr,
        /// The connection error.
        #[source]
        source: std::io::Error,
    },
    /// The daemon did not answer within the deadline.
    #[error("no answer from {addr} within {timeout:?}")]
    Timeout {
        /// Where the request went.
        addr: SocketAddr,
        /// The deadline.
        timeout: Duration,
    },
    /// The HTTP exchange failed (not an HTTP server, connection reset...).
    #[error("asking {addr} for /readyz")]
    Http {
        /// Where the request went.
        addr: SocketAddr,
        /// The HTTP error.
        #[source]
        source: hyper::Error,
    },
    /// The daemon answered, but not `200`: its body says why (`not ready: redis: ...`).
    #[error("{status} from {addr}/readyz: {body}")]
    NotReady {
        /// Where the request went.
        addr: SocketAddr,
        /// The status it answered.
        status: StatusCode,
        /// The body, trimmed.
        body: String,
    },
    /// The async runtime could not be started.
    #[error("starting the async runtime")]
    Runtime(#[source] std::io::Error),
}

/// Asks the daemon listening on `http_addr` for `/readyz`, within `timeout`: its body
/// (`ready`) on `200`, the reason otherwise. Blocking: starts its own small runtime.
pub fn healthcheck(
    http_addr: Option<SocketAddr>,
    timeout: Duration,
) -> Result<String, HealthcheckError> {
    let addr = http_addr.ok_or(HealthcheckError::NoAddress)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(HealthcheckError::Runtime)?;
    runtime.block_on(check_ready(addr, timeout))
}

/// Async form of [`healthcheck`], for a caller that already runs a runtime.
pub async fn check_ready(addr: SocketAddr, timeout: Duration) -> Result<String, HealthcheckError> {
    let target = reachable(addr);
    tokio::time::timeout(timeout, get_readyz(target))
        .await
        .unwrap_or(Err(HealthcheckError::Timeout {
            addr: target,
            timeout,
        }))
}

/// The address to connect to for a listener bound to `addr`: loopback for the
/// "every interface" addresses, which name no host to connect to.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

async fn get_readyz(addr: SocketAddr) -> Result<String, HealthcheckError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| HealthcheckError::Connect { addr, source })?;
    let http = |source| HealthcheckError::Http { addr, source };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    let connection = tokio::spawn(connection);
    let request = Request::get("/readyz")
        .header(HOST, addr.to_string())
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .expect("a valid request");
    let response = sender.send_request(request).await.map_err(http)?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(http)?
        .to_bytes();
    connection.abort();
    let body = String::from_utf8_lossy(&body).trim().to_owned();
    if status == StatusCode::OK {
        Ok(body)
    } else {
        Err(HealthcheckError::NotReady { addr, status, body })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::{Health, HttpServer, Metrics};

    /// A listener whose readiness follows `ready`.
    async fn listener(ready: Arc<AtomicBool>) -> HttpServer {
        let health = Health::new().check("redis", move || {
            if ready.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("not subscribed (connecting or reconnecting)".to_owned())
            }
        });
        let addr = "127.0.0.1:0".parse().unwrap();
        HttpServer::start(addr, health, Arc::new(Metrics::new("test-daemon")))
            .await
            .unwrap()
    }

    /// The answer follows `/readyz`: its body when ready, the status and the reason when
    /// not, and "shutting down" once the daemon drains.
    #[tokio::test]
    async fn follows_readyz() {
        let ready = Arc::new(AtomicBool::new(true));
        let server = listener(Arc::clone(&ready)).await;
        let addr = server.local_addr();
        assert_eq!(check_ready(addr, DEFAULT_TIMEOUT).await.unwrap(), "ready");

        ready.store(false, Ordering::SeqCst);
        let err = check_ready(addr, DEFAULT_TIMEOUT).await.unwrap_err();
        assert!(
            matches!(err, HealthcheckError::NotReady { status, .. } if status == StatusCode::SERVICE_UNAVAILABLE),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "503 Service Unavailable from {addr}/readyz: not ready: redis: not subscribed (connecting or reconnecting)"
            )
        );
        server.stop().await;
    }

    /// Nothing listening is a failure that names the address, with its cause once.
    #[tokio::test]
    async fn nothing_listening_is_a_connect_error() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let err = check_ready(addr, DEFAULT_TIMEOUT).await.unwrap_err();
        assert!(matches!(err, HealthcheckError::Connect { .. }), "{err:?}");
        let text = error_chain(&err);
        assert!(
            text.starts_with(&format!("connecting to {addr}: ")),
            "{text}"
        );
        assert_eq!(text.matches("refused").count(), 1, "{text}");
    }

    /// A daemon that accepts but never answers is reported at the deadline (the
    /// listener never answers, so the outcome does not depend on timing).
    #[tokio::test]
    async fn a_silent_listener_times_out() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let err = check_ready(addr, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, HealthcheckError::Timeout { .. }), "{err:?}");
        drop(silent);
    }

    /// Without an address there is nothing to ask: say which variable to set.
    #[test]
    fn no_address_says_what_to_set() {
        let err = healthcheck(None, DEFAULT_TIMEOUT).unwrap_err();
        assert!(err.to_string().contains("BYTEBOT_HTTP_ADDR"), "{err}");
    }

    /// A listener on every interface is asked on loopback.
    #[test]
    fn unspecified_addresses_are_asked_on_loopback() {
        let any: SocketAddr = "0.0.0.0:9090".parse().unwrap();
        assert_eq!(reachable(any), "127.0.0.1:9090".parse().unwrap());
        let any6: SocketAddr = "[::]:9090".parse().unwrap();
        assert_eq!(reachable(any6), "[::1]:9090".parse().unwrap());
        let one: SocketAddr = "127.0.0.2:9090".parse().unwrap();
        assert_eq!(reachable(one), one);
    }
}
