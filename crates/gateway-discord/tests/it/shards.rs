//! Sharded gateways: several gateway processes (here several `run`s against one Redis
//! and one fake Discord), each with its own `--shards` range of one bot, between them
//! publish every inbound message once and send every outbound message once.

use std::collections::HashMap;
use std::time::Duration;

use bytebot_core::envelope::{self, OutboundMessage};
use bytebot_test_support::{
    RedisCluster, RedisServer, free_local_addr, http_get, metric_value, scrape_until,
    wait_for_status, wait_until,
};
use gateway_discord::{GatewayCounters, GatewayStats, Sharding};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::fake_discord::{DiscordMessage, FakeDiscord};
use crate::support::{self, ALICE, PATIENCE, TOKEN};

/// Starting shards is slow on purpose (serenity waits 5 s between two IDENTIFYs of one
/// process), so "everything connected" gets more time than [`PATIENCE`].
const STARTUP: Duration = Duration::from_secs(60);

/// Discord's 5 s between two IDENTIFYs of a bucket, shortened so that the three
/// processes' 8 shards connect in about 12 s rather than 40 (serenity's own 5 s pace
/// within a process is not configurable); the locking is the real one.
const IDENTIFY_INTERVAL: Duration = Duration::from_secs(1);

/// A guild id whose shard, among `count`, is `shard` (Discord: `(id >> 22) % count`).
fn guild_on_shard(shard: u32, count: u32) -> u64 {
    ((1_000_000 * u64::from(count) + u64::from(shard)) << 22) | 4242
}

/// One gateway process: `run` with its own shard range, sharing Redis and the fake.
struct Process {
    counters: GatewayCounters,
    /// Where its `/readyz` and `/metrics` are served.
    http_addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Process {
    fn start(redis: &RedisServer, discord: &FakeDiscord, range: &str, count: u32) -> Process {
        Process::start_on(&redis.url(), discord, range, count)
    }

    /// [`Process::start`] on any Redis URL (a cluster's).
    fn start_on(redis_url: &str, discord: &FakeDiscord, range: &str, count: u32) -> Process {
        let mut config = support::config_for_url(redis_url, discord);
        config.sharding = Some(Sharding::new(range.parse().unwrap(), count).unwrap());
        config.identify_interval = IDENTIFY_INTERVAL;
        let http_addr = free_local_addr();
        config.gateway.http_addr = Some(http_addr);
        let counters = config.gateway.counters.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway_discord::run(config, async {
            let _ = stopped.await;
        }));
        Process {
            counters,
            http_addr,
            stop: Some(stop),
            task,
        }
    }

    fn stats(&self) -> GatewayStats {
        self.counters.stats()
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("the gateway stops within the deadline")
            .expect("the gateway task does not panic")
            .expect("the gateway ends cleanly");
    }
}

/// Waits until `n` connections are subscribed to a pattern (`PUBSUB NUMPAT` counts
/// distinct patterns, and every process subscribes to the same one).
async fn wait_for_outbound_subscribers(redis: &RedisServer, n: usize) {
    let mut connection = redis.connection().await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut connection)
            .await
            .unwrap();
        let subscribed = list
            .lines()
            .filter(|line| line.contains(" psub=1 "))
            .count();
        if subscribed >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{subscribed} of {n} gateways subscribed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn total(processes: &[Process], stat: fn(&GatewayStats) -> u64) -> u64 {
    processes.iter().map(|process| stat(&process.stats())).sum()
}

/// The issue's scenario: 3 processes x ranges 0-2, 3-5, 6-7 of an 8-shard bot. Every
/// shard connects exactly once; a message in a guild of every shard, and a DM, is
/// published once; an answer to each is POSTed exactly once, by the owner of its shard
/// (shard 0's for the DM), and the other two leave it alone without counting an error.
/// Though started together, the processes never IDENTIFY two shards of one bucket
/// within the interval: they take turns through Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_split_eight_shards_and_send_everything_once() {
    let count = 8;
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    discord.set_shards(count, 1);
    let processes: Vec<Process> = ["0-2", "3-5", "6-7"]
        .iter()
        .map(|range| Process::start(&redis, &discord, range, count))
        .collect();
    assert!(
        wait_until(STARTUP, || discord.connected_shards()
            == (0..count).collect::<Vec<_>>())
        .await,
        "every shard connects: {:?}",
        discord.connected_shards()
    );
    wait_for_outbound_subscribers(&redis, 3).await;
    let mut identified: Vec<u32> = discord.identifies().iter().map(|i| i.shard).collect();
    identified.sort_unstable();
    assert_eq!(
        identified,
        (0..count).collect::<Vec<_>>(),
        "one IDENTIFY per shard"
    );
    assert!(discord.identifies().iter().all(|i| i.shard_count == count));
    // One bucket (max_concurrency 1): no two IDENTIFYs closer than the interval, though
    // all three processes started at once.
    for pair in discord.identifies().windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= IDENTIFY_INTERVAL,
            "shards {} and {} identified {gap:?} apart",
            pair[0].shard,
            pair[1].shard
        );
    }

    // Inbound: one message per shard, and a DM (shard 0).
    let mut inbound = support::subscribe(&redis, "inbound.discord.*.*.*").await;
    let guilds: Vec<u64> = (0..count)
        .map(|shard| guild_on_shard(shard, count))
        .collect();
    for (index, guild) in guilds.iter().enumerate() {
        assert_eq!(discord.shard_of_guild(*guild), index as u32);
        discord.send_message(&DiscordMessage::guild(
            *guild,
            5000 + index as u64,
            ALICE,
            "hi",
        ));
    }
    let dm_channel = 7000;
    discord.send_message(&DiscordMessage::direct(dm_channel, ALICE, "hi in private"));
    let mut topics = HashMap::new();
    for _ in 0..=count {
        let delivery = support::next(&mut inbound).await;
        *topics.entry(delivery.channel).or_insert(0) += 1;
    }
    assert_eq!(topics.len(), count as usize + 1, "{topics:?}");
    assert!(topics.values().all(|n| *n == 1), "{topics:?}");
    assert!(
        wait_until(PATIENCE, || total(&processes, |s| s.inbound_published)
            == u64::from(count) + 1)
        .await
    );

    // Outbound: an answer in every guild and to the DM; each reaches all three processes.
    let mut outbound_topics: Vec<(String, u64)> = guilds
        .iter()
        .enumerate()
        .map(|(index, guild)| {
            let channel = 5000 + index as u64;
            (
                format!("outbound.discord.{guild}.{channel}.{ALICE}"),
                channel,
            )
        })
        .collect();
    outbound_topics.push((
        format!("outbound.discord.@me.{dm_channel}.{ALICE}"),
        dm_channel,
    ));
    let mut connection = redis.connection().await;
    for (topic, _) in &outbound_topics {
        let receivers: i64 = redis::cmd("PUBLISH")
            .arg(topic)
            .arg(OutboundMessage::new(format!("answer on {topic}")).encode())
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(
            receivers, 3,
            "every process subscribes to all of outbound.discord.*"
        );
    }
    let n_messages = outbound_topics.len() as u64;
    // Wait until every process has read every message, so that "once" is final.
    assert!(
        wait_until(PATIENCE, || processes
            .iter()
            .all(|p| p.stats().outbound_received == n_messages)
            && total(&processes, |s| s.outbound_sent) == n_messages)
        .await,
        "stats: {:?}",
        processes.iter().map(Process::stats).collect::<Vec<_>>()
    );
    assert_eq!(total(&processes, |s| s.outbound_not_mine), 2 * n_messages);
    assert_eq!(
        total(&processes, |s| s.outbound_malformed + s.outbound_failed),
        0
    );
    for (topic, channel) in &outbound_topics {
        let posted = discord.posted_in(*channel);
        assert_eq!(posted.len(), 1, "{topic}: {posted:?}");
        assert_eq!(posted[0].content(), format!("answer on {topic}"));
        assert_eq!(posted[0].body["enforce_nonce"], serde_json::json!(true));
        assert_eq!(posted[0].body["nonce"].as_str().map(str::len), Some(24));
    }
    // Who sent what: shard 0's owner the DM and guilds 0-2, and so on.
    let sent: Vec<u64> = processes.iter().map(|p| p.stats().outbound_sent).collect();
    assert_eq!(sent, [4, 3, 2]);
    assert_eq!(discord.duplicate_nonces(), 0);
    for process in processes {
        process.stop().await;
    }
}

/// During a rolling deploy two processes may run the same shard: both send its
/// messages, and the nonce lets Discord (here the fake, which honours `enforce_nonce`
/// like Discord) keep one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_ranges_post_once_thanks_to_the_nonce() {
    let count = 2;
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    discord.set_shards(count, 1);
    let old = Process::start(&redis, &discord, "0-1", count);
    assert!(wait_until(STARTUP, || discord.connected_shards() == [0, 1]).await);
    let new = Process::start(&redis, &discord, "1", count);
    assert!(wait_until(STARTUP, || discord.identifies().len() >= 3).await);
    wait_for_outbound_subscribers(&redis, 2).await;

    let guild = guild_on_shard(1, count);
    let channel = 5001;
    let topic = format!("outbound.discord.{guild}.{channel}.{ALICE}");
    let mut connection = redis.connection().await;
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg(&topic)
        .arg(OutboundMessage::new("only once").encode())
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(receivers, 2);
    assert!(
        wait_until(PATIENCE, || old.stats().outbound_sent
            + new.stats().outbound_sent
            == 2)
        .await,
        "both owners send"
    );
    assert_eq!(discord.posted_in(channel).len(), 1);
    assert_eq!(discord.duplicate_nonces(), 1);
    new.stop().await;
    old.stop().await;
}

/// The series `name{daemon="gateway-discord",shard="<shard>"}`.
fn shard_series(name: &str, shard: u32) -> String {
    format!(r#"{name}{{daemon="gateway-discord",shard="{shard}"}}"#)
}

/// An operator must see which shard of a process is down: `/readyz` is ready only with
/// every shard of the range connected and names the others, and `/metrics` carries a
/// `shard` label on the connected gauge, the latency and the inbound event count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_and_metrics_report_each_shard() {
    let count = 2;
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    discord.set_shards(count, 1);
    let process = Process::start(&redis, &discord, "0-1", count);
    let addr = process.http_addr;
    assert!(
        wait_until(STARTUP, || discord.connected_shards() == [0, 1]).await,
        "both shards connect: {:?}",
        discord.connected_shards()
    );
    wait_for_status(addr, "/readyz", 200).await.unwrap();
    let connected = |shard| shard_series("bytebot_shard_connected", shard);
    let events = |shard| shard_series("bytebot_shard_inbound_events_total", shard);
    let metrics = scrape_until(addr, &connected(1), 1.0).await.unwrap();
    assert_eq!(
        metric_value(&metrics, &connected(0)),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(metric_value(&metrics, &events(0)), Some(0.0), "{metrics}");
    assert_eq!(metric_value(&metrics, &events(1)), Some(0.0), "{metrics}");

    // An event on shard 1 is counted for shard 1 only.
    let mut inbound = support::subscribe(&redis, "inbound.discord.*.*.*").await;
    discord.send_message(&DiscordMessage::guild(
        guild_on_shard(1, count),
        5001,
        ALICE,
        "on shard 1",
    ));
    support::next(&mut inbound).await;
    let metrics = scrape_until(addr, &events(1), 1.0).await.unwrap();
    assert_eq!(metric_value(&metrics, &events(0)), Some(0.0), "{metrics}");

    // Shard 1 loses its connection and cannot get back: not ready, and the body says
    // which shard is down while 0 is still up.
    discord.take_shard_down(1);
    let response = wait_for_status(addr, "/readyz", 503).await.unwrap();
    assert!(
        response.body.contains("shards up: 0; down: 1 ("),
        "{response:?}"
    );
    assert!(response.body.contains("discord:"), "{response:?}");
    let metrics = http_get(addr, "/metrics").await.unwrap().body;
    assert_eq!(
        metric_value(&metrics, &connected(1)),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        metric_value(&metrics, &connected(0)),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(discord.connected_shards(), [0]);

    // Back: ready again, both gauges at 1.
    discord.bring_shard_up(1);
    wait_for_status(addr, "/readyz", 200).await.unwrap();
    scrape_until(addr, &connected(1), 1.0).await.unwrap();
    process.stop().await;
}

/// A real `gateway-discord` process with its own shard range, killed (SIGKILL) on drop.
struct Binary {
    child: std::process::Child,
    http_addr: std::net::SocketAddr,
}

impl Binary {
    fn spawn(redis: &RedisServer, discord: &FakeDiscord, range: &str, count: u32) -> Binary {
        let http_addr = free_local_addr();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_gateway-discord"))
            .env_remove("RUST_LOG")
            .env("DISCORD_TOKEN", TOKEN)
            .env("REDIS_URL", redis.url())
            .env("DISCORD_API_URL", discord.api_url())
            .env("BYTEBOT_SHARDS", range)
            .env("BYTEBOT_SHARD_COUNT", count.to_string())
            .env("BYTEBOT_HTTP_ADDR", http_addr.to_string())
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("spawning gateway-discord");
        Binary { child, http_addr }
    }

    /// SIGKILL: no drain, no goodbye to Discord or Redis, like a crashed machine.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether every outbound message it received was either sent or left to another
    /// process, `received` of them: what it does with them is final then.
    async fn settled(&self, received: u64) -> bool {
        let Some(response) = http_get(self.http_addr, "/metrics").await else {
            return false;
        };
        let value = |series: &str| metric_value(&response.body, series).unwrap_or(0.0);
        let got = value(r#"bytebot_messages_received_total{daemon="gateway-discord"}"#);
        let sent = value(r#"bytebot_messages_sent_total{daemon="gateway-discord"}"#);
        let not_mine =
            value(r#"bytebot_messages_skipped_total{daemon="gateway-discord",reason="not_mine"}"#);
        got == received as f64 && sent + not_mine == got
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test's bot: answers every inbound message with a reply on its reply topic.
fn answer_everything(redis: &RedisServer) -> JoinHandle<()> {
    let url = redis.url();
    let redis_url = url.clone();
    tokio::spawn(async move {
        let client = redis::Client::open(redis_url).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let mut inbound = bytebot_core::bus::Subscription::start(
            bytebot_test_support::bus_config(&url, "test-bot"),
            vec![bytebot_core::pattern::Pattern::parse_raw(
                "inbound.discord.*.*.*",
            )],
            bytebot_core::bus::SubscribeOptions::default(),
        );
        while let Some(delivery) = inbound.recv().await {
            let message = envelope::decode_inbound(&delivery.payload).unwrap();
            let reply = OutboundMessage::reply_to(&message, format!("re: {}", message.content));
            let _: i64 = redis::cmd("PUBLISH")
                .arg(message.reply_topic.to_string())
                .arg(reply.encode())
                .query_async(&mut connection)
                .await
                .unwrap();
        }
    })
}

/// A process that dies (SIGKILL) and comes back with the same range: its shards
/// IDENTIFY again, still taking turns with the others per bucket, and the messages of
/// their guilds get their replies again, each exactly once (before and after, in
/// every shard's guild and in a DM).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_restarts_and_its_shards_reply_again() {
    let count = 8;
    // Two buckets, so that the real 5 s interval still lets 8 shards start in ~20 s.
    let max_concurrency = 2;
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    discord.set_shards(count, max_concurrency);
    let ranges = ["0-2", "3-5", "6-7"];
    let mut processes: Vec<Option<Binary>> = ranges
        .iter()
        .map(|range| Some(Binary::spawn(&redis, &discord, range, count)))
        .collect();
    let everything: Vec<u32> = (0..count).collect();
    assert!(
        wait_until(STARTUP, || discord.connected_shards() == everything).await,
        "every shard connects: {:?}",
        discord.connected_shards()
    );
    for process in processes.iter().flatten() {
        wait_for_status(process.http_addr, "/readyz", 200)
            .await
            .unwrap();
    }
    let bot = answer_everything(&redis);
    wait_for_outbound_subscribers(&redis, 4).await; // three gateways and the bot

    // One message per shard's guild and a DM; each answered exactly once.
    let round = |round: u64| {
        let discord = &discord;
        async move {
            let mut channels = Vec::new();
            for shard in 0..count {
                let channel = 5000 + 100 * round + u64::from(shard);
                discord.send_message(&DiscordMessage::guild(
                    guild_on_shard(shard, count),
                    channel,
                    ALICE,
                    &format!("round {round} on shard {shard}"),
                ));
                channels.push(channel);
            }
            let dm_channel = 7000 + round;
            discord.send_message(&DiscordMessage::direct(
                dm_channel,
                ALICE,
                &format!("round {round} in private"),
            ));
            channels.push(dm_channel);
            assert!(
                wait_until(PATIENCE, || channels
                    .iter()
                    .all(|channel| !discord.posted_in(*channel).is_empty()))
                .await,
                "round {round}: unanswered in {:?}",
                channels
                    .iter()
                    .filter(|channel| discord.posted_in(**channel).is_empty())
                    .collect::<Vec<_>>()
            );
            channels
        }
    };
    let first = round(1).await;
    let n_messages = first.len() as u64;

    // Kill the middle process (shards 3-5) and start it again.
    processes[1].take().unwrap().kill();
    assert!(
        wait_until(PATIENCE, || discord.connected_shards() == [0, 1, 2, 6, 7]).await,
        "the dead process' shards are gone: {:?}",
        discord.connected_shards()
    );
    let restarted_at = std::time::Instant::now();
    processes[1] = Some(Binary::spawn(&redis, &discord, ranges[1], count));
    assert!(
        wait_until(STARTUP, || discord.connected_shards() == everything).await,
        "the restarted process' shards connect: {:?}",
        discord.connected_shards()
    );
    let restarted = processes[1].as_ref().unwrap();
    wait_for_status(restarted.http_addr, "/readyz", 200)
        .await
        .unwrap();
    wait_for_outbound_subscribers(&redis, 4).await;
    let second = round(2).await;

    // Final counts: every process has read every reply it was sent and acted on it.
    let received = [2 * n_messages, n_messages, 2 * n_messages];
    for (process, received) in processes.iter().flatten().zip(received) {
        let mut settled = false;
        for _ in 0..200 {
            settled = process.settled(received).await;
            if settled {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(settled, "a gateway never settled at {received} received");
    }
    for channel in first.iter().chain(&second) {
        let posted = discord.posted_in(*channel);
        assert_eq!(posted.len(), 1, "channel {channel}: {posted:?}");
        assert!(posted[0].content().starts_with("re: round"), "{posted:?}");
    }
    assert_eq!(discord.duplicate_nonces(), 0);

    // IDENTIFY: the restarted shards identified once more each, and no bucket saw two
    // IDENTIFYs closer than Discord's 5 s, across all processes and the restart.
    let identifies = discord.identifies();
    let mut again: Vec<u32> = identifies
        .iter()
        .filter(|identify| identify.at >= restarted_at)
        .map(|identify| identify.shard)
        .collect();
    again.sort_unstable();
    assert_eq!(again, [3, 4, 5], "{identifies:?}");
    for bucket in 0..max_concurrency {
        let times: Vec<_> = identifies
            .iter()
            .filter(|identify| identify.shard % max_concurrency == bucket)
            .collect();
        for pair in times.windows(2) {
            let gap = pair[1].at - pair[0].at;
            assert!(
                gap >= gateway_discord::IDENTIFY_INTERVAL,
                "bucket {bucket}: shards {} and {} identified {gap:?} apart",
                pair[0].shard,
                pair[1].shard
            );
        }
    }
    bot.abort();
}

/// On a Redis Cluster a bucket's IDENTIFY key lives in its own slot, usually on
/// another master than the first listed node: the lock must still hold there, so two
/// processes started together still identify one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identify_locks_hold_on_a_redis_cluster() {
    let count = 2;
    let cluster = RedisCluster::start().await;
    let discord = FakeDiscord::start().await;
    discord.set_shards(count, 1);
    let processes = [
        Process::start_on(&cluster.url(), &discord, "0", count),
        Process::start_on(&cluster.url(), &discord, "1", count),
    ];
    assert!(
        wait_until(STARTUP, || discord.connected_shards() == [0, 1]).await,
        "both shards connect: {:?}",
        discord.connected_shards()
    );
    let identifies = discord.identifies();
    assert_eq!(identifies.len(), 2, "{identifies:?}");
    let gap = identifies[1].at - identifies[0].at;
    assert!(
        gap >= IDENTIFY_INTERVAL,
        "one bucket identified twice {gap:?} apart on a cluster"
    );
    for process in processes {
        process.stop().await;
    }
}
