//! `router-tools doctor` and real `gateway-discord` processes with shard ranges
//! (against the fake Discord of gateway-discord's tests): it lists each process' range
//! and warns about the shards no process runs and those several run.

use bytebot_e2e::{Daemon, PATIENCE, binaries, router_tools, stdout};
use bytebot_test_support::RedisServer;

use crate::fake_discord::FakeDiscord;

/// A gateway-discord process running `range` of `count` shards.
fn gateway(redis: &RedisServer, discord: &FakeDiscord, range: &str, count: u32) -> Daemon {
    let count = count.to_string();
    let api_url = discord.api_url();
    Daemon::spawn(
        &binaries().gateway_discord,
        &[],
        &[
            ("DISCORD_TOKEN", "MTEST.e2e-doctor.token"),
            ("DISCORD_API_URL", &api_url),
            ("REDIS_URL", &redis.url()),
            ("BYTEBOT_SHARDS", range),
            ("BYTEBOT_SHARD_COUNT", &count),
            ("RUST_LOG", "warn"),
            ("NO_COLOR", "1"),
        ],
    )
}

/// Runs `doctor` until its shards section is `expected` (each process' range, sorted)
/// and returns its output.
async fn doctor_until(redis: &RedisServer, expected: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let output = router_tools(&redis.url(), &["doctor"], "").await;
        let report = stdout(&output);
        let ranges: Vec<&str> = report
            .lines()
            .filter_map(|line| line.strip_prefix("shards      "))
            .map(|line| line.split(':').next().unwrap_or(line))
            .collect();
        if ranges == expected {
            return report;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "doctor never showed the ranges {expected:?}; last report:\n{report}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The operator's view of a sharded bot: a clean cover (no warning), then a process
/// gone and another started with a range that leaves shard 4 to nobody (a gap), then
/// one more whose range repeats shard 3 (an overlap).
#[tokio::test]
async fn doctor_lists_the_shard_ranges_of_running_gateways_with_gaps_and_overlaps() {
    let redis = RedisServer::start().await;
    let discord = FakeDiscord::start().await;
    discord.set_shards(8, 1);

    let low = gateway(&redis, &discord, "0-3", 8);
    let high = gateway(&redis, &discord, "4-7", 8);
    let report = doctor_until(&redis, &["0-3 of 8", "4-7 of 8"]).await;
    assert!(
        report.contains("shards      0-3 of 8: bytebot:gateway-discord-shards-0-3-of-8:"),
        "{report}"
    );
    assert!(
        !report.contains("shard(s)"),
        "a clean cover warns:\n{report}"
    );
    assert!(
        !report.contains("instances of gateway-discord"),
        "sharded gateways are not duplicates:\n{report}"
    );

    // One process dies; its replacement is given 5-7 by mistake: shard 4 has no owner.
    drop(high);
    let partial = gateway(&redis, &discord, "5-7", 8);
    let report = doctor_until(&redis, &["0-3 of 8", "5-7 of 8"]).await;
    assert!(
        report.contains("warning     shard(s) 4 of 8 run in no gateway process"),
        "{report}"
    );
    assert!(!report.contains("run in several"), "{report}");

    // Another process for 3-4 closes the gap and overlaps 0-3 on shard 3.
    let patch = gateway(&redis, &discord, "3-4", 8);
    let report = doctor_until(&redis, &["0-3 of 8", "3-4 of 8", "5-7 of 8"]).await;
    assert!(
        report.contains("warning     shard(s) 3 of 8 run in several gateway processes"),
        "{report}"
    );
    assert!(!report.contains("run in no gateway process"), "{report}");
    drop((low, partial, patch));
}
