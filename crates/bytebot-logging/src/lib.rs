//! Logging setup shared by every Bytebot binary: human-readable lines or JSON lines on
//! stderr, levels from `RUST_LOG`.
//!
//! A crate of its own, apart from `bytebot-daemon`, so that a command-line tool such as
//! router-tools gets `--log-format` without the daemons' HTTP server and Prometheus
//! exporter: a Cargo feature would not do, since features are unified when the
//! binaries are built together (the Dockerfile and the e2e tests do).

use std::io::IsTerminal as _;

/// How log lines look (`--log-format`, env `BYTEBOT_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for Fly.io and log shippers).
    Json,
}

/// Whether text log lines carry ANSI colours: only on a terminal, and never when
/// `NO_COLOR` is set to anything but the empty string (<https://no-color.org>). A log
/// file, `docker logs` or Fly's log shipper would otherwise keep the escape codes.
fn use_colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// Caps on libraries whose most verbose lines print secrets, applied whatever
/// `RUST_LOG` says: tungstenite logs every WebSocket message it receives at trace level,
/// and Discord's gateway sends each interaction's token (a credential for 15 minutes)
/// in its `INTERACTION_CREATE` payload.
const SECRET_SAFE: [&str; 1] = ["tungstenite::protocol=debug"];

/// Installs the global tracing subscriber: stderr, filtered by `RUST_LOG` (or
/// `default_filter` when it is unset or invalid) and the caps of `SECRET_SAFE`, in
/// `format`.
///
/// Only a binary's `main` calls this; libraries and tests never do.
pub fn init(format: LogFormat, default_filter: &str) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    for directive in SECRET_SAFE {
        filter = filter.add_directive(directive.parse().expect("a valid directive"));
    }
    let colour = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The caps must parse, or `init` would panic in every binary.
    #[test]
    fn secret_safe_directives_parse() {
        for directive in SECRET_SAFE {
            assert!(
                directive
                    .parse::<tracing_subscriber::filter::Directive>()
                    .is_ok()
            );
        }
    }

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some("".as_ref())));
        assert!(!use_colour(true, Some("1".as_ref())));
        assert!(!use_colour(false, None));
        assert!(!use_colour(false, Some("1".as_ref())));
    }
}
