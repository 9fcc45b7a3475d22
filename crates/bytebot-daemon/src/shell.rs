//! The shell every daemon runs its work inside: readiness, metrics and the optional
//! HTTP listener, started before the work and stopped after it has drained.
//!
//! A daemon's `run` is always the same sandwich:
//!
//! ```no_run
//! # async fn demo(http_addr: Option<std::net::SocketAddr>) -> Result<(), bytebot_daemon::shell::ListenError> {
//! use bytebot_daemon::{DaemonShell, Health};
//!
//! // What "ready" means for this daemon: cheap reads of state it keeps anyway.
//! let health = Health::new().check("redis", || Ok(()));
//! let shell = DaemonShell::start("my-daemon", http_addr, health).await?; // alive, not ready yet
//! shell.metrics().on_render(|_metrics| { /* copy the counters' stats into the metrics */ });
//! let shutdown = shell.draining_on(bytebot_core::shutdown::signal());
//! // ... the daemon's work, until `shutdown` resolves, then its drain ...
//! # shutdown.await;
//! shell.stop().await; // only now does the listener go away
//! # Ok(())
//! # }
//! ```
//!
//! Listening first means an orchestrator sees "alive, not ready" while the daemon
//! connects (a gateway's platform login can take seconds); marking the daemon draining
//! the moment shutdown begins means `/readyz` answers 503 while the work drains, and
//! stopping the listener last means `/metrics` can be scraped until the end.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::{Health, HttpServer, Metrics};

/// The listener could not be started (the address is taken, or not ours).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// Binding `addr` failed (the cause is the `source`, printed by `{:#}`).
    #[error("listening for http on {addr}")]
    Bind {
        /// The address asked for (`--http-addr`).
        addr: SocketAddr,
        /// Why the bind failed.
        #[source]
        source: std::io::Error,
    },
}

/// Readiness, metrics and (with an address) the HTTP listener serving them.
#[derive(Debug)]
pub struct DaemonShell {
    health: Health,
    metrics: Arc<Metrics>,
    http: Option<HttpServer>,
}

impl DaemonShell {
    /// Metrics labelled `daemon="<daemon>"`, readiness judged by `health`, and the
    /// listener on `http_addr` when there is one (without one, readiness and metrics
    /// are kept but not served).
    pub async fn start(
        daemon: &str,
        http_addr: Option<SocketAddr>,
        health: Health,
    ) -> Result<DaemonShell, ListenError> {
        let metrics = Arc::new(Metrics::new(daemon));
        let http = match http_addr {
            Some(addr) => Some(
                HttpServer::start(addr, health.clone(), Arc::clone(&metrics))
                    .await
                    .map_err(|source| ListenError::Bind { addr, source })?,
            ),
            None => None,
        };
        Ok(DaemonShell {
            health,
            metrics,
            http,
        })
    }

    /// The readiness checks behind `/readyz`.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The metrics behind `/metrics`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Where the listener listens (the real port when started on port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(HttpServer::local_addr)
    }

    /// A future that resolves when `shutdown` does, having marked the daemon draining:
    /// hand it to the work as its shutdown signal. It does not borrow the shell, so the
    /// shell can be stopped after the work has used it.
    pub fn draining_on<F: Future<Output = ()>>(
        &self,
        shutdown: F,
    ) -> impl Future<Output = ()> + use<F> {
        let health = self.health.clone();
        async move {
            shutdown.await;
            health.set_draining();
        }
    }

    /// Stops the listener: call it after the daemon has drained.
    pub async fn stop(self) {
        if let Some(http) = self.http {
            http.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A taken address is a start-up error that names it and keeps the cause once.
    #[tokio::test]
    async fn a_taken_address_is_an_error_naming_it() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = DaemonShell::start("test-daemon", Some(addr), Health::new())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), format!("listening for http on {addr}"));
        // The cause is the source, not repeated in the message (`{:#}` prints both).
        let cause = std::error::Error::source(&err).expect("the bind error");
        assert!(cause.is::<std::io::Error>(), "{cause}");
    }

    /// Draining shows on `/readyz` as soon as shutdown begins, before the work ends.
    #[tokio::test]
    async fn draining_on_marks_the_daemon_draining_when_shutdown_resolves() {
        let shell = DaemonShell::start("test-daemon", None, Health::new())
            .await
            .unwrap();
        assert_eq!(shell.health().readiness(), Ok(()));
        shell.draining_on(async {}).await;
        assert_eq!(shell.health().readiness(), Err("shutting down".to_owned()));
        assert_eq!(shell.local_addr(), None);
        shell.stop().await;
    }
}
