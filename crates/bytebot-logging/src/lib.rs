//! Logging setup shared by every Bytebot binary: human-readable lines or JSON lines on
//! stderr, levels from `RUST_LOG`.
//!
//! A crate of its own, apart from `bytebot-daemon`, so that a command-line tool such as
//! router-tools gets `--log-format` without the daemons' HTTP server and Prometheus
//! exporter: a Cargo feature would not do, since features are unified when the
//! binaries are built together (the Dockerfile and the e2e tests do).

/// How log lines look (`--log-format`, env `BYTEBOT_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for Fly.io and log shippers).
    Json,
}

/// Installs the global tracing subscriber: stderr, filtered by `RUST_LOG` (or
/// `default_filter` when it is unset or invalid), in `format`.
///
/// Only a binary's `main` calls this; libraries and tests never do.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
