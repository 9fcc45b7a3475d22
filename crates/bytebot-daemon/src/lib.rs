//! What every Bytebot daemon shares around its `run` loop, and what `bytebot-core`
//! must not contain: logging setup and an HTTP listener.
//!
//! - [`logging`]: `--log-format text|json` and `RUST_LOG`, installed once by `main`.
//! - [`health`]: the readiness checks behind `/readyz` (Redis subscribed; for a
//!   gateway, its platform session too).
//! - [`telemetry`]: a Prometheus recorder that is *not* installed globally (so several
//!   daemons can run in one test process), filled from the bus and bot counters at
//!   scrape time, plus live histograms.
//! - [`http`]: the optional listener (`--http-addr`) serving `/healthz`, `/readyz` and
//!   `/metrics`, stopped by the daemon after it has drained.
//! - [`shell`]: the three put together around a daemon's work: listen first, mark
//!   draining when shutdown begins, stop the listener last.
//!
//! The last three need the `http` feature (on by default). Without it the crate is the
//! logging setup and the readiness checks only, for command-line tools that must not
//! carry an HTTP server and a metrics exporter (router-tools).

pub mod health;
#[cfg(feature = "http")]
pub mod http;
pub mod logging;
#[cfg(feature = "http")]
pub mod shell;
#[cfg(feature = "http")]
pub mod telemetry;

pub use health::Health;
#[cfg(feature = "http")]
pub use http::HttpServer;
pub use logging::LogFormat;
#[cfg(feature = "http")]
pub use shell::DaemonShell;
#[cfg(feature = "http")]
pub use telemetry::Telemetry;
