//! The router-tools binary: flags and logging, then the subcommand's module.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bytebot_core::Direction;
use bytebot_core::bus::{DEFAULT_REDIS_URL, RedisUrl};
use bytebot_core::pattern::Pattern;
use bytebot_logging::LogFormat;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use router_tools::chat::{self, ChatArgs, ChatConfig};
use router_tools::send::{self, SendArgs, SendConfig};
use router_tools::watch::{self, WatchConfig};
use router_tools::{bench, commands, doctor, topic};

/// The operator's command line for a Bytebot bus: watch traffic, send messages, chat
/// with your bots from a terminal, check topics and patterns, print the envelope
/// schemas, check Discord commands files, and diagnose the Redis connection.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Redis URL (`redis://[user:password@]host[:port][/db]`); the password is never printed.
    #[arg(long, global = true, env = "REDIS_URL", default_value = DEFAULT_REDIS_URL, hide_env_values = true)]
    redis_url: RedisUrl,
    /// Log format for diagnostics on stderr (filter with RUST_LOG, default warn).
    #[arg(long, global = true, env = "BYTEBOT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print live traffic, one line per message (time, topic parts, author, content).
    ///
    /// Keeps watching across Redis restarts; Ctrl-C ends it.
    Watch {
        /// Patterns to watch (default: inbound.*, outbound.* and receipt.*).
        patterns: Vec<Pattern>,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Publish one inbound message as a gateway would (or a raw payload with --raw),
    /// and print how many connections received it (every one whose pattern matched,
    /// watchers included).
    Send(SendArgs),
    /// Chat with your bots from the terminal: each line is an inbound message on the
    /// `console` platform; replies to this console are printed, and each gets the
    /// delivery receipt a gateway would publish (`receipt.console.*`).
    ///
    /// Works with piped input too: `printf '!ping\n' | router-tools chat` prints `pong`
    /// and exits once the replies are in (or after --timeout). Lines typed while Redis
    /// is down are kept and sent when it is back. Exit status 1 when a line was not
    /// published (over the 1 MiB limit, or Redis never came back).
    Chat(ChatArgs),
    /// Parse, build, match and lint topics and patterns (offline).
    #[command(subcommand)]
    Topic(TopicCommand),
    /// Check Discord application commands files (offline).
    #[command(subcommand)]
    Commands(CommandsCommand),
    /// Print the JSON Schema of an envelope or of the delivery receipt.
    Schema {
        /// Which one.
        #[arg(value_enum)]
        envelope: Envelope,
    },
    /// Check Redis: reachable? version, round trip, who is connected (bots, gateways,
    /// consoles, watchers, by connection name), duplicate instances, and whether
    /// anything listens on the inbound and outbound topics.
    Doctor,
    /// Measure the bus: Redis alone, round trips through a running subscriber, and a
    /// minimal echo to compare subscribers with (see docs/performance.md).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Redis pub/sub alone: publish N envelopes with pipelining to one pattern
    /// subscription of our own; published/s, delivered/s and losses.
    Raw {
        /// How many messages.
        #[arg(long, default_value_t = 200_000)]
        messages: u64,
        /// Payload size in bytes (an inbound envelope padded to it).
        #[arg(long, default_value_t = 500)]
        size: usize,
        /// PUBLISHes per pipelined round trip.
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Round trips through whatever subscriber is running, matched by in_reply_to:
    /// closed loop with --window in flight (maximum throughput), then open loop at each
    /// --rate (latency percentiles and losses).
    Roundtrip {
        /// Content of each inbound message (`!ping`, or anything for an echo).
        #[arg(long, default_value = "!ping")]
        content: String,
        /// Closed-loop window: messages in flight (0 skips the closed-loop phase).
        #[arg(long, default_value_t = 64)]
        window: usize,
        /// Open-loop offered rates, messages per second, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
        rate: Vec<u64>,
        /// Also offer twice the closed-loop throughput (memory under overload).
        #[arg(long)]
        overload: bool,
        /// Seconds each phase is measured.
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        /// Seconds sent before each phase and not counted.
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Seconds to wait for late replies after a phase.
        #[arg(long, default_value_t = 2.0)]
        drain: f64,
        /// Rooms the messages are spread over.
        #[arg(long, default_value_t = 16)]
        rooms: usize,
        /// The subscriber's process id: report its RSS and CPU use per phase.
        #[arg(long)]
        pid: Option<u32>,
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A minimal echo on redis-rs alone (no Bytebot framework), the anchor for
    /// `roundtrip`: replies to every inbound message with its content. Runs until
    /// killed.
    EchoServer {
        /// PSUBSCRIBE pattern.
        #[arg(long, default_value = "inbound.*")]
        pattern: String,
        /// Run on a single-threaded runtime instead of two worker threads.
        #[arg(long)]
        current_thread: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Envelope {
    Inbound,
    Outbound,
    /// The delivery receipt gateways publish on `receipt.*`.
    Receipt,
}

#[derive(Debug, Subcommand)]
enum CommandsCommand {
    /// Validate a commands file (the JSON array gateway-discord's --commands syncs)
    /// against Discord's rules: names, descriptions, options, choices, nesting, limits.
    /// Exit status 1 with one line per problem (command and field) when it breaks one.
    Check {
        /// The commands file, e.g. deploy/example-subscriber.commands.json.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TopicCommand {
    /// Show a topic's parts and its reply topic.
    Parse {
        /// The topic, e.g. inbound.discord.123.456.789.
        topic: String,
    },
    /// Build a topic from raw parts (escaping them).
    Build {
        /// inbound, outbound or receipt.
        #[arg(long, default_value = "inbound", value_parser = parse_direction)]
        direction: Direction,
        /// Platform name.
        #[arg(long)]
        platform: String,
        /// Space (guild/server); omit with --direct.
        #[arg(long, required_unless_present = "direct")]
        space: Option<String>,
        /// A direct message (space `@me`).
        #[arg(long, conflicts_with = "space")]
        direct: bool,
        /// Room (channel).
        #[arg(long)]
        room: String,
        /// User.
        #[arg(long)]
        user: String,
    },
    /// Does PATTERN match TOPIC? Exit status 0 when every topic matches, 1 otherwise.
    Match {
        /// A PSUBSCRIBE pattern.
        pattern: String,
        /// Topics to test.
        #[arg(required = true)]
        topics: Vec<String>,
    },
    /// Explain what a pattern really matches when that is probably not what you meant.
    /// Exit status 1 when it can never match a topic.
    Lint {
        /// A PSUBSCRIBE pattern.
        pattern: String,
    },
}

fn parse_direction(text: &str) -> Result<Direction, String> {
    text.parse()
        .map_err(|err: bytebot_core::TopicError| err.to_string())
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{flag} must be a positive number of seconds"))
}

/// Replies that come in quick succession are waited for this long after the last one.
const SETTLE: Duration = Duration::from_millis(300);

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Diagnostics go to stderr; default `warn`: this is a command-line tool whose
    // output is on stdout. `watch` and `chat` say themselves when Redis goes away and
    // comes back, so the bus' own reconnect warnings would only repeat it.
    let default_filter = match cli.command {
        Command::Watch { .. } | Command::Chat(_) => "warn,bytebot_core::bus=error",
        _ => "warn",
    };
    bytebot_logging::init(cli.log_format, default_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("router-tools: starting the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let result = run(cli, &runtime);
    // Do not wait for tasks still blocked: `chat` reads stdin on a blocking thread,
    // which a Ctrl-C does not interrupt, and dropping the runtime would wait for it
    // (that is, for the next line typed) before exiting.
    runtime.shutdown_background();
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("router-tools: {}", bytebot_logging::error_chain(&*err));
            ExitCode::from(2)
        }
    }
}

/// Runs the command; `Ok(false)` is a negative answer (no match, lint errors).
fn run(cli: Cli, runtime: &tokio::runtime::Runtime) -> anyhow::Result<bool> {
    let redis_url = cli.redis_url;
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match cli.command {
        Command::Watch { patterns, json } => {
            let patterns = if patterns.is_empty() {
                watch::default_patterns()
            } else {
                patterns
            };
            runtime.block_on(watch::run(
                WatchConfig {
                    redis_url,
                    patterns,
                    json,
                },
                ctrl_c,
            ))?;
        }
        Command::Send(args) => {
            let wait = args.wait.map(|wait| seconds(wait, "--wait")).transpose()?;
            let message = args
                .message()
                .unwrap_or_else(|problem| usage_error("send", &problem));
            runtime.block_on(send::run(SendConfig {
                redis_url,
                message,
                wait,
                settle: SETTLE,
            }))?;
        }
        Command::Chat(args) => {
            let config = ChatConfig {
                redis_url,
                identity: args.identity.identity(false),
                timeout: seconds(args.timeout, "--timeout")?,
                settle: SETTLE,
                latency: args.latency,
                fail_with: args.fail_with,
            };
            return runtime.block_on(chat::run(config, ctrl_c));
        }
        Command::Topic(command) => return run_topic(command),
        Command::Commands(CommandsCommand::Check { file }) => {
            let (report, ok) = commands::check(&file);
            print!("{report}");
            return Ok(ok);
        }
        Command::Schema { envelope } => {
            let schema = match envelope {
                Envelope::Inbound => bytebot_core::envelope::inbound_schema(),
                Envelope::Outbound => bytebot_core::envelope::outbound_schema(),
                Envelope::Receipt => bytebot_core::receipt::receipt_schema(),
            };
            print!("{}", bytebot_core::envelope::render_schema(&schema));
        }
        Command::Doctor => print!("{}", runtime.block_on(doctor::run(redis_url))?),
        Command::Bench(command) => run_bench(command, redis_url, runtime)?,
    }
    Ok(true)
}

/// Exits with a usage error of `subcommand` (clap's format and exit status 2). Its
/// usage line is the subcommand's own, not one listing the flags given.
fn usage_error(subcommand: &str, message: &str) -> ! {
    let mut command = Cli::command();
    command.build();
    command
        .find_subcommand_mut(subcommand)
        .expect("a subcommand of router-tools")
        .error(clap::error::ErrorKind::MissingRequiredArgument, message)
        .exit()
}

fn run_bench(
    command: BenchCommand,
    redis_url: RedisUrl,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    match command {
        BenchCommand::Raw {
            messages,
            size,
            batch,
            json,
        } => {
            let report = runtime.block_on(bench::raw(bench::RawConfig {
                redis_url,
                n_messages: messages,
                payload_bytes: size,
                batch_size: batch,
            }))?;
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_table());
            }
        }
        BenchCommand::Roundtrip {
            content,
            window,
            rate,
            overload,
            duration,
            warmup,
            drain,
            rooms,
            pid,
            json,
        } => {
            let report = runtime.block_on(bench::roundtrip(bench::RoundtripConfig {
                redis_url,
                content,
                window,
                rates: rate,
                overload,
                duration: seconds(duration, "--duration")?,
                warmup: seconds(warmup, "--warmup")?,
                drain: seconds(drain, "--drain")?,
                rooms,
                pid,
            }))?;
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_table());
            }
        }
        BenchCommand::EchoServer {
            pattern,
            current_thread,
        } => {
            if current_thread {
                let single = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("starting the async runtime")?;
                single.block_on(bench::echo_server(redis_url, pattern))?;
            } else {
                runtime.block_on(bench::echo_server(redis_url, pattern))?;
            }
        }
    }
    Ok(())
}

fn run_topic(command: TopicCommand) -> anyhow::Result<bool> {
    match command {
        TopicCommand::Parse { topic } => print!("{}", topic::parse(&topic)?),
        TopicCommand::Build {
            direction,
            platform,
            space,
            direct: _,
            room,
            user,
        } => {
            println!(
                "{}",
                topic::build(direction, &platform, space.as_deref(), &room, &user)?
            );
        }
        TopicCommand::Match { pattern, topics } => {
            let (report, all) = topic::matches(&pattern, &topics);
            print!("{report}");
            return Ok(all);
        }
        TopicCommand::Lint { pattern } => {
            let (report, clean) = topic::lint_report(&pattern);
            print!("{report}");
            return Ok(clean);
        }
    }
    Ok(true)
}
