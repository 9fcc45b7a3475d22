//! Pacing IDENTIFY across gateway processes: one lock per bucket in Redis.
//!
//! Discord accepts one IDENTIFY per 5 seconds per bucket (`shard_id %
//! max_concurrency`) and resets the token of a bot that keeps breaking the rule.
//! serenity 0.12 paces the shards of one process (its `ShardQueuer` waits 5 s between
//! two starts) but has no pluggable queue, so processes started together would
//! identify at the same moment. So this process starts its shards itself, one at a
//! time, each only while it holds its bucket's key:
//!
//! 1. `SET bytebot:identify:<bot user id>:<bucket> <holder> NX PX 30000`, retried until
//!    it succeeds (the key names the bot by its public user id, never by its token; on
//!    a Redis Cluster the command goes to the master of the key's slot);
//! 2. the shard is started and the lock held until the shard is connected (READY), so
//!    its IDENTIFY is somewhere inside the locked time whatever serenity's own queue
//!    waits first;
//! 3. the key's expiry is then cut to the interval (5 s) if we still hold it, so the
//!    next IDENTIFY in the bucket comes at least 5 s after ours.
//!
//! Limits: a shard that serenity restarts on its own (Discord invalidated its session,
//! closed with 4009, refused a RESUME, or a heartbeat went unacknowledged)
//! IDENTIFYs again through serenity's `ShardQueuer` only, paced within this process
//! but not across processes: serenity 0.12.5 has no hook before that IDENTIFY
//! (`docs/scaling.md` says exactly what happens and what it costs). When Redis does not answer, a shard starts
//! without the lock after a warning (serenity's in-process pacing still applies):
//! a gateway that cannot reach Redis is of no use anyway, and waiting forever would
//! keep it from Discord after Redis returns... until the lock's own retry.

use std::time::Duration;

use bytebot_core::bus::{self, BusConfig, Connection, RedisUrl};

use crate::shards::Sharding;

/// Discord's rule: one IDENTIFY per bucket per 5 seconds.
pub const IDENTIFY_INTERVAL: Duration = Duration::from_secs(5);

/// How long the key is held at most while a shard connects (if the process dies
/// meanwhile, the bucket is free again after this).
const HOLD: Duration = Duration::from_secs(30);

/// The per-bucket IDENTIFY locks of one bot, for one process.
pub(crate) struct IdentifyLocks {
    /// One node, or the whole cluster routed by key slot (`redis+cluster://`): a
    /// bucket's key lives in its slot, which need not be on the first listed node.
    connection: Option<Connection>,
    /// `bytebot:identify:<bot user id>`.
    prefix: String,
    /// This process: `<host>:<pid>:<random>`.
    holder: String,
    max_concurrency: u32,
    interval: Duration,
}

impl IdentifyLocks {
    /// Connects to Redis under a name that says which shards this process runs
    /// (`bytebot:gateway-discord-shards-0-2-of-8:<host>`, for `router-tools doctor`).
    /// Never fails: without Redis, shards start unlocked (see the module docs).
    pub(crate) async fn connect(
        redis_url: &RedisUrl,
        bot_user_id: u64,
        sharding: Sharding,
        max_concurrency: u32,
        interval: Duration,
    ) -> IdentifyLocks {
        let role = format!(
            "gateway-discord-shards-{}-{}-of-{}",
            sharding.range.start, sharding.range.end, sharding.count
        );
        let connection = match bus::connect_keyed(&BusConfig::new(redis_url.clone(), &role)).await {
            Ok(connection) => Some(connection),
            Err(err) => {
                tracing::warn!(error = %err, "cannot reach redis to pace IDENTIFY with other gateway processes: shards start paced within this process only");
                None
            }
        };
        IdentifyLocks {
            connection,
            prefix: format!("bytebot:identify:{bot_user_id}"),
            holder: format!(
                "{}:{}:{}",
                gethostname::gethostname().to_string_lossy(),
                std::process::id(),
                uuid::Uuid::now_v7().simple()
            ),
            max_concurrency: max_concurrency.max(1),
            interval,
        }
    }

    /// The bucket of `shard`.
    pub(crate) fn bucket(&self, shard: u32) -> u32 {
        shard % self.max_concurrency
    }

    fn key(&self, shard: u32) -> String {
        format!("{}:{}", self.prefix, self.bucket(shard))
    }

    /// Waits until this process holds `shard`'s bucket.
    pub(crate) async fn acquire(&self, shard: u32) {
        let Some(connection) = &self.connection else {
            return;
        };
        let key = self.key(shard);
        let mut connection = connection.clone();
        let mut waited = false;
        loop {
            let set: Result<Option<String>, redis::RedisError> = redis::cmd("SET")
                .arg(&key)
                .arg(&self.holder)
                .arg("NX")
                .arg("PX")
                .arg(millis(HOLD))
                .query_async(&mut connection)
                .await;
            match set {
                Ok(Some(_)) => {
                    tracing::debug!(
                        shard,
                        bucket = self.bucket(shard),
                        "holding the identify lock"
                    );
                    return;
                }
                Ok(None) => {
                    if !waited {
                        tracing::info!(
                            shard,
                            bucket = self.bucket(shard),
                            "waiting for another gateway process to finish identifying in this bucket"
                        );
                        waited = true;
                    }
                    let ttl: i64 = redis::cmd("PTTL")
                        .arg(&key)
                        .query_async(&mut connection)
                        .await
                        .unwrap_or(100);
                    let wait = u64::try_from(ttl).unwrap_or(0).clamp(20, 500);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                Err(err) => {
                    tracing::warn!(shard, error = %err, "redis refused the identify lock: starting the shard without it");
                    return;
                }
            }
        }
    }

    /// After `shard` identified: the bucket stays taken for the interval from now, if
    /// this process still holds it.
    pub(crate) async fn release(&self, shard: u32) {
        let Some(connection) = &self.connection else {
            return;
        };
        let mut connection = connection.clone();
        // Compare and expire in one step: never shorten another process' lock.
        let released: Result<i64, redis::RedisError> = redis::cmd("EVAL")
            .arg(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then \
                   return redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
                 end \
                 return 0",
            )
            .arg(1)
            .arg(self.key(shard))
            .arg(&self.holder)
            .arg(millis(self.interval))
            .query_async(&mut connection)
            .await;
        if let Err(err) = released {
            tracing::warn!(shard, error = %err, "could not shorten the identify lock; it expires by itself");
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
