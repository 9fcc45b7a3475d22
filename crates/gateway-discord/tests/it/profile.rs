//! A fixed amount of work for the built gateway binary, to profile it (issue 14): the
//! fake Discord and Redis run here and in `redis-server`, so a profiler attached to the
//! binary sees the gateway's own cost only. Ignored in the normal run; for example
//!
//! ```text
//! BYTEBOT_PROFILE_WRAPPER="valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p" \
//! BYTEBOT_PROFILE_HOOK=/tmp/hook \
//! cargo test --release -p gateway-discord --test it profile -- --ignored --nocapture
//! ```
//!
//! with `/tmp/hook` a script that runs `callgrind_control -z "$2"` for `start` and
//! `callgrind_control -d "$1" "$2"` otherwise (one profile file per phase). Without a
//! wrapper it prints the gateway's CPU time per 1000 messages of each phase.
//!
//! Three phases, in order: the gateway connects and becomes ready; `inbound`
//! (`BYTEBOT_PROFILE_INBOUND` `MESSAGE_CREATE` dispatches, default 5000, until each
//! envelope arrived on Redis); `outbound` (`BYTEBOT_PROFILE_OUTBOUND` sends published on
//! Redis over 10 channels, default 5000, until each receipt arrived). At most 500
//! messages are in flight, so no queue overflows however slow the profiled binary is.
//! `BYTEBOT_PROFILE_HOOK`, if set, runs as `HOOK PHASE PID` when a phase starts
//! (`start`) and after each (`inbound`, `outbound`), e.g. to dump and zero a callgrind
//! profile (`callgrind_control`) or to start and stop `perf record -p PID`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::fake_discord::{DiscordMessage, FakeDiscord};
use bytebot_test_support::{RedisServer, free_local_addr, wait_for_status};

use crate::support::{ALICE, CHANNEL, GUILD, TOKEN, outbound_topic, subscribe};

/// Messages in flight at most, in each phase.
const WINDOW: u64 = 500;
/// Outbound messages go round-robin to this many channels (one ordered worker each).
const CHANNELS: u64 = 10;
/// Generous: the profiled binary may run 50 times slower than usual.
const PROFILE_PATIENCE: Duration = Duration::from_secs(600);

fn count_from_env(name: &str) -> u64 {
    std::env::var(name).map_or(5000, |value| value.parse().expect("a number of messages"))
}

/// The CPU time `pid` has used so far (user + system), from `/proc/PID/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a command name") + 2..]
        .split(' ')
        .collect();
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 a
    // second on Linux).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn hook(phase: &str, pid: u32) {
    if let Ok(hook) = std::env::var("BYTEBOT_PROFILE_HOOK") {
        let status = Command::new(&hook)
            .args([phase, &pid.to_string()])
            .status()
            .expect("running BYTEBOT_PROFILE_HOOK");
        assert!(status.success(), "{hook} {phase} {pid}: {status}");
    }
}

/// Waits for `n` deliveries, calling `send(i)` for message `i` while fewer than
/// [`WINDOW`] are in flight.
async fn drive(
    n: u64,
    subscription: &mut bytebot_core::bus::Subscription,
    mut send: impl AsyncFnMut(u64),
) {
    let (mut sent, mut received) = (0, 0);
    let deadline = tokio::time::Instant::now() + PROFILE_PATIENCE;
    while received < n {
        while sent < n && sent - received < WINDOW {
            send(sent).await;
            sent += 1;
        }
        tokio::time::timeout_at(deadline, subscription.recv())
            .await
            .expect("every message arrives in time")
            .expect("a live subscription");
        received += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a profiling harness: run with --release -- --ignored --nocapture"]
async fn profile_gateway_binary() {
    let n_inbound = count_from_env("BYTEBOT_PROFILE_INBOUND");
    let n_outbound = count_from_env("BYTEBOT_PROFILE_OUTBOUND");
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    let http_addr = free_local_addr();
    let wrapper = std::env::var("BYTEBOT_PROFILE_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command
                .args(words)
                .arg(env!("CARGO_BIN_EXE_gateway-discord"));
            command
        }
        None => Command::new(env!("CARGO_BIN_EXE_gateway-discord")),
    };
    command
        .env("DISCORD_TOKEN", TOKEN)
        .env("REDIS_URL", redis.url())
        .env("DISCORD_API_URL", discord.api_url())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .arg("--http-addr")
        .arg(http_addr.to_string())
        .stdin(Stdio::null());
    let mut child = command.spawn().expect("spawning the gateway");
    let pid = child.id();
    tokio::time::timeout(PROFILE_PATIENCE, async {
        while wait_for_status(http_addr, "/readyz", 200).await.is_err() {}
    })
    .await
    .expect("the gateway becomes ready");
    let mut inbound = subscribe(&redis, "inbound.discord.*").await;
    let mut receipts = subscribe(&redis, "receipt.discord.*").await;
    hook("start", pid);

    let cpu_at_start = cpu_time(pid);
    let started = Instant::now();
    drive(n_inbound, &mut inbound, async |i| {
        discord.send_message(&DiscordMessage::guild(
            GUILD,
            CHANNEL,
            ALICE,
            &format!("profile {i}"),
        ));
    })
    .await;
    let inbound_took = started.elapsed();
    // Let the handler tasks that follow each collected event finish.
    tokio::time::sleep(Duration::from_secs(1)).await;
    hook("inbound", pid);
    let cpu_after_inbound = cpu_time(pid);

    let mut connection = redis.connection().await;
    let topics: Vec<String> = (0..CHANNELS).map(|c| outbound_topic(CHANNEL + c)).collect();
    let started = Instant::now();
    drive(n_outbound, &mut receipts, async |i| {
        let payload = format!(r#"{{"v":1,"content":"profile {i}"}}"#);
        let _: i64 = redis::cmd("PUBLISH")
            .arg(&topics[(i % CHANNELS) as usize])
            .arg(payload)
            .query_async(&mut connection)
            .await
            .expect("PUBLISH");
    })
    .await;
    let outbound_took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    hook("outbound", pid);
    let cpu_after_outbound = cpu_time(pid);

    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "the gateway exits cleanly: {exit}");
    assert_eq!(discord.posted().len() as u64, n_outbound);
    // CPU seconds per 1000 messages, as issue 14 counts them (a 1 s pause included).
    let per_1000 = |cpu: Duration, n: u64| cpu.as_secs_f64() * 1000.0 / n.max(1) as f64;
    println!(
        "profile: {n_inbound} inbound in {:.2} s, gateway CPU {:.3} s per 1000; \
         {n_outbound} outbound in {:.2} s, gateway CPU {:.3} s per 1000",
        inbound_took.as_secs_f64(),
        per_1000(cpu_after_inbound - cpu_at_start, n_inbound),
        outbound_took.as_secs_f64(),
        per_1000(cpu_after_outbound - cpu_after_inbound, n_outbound),
    );
}
