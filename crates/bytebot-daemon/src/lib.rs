//! What every Bytebot daemon shares around its `run` loop, and what `bytebot-core`
//! must not contain: logging setup and an HTTP listener.
//!
//! - [`logging`]: `--log-format text|json` and `RUST_LOG`, installed once by `main`
//!   (the `bytebot-logging` crate, re-exported: command-line tools depend on that crate
//!   alone and stay free of hyper and the Prometheus exporter).
//! - [`health`]: the readiness checks behind `/readyz` (Redis subscribed; for a
//!   gateway, its platform session too).
//! - [`metrics`]: [`Metrics`], a Prometheus recorder that is *not* installed globally
//!   (so several daemons can run in one test process), filled from the bus, bot and
//!   gateway counters' stats at scrape time, plus live histograms. Its module docs
//!   define the words used for counters everywhere (`XCounters`, `XStats`, `Metrics`).
//! - [`http`]: the optional listener (`--http-addr`) serving `/healthz`, `/readyz` and
//!   `/metrics`, stopped by the daemon after it has drained.
//! - [`shell`]: the three put together around a daemon's work: listen first, mark
//!   draining when shutdown begins, stop the listener last.
//! - [`healthcheck`]: the `healthcheck` subcommand of every daemon binary, which asks a
//!   running daemon's `/readyz` (container healthchecks in a distroless image, no curl).

pub mod health;
pub mod healthcheck;
pub mod http;
pub mod metrics;
pub mod shell;

pub use bytebot_logging as logging;
pub use bytebot_logging::LogFormat;
pub use health::Health;
pub use http::HttpServer;
pub use metrics::Metrics;
pub use shell::DaemonShell;
