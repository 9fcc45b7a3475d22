//! Bytebot against the same bot written as one serenity program (issue 14), and one
//! gateway process's ceilings. Ignored in the normal run (figures, not assertions);
//! `scripts/bench-monolith` builds the release binaries and runs it, and
//! docs/performance.md ("Bytebot against one serenity program") has the method.
//!
//! The subjects, each against a fake Discord of its own in this process (idle
//! subjects cost nothing but their heartbeat):
//! - **monolith**: `examples/monolith.rs`, a plain serenity bot (`BYTEBOT_BENCH_MONOLITH`,
//!   default `<target>/release/examples/monolith`);
//! - **Bytebot**: the real gateway-discord binary (`BYTEBOT_BENCH_GATEWAY`, default this
//!   package's), the real example-subscriber (`BYTEBOT_BENCH_SUBSCRIBER`, default
//!   `<target>/release/example-subscriber`) and a redis-server of its own;
//! - **Bytebot (before)**, when `BYTEBOT_BENCH_GATEWAY_BEFORE` names a second gateway
//!   binary: the same with that gateway, for a before/after table in one run.
//!
//! Both sides do the same Discord work for a `!ping`: a `pong` reply (no mentions),
//! then an edit of it to `pong (N ms)` once Discord answered (example-subscriber does
//! that on the gateway's receipt). Phases, interleaved (each phase runs on every
//! subject in turn, the order rotated every round, [`ROUNDS`] rounds):
//! - open loop at 100/s and 1 000/s, paced by a thread (sleep, then spin to the
//!   scheduled instant), whatever the replies do; 1 s of warm-up not counted;
//! - closed loop: [`WINDOW`] messages in flight, each reply sends the next;
//! - a burst of [`BURST`] messages over 8 channels at once: drain time, and whether
//!   each channel's replies came in the order of its messages.
//!
//! Messages go round-robin over 8 channels of one guild. Latency is from each message's
//! *scheduled* dispatch to the fake receiving the reply's POST (HdrHistogram, µs).
//! CPU is utime + stime from `/proc/<pid>/stat` over the phase, per process: each of the
//! subject's and this one (the fakes and the load generator, whose cost is on both
//! sides); RSS (`VmRSS`) is sampled every 50 ms and the peak kept.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytebot_core::bus::{SubscribeOptions, Subscription};
use bytebot_core::pattern::Pattern;
use bytebot_test_support::{RedisServer, bus_config, free_local_addr, wait_for_status, wait_until};
use hdrhistogram::Histogram;

use crate::fake_discord::DiscordMessage;
use crate::fake_discord::FakeDiscord;
use crate::fake_discord::load::Reply;
use crate::support::{ALICE, CHANNEL, GUILD, TOKEN};

/// Rounds of every phase on every subject.
const ROUNDS: usize = 3;
/// Messages in flight in the closed loop.
const WINDOW: usize = 64;
/// Messages in the burst.
const BURST: u64 = 5_000;
/// Channels the messages go to, round-robin.
const CHANNELS: u64 = 8;
/// Seconds of each open or closed loop that are measured (after one of warm-up).
const SECONDS: u64 = 5;
/// How long the last replies (and their edits) may take to arrive.
const GRACE: Duration = Duration::from_secs(5);
/// Linux's `USER_HZ`: the unit of utime and stime in `/proc/<pid>/stat`.
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Open { rate: u64 },
    Closed,
    Burst,
}

impl Phase {
    fn name(self) -> String {
        match self {
            Phase::Open { rate } => format!("open loop {rate}/s"),
            Phase::Closed => format!("closed loop W={WINDOW}"),
            Phase::Burst => format!("burst {BURST} over {CHANNELS} channels"),
        }
    }
}

const PHASES: [Phase; 4] = [
    Phase::Open { rate: 100 },
    Phase::Open { rate: 1_000 },
    Phase::Closed,
    Phase::Burst,
];

// ---- processes -------------------------------------------------------------------------

/// Kills the child on drop: no orphan survives a failed bench.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process whose CPU and memory are reported.
#[derive(Debug, Clone)]
struct Watched {
    name: &'static str,
    pid: u32,
}

/// utime + stime of `pid` so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after `) `.
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<u64>().ok());
    (ticks(11).unwrap_or(0) + ticks(12).unwrap_or(0)) as f64 / TICKS_PER_SECOND
}

/// The resident set of `pid` now, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Samples the RSS of some processes every 50 ms on a thread; keeps each one's peak.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<u64>>,
}

impl RssSampler {
    fn start(pids: Vec<u32>) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peaks = vec![0; pids.len()];
            loop {
                for (peak, pid) in peaks.iter_mut().zip(&pids) {
                    *peak = (*peak).max(rss_kib(*pid));
                }
                if stopped.load(Ordering::Relaxed) {
                    return peaks;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssSampler { stop, thread }
    }

    fn stop(self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// A binary from an environment variable, else `<target>/release/<default>`
/// (this test binary is `<target>/<profile>/deps/it-<hash>`).
fn binary(variable: &str, default: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .parent()
        .and_then(|deps| deps.parent())
        .and_then(|profile| profile.parent())
        .expect("<target>/<profile>/deps");
    let path = target.join("release").join(default);
    assert!(
        path.exists(),
        "{} is missing: build it (scripts/bench-monolith does) or set {variable}",
        path.display()
    );
    path
}

/// The gateways to measure: (label, binary). The one under test first.
fn gateways() -> Vec<(&'static str, PathBuf)> {
    let mut gateways = vec![(
        "Bytebot",
        std::env::var_os("BYTEBOT_BENCH_GATEWAY").map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_gateway-discord")),
            PathBuf::from,
        ),
    )];
    if let Some(before) = std::env::var_os("BYTEBOT_BENCH_GATEWAY_BEFORE") {
        gateways.push(("Bytebot (before)", PathBuf::from(before)));
    }
    gateways
}

/// redis-server's pid, from `INFO server`.
async fn redis_pid(redis: &RedisServer) -> u32 {
    let mut connection = redis.connection().await;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut connection)
        .await
        .expect("INFO server");
    info.lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
        .expect("process_id in INFO server")
}

/// A gateway-discord binary against `discord` and `redis`, logging warnings only.
fn spawn_gateway(
    binary: &PathBuf,
    discord: &FakeDiscord,
    redis: &RedisServer,
) -> (Killed, std::net::SocketAddr) {
    let http_addr = free_local_addr();
    let child = Command::new(binary)
        .env("DISCORD_TOKEN", TOKEN)
        .env("DISCORD_API_URL", discord.api_url())
        .env("REDIS_URL", redis.url())
        .env("BYTEBOT_HTTP_ADDR", http_addr.to_string())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("spawning {}: {err}", binary.display()));
    (Killed(child), http_addr)
}

// ---- subjects --------------------------------------------------------------------------

/// One bot under test, with its own fake Discord.
struct Subject {
    label: &'static str,
    discord: FakeDiscord,
    watched: Vec<Watched>,
    _children: Vec<Killed>,
    _redis: Option<RedisServer>,
}

impl Subject {
    async fn monolith() -> Subject {
        let discord = FakeDiscord::start().await;
        let binary = binary("BYTEBOT_BENCH_MONOLITH", "examples/monolith");
        let child = Command::new(&binary)
            .env("DISCORD_TOKEN", TOKEN)
            .env("DISCORD_API_URL", discord.api_url())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("spawning {}: {err}", binary.display()));
        let watched = vec![Watched {
            name: "monolith",
            pid: child.id(),
        }];
        Subject {
            label: "monolith",
            discord,
            watched,
            _children: vec![Killed(child)],
            _redis: None,
        }
        .ready()
        .await
    }

    async fn bytebot(label: &'static str, gateway: &PathBuf) -> Subject {
        let discord = FakeDiscord::start().await;
        let redis = RedisServer::start().await;
        let (gateway_child, http_addr) = spawn_gateway(gateway, &discord, &redis);
        let subscriber_binary = binary("BYTEBOT_BENCH_SUBSCRIBER", "example-subscriber");
        let subscriber = Command::new(&subscriber_binary)
            .env("REDIS_URL", redis.url())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("spawning {}: {err}", subscriber_binary.display()));
        wait_for_status(http_addr, "/readyz", 200)
            .await
            .expect("the gateway becomes ready");
        let watched = vec![
            Watched {
                name: "gateway",
                pid: gateway_child.0.id(),
            },
            Watched {
                name: "subscriber",
                pid: subscriber.id(),
            },
            Watched {
                name: "redis",
                pid: redis_pid(&redis).await,
            },
        ];
        Subject {
            label,
            discord,
            watched,
            _children: vec![gateway_child, Killed(subscriber)],
            _redis: Some(redis),
        }
        .ready()
        .await
    }

    /// Waits until a `!ping` gets its `pong` (the subject is connected and subscribed
    /// end to end), then starts load mode.
    async fn ready(self) -> Subject {
        assert!(
            wait_until(Duration::from_secs(30), || self.discord.connected()).await,
            "{} never logged in to the fake discord",
            self.label
        );
        self.discord.start_load();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut id = 1;
        while self.discord.replies_so_far() == 0 {
            assert!(
                Instant::now() < deadline,
                "{} never answered !ping",
                self.label
            );
            self.discord.send_message(&ping(id, CHANNEL));
            id += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.discord.take_replies();
        self
    }
}

fn ping(id: u64, channel_id: u64) -> DiscordMessage {
    let mut message = DiscordMessage::guild(GUILD, channel_id, ALICE, "!ping");
    message.id = id;
    message
}

fn channel(index: u64) -> u64 {
    CHANNEL + index % CHANNELS
}

// ---- one phase -------------------------------------------------------------------------

/// What one phase on one subject gave.
#[derive(Debug, Clone)]
struct Outcome {
    /// Messages counted (after warm-up) and how many of them got no reply.
    measured: u64,
    lost: u64,
    /// Latency in µs of the counted messages.
    latency: Histogram<u64>,
    /// Replies per second over the measured part (closed loop).
    throughput: f64,
    /// From the burst's start to its last reply.
    drain: Duration,
    /// Channels whose replies came out of their messages' order, and the replies that
    /// came after a later message's.
    channels_out_of_order: u64,
    replies_out_of_order: u64,
    /// Messages sent in the whole phase (warm-up included) and edits seen.
    sent: u64,
    edits: u64,
    /// CPU seconds over the phase, per watched process, then this process.
    cpu: Vec<f64>,
    /// Peak RSS in KiB, per watched process, then this process.
    rss: Vec<u64>,
}

/// Dispatches `n` pings paced at `rate`/s from a thread of its own (sleep to within
/// 200 µs, then spin): message `first_id + i` is due at `start + i / rate` whatever
/// the replies do. Returns each message's scheduled instant.
fn paced(discord: &FakeDiscord, first_id: u64, n: u64, rate: u64) -> Vec<Instant> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let start = Instant::now() + Duration::from_millis(10);
                let mut scheduled = Vec::with_capacity(n as usize);
                for i in 0..n {
                    let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
                    let now = Instant::now();
                    if due > now + Duration::from_micros(200) {
                        std::thread::sleep(due - now - Duration::from_micros(200));
                    }
                    while Instant::now() < due {
                        std::hint::spin_loop();
                    }
                    discord.send_message(&ping(first_id + i, channel(i)));
                    scheduled.push(due);
                }
                scheduled
            })
            .join()
            .unwrap()
    })
}

/// Waits until `n` replies and their edits have arrived, or [`GRACE`] passes.
async fn settle(discord: &FakeDiscord, n: usize, edits_before: u64) {
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        let replies = discord.replies_so_far();
        if replies >= n && discord.patches() - edits_before >= replies as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Stragglers of the last edits, so they are not counted in the next phase.
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Runs `phase` on `subject`; message ids start at `first_id`.
async fn run_phase(subject: &Subject, phase: Phase, first_id: u64) -> Outcome {
    let discord = &subject.discord;
    discord.take_replies();
    let mut pids: Vec<u32> = subject.watched.iter().map(|watched| watched.pid).collect();
    pids.push(std::process::id());
    let cpu_before: Vec<f64> = pids.iter().map(|pid| cpu_seconds(*pid)).collect();
    let edits_before = discord.patches();
    let sampler = RssSampler::start(pids.clone());
    let mut throughput = 0.0;
    // (scheduled or sent instant, counted) of message first_id + i.
    let (sent_at, warm_up, burst_start) = match phase {
        Phase::Open { rate } => {
            let n = rate * (SECONDS + 1);
            let scheduled = paced(discord, first_id, n, rate);
            settle(discord, n as usize, edits_before).await;
            (scheduled, rate as usize, None)
        }
        Phase::Closed => {
            let template = ping(0, CHANNEL);
            let channels = (0..CHANNELS).map(channel).collect();
            let sent_at = discord
                .closed_loop(
                    template,
                    first_id,
                    channels,
                    WINDOW,
                    Duration::from_secs(SECONDS + 1),
                )
                .await;
            let warm_up_end = sent_at[0] + Duration::from_secs(1);
            let warm_up = sent_at.iter().filter(|at| **at < warm_up_end).count();
            settle(discord, sent_at.len(), edits_before).await;
            (sent_at, warm_up, None)
        }
        Phase::Burst => {
            let start = Instant::now();
            for i in 0..BURST {
                discord.send_message(&ping(first_id + i, channel(i)));
            }
            settle(discord, BURST as usize, edits_before).await;
            (vec![start; BURST as usize], 0, Some(start))
        }
    };
    let edits = discord.patches() - edits_before;
    let rss = sampler.stop();
    let cpu: Vec<f64> = pids
        .iter()
        .zip(&cpu_before)
        .map(|(pid, before)| cpu_seconds(*pid) - before)
        .collect();
    let replies = discord.take_replies();
    let mut answered_at: Vec<Option<Instant>> = vec![None; sent_at.len()];
    for reply in &replies {
        if let Some(index) = reply.reply_to.checked_sub(first_id)
            && let Some(slot) = answered_at.get_mut(index as usize)
        {
            slot.get_or_insert(reply.received_at);
        }
    }
    let mut latency = Histogram::<u64>::new(3).unwrap();
    let mut lost = 0;
    for (sent, answered) in sent_at.iter().zip(&answered_at).skip(warm_up) {
        match answered {
            Some(at) => latency
                .record(at.saturating_duration_since(*sent).as_micros() as u64)
                .unwrap(),
            None => lost += 1,
        }
    }
    if phase == Phase::Closed {
        // Replies to the messages sent during the measured seconds, per second.
        throughput = latency.len() as f64 / SECONDS as f64;
    }
    let drain = burst_start
        .and_then(|start| {
            replies
                .iter()
                .map(|reply| reply.received_at)
                .max()
                .map(|last| last - start)
        })
        .unwrap_or_default();
    let (channels_out_of_order, replies_out_of_order) = out_of_order(&replies, first_id);
    Outcome {
        measured: (sent_at.len() - warm_up) as u64,
        lost,
        latency,
        throughput,
        drain,
        channels_out_of_order,
        replies_out_of_order,
        sent: sent_at.len() as u64,
        edits,
        cpu,
        rss,
    }
}

/// Per channel, whether replies arrived in the order of the messages they answer:
/// (channels out of order, replies that arrived after a reply to a later message).
fn out_of_order(replies: &[Reply], first_id: u64) -> (u64, u64) {
    let mut last_per_channel = std::collections::HashMap::<u64, u64>::new();
    let mut bad_channels = std::collections::HashSet::new();
    let mut late = 0;
    for reply in replies.iter().filter(|reply| reply.reply_to >= first_id) {
        let last = last_per_channel.entry(reply.channel_id).or_insert(0);
        if reply.reply_to < *last {
            late += 1;
            bad_channels.insert(reply.channel_id);
        } else {
            *last = reply.reply_to;
        }
    }
    (bad_channels.len() as u64, late)
}

// ---- the report ------------------------------------------------------------------------

/// `median (min-max)` of `values`, each formatted by `format`.
fn spread(mut values: Vec<f64>, format: impl Fn(f64) -> String) -> String {
    values.sort_by(f64::total_cmp);
    match values.as_slice() {
        [] => "-".to_owned(),
        [only] => format(*only),
        _ => format!(
            "{} ({}–{})",
            format(values[values.len() / 2]),
            format(values[0]),
            format(values[values.len() - 1])
        ),
    }
}

fn ms(value: f64) -> String {
    format!("{value:.2}")
}

fn whole(value: f64) -> String {
    format!("{value:.0}")
}

/// One markdown row: `label`, then one cell per subject from its outcomes of a phase.
fn row(label: &str, outcomes: &[Vec<Outcome>], cell: impl Fn(&[Outcome]) -> String) -> String {
    let cells: Vec<String> = outcomes.iter().map(|runs| cell(runs)).collect();
    format!("| {label} | {} |", cells.join(" | "))
}

fn percentile_row(label: &str, outcomes: &[Vec<Outcome>], quantile: f64) -> String {
    row(label, outcomes, |runs| {
        spread(
            runs.iter()
                .map(|run| run.latency.value_at_quantile(quantile) as f64 / 1000.0)
                .collect(),
            ms,
        )
    })
}

/// CPU milliseconds per 1000 messages of process `index` (`None`: the subject's
/// processes together).
fn cpu_per_thousand(run: &Outcome, index: Option<usize>, n_watched: usize) -> f64 {
    let seconds = match index {
        Some(index) => run.cpu[index],
        None => run.cpu[..n_watched].iter().sum(),
    };
    seconds * 1000.0 / run.sent.max(1) as f64 * 1000.0
}

fn print_table(subjects: &[Subject], results: &[Vec<Vec<Outcome>>]) {
    let header: Vec<&str> = subjects.iter().map(|subject| subject.label).collect();
    println!();
    println!(
        "| {ROUNDS} rounds, median (min–max) | {} |",
        header.join(" | ")
    );
    println!("| --- |{}", " --- |".repeat(subjects.len()));
    for (phase_index, phase) in PHASES.iter().enumerate() {
        let outcomes: Vec<Vec<Outcome>> = results
            .iter()
            .map(|per_phase| per_phase[phase_index].clone())
            .collect();
        let name = phase.name();
        println!("| **{name}** |{}", " |".repeat(subjects.len()));
        match phase {
            Phase::Closed => println!(
                "{}",
                row("replies/s", &outcomes, |runs| spread(
                    runs.iter().map(|run| run.throughput).collect(),
                    whole
                ))
            ),
            Phase::Burst => {
                println!(
                    "{}",
                    row("drain time, ms", &outcomes, |runs| spread(
                        runs.iter()
                            .map(|run| run.drain.as_secs_f64() * 1000.0)
                            .collect(),
                        whole
                    ))
                );
                println!(
                    "{}",
                    row(
                        "order per channel: channels out of order / late replies",
                        &outcomes,
                        |runs| runs
                            .iter()
                            .map(|run| format!(
                                "{}/{}",
                                run.channels_out_of_order, run.replies_out_of_order
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                );
            }
            Phase::Open { .. } => {}
        }
        if *phase != Phase::Burst {
            for (label, quantile) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)] {
                println!(
                    "{}",
                    percentile_row(&format!("{label}, ms"), &outcomes, quantile)
                );
            }
        }
        println!(
            "{}",
            row("lost (of measured)", &outcomes, |runs| runs
                .iter()
                .map(|run| format!("{} of {}", run.lost, run.measured))
                .collect::<Vec<_>>()
                .join(", "))
        );
        println!(
            "{}",
            row("edits / messages sent", &outcomes, |runs| runs
                .iter()
                .map(|run| format!("{}/{}", run.edits, run.sent))
                .collect::<Vec<_>>()
                .join(", "))
        );
        let cpu_rows = subjects.iter().enumerate().map(|(index, subject)| {
            let n_watched = subject.watched.len();
            let total = spread(
                outcomes[index]
                    .iter()
                    .map(|run| cpu_per_thousand(run, None, n_watched))
                    .collect(),
                whole,
            );
            if n_watched == 1 {
                return total;
            }
            let parts: Vec<String> = subject
                .watched
                .iter()
                .enumerate()
                .map(|(process, watched)| {
                    let values = outcomes[index]
                        .iter()
                        .map(|run| cpu_per_thousand(run, Some(process), n_watched))
                        .collect::<Vec<_>>();
                    format!("{} {}", watched.name, spread(values, whole))
                })
                .collect();
            format!("{total}: {}", parts.join(", "))
        });
        println!(
            "| CPU ms per 1000 messages, the bot's processes | {} |",
            cpu_rows.collect::<Vec<_>>().join(" | ")
        );
        let bench_cpu = subjects.iter().enumerate().map(|(index, subject)| {
            let own = subject.watched.len();
            spread(
                outcomes[index]
                    .iter()
                    .map(|run| cpu_per_thousand(run, Some(own), own))
                    .collect(),
                whole,
            )
        });
        println!(
            "| CPU ms per 1000 messages, this process (fake + load) | {} |",
            bench_cpu.collect::<Vec<_>>().join(" | ")
        );
    }
    // Peak RSS per process over all phases of a round; median and range of the rounds.
    let rss_cells = subjects.iter().enumerate().map(|(index, subject)| {
        let mut names: Vec<&str> = subject.watched.iter().map(|watched| watched.name).collect();
        names.push("this process");
        let per_process: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(process, name)| {
                let peaks = (0..ROUNDS)
                    .map(|round| {
                        results[index]
                            .iter()
                            .map(|runs| runs[round].rss[process])
                            .max()
                            .unwrap_or(0) as f64
                            / 1024.0
                    })
                    .collect();
                format!("{name} {}", spread(peaks, |mib| format!("{mib:.1}")))
            })
            .collect();
        let totals = (0..ROUNDS)
            .map(|round| {
                (0..subject.watched.len())
                    .map(|process| {
                        results[index]
                            .iter()
                            .map(|runs| runs[round].rss[process])
                            .max()
                            .unwrap_or(0)
                    })
                    .sum::<u64>() as f64
                    / 1024.0
            })
            .collect();
        format!(
            "{} (the bot's processes): {}",
            spread(totals, |mib| format!("{mib:.1}")),
            per_process.join(", ")
        )
    });
    println!("| **memory** |{}", " |".repeat(subjects.len()));
    println!(
        "| peak RSS, MiB | {} |",
        rss_cells.collect::<Vec<_>>().join(" | ")
    );
    println!();
}

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The comparison: every phase on every subject, interleaved, [`ROUNDS`] times; prints
/// the fake's ceiling first and a markdown table at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: scripts/bench-monolith"]
async fn bench_bytebot_against_one_serenity_program() {
    println!("load average at the start: {}", uptime());
    let dispatches = FakeDiscord::dispatch_ceiling(50_000).await;
    let posts = FakeDiscord::post_ceiling(50_000, 8).await;
    println!(
        "the fake's own ceiling, trivial counterparts in this process: {dispatches:.0} dispatches/s, {posts:.0} POSTs/s (8 connections)"
    );
    let mut subjects = vec![Subject::monolith().await];
    for (label, gateway) in gateways() {
        subjects.push(Subject::bytebot(label, &gateway).await);
    }
    // results[subject][phase][round]
    let mut results: Vec<Vec<Vec<Outcome>>> = vec![vec![Vec::new(); PHASES.len()]; subjects.len()];
    let mut first_id = 1_000_000;
    for round in 0..ROUNDS {
        for (phase_index, phase) in PHASES.iter().enumerate() {
            for turn in 0..subjects.len() {
                let index = (turn + round) % subjects.len();
                let subject = &subjects[index];
                let outcome = run_phase(subject, *phase, first_id).await;
                first_id += 1_000_000;
                println!(
                    "round {} {:<32} {:<18} sent {:>6} lost {:>4} p50 {:>7.2} ms p99 {:>7.2} ms cpu {:?} s (load {})",
                    round + 1,
                    phase.name(),
                    subject.label,
                    outcome.sent,
                    outcome.lost,
                    outcome.latency.value_at_quantile(0.5) as f64 / 1000.0,
                    outcome.latency.value_at_quantile(0.99) as f64 / 1000.0,
                    outcome
                        .cpu
                        .iter()
                        .map(|seconds| (seconds * 100.0).round() / 100.0)
                        .collect::<Vec<_>>(),
                    uptime(),
                );
                results[index][phase_index].push(outcome);
            }
        }
    }
    print_table(&subjects, &results);
    println!("load average at the end: {}", uptime());
}

// ---- one gateway process's ceilings --------------------------------------------------

/// A gateway binary with its own Redis and fake, ready.
async fn lone_gateway(binary: &PathBuf, shards: u32) -> (FakeDiscord, RedisServer, Killed) {
    let discord = FakeDiscord::start().await;
    discord.set_shards(shards, shards);
    let redis = RedisServer::start().await;
    let (child, http_addr) = spawn_gateway(binary, &discord, &redis);
    // serenity starts a process's shards 5 s apart: 64 take over five minutes.
    let patience = Duration::from_secs(30 + 6 * u64::from(shards));
    assert!(
        wait_until(patience, || discord.connected_shards().len()
            == shards as usize)
        .await,
        "only {} of {shards} shards connected",
        discord.connected_shards().len()
    );
    wait_for_status(http_addr, "/readyz", 200)
        .await
        .expect("the gateway becomes ready");
    (discord, redis, child)
}

/// Messages allowed in flight (sent, not yet seen at the other end) in the ceiling
/// runs: under the gateway's queues (4 096 deliveries), so that what is measured is
/// the rate it sustains without loss, not how fast a queue overflows.
const CEILING_WINDOW: u64 = 2_048;

/// Inbound: `MESSAGE_CREATE` dispatches injected as fast as one thread can with at
/// most [`CEILING_WINDOW`] not yet in Redis (no subscriber answers; this process counts
/// what reaches Redis). Target: at least 20 000 messages/s from dispatch to Redis, 0
/// lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: scripts/bench-monolith"]
async fn bench_gateway_inbound_ceiling() {
    const N: u64 = 100_000;
    for (label, binary) in gateways() {
        let (discord, redis, gateway) = lone_gateway(&binary, 1).await;
        discord.start_load();
        let mut inbound = Subscription::start(
            bus_config(&redis.url(), "bench"),
            vec![Pattern::parse_raw("inbound.discord.*")],
            SubscribeOptions {
                queue_capacity: 1 << 21,
                ..SubscribeOptions::default()
            },
        );
        inbound
            .wait_connected(Duration::from_secs(10))
            .await
            .unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&received);
        let counter = tokio::spawn(async move {
            let mut last = Instant::now();
            while counted.load(Ordering::Relaxed) < N {
                match tokio::time::timeout(Duration::from_secs(5), inbound.recv()).await {
                    Ok(Some(_)) => {
                        counted.fetch_add(1, Ordering::Relaxed);
                        last = Instant::now();
                    }
                    _ => break,
                }
            }
            (last, inbound.stats())
        });
        let cpu_before = cpu_seconds(gateway.0.id());
        let started = Instant::now();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for i in 0..N {
                    while i - received.load(Ordering::Relaxed) >= CEILING_WINDOW {
                        if counter.is_finished() {
                            return;
                        }
                        std::thread::yield_now();
                    }
                    let mut message = DiscordMessage::guild(GUILD, channel(i), ALICE, "hello");
                    message.id = 1_000 + i;
                    discord.send_message(&message);
                }
            });
        });
        let (last, stats) = counter.await.unwrap();
        let received = received.load(Ordering::Relaxed);
        let cpu = cpu_seconds(gateway.0.id()) - cpu_before;
        println!(
            "{label}: inbound ceiling {:.0} messages/s from dispatch to Redis ({received} of {N} arrived, {} lost, window {CEILING_WINDOW}; this subscriber dropped {}; gateway CPU {:.1} µs per message; load {})",
            received as f64 / (last - started).as_secs_f64(),
            N - received,
            stats.dropped,
            cpu * 1e6 / N as f64,
            uptime(),
        );
    }
}

/// Outbound: envelopes PUBLISHed to 64 channels as fast as pipelining allows with at
/// most [`CEILING_WINDOW`] not yet posted; the fake answers every POST at once (no
/// rate limits). Target: at least 10 000/s from Redis to the fake's POST, 0 lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: scripts/bench-monolith"]
async fn bench_gateway_outbound_ceiling() {
    const N: u64 = 50_000;
    const OUTBOUND_CHANNELS: u64 = 64;
    const BATCH: u64 = 256;
    for (label, binary) in gateways() {
        let (discord, redis, gateway) = lone_gateway(&binary, 1).await;
        discord.start_load();
        let mut connection = redis.connection().await;
        let cpu_before = cpu_seconds(gateway.0.id());
        let started = Instant::now();
        let mut published = 0;
        let mut stalled_since = Instant::now();
        let mut last_posted = 0;
        while published < N {
            let posted = discord.replies_so_far() as u64;
            if posted != last_posted {
                last_posted = posted;
                stalled_since = Instant::now();
            }
            if published - posted + BATCH > CEILING_WINDOW {
                if stalled_since.elapsed() > Duration::from_secs(5) {
                    break;
                }
                tokio::task::yield_now().await;
                continue;
            }
            let mut pipeline = redis::pipe();
            for i in published..(published + BATCH).min(N) {
                let topic = format!(
                    "outbound.discord.{GUILD}.{}.{ALICE}",
                    CHANNEL + i % OUTBOUND_CHANNELS
                );
                let payload = format!(r#"{{"v":1,"content":"bench {i}"}}"#);
                pipeline.cmd("PUBLISH").arg(topic).arg(payload).ignore();
            }
            let () = pipeline.query_async(&mut connection).await.unwrap();
            published = (published + BATCH).min(N);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while (discord.replies_so_far() as u64) < published && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let replies = discord.take_replies();
        let cpu = cpu_seconds(gateway.0.id()) - cpu_before;
        let last = replies
            .iter()
            .map(|reply| reply.received_at)
            .max()
            .unwrap_or(started);
        println!(
            "{label}: outbound ceiling {:.0} posts/s from Redis to the fake's POST ({} of {N} posted, {published} published, over {OUTBOUND_CHANNELS} channels, window {CEILING_WINDOW}; gateway CPU {:.1} µs per message; load {})",
            replies.len() as f64 / (last - started).as_secs_f64(),
            replies.len(),
            cpu * 1e6 / N as f64,
            uptime(),
        );
    }
}

/// Memory per idle shard: one gateway process with 64 shards against the fake, and with
/// 1; (RSS with 64 - RSS with 1) / 63. Target: at most 256 KiB per shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: scripts/bench-monolith"]
async fn bench_gateway_memory_per_idle_shard() {
    for (label, binary) in gateways() {
        let mut rss = Vec::new();
        for shards in [1, 64] {
            let (_discord, _redis, gateway) = lone_gateway(&binary, shards).await;
            // Settled: the shards' start-up allocations are done; the median of 10
            // samples over 2 s.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let mut samples = Vec::new();
            for _ in 0..10 {
                samples.push(rss_kib(gateway.0.id()));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            samples.sort_unstable();
            rss.push(samples[samples.len() / 2]);
        }
        println!(
            "{label}: idle RSS {} KiB with 1 shard, {} KiB with 64: {:.0} KiB per idle shard (load {})",
            rss[0],
            rss[1],
            (rss[1] as f64 - rss[0] as f64) / 63.0,
            uptime(),
        );
    }
}
