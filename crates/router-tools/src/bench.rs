//! `bench`: what the bus costs. `raw` measures Redis pub/sub alone, `roundtrip` drives
//! whatever subscriber is running with inbound envelopes and times the replies, and
//! `echo-server` is a minimal echo on redis-rs alone (no `Bot`, no `Publisher`, no
//! `Subscription`): the anchor that tells the framework's own cost apart.
//!
//! Round trips are matched by `in_reply_to`. Each phase is either closed loop (a window
//! of W messages in flight, a reply lets the next one go: the maximum throughput) or
//! open loop (messages sent on a fixed schedule whatever the replies do: latency at a
//! given offered rate, and losses). Open-loop latency is measured from each message's
//! *scheduled* send time, so a stalled sender cannot hide its own delay (coordinated
//! omission).
//!
//! With `--pid`, the subscriber's resident memory (peak, sampled every 50 ms) and CPU
//! time are read from `/proc` for each phase, so memory under overload is visible.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytebot_core::bus::{
    self, BusConfig, OutboxOptions, Publisher, RedisUrl, SubscribeOptions, Subscription,
};
use bytebot_core::envelope::{Author, InboundMessage, decode_outbound};
use bytebot_core::pattern::Pattern;
use bytebot_core::{Direction, Space, Topic};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

/// The connection name's role: `bytebot:router-tools-bench:<host>` (its subscriptions
/// are its own, not a bot's; `doctor` lists it as a tool).
pub const ROLE: &str = "router-tools-bench";

/// How long to wait for Redis at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings for [`raw`].
#[derive(Debug, Clone)]
pub struct RawConfig {
    /// Where Redis is.
    pub redis_url: RedisUrl,
    /// How many messages to publish.
    pub n_messages: u64,
    /// Size of each payload (an inbound envelope padded to this size).
    pub payload_bytes: usize,
    /// PUBLISHes per pipelined round trip.
    pub batch_size: usize,
}

/// What [`raw`] measured.
#[derive(Debug, Clone)]
pub struct RawReport {
    /// Messages published (Redis accepted them).
    pub published: u64,
    /// Messages the subscriber received.
    pub delivered: u64,
    /// Published but never delivered (including drops in the subscriber's own queue).
    pub lost: u64,
    /// Payload size in bytes.
    pub payload_bytes: usize,
    /// Publishes per second (until Redis acknowledged the last pipeline).
    pub published_per_second: f64,
    /// Deliveries per second (first publish to last delivery).
    pub delivered_per_second: f64,
}

impl RawReport {
    /// The report as one JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "bench": "raw",
            "published": self.published,
            "delivered": self.delivered,
            "lost": self.lost,
            "payload_bytes": self.payload_bytes,
            "published_per_second": self.published_per_second.round(),
            "delivered_per_second": self.delivered_per_second.round(),
        })
    }

    /// The report as a small table.
    pub fn to_table(&self) -> String {
        format!(
            "bench raw: {} messages of {} bytes\n  published   {:>10}  {:>10.0}/s\n  delivered   {:>10}  {:>10.0}/s\n  lost        {:>10}\n",
            self.published,
            self.payload_bytes,
            self.published,
            self.published_per_second,
            self.delivered,
            self.delivered_per_second,
            self.lost,
        )
    }
}

/// An inbound envelope padded to about `size` bytes, on a bench topic.
fn padded_envelope(topic: &Topic, size: usize) -> Vec<u8> {
    let message = InboundMessage::new(topic.clone(), "bench", Author::new("u", "bench"), "");
    let overhead = message.encode().len();
    let padding = "x".repeat(size.saturating_sub(overhead));
    InboundMessage {
        content: padding,
        ..message
    }
    .encode()
}

fn unreachable_hint(bus_config: &BusConfig) -> String {
    format!(
        "cannot reach redis at {} (is redis-server running? try `router-tools doctor`)",
        bus_config.url()
    )
}

/// Publishes `n_messages` envelopes with pipelining to one pattern subscription of our
/// own and counts what arrives. The channel is not a Bytebot topic (`bench.<pid>.raw`),
/// so no running subscriber sees these messages.
pub async fn raw(config: RawConfig) -> anyhow::Result<RawReport> {
    if config.n_messages == 0 {
        bail!("--messages must be at least 1");
    }
    let bus_config = BusConfig::new(config.redis_url, ROLE);
    let prefix = format!("bench.{}", std::process::id());
    let channel = format!("{prefix}.raw");
    let topic = Topic::builder(Direction::Inbound, "bench")
        .space(Space::id("raw"))
        .room("r")
        .user("u")
        .build()?;
    let payload = padded_envelope(&topic, config.payload_bytes);
    let capacity = usize::try_from(config.n_messages).unwrap_or(usize::MAX);
    let mut subscription = Subscription::start(
        bus_config.clone(),
        vec![Pattern::parse_raw(format!("{prefix}.*"))],
        SubscribeOptions {
            queue_capacity: capacity.min(4_000_000),
            ..SubscribeOptions::default()
        },
    );
    subscription
        .wait_connected(CONNECT_TIMEOUT)
        .await
        .with_context(|| unreachable_hint(&bus_config))?;
    let mut connection = bus::connect(&bus_config)
        .await
        .with_context(|| unreachable_hint(&bus_config))?;

    let n_messages = config.n_messages;
    let counter = tokio::spawn(async move {
        let mut delivered = 0u64;
        let mut last = None;
        // Deliveries stop when all arrived, or when none came for a while (losses).
        while delivered < n_messages {
            match tokio::time::timeout(Duration::from_secs(2), subscription.recv()).await {
                Ok(Some(_)) => {
                    delivered += 1;
                    last = Some(Instant::now());
                }
                Ok(None) | Err(_) => break,
            }
        }
        let dropped = subscription.stats().dropped;
        (delivered, last, dropped)
    });

    let start = Instant::now();
    let batch_size = config.batch_size.max(1) as u64;
    let mut published = 0u64;
    while published < n_messages {
        let this_batch = batch_size.min(n_messages - published);
        let mut pipeline = redis::pipe();
        for _ in 0..this_batch {
            pipeline
                .cmd("PUBLISH")
                .arg(&channel)
                .arg(&payload[..])
                .ignore();
        }
        pipeline
            .exec_async(&mut connection)
            .await
            .with_context(|| format!("publishing on {channel}"))?;
        published += this_batch;
    }
    let publish_seconds = start.elapsed().as_secs_f64();
    // Drops in our own queue are already missing from `delivered`.
    let (delivered, last, _dropped) = counter.await.context("the counting task")?;
    let deliver_seconds = last.map_or(f64::NAN, |last| (last - start).as_secs_f64());
    Ok(RawReport {
        published,
        delivered,
        lost: published.saturating_sub(delivered),
        payload_bytes: payload.len(),
        published_per_second: published as f64 / publish_seconds,
        delivered_per_second: delivered as f64 / deliver_seconds,
    })
}

/// Settings for [`roundtrip`].
#[derive(Debug, Clone)]
pub struct RoundtripConfig {
    /// Where Redis is.
    pub redis_url: RedisUrl,
    /// The content of each inbound message (`!ping` for example-subscriber's command
    /// path, anything for an echo).
    pub content: String,
    /// Closed-loop window (messages in flight); 0 skips the closed-loop phase.
    pub window: usize,
    /// Open-loop offered rates, messages per second, one phase each.
    pub rates: Vec<u64>,
    /// Also offer twice the closed-loop throughput, open loop (memory under overload).
    pub overload: bool,
    /// How long each phase sends.
    pub duration: Duration,
    /// Sent before each measured phase and not counted (JIT-free, but caches, buffers
    /// and the subscriber's allocator settle).
    pub warmup: Duration,
    /// After a phase stops sending, how long to wait for late replies.
    pub drain: Duration,
    /// Rooms the messages are spread over (a subscriber orders replies per room).
    pub rooms: usize,
    /// The subscriber's process id, for memory and CPU figures from `/proc`.
    pub pid: Option<u32>,
}

/// What one phase of [`roundtrip`] measured.
#[derive(Debug, Clone)]
pub struct PhaseReport {
    /// `closed W=64` or `open 10000/s`.
    pub name: String,
    /// Offered rate for open loop, window for closed loop.
    pub offered: String,
    /// Messages sent in the measured part.
    pub sent: u64,
    /// Replies matched to a message of the measured part.
    pub replies: u64,
    /// Messages of the measured part that got no reply within the drain time.
    pub lost: u64,
    /// Replies per second over the measured part.
    pub throughput: f64,
    /// Latency percentiles in microseconds: p50, p99, p99.9, max.
    pub latency_us: [u64; 4],
    /// The subscriber's RSS before the phase and its peak during it, in KiB.
    pub rss_kib: Option<(u64, u64)>,
    /// The subscriber's CPU use during the phase, in percent of one core.
    pub cpu_percent: Option<f64>,
}

impl PhaseReport {
    fn to_json(&self) -> Value {
        let [p50, p99, p999, max] = self.latency_us;
        json!({
            "phase": self.name,
            "offered": self.offered,
            "sent": self.sent,
            "replies": self.replies,
            "lost": self.lost,
            "throughput_per_second": self.throughput.round(),
            "latency_us": {"p50": p50, "p99": p99, "p999": p999, "max": max},
            "rss_kib_before": self.rss_kib.map(|(before, _)| before),
            "rss_kib_peak": self.rss_kib.map(|(_, peak)| peak),
            "cpu_percent": self.cpu_percent.map(|cpu| (cpu * 10.0).round() / 10.0),
        })
    }
}

/// Every phase of a [`roundtrip`] run.
#[derive(Debug, Clone)]
pub struct RoundtripReport {
    /// The content sent.
    pub content: String,
    /// The subscriber's RSS before anything was sent, in KiB.
    pub idle_rss_kib: Option<u64>,
    /// One entry per phase, in order.
    pub phases: Vec<PhaseReport>,
}

impl RoundtripReport {
    /// The report as one JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "bench": "roundtrip",
            "content": self.content,
            "idle_rss_kib": self.idle_rss_kib,
            "phases": self.phases.iter().map(PhaseReport::to_json).collect::<Vec<_>>(),
        })
    }

    /// The report as a table, one line per phase.
    pub fn to_table(&self) -> String {
        let mut table = String::new();
        let _ = writeln!(table, "bench roundtrip: content {:?}", self.content);
        if let Some(idle) = self.idle_rss_kib {
            let _ = writeln!(
                table,
                "  subscriber idle RSS {:.1} MiB",
                idle as f64 / 1024.0
            );
        }
        let _ = writeln!(
            table,
            "  {:<16} {:>8} {:>8} {:>6} {:>10} {:>8} {:>8} {:>8} {:>8} {:>9} {:>6}",
            "phase",
            "sent",
            "replies",
            "lost",
            "replies/s",
            "p50 ms",
            "p99 ms",
            "p999 ms",
            "max ms",
            "peak MiB",
            "cpu %"
        );
        for phase in &self.phases {
            let [p50, p99, p999, max] = phase.latency_us.map(|us| us as f64 / 1000.0);
            let peak = phase.rss_kib.map_or("-".to_owned(), |(_, peak)| {
                format!("{:.1}", peak as f64 / 1024.0)
            });
            let cpu = phase
                .cpu_percent
                .map_or("-".to_owned(), |cpu| format!("{cpu:.0}"));
            let _ = writeln!(
                table,
                "  {:<16} {:>8} {:>8} {:>6} {:>10.0} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>9} {:>6}",
                phase.name,
                phase.sent,
                phase.replies,
                phase.lost,
                phase.throughput,
                p50,
                p99,
                p999,
                max,
                peak,
                cpu
            );
        }
        table
    }
}

/// The envelope every round trip sends, encoded once; only its id changes, written in
/// place, so the load generator spends its CPU on the bus and not on JSON.
struct Templates {
    /// Per room: the encoded envelope and where its id's 36 characters start.
    rooms: Vec<(Vec<u8>, usize)>,
}

impl Templates {
    fn new(space: &str, rooms: usize, content: &str) -> anyhow::Result<Templates> {
        let placeholder = Uuid::nil().hyphenated().to_string();
        let mut templates = Vec::new();
        for room in 0..rooms.max(1) {
            let topic = Topic::builder(Direction::Inbound, "bench")
                .space(Space::id(space))
                .room(format!("r{room}"))
                .user("u")
                .build()?;
            let mut message =
                InboundMessage::new(topic, "bench", Author::new("u", "bench"), content);
            message.id = Uuid::nil();
            let payload = message.encode();
            let needle = format!("\"id\":\"{placeholder}\"");
            let at = find(&payload, needle.as_bytes()).context("the id in the template")?
                + "\"id\":\"".len();
            templates.push((payload, at));
        }
        Ok(Templates { rooms: templates })
    }

    /// The payload of message `sequence` with id `id`.
    fn payload(&self, sequence: u64, id: Uuid) -> (usize, Vec<u8>) {
        let room = (sequence % self.rooms.len() as u64) as usize;
        let (template, at) = &self.rooms[room];
        let mut payload = template.clone();
        id.hyphenated()
            .encode_lower(&mut payload[*at..*at + uuid::fmt::Hyphenated::LENGTH]);
        (room, payload)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// What sends inbound messages; shared with the open loop's pacing thread.
struct Sender {
    publisher: Publisher,
    topics: Vec<String>,
    templates: Templates,
}

impl Sender {
    /// Publishes message `sequence` of `phase`. The phase goes in the id's high bits,
    /// so a late reply from an earlier phase is never mistaken for one of this phase.
    fn send(&self, phase: u64, sequence: u64) {
        let id = Uuid::from_u128((u128::from(phase) << 64) | u128::from(sequence));
        let (room, payload) = self.templates.payload(sequence, id);
        self.publisher.publish(self.topics[room].as_str(), payload);
    }
}

/// The load generator's side of the bus: a publisher for inbound messages and a
/// subscription to their reply topics.
struct Rig {
    sender: Arc<Sender>,
    replies: Subscription,
    phase: u64,
    pid: Option<u32>,
}

impl Rig {
    fn send(&self, sequence: u64) {
        self.sender.send(self.phase, sequence);
    }

    /// The sequence number of a reply of this phase, if it is one.
    fn reply_sequence(&self, payload: &[u8]) -> Option<u64> {
        let reply = decode_outbound(payload).ok()?;
        let id = reply.in_reply_to?.as_u128();
        ((id >> 64) as u64 == self.phase).then_some(id as u64)
    }
}

/// Samples a process' memory and CPU from `/proc` during a phase.
struct ProcessProbe {
    pid: u32,
    rss_before: u64,
    rss_peak: u64,
    cpu_ticks_before: u64,
    started: Instant,
}

impl ProcessProbe {
    fn start(pid: Option<u32>) -> Option<ProcessProbe> {
        let pid = pid?;
        let rss = rss_kib(pid)?;
        Some(ProcessProbe {
            pid,
            rss_before: rss,
            rss_peak: rss,
            cpu_ticks_before: cpu_ticks(pid)?,
            started: Instant::now(),
        })
    }

    fn sample(&mut self) {
        if let Some(rss) = rss_kib(self.pid) {
            self.rss_peak = self.rss_peak.max(rss);
        }
    }

    /// (RSS before, peak RSS) and CPU percent of one core.
    /// [`ProcessProbe::finish`] for a phase whose probe may not have started (no
    /// `--pid`, or the phase ended before it measured): no figures then.
    fn finish_if_started(probe: Option<ProcessProbe>) -> (Option<(u64, u64)>, Option<f64>) {
        probe.map_or((None, None), |probe| {
            let (rss, cpu) = probe.finish();
            (Some(rss), cpu)
        })
    }

    fn finish(mut self) -> ((u64, u64), Option<f64>) {
        self.sample();
        let seconds = self.started.elapsed().as_secs_f64();
        // Linux reports CPU time in clock ticks of 1/100 s (USER_HZ) on every common
        // architecture.
        let cpu = cpu_ticks(self.pid)
            .map(|ticks| (ticks - self.cpu_ticks_before) as f64 / 100.0 / seconds * 100.0);
        ((self.rss_before, self.rss_peak), cpu)
    }
}

/// Resident set size of `pid` in KiB (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// User plus system CPU time of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

fn percentiles(histogram: &Histogram<u64>) -> [u64; 4] {
    if histogram.is_empty() {
        return [0; 4];
    }
    [
        histogram.value_at_quantile(0.5),
        histogram.value_at_quantile(0.99),
        histogram.value_at_quantile(0.999),
        histogram.max(),
    ]
}

/// Sends inbound envelopes through whatever subscriber is running and times the
/// replies: a closed-loop phase (maximum throughput), then one open-loop phase per
/// rate (latency and losses), then optionally twice the closed-loop throughput.
pub async fn roundtrip(config: RoundtripConfig) -> anyhow::Result<RoundtripReport> {
    let bus_config = BusConfig::new(config.redis_url.clone(), ROLE);
    let space = format!("bench-{}", std::process::id());
    let templates = Templates::new(&space, config.rooms, &config.content)?;
    let topics = (0..templates.rooms.len())
        .map(|room| format!("inbound.bench.{space}.r{room}.u"))
        .collect();
    let replies_pattern = Pattern::builder()
        .direction(Direction::Outbound)
        .platform("bench")
        .space(Space::id(space.clone()))
        .build()?;
    let replies = Subscription::start(
        bus_config.clone(),
        vec![replies_pattern],
        SubscribeOptions {
            queue_capacity: 1 << 20,
            ..SubscribeOptions::default()
        },
    );
    replies
        .wait_connected(CONNECT_TIMEOUT)
        .await
        .with_context(|| unreachable_hint(&bus_config))?;
    let publisher = Publisher::start(
        bus_config.clone(),
        OutboxOptions {
            capacity: 1 << 20,
            ..OutboxOptions::default()
        },
    );
    let mut rig = Rig {
        sender: Arc::new(Sender {
            publisher,
            topics,
            templates,
        }),
        replies,
        phase: 0,
        pid: config.pid,
    };
    let idle_rss_kib = config.pid.and_then(rss_kib);

    // Is anyone there? One message, a generous wait.
    rig.phase = 1;
    rig.send(0);
    let answered = tokio::time::timeout(CONNECT_TIMEOUT, async {
        while let Some(delivery) = rig.replies.recv().await {
            if rig.reply_sequence(&delivery.payload).is_some() {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    if !answered {
        bail!(
            "no reply to {:?} on inbound.bench.{space}.*: is a subscriber running on {} (e.g. `example-subscriber --echo`)?",
            config.content,
            bus_config.url()
        );
    }

    let mut phases = Vec::new();
    let mut closed_throughput = None;
    if config.window > 0 {
        let phase = closed_loop(&mut rig, &config).await;
        closed_throughput = Some(phase.throughput);
        phases.push(phase);
    }
    let mut rates = config.rates.clone();
    if config.overload {
        match closed_throughput {
            Some(throughput) => rates.push((throughput * 2.0) as u64),
            None => bail!("--overload needs the closed-loop phase (a --window above 0)"),
        }
    }
    for rate in rates {
        phases.push(open_loop(&mut rig, &config, rate.max(1)).await);
    }
    Ok(RoundtripReport {
        content: config.content.clone(),
        idle_rss_kib,
        phases,
    })
}

/// W messages in flight; each reply sends the next. Measures after the warmup.
async fn closed_loop(rig: &mut Rig, config: &RoundtripConfig) -> PhaseReport {
    rig.phase += 1;
    let mut histogram = histogram();
    let mut in_flight: HashMap<u64, (Instant, bool)> = HashMap::new();
    let mut next = 0u64;
    let start = Instant::now();
    let measure_from = start + config.warmup;
    let stop_at = measure_from + config.duration;
    let mut probe = None;
    let (mut sent, mut replies) = (0u64, 0u64);
    for _ in 0..config.window {
        rig.send(next);
        in_flight.insert(next, (Instant::now(), false));
        next += 1;
    }
    let mut sample = tokio::time::interval(Duration::from_millis(50));
    let mut drain_deadline = None;
    loop {
        let deadline = drain_deadline.unwrap_or(stop_at + config.drain);
        tokio::select! {
            delivery = rig.replies.recv() => {
                let Some(delivery) = delivery else { break };
                let Some(sequence) = rig.reply_sequence(&delivery.payload) else { continue };
                let Some((sent_at, measured)) = in_flight.remove(&sequence) else { continue };
                let now = Instant::now();
                if measured {
                    replies += 1;
                    let _ = histogram.record(micros(now - sent_at));
                }
                if now < stop_at {
                    if probe.is_none() && now >= measure_from {
                        probe = Some(ProcessProbe::start(rig.pid));
                    }
                    rig.send(next);
                    let measured = now >= measure_from;
                    sent += u64::from(measured);
                    in_flight.insert(next, (Instant::now(), measured));
                    next += 1;
                } else if drain_deadline.is_none() {
                    drain_deadline = Some(now + config.drain);
                }
                if now >= stop_at && !in_flight.values().any(|(_, measured)| *measured) {
                    break;
                }
            }
            _ = sample.tick() => {
                if let Some(Some(probe)) = probe.as_mut() {
                    probe.sample();
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => break,
        }
    }
    let lost = in_flight.values().filter(|(_, measured)| *measured).count() as u64;
    let (rss_kib, cpu_percent) = ProcessProbe::finish_if_started(probe.flatten());
    PhaseReport {
        name: format!("closed W={}", config.window),
        offered: format!("window {}", config.window),
        sent,
        replies,
        lost,
        throughput: replies as f64 / config.duration.as_secs_f64(),
        latency_us: percentiles(&histogram),
        rss_kib,
        cpu_percent,
    }
}

/// Sends at `rate` per second on a fixed schedule, whatever the replies do.
///
/// A thread of its own paces the sends with `std::thread::sleep` (tens of
/// microseconds of slack on Linux; tokio's timer has a 1 ms grain, which would add up
/// to a millisecond to every latency), and latency is measured from each message's
/// scheduled time.
async fn open_loop(rig: &mut Rig, config: &RoundtripConfig, rate: u64) -> PhaseReport {
    rig.phase += 1;
    let phase = rig.phase;
    let mut histogram = histogram();
    let n_warmup = (config.warmup.as_secs_f64() * rate as f64) as u64;
    let n_total = n_warmup + (config.duration.as_secs_f64() * rate as f64) as u64;
    let start = Instant::now() + Duration::from_millis(10);
    // Scheduled send time of message n: start + n / rate.
    let scheduled =
        move |sequence: u64| start + Duration::from_secs_f64(sequence as f64 / rate as f64);
    let stop = Arc::new(AtomicBool::new(false));
    let pacer = {
        let sender = Arc::clone(&rig.sender);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            for sequence in 0..n_total {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let at = scheduled(sequence);
                let now = Instant::now();
                if at > now {
                    std::thread::sleep(at - now);
                }
                sender.send(phase, sequence);
            }
        })
    };
    let mut answered = vec![false; usize::try_from(n_total).unwrap_or(0)];
    let n_measured = n_total - n_warmup;
    let mut replies = 0u64;
    let measure_from = scheduled(n_warmup);
    let deadline = scheduled(n_total) + config.drain;
    let mut probe: Option<Option<ProcessProbe>> = None;
    let mut sample = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            delivery = rig.replies.recv() => {
                let Some(delivery) = delivery else { break };
                let Some(sequence) = rig.reply_sequence(&delivery.payload) else { continue };
                let Some(seen) = answered.get_mut(sequence as usize) else { continue };
                if std::mem::replace(seen, true) || sequence < n_warmup {
                    continue;
                }
                replies += 1;
                let _ = histogram.record(micros(Instant::now().saturating_duration_since(scheduled(sequence))));
                if replies == n_measured {
                    break;
                }
            }
            _ = sample.tick() => {
                match probe.as_mut() {
                    Some(Some(probe)) => probe.sample(),
                    Some(None) => {}
                    None if Instant::now() >= measure_from => probe = Some(ProcessProbe::start(rig.pid)),
                    None => {}
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = tokio::task::spawn_blocking(move || pacer.join()).await;
    let (rss_kib, cpu_percent) = ProcessProbe::finish_if_started(probe.flatten());
    PhaseReport {
        name: format!("open {rate}/s"),
        offered: format!("{rate}/s"),
        sent: n_measured,
        replies,
        lost: n_measured - replies,
        throughput: replies as f64 / config.duration.as_secs_f64(),
        latency_us: percentiles(&histogram),
        rss_kib,
        cpu_percent,
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The fields of an inbound envelope an echo needs, borrowed from the payload.
#[derive(Deserialize)]
struct EchoInbound<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    reply_topic: Cow<'a, str>,
    #[serde(borrow)]
    message_id: Cow<'a, str>,
    #[serde(borrow)]
    content: Cow<'a, str>,
}

/// An outbound envelope v1, as small as the schema allows.
#[derive(Serialize)]
struct EchoOutbound<'a> {
    v: u32,
    content: &'a str,
    reply_to: &'a str,
    in_reply_to: &'a str,
}

/// A minimal echo on redis-rs alone: PSUBSCRIBE `pattern` on a RESP3 connection, and
/// for each message a spawned PUBLISH of its content on its `reply_topic`. No
/// [`bytebot_core::bot::Bot`], no outbox, no bounded queue, no loop guard: the
/// anchor `bench roundtrip` compares example-subscriber with, and what a peer
/// measurement in another language would write.
pub async fn echo_server(redis_url: RedisUrl, pattern: String) -> anyhow::Result<()> {
    let bus_config = BusConfig::new(redis_url, "bench-echo");
    let client = bus_config.redis_client()?;
    let (push_sender, mut pushes) = tokio::sync::mpsc::unbounded_channel();
    let mut subscriber = client
        .get_multiplexed_async_connection_with_config(
            &redis::AsyncConnectionConfig::new().set_push_sender(push_sender),
        )
        .await
        .with_context(|| unreachable_hint(&bus_config))?;
    // Named like every Bytebot connection, so `doctor` and the tests can see it.
    redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(bus_config.client_name())
        .exec_async(&mut subscriber)
        .await
        .context("naming the connection")?;
    subscriber
        .psubscribe(&pattern)
        .await
        .with_context(|| format!("subscribing to {pattern}"))?;
    let publisher = client
        .get_multiplexed_async_connection()
        .await
        .with_context(|| unreachable_hint(&bus_config))?;
    eprintln!("echoing {pattern} on {}", bus_config.url());
    while let Some(push) = pushes.recv().await {
        if push.kind != redis::PushKind::PMessage {
            continue;
        }
        let Some(redis::Value::BulkString(payload)) = push.data.into_iter().nth(2) else {
            continue;
        };
        let Ok(inbound) = serde_json::from_slice::<EchoInbound<'_>>(&payload) else {
            continue;
        };
        let reply = serde_json::to_vec(&EchoOutbound {
            v: 1,
            content: &inbound.content,
            reply_to: &inbound.message_id,
            in_reply_to: &inbound.id,
        })
        .expect("a struct of strings serializes");
        let reply_topic = inbound.reply_topic.into_owned();
        let mut publisher = publisher.clone();
        tokio::spawn(async move {
            let _: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(reply_topic)
                .arg(reply)
                .query_async(&mut publisher)
                .await;
        });
    }
    bail!("the subscription connection closed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytebot_core::envelope::decode_inbound;

    /// Writing the id in place must leave a valid envelope with exactly that id.
    #[test]
    fn template_payloads_decode_with_their_own_id() {
        let templates = Templates::new("bench-1", 3, "!ping").unwrap();
        let id = Uuid::from_u128((7u128 << 64) | 42);
        let (room, payload) = templates.payload(42, id);
        assert_eq!(room, 0);
        let message = decode_inbound(&payload).unwrap();
        assert_eq!(message.id, id);
        assert_eq!(message.content, "!ping");
        assert_eq!(message.room, "r0");
    }

    /// The raw bench's payload is close to the size asked for.
    #[test]
    fn padded_envelope_has_about_the_requested_size() {
        let topic = Topic::builder(Direction::Inbound, "bench")
            .space(Space::id("raw"))
            .room("r")
            .user("u")
            .build()
            .unwrap();
        let payload = padded_envelope(&topic, 500);
        assert!((500..510).contains(&payload.len()), "{}", payload.len());
        decode_inbound(&payload).unwrap();
    }

    /// CPU time parsing copes with a command name holding spaces and parentheses.
    #[test]
    fn own_process_has_rss_and_cpu_figures() {
        let pid = std::process::id();
        assert!(rss_kib(pid).unwrap() > 0);
        assert!(cpu_ticks(pid).is_some());
    }
}
