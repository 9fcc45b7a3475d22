//! The example-subscriber binary: flags and logging, then [`example_subscriber::run`].

use std::net::SocketAddr;
use std::process::ExitCode;

use bytebot_core::bus::{DEFAULT_REDIS_URL, RedisUrl};
use bytebot_core::group::GroupName;
use bytebot_core::pattern::Pattern;
use bytebot_daemon::LogFormat;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser};
use example_subscriber::Config;

/// A Bytebot subscriber: answers !ping, !echo, !roll, !help, !shrug, !tableflip,
/// !unflip and greetings, on every platform (it replies on each message's reply_topic).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Redis URL (`redis://[user:password@]host[:port][/db]`); the password is never printed.
    #[arg(long, env = "REDIS_URL", default_value = DEFAULT_REDIS_URL, hide_env_values = true)]
    redis_url: RedisUrl,
    /// PSUBSCRIBE pattern, repeatable or comma-separated (default: every inbound message).
    #[arg(
        long = "pattern",
        env = "BYTEBOT_PATTERNS",
        value_delimiter = ',',
        default_value = "inbound.*.*.*.*"
    )]
    patterns: Vec<Pattern>,
    /// What starts a command.
    #[arg(long, env = "BYTEBOT_PREFIX", default_value = "!")]
    prefix: String,
    /// Answer messages written by bots too (off by default: two bots would answer each other forever).
    #[arg(long, env = "BYTEBOT_ANSWER_BOTS", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    answer_bots: bool,
    /// Reply to every message with its content as is, no command parsing (benchmarks:
    /// `router-tools bench roundtrip --content hello`).
    #[arg(long, env = "BYTEBOT_ECHO", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    echo: bool,
    /// Run as a replica of this group: of all running replicas (any language) of one
    /// group, only one answers each message (ASCII letters, digits, `-`, `_`, `.`).
    #[arg(long, env = "BYTEBOT_GROUP")]
    group: Option<GroupName>,
    /// Log format: human-readable text or JSON lines (filter with RUST_LOG, default info).
    #[arg(long, env = "BYTEBOT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Serve /healthz, /readyz and /metrics on this address (e.g. 0.0.0.0:9090); off when unset.
    #[arg(long, env = "BYTEBOT_HTTP_ADDR", global = true)]
    http_addr: Option<SocketAddr>,
    #[command(subcommand)]
    command: Option<bytebot_daemon::healthcheck::Command>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(command) = &args.command {
        return command.run(args.http_addr);
    }
    bytebot_daemon::logging::init(args.log_format, "info");
    let config = Config {
        patterns: args.patterns,
        prefix: args.prefix,
        answer_bots: args.answer_bots,
        echo: args.echo,
        http_addr: args.http_addr,
        group: args.group,
        ..Config::new(args.redis_url)
    };
    // One thread: the bot's work per message is small and mostly waiting on Redis, and
    // a current-thread runtime saves the cross-thread wake-ups of a multi-threaded one
    // (measured with `router-tools bench roundtrip`, docs/performance.md).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("example-subscriber: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(example_subscriber::run(
        config,
        bytebot_core::shutdown::signal(),
    )) {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!(
                "example-subscriber: {}",
                bytebot_daemon::logging::error_chain(&*err)
            );
            ExitCode::FAILURE
        }
    }
}
