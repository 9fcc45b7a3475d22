//! The router-tools binary: flags and logging, then the subcommand's module.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use bytebot_core::bus::{DEFAULT_REDIS_URL, RedisUrl};
use bytebot_core::pattern::Pattern;
use bytebot_core::{Direction, Space};
use bytebot_daemon::LogFormat;
use clap::{Args, Parser, Subcommand, ValueEnum};
use router_tools::chat::{self, ChatConfig, Identity};
use router_tools::send::{self, Message, SendConfig};
use router_tools::watch::{self, WatchConfig};
use router_tools::{bench, doctor, topic};

/// The operator's command line for a Bytebot bus: watch traffic, send messages, chat
/// with your bots from a terminal, check topics and patterns, print the envelope
/// schemas, and diagnose the Redis connection.
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
    /// and print how many subscribers received it.
    Send(SendArgs),
    /// Chat with your bots from the terminal: each line is an inbound message on the
    /// `console` platform; replies to this console are printed.
    ///
    /// Works with piped input too: `printf '!ping\n' | router-tools chat` prints `pong`
    /// and exits once the replies are in (or after --timeout).
    Chat(ChatArgs),
    /// Parse, build, match and lint topics and patterns (offline).
    #[command(subcommand)]
    Topic(TopicCommand),
    /// Print the JSON Schema of an envelope.
    Schema {
        /// Which envelope.
        #[arg(value_enum)]
        envelope: Envelope,
    },
    /// Check Redis: reachable? version, round trip, who is connected, and whether
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
}

/// Where a console's messages come from. Defaults: platform `console`, space `local`,
/// room `terminal`, user `$USER`.
#[derive(Debug, Args)]
struct IdentityArgs {
    /// Platform segment of the topic.
    #[arg(long, env = "BYTEBOT_PLATFORM", default_value = "console")]
    platform: String,
    /// Space (guild/server) segment.
    #[arg(
        long,
        env = "BYTEBOT_SPACE",
        default_value = "local",
        conflicts_with = "direct"
    )]
    space: String,
    /// Send as a direct message (space `@me`) instead of in --space.
    #[arg(long)]
    direct: bool,
    /// Room (channel) segment.
    #[arg(long, env = "BYTEBOT_ROOM", default_value = "terminal")]
    room: String,
    /// User segment and author id.
    #[arg(long, env = "USER", default_value = "console-user")]
    user: String,
    /// Author display name (default: the user).
    #[arg(long)]
    name: Option<String>,
}

impl IdentityArgs {
    fn identity(self, bot: bool) -> Identity {
        Identity {
            platform: self.platform,
            space: if self.direct {
                Space::Direct
            } else {
                Space::id(self.space)
            },
            room: self.room,
            user: self.user,
            name: self.name,
            bot,
        }
    }
}

#[derive(Debug, Args)]
struct SendArgs {
    #[command(flatten)]
    identity: IdentityArgs,
    /// Mark the author as a bot (subscribers ignore bots by default).
    #[arg(long)]
    bot: bool,
    /// Publish CONTENT as is on --topic, not as an envelope.
    #[arg(long, requires = "topic")]
    raw: bool,
    /// The channel for --raw.
    #[arg(long)]
    topic: Option<String>,
    /// Wait for replies and print them, up to SECONDS (`--wait` alone: 5; `--wait=10`).
    #[arg(long, value_name = "SECONDS", num_args = 0..=1, require_equals = true, default_missing_value = "5")]
    wait: Option<f64>,
    /// The message text (or the raw payload).
    content: String,
}

#[derive(Debug, Args)]
struct ChatArgs {
    #[command(flatten)]
    identity: IdentityArgs,
    /// After the input ends, the longest wait for replies.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    timeout: f64,
    /// Print each reply's round-trip time to stderr.
    #[arg(long)]
    latency: bool,
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
    // output is on stdout.
    bytebot_daemon::logging::init(cli.log_format, "warn");
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
            eprintln!("router-tools: {err:#}");
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
            let message = if args.raw {
                Message::Raw {
                    channel: args.topic.expect("clap requires --topic with --raw"),
                    payload: args.content.into_bytes(),
                }
            } else {
                Message::Inbound {
                    identity: args.identity.identity(args.bot),
                    content: args.content,
                }
            };
            let wait = args.wait.map(|wait| seconds(wait, "--wait")).transpose()?;
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
            };
            runtime.block_on(chat::run(config, ctrl_c))?;
        }
        Command::Topic(command) => return run_topic(command),
        Command::Schema { envelope } => {
            let schema = match envelope {
                Envelope::Inbound => bytebot_core::envelope::inbound_schema(),
                Envelope::Outbound => bytebot_core::envelope::outbound_schema(),
            };
            print!("{}", bytebot_core::envelope::render_schema(&schema));
        }
        Command::Doctor => print!("{}", runtime.block_on(doctor::run(redis_url))?),
        Command::Bench(command) => run_bench(command, redis_url, runtime)?,
    }
    Ok(true)
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
