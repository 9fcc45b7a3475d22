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
/// `RUST_LOG` says: their events more verbose than the level are dropped.
/// tungstenite logs every WebSocket message it receives at trace level, and Discord's
/// gateway sends each interaction's token (a credential for 15 minutes) in its
/// `INTERACTION_CREATE` payload.
///
/// A cap only lowers: it never enables what `RUST_LOG` leaves out (a directive such as
/// `tungstenite::protocol=debug` would have shown tungstenite's debug lines at the
/// default `info`, and raised the `log` crate's level for every library with it).
const SECRET_SAFE: [(&str, tracing::Level); 1] = [("tungstenite::protocol", tracing::Level::DEBUG)];

/// Whether `target` is `library` or one of its modules.
fn is_within(target: &str, library: &str) -> bool {
    target == library
        || target
            .strip_prefix(library)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// Whether `metadata` is more verbose than the [`SECRET_SAFE`] cap of its library.
fn is_over_cap(metadata: &tracing::Metadata<'_>) -> bool {
    SECRET_SAFE
        .iter()
        .any(|(library, cap)| is_within(metadata.target(), library) && metadata.level() > cap)
}

/// Libraries whose spans are never recorded, whatever `RUST_LOG` says (their events
/// still are). serenity instruments its gateway functions with every argument: the
/// span of `Shard::handle_event` holds the whole gateway event, an interaction's token
/// included, and a text or JSON log line prints the fields of the spans it is inside,
/// so serenity's own warning in there ("Sequence off") would print the token.
const SPANLESS: [&str; 1] = ["serenity"];

/// Whether `metadata` is a span of one of the [`SPANLESS`] libraries.
fn is_spanless(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.is_span()
        && SPANLESS
            .iter()
            .any(|library| is_within(metadata.target(), library))
}

/// The log layer: `format` lines written to `writer`, filtered by `filter`, the caps
/// of [`SECRET_SAFE`] and [`SPANLESS`].
fn layer<S, W>(
    format: LogFormat,
    filter: tracing_subscriber::EnvFilter,
    colour: bool,
    writer: W,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::FilterExt as _;

    // The hint says the function only ever disables. Without one the combined filter
    // has none, and `init` would set the `log` crate's level to trace: every
    // `log::trace!` of tungstenite (one per WebSocket frame) would be formatted into
    // `tracing-log` only to be dropped there (5.3k of 267k instructions per inbound
    // Discord message in the gateway's profile).
    let filter = filter.and(
        tracing_subscriber::filter::filter_fn(|metadata| {
            !is_spanless(metadata) && !is_over_cap(metadata)
        })
        .with_max_level_hint(tracing::level_filters::LevelFilter::TRACE),
    );
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(colour)
        .with_writer(writer);
    match format {
        LogFormat::Text => layer.with_filter(filter).boxed(),
        LogFormat::Json => layer.json().with_filter(filter).boxed(),
    }
}

/// Installs the global tracing subscriber: stderr, filtered by `RUST_LOG` (or
/// `default_filter` when it is unset or invalid) and the caps of `SECRET_SAFE` and
/// `SPANLESS`, in `format`.
///
/// Only a binary's `main` calls this; libraries and tests never do.
pub fn init(format: LogFormat, default_filter: &str) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let colour = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    tracing_subscriber::registry()
        .with(layer(format, filter, colour, std::io::stderr))
        .init();
}

/// An error and its causes on one line, `error: cause: cause`, as anyhow's `{:#}`
/// prints them, but each cause once.
///
/// Many errors print their source in their own message and also return it from
/// `source()` (serenity's HTTP errors, the Redis driver's), so `{:#}` printed
/// `checking the bot token with discord (GET /users/@me): Provided value is an invalid
/// header value.: Provided value is an invalid header value.`. A cause that the error
/// before it already says is left out. Every binary's `main` prints its final error
/// with this.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut previous = line.clone();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !previous.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        previous = text;
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `layer` prints of `emit` under `filter`, in `format`.
    fn printed(format: LogFormat, filter: &str, emit: impl FnOnce()) -> String {
        use tracing_subscriber::layer::SubscriberExt as _;

        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = {
            let out = std::sync::Arc::clone(&out);
            move || Capture(std::sync::Arc::clone(&out))
        };
        let subscriber = tracing_subscriber::registry().with(layer(
            format,
            tracing_subscriber::EnvFilter::new(filter),
            false,
            writer,
        ));
        tracing::subscriber::with_default(subscriber, emit);
        String::from_utf8(out.lock().unwrap().clone()).unwrap()
    }

    /// tungstenite's trace lines (each frame, an interaction token in it) never print;
    /// its debug lines print when `RUST_LOG` asks for them, and only then.
    #[test]
    fn secret_safe_caps_only_lower_the_level() {
        let emit = || {
            tracing::trace!(target: "tungstenite::protocol", "frame aW50ZXJhY3Rpb246c2VjcmV0");
            tracing::debug!(target: "tungstenite::protocol", "close frame received");
            tracing::trace!(target: "bytebot_gateway::rooms", "worker woke");
        };
        let at_trace = printed(LogFormat::Text, "trace", emit);
        assert!(!at_trace.contains("aW50ZXJhY3Rpb246c2VjcmV0"), "{at_trace}");
        assert!(at_trace.contains("close frame received"), "{at_trace}");
        assert!(at_trace.contains("worker woke"), "{at_trace}");

        let at_info = printed(LogFormat::Text, "info", emit);
        assert!(at_info.is_empty(), "{at_info}");
    }

    /// `init` sets the `log` crate's level from the layer's hint: with none, every
    /// `log::trace!` of tungstenite and friends (one per gateway frame) is formatted
    /// into `tracing-log` and dropped there, a cost per message for nothing.
    #[test]
    fn the_layer_tells_its_most_verbose_level() {
        use tracing::level_filters::LevelFilter;
        use tracing_subscriber::Layer as _;

        let hint = |filter: &str| {
            layer::<tracing_subscriber::Registry, _>(
                LogFormat::Text,
                tracing_subscriber::EnvFilter::new(filter),
                false,
                std::io::sink,
            )
            .max_level_hint()
        };
        assert_eq!(hint("info"), Some(LevelFilter::INFO));
        assert_eq!(hint("warn,bytebot=debug"), Some(LevelFilter::DEBUG));
        assert_eq!(hint("trace"), Some(LevelFilter::TRACE));
    }

    /// What a log line inside serenity's `handle_event` span would print, in both
    /// formats and at trace: serenity's warning, never the span's fields (the event,
    /// an interaction token included). Our own spans still print theirs.
    #[test]
    fn serenity_spans_never_reach_a_log_line() {
        for format in [LogFormat::Text, LogFormat::Json] {
            let printed = printed(format, "trace", || {
                let event = "Interaction { token: \"aW50ZXJhY3Rpb246c2VjcmV0\" }";
                let span =
                    tracing::info_span!(target: "serenity::gateway::shard", "handle_event", event);
                let _entered = span.enter();
                tracing::warn!(target: "serenity::gateway::shard", "Sequence off; them: 9, us: 7");
                let ours = tracing::info_span!("outbound", topic = "outbound.discord.1.2.3");
                let _ours = ours.enter();
                tracing::info!("sent");
            });
            assert!(printed.contains("Sequence off"), "{format:?}: {printed}");
            assert!(
                !printed.contains("aW50ZXJhY3Rpb246c2VjcmV0"),
                "{format:?}: {printed}"
            );
            assert!(
                printed.contains("outbound.discord.1.2.3"),
                "{format:?}: {printed}"
            );
        }
    }

    /// A `MakeWriter` into a shared buffer.
    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
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

    /// An error that prints `text` and returns `source`.
    #[derive(Debug)]
    struct Failure {
        text: String,
        source: Option<Box<Failure>>,
    }

    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.text)
        }
    }

    impl std::error::Error for Failure {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.source
                .as_deref()
                .map(|source| source as &(dyn std::error::Error + 'static))
        }
    }

    fn failure(text: &str, source: Option<Failure>) -> Failure {
        Failure {
            text: text.to_owned(),
            source: source.map(Box::new),
        }
    }

    #[test]
    fn error_chain_prints_each_cause_once() {
        let refused = "Connection refused (os error 111)";
        let plain = failure("connecting", Some(failure(refused, None)));
        assert_eq!(error_chain(&plain), format!("connecting: {refused}"));

        // serenity's Error::Http prints its HttpError and returns it as its source.
        let header = "Provided value is an invalid header value.";
        let http = failure(header, Some(failure(header, None)));
        let outer = failure("checking the bot token", Some(http));
        assert_eq!(
            error_chain(&outer),
            format!("checking the bot token: {header}")
        );

        // The Redis driver's error ends with its cause and returns it too.
        let driver = failure(
            &format!("redis at h: {refused}"),
            Some(failure(refused, None)),
        );
        let top = failure("cannot reach redis", Some(driver));
        assert_eq!(
            error_chain(&top),
            format!("cannot reach redis: redis at h: {refused}")
        );
    }
}
