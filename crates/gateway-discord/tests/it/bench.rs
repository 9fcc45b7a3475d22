//! The gateway's two paths timed against the fake Discord on loopback: a dispatched
//! `MESSAGE_CREATE` until its envelope arrives from Redis, and an outbound envelope
//! published on Redis until the fake receives the `POST`. Ignored in the normal run
//! (figures are not assertions); docs/performance.md runs it with
//!
//! ```text
//! cargo test --release -p gateway-discord --test it bench -- --ignored --nocapture
//! ```

use std::time::{Duration, Instant};

use crate::fake_discord::DiscordMessage;
use bytebot_core::envelope::decode_inbound;

use crate::support::{ALICE, CHANNEL, GUILD, Gateway, PATIENCE, outbound_topic};

/// Messages per second offered on each path.
const RATE: u64 = 1000;
/// Seconds measured (after a one-second warm-up that is not counted).
const SECONDS: u64 = 5;
/// Outbound messages go round-robin to this many channels: one worker per channel
/// sends in order, as Discord requires, and channels proceed concurrently.
const OUTBOUND_CHANNELS: u64 = 10;

fn report(path: &str, mut latencies: Vec<Duration>, sent: usize) {
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    let lost = sent - latencies.len();
    println!(
        "gateway {path}: {RATE}/s for {SECONDS}s, {} measured, {lost} lost, p50 {:.3} ms, p99 {:.3} ms, p999 {:.3} ms, max {:.3} ms",
        latencies.len(),
        at(0.5),
        at(0.99),
        at(0.999),
        latencies
            .last()
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": format!("gateway-{path}"),
            "rate": RATE,
            "measured": latencies.len(),
            "lost": lost,
            "latency_ms": {"p50": at(0.5), "p99": at(0.99), "p999": at(0.999)},
        })
    );
}

/// Paces `n` calls of `send(i)` at [`RATE`] per second; returns each call's instant.
async fn paced(n: u64, mut send: impl FnMut(u64)) -> Vec<Instant> {
    let start = Instant::now();
    let mut sent_at = Vec::with_capacity(n as usize);
    for i in 0..n {
        let due = start + Duration::from_secs_f64(i as f64 / RATE as f64);
        tokio::time::sleep_until(due.into()).await;
        sent_at.push(Instant::now());
        send(i);
    }
    sent_at
}

/// Inbound: fake dispatch -> serenity -> envelope -> Redis -> our subscription.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with --release -- --ignored --nocapture"]
async fn bench_inbound_dispatch_to_redis_publish() {
    let gateway = Gateway::start().await;
    let mut inbound = gateway.subscribe("inbound.discord.*").await;
    let n = RATE * (SECONDS + 1);
    let warmup = RATE as usize;
    let receiver = tokio::spawn(async move {
        let mut received = vec![None; n as usize];
        let mut count = 0;
        while count < n {
            let Ok(Some(delivery)) = tokio::time::timeout(PATIENCE, inbound.recv()).await else {
                break;
            };
            let now = Instant::now();
            let message = decode_inbound(&delivery.payload).expect("a valid envelope");
            if let Some(i) = message.content.strip_prefix("bench ") {
                received[i.parse::<usize>().unwrap()] = Some(now);
                count += 1;
            }
        }
        received
    });
    let sent_at = paced(n, |i| {
        gateway.discord.send_message(&DiscordMessage::guild(
            GUILD,
            CHANNEL,
            ALICE,
            &format!("bench {i}"),
        ));
    })
    .await;
    let received = receiver.await.unwrap();
    let latencies = received
        .iter()
        .zip(&sent_at)
        .skip(warmup)
        .filter_map(|(received, sent)| received.map(|at| at - *sent))
        .collect();
    report("inbound", latencies, sent_at.len() - warmup);
    gateway.stop().await.unwrap();
}

/// Outbound: PUBLISH on Redis -> gateway -> serenity -> the fake's POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with --release -- --ignored --nocapture"]
async fn bench_outbound_redis_message_to_http_post() {
    let gateway = Gateway::start().await;
    let connection = gateway.redis.connection().await;
    let n = RATE * (SECONDS + 1);
    let warmup = RATE as usize;
    let topics: Vec<String> = (0..OUTBOUND_CHANNELS)
        .map(|c| outbound_topic(CHANNEL + c))
        .collect();
    let (queue, mut queued) = tokio::sync::mpsc::unbounded_channel::<(String, Vec<u8>)>();
    // PUBLISH from a task of its own, pipelined on one multiplexed connection.
    let publisher = tokio::spawn(async move {
        while let Some((topic, payload)) = queued.recv().await {
            let mut connection = connection.clone();
            tokio::spawn(async move {
                let _: i64 = redis::cmd("PUBLISH")
                    .arg(topic)
                    .arg(payload)
                    .query_async(&mut connection)
                    .await
                    .expect("PUBLISH");
            });
        }
    });
    let sent_at = paced(n, |i| {
        let payload = serde_json::json!({"v": 1, "content": format!("bench {i}")});
        let topic = topics[(i % OUTBOUND_CHANNELS) as usize].clone();
        queue
            .send((topic, serde_json::to_vec(&payload).unwrap()))
            .unwrap();
    })
    .await;
    drop(queue);
    publisher.await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    while gateway.discord.posted().len() < n as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut posted_at = vec![None; n as usize];
    for post in gateway.discord.posted() {
        if let Some(i) = post.content().strip_prefix("bench ") {
            posted_at[i.parse::<usize>().unwrap()] = Some(post.received_at);
        }
    }
    let latencies = posted_at
        .iter()
        .zip(&sent_at)
        .skip(warmup)
        .filter_map(|(posted, sent)| posted.map(|at| at - *sent))
        .collect();
    report("outbound", latencies, sent_at.len() - warmup);
    gateway.stop().await.unwrap();
}
