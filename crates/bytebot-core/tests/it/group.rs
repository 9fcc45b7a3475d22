//! Replica groups (`Bot::group`, `group::Claimer`) against real, private Redis servers:
//! N replicas, each message answered once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytebot_core::bot::{Bot, BotCounters, BotOptions, BotStats};
use bytebot_core::bus::{SubscribeOptions, Subscription};
use bytebot_core::envelope::{Author, InboundMessage, OutboundMessage, decode_outbound};
use bytebot_core::group::{CLAIM_TTL, ClaimOutcome, Claimer, GroupName};
use bytebot_core::pattern::Pattern;
use bytebot_core::{Direction, Space, Topic};
use bytebot_test_support::{PATIENCE, RedisServer, bus_config, wait_until};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

fn inbound(room: &str, content: &str) -> InboundMessage {
    let topic = Topic::builder(Direction::Inbound, "console")
        .space(Space::id("local"))
        .room(room)
        .user("alice")
        .build()
        .unwrap();
    InboundMessage::new(topic, "m1", Author::new("alice", "alice"), content)
}

async fn pong(message: InboundMessage) -> Vec<OutboundMessage> {
    vec![OutboundMessage::reply_to(&message, "pong")]
}

/// Every reply seen on `outbound.*`, counted by `in_reply_to`.
#[derive(Clone, Default)]
struct Replies(Arc<Mutex<HashMap<Uuid, usize>>>);

impl Replies {
    /// Collects replies in the background, subscribed before this returns.
    async fn listen(redis: &RedisServer) -> (Replies, JoinHandle<()>) {
        let options = SubscribeOptions {
            queue_capacity: 100_000,
            ..SubscribeOptions::default()
        };
        let mut subscription = Subscription::start(
            bus_config(&redis.url(), "test-listener"),
            vec![Pattern::parse_raw("outbound.*")],
            options,
        );
        subscription.wait_connected(PATIENCE).await.unwrap();
        let replies = Replies::default();
        let collected = replies.clone();
        let task = tokio::spawn(async move {
            while let Some(delivery) = subscription.recv().await {
                let reply = decode_outbound(&delivery.payload).expect("valid replies");
                let id = reply.in_reply_to.expect("replies carry in_reply_to");
                *collected.0.lock().unwrap().entry(id).or_default() += 1;
            }
        });
        (replies, task)
    }

    fn total(&self) -> usize {
        self.0.lock().unwrap().values().sum()
    }

    fn count(&self, id: Uuid) -> usize {
        self.0.lock().unwrap().get(&id).copied().unwrap_or(0)
    }

    fn duplicated(&self) -> Vec<(Uuid, usize)> {
        let replies = self.0.lock().unwrap();
        replies
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, n)| (*id, *n))
            .collect()
    }
}

struct Replica {
    counters: BotCounters,
    stop: oneshot::Sender<()>,
    task: JoinHandle<BotStats>,
}

/// Starts one replica of `group` with large queues (a burst of thousands must not be
/// dropped by a replica's own queues, which would hide what the test is about).
fn replica(redis: &RedisServer, group: &GroupName) -> Replica {
    let mut options = BotOptions::default();
    options.max_queued = 100_000;
    options.subscribe.queue_capacity = 100_000;
    options.room_queue = 100_000;
    let bot = Bot::new(
        bus_config(&redis.url(), "test-replica"),
        [Pattern::all_inbound()],
    )
    .options(options)
    .group(group.clone());
    let counters = bot.counters();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(bot.run(pong, async {
        let _ = stopped.await;
    }));
    Replica {
        counters,
        stop,
        task,
    }
}

async fn start_replicas(redis: &RedisServer, group: &GroupName, n: usize) -> Vec<Replica> {
    let replicas: Vec<Replica> = (0..n).map(|_| replica(redis, group)).collect();
    // Not `PUBSUB NUMPAT`: it counts distinct patterns, and replicas share theirs.
    for replica in &replicas {
        let counters = replica.counters.clone();
        assert!(
            wait_until(PATIENCE, || counters
                .subscription()
                .is_some_and(|subscription| subscription.is_connected()))
            .await,
            "a replica never subscribed"
        );
    }
    replicas
}

/// A connection for the test's own PUBLISHes that waits as long as it takes: on a
/// loaded machine, a pipeline of 200 can take longer than redis-rs' default timeout.
async fn patient_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection_with_config(
            &redis::AsyncConnectionConfig::new().set_response_timeout(Some(PATIENCE)),
        )
        .await
        .unwrap()
}

/// Publishes `messages` in pipelined batches of 200, spread over 20 rooms.
async fn publish_all(redis: &RedisServer, messages: &[InboundMessage]) {
    let mut connection = patient_connection(&redis.url()).await;
    for batch in messages.chunks(200) {
        let mut pipeline = redis::pipe();
        for message in batch {
            pipeline
                .cmd("PUBLISH")
                .arg(message.topic.to_string())
                .arg(message.encode())
                .ignore();
        }
        pipeline.exec_async(&mut connection).await.unwrap();
    }
}

fn messages(n: usize) -> Vec<InboundMessage> {
    (0..n)
        .map(|i| inbound(&format!("room{}", i % 20), "!ping"))
        .collect()
}

/// Waits until every replica has taken all `n` messages and settled its claims, and
/// its replies have left the outbox: after that, no further reply can appear.
async fn settle(replicas: &[&Replica], n: u64) {
    for replica in replicas {
        let counters = replica.counters.clone();
        assert!(
            wait_until(PATIENCE, || {
                let claims = counters.claims();
                let queued = counters
                    .publisher()
                    .and_then(|publisher| publisher.stats())
                    .map_or(0, |stats| stats.queued);
                // Every claim decided, every won message answered (a claim is
                // counted before its handler runs), every reply out of the outbox.
                claims.won + claims.lost + claims.failed >= n
                    && counters.stats().replies >= claims.won
                    && queued == 0
            })
            .await,
            "a replica did not settle: {:?} {:?}",
            counters.stats(),
            counters.claims()
        );
    }
}

/// The issue's figure: 3 replicas, 10 000 messages, every message answered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_three_answers_every_message_exactly_once() {
    let redis = RedisServer::start().await;
    let (replies, listener) = Replies::listen(&redis).await;
    let group = GroupName::new("pingers").unwrap();
    let replicas = start_replicas(&redis, &group, 3).await;

    let messages = messages(10_000);
    publish_all(&redis, &messages).await;
    // First every replica decides on every message (10 000 each, on a shared machine:
    // `settle` gives each replica its own PATIENCE), then the replies arrive.
    settle(&replicas.iter().collect::<Vec<_>>(), 10_000).await;
    assert!(
        wait_until(PATIENCE, || replies.total() >= messages.len()).await,
        "only {} of {} answered; replicas: {:?}",
        replies.total(),
        messages.len(),
        replicas
            .iter()
            .map(|replica| (replica.counters.stats(), replica.counters.claims()))
            .collect::<Vec<_>>()
    );

    assert_eq!(replies.duplicated(), [], "a message was answered twice");
    assert_eq!(replies.total(), messages.len());
    let mut won = Vec::new();
    for replica in replicas {
        let claims = replica.counters.claims();
        assert_eq!(claims.failed, 0);
        won.push(claims.won);
        let _ = replica.stop.send(());
        let stats = replica.task.await.unwrap();
        assert_eq!(
            stats.received, 10_000,
            "every replica receives every message"
        );
        assert_eq!(stats.replies, claims.won, "a replica answers what it won");
    }
    eprintln!("claims won per replica: {won:?}");
    assert_eq!(won.iter().sum::<u64>(), 10_000);
    listener.abort();
}

/// A replica that dies takes only its in-flight messages with it: no duplicates, and
/// every message published after its death is answered by the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_run_loses_only_its_in_flight_messages() {
    let redis = RedisServer::start().await;
    let (replies, listener) = Replies::listen(&redis).await;
    let group = GroupName::new("pingers").unwrap();
    let mut replicas = start_replicas(&redis, &group, 3).await;

    // Kill a replica (no drain: its task is aborted, as in a crash) while the first
    // half is being published: the first one to have won 100 claims (which replica
    // wins most is up to the scheduler: one may win nearly all).
    let before = messages(3_000);
    let publishing = {
        let url = redis.url();
        let before = before.clone();
        tokio::spawn(async move {
            let mut connection = patient_connection(&url).await;
            for batch in before.chunks(100) {
                let mut pipeline = redis::pipe();
                for message in batch {
                    pipeline
                        .cmd("PUBLISH")
                        .arg(message.topic.to_string())
                        .arg(message.encode())
                        .ignore();
                }
                pipeline.exec_async(&mut connection).await.unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let counters: Vec<BotCounters> = replicas.iter().map(|r| r.counters.clone()).collect();
    assert!(
        wait_until(PATIENCE, || counters.iter().any(|c| c.claims().won >= 100)).await,
        "no replica won 100 claims"
    );
    let victim = counters
        .iter()
        .position(|c| c.claims().won >= 100)
        .expect("a replica won 100 claims");
    let victim = replicas.remove(victim);
    let victim_counters = victim.counters.clone();
    victim.task.abort();
    assert!(victim.task.await.unwrap_err().is_cancelled());
    publishing.await.unwrap();

    let after = messages(2_000);
    publish_all(&redis, &after).await;
    let survivors: Vec<&Replica> = replicas.iter().collect();
    settle(&survivors, 5_000).await;

    assert!(
        wait_until(PATIENCE, || after.iter().all(|m| replies.count(m.id) > 0)).await,
        "messages published after the death must all be answered"
    );
    assert_eq!(replies.duplicated(), [], "a message was answered twice");
    let unanswered_after = after.iter().filter(|m| replies.count(m.id) == 0).count();
    assert_eq!(
        unanswered_after, 0,
        "messages published after the death must all be answered"
    );
    let unanswered = before.iter().filter(|m| replies.count(m.id) == 0).count() as u64;
    let victim_claims = victim_counters.claims();
    eprintln!(
        "killed replica: won {} claims, answered {}; unanswered overall: {unanswered}",
        victim_claims.won,
        victim_counters.stats().replies,
    );
    assert!(
        unanswered <= victim_claims.won,
        "only messages the dead replica had claimed may go unanswered ({unanswered} > {})",
        victim_claims.won
    );
    for replica in replicas {
        let _ = replica.stop.send(());
        replica.task.await.unwrap();
    }
    listener.abort();
}

/// The documented protocol, seen from Redis: the winner's key holds its replica id and
/// expires within the claim TTL; a key set by another replica (in any language) makes
/// the bot skip the message and count it.
#[tokio::test]
async fn claims_follow_the_documented_protocol() {
    let redis = RedisServer::start().await;
    let group = GroupName::new("mixed").unwrap();
    let claimer = Claimer::new(bus_config(&redis.url(), "test-claimer"), group.clone());
    let id = Uuid::now_v7();
    assert_eq!(claimer.claim(id).await, ClaimOutcome::Won);
    assert_eq!(
        claimer.claim(id).await,
        ClaimOutcome::Won,
        "a retry of its own claim"
    );

    let mut connection = redis.connection().await;
    let key = format!("bytebot:claim:mixed:{id}");
    let holder: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(holder, claimer.replica_id());
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= CLAIM_TTL.as_millis() as i64, "{ttl}");

    // Another replica (a Python one, say) got there first.
    let (replies, listener) = Replies::listen(&redis).await;
    let replicas = start_replicas(&redis, &group, 1).await;
    let taken = inbound("r", "!ping");
    let _: () = redis::cmd("SET")
        .arg(format!("bytebot:claim:mixed:{}", taken.id))
        .arg("python:1234:abcd")
        .query_async(&mut connection)
        .await
        .unwrap();
    let free = inbound("r", "!ping");
    publish_all(&redis, &[taken.clone(), free.clone()]).await;
    assert!(wait_until(PATIENCE, || replies.count(free.id) == 1).await);
    settle(&replicas.iter().collect::<Vec<_>>(), 2).await;
    assert_eq!(replies.count(taken.id), 0);
    let claims = replicas[0].counters.claims();
    assert_eq!((claims.won, claims.lost, claims.failed), (1, 1, 0));
    listener.abort();
}

/// Without Redis a replica cannot know whether another one has the message: it skips
/// it (after retrying) rather than risk a second reply.
#[tokio::test]
async fn a_claim_that_cannot_reach_redis_fails_and_is_counted() {
    let redis = RedisServer::start().await;
    let claimer = Claimer::new(
        bus_config(&redis.url(), "test-claimer"),
        GroupName::new("g").unwrap(),
    );
    redis.stop().await;
    assert_eq!(claimer.claim(Uuid::now_v7()).await, ClaimOutcome::Failed);
    assert_eq!(claimer.counters().stats().failed, 1);
    redis.restart().await;
    assert_eq!(claimer.claim(Uuid::now_v7()).await, ClaimOutcome::Won);
}

/// A Redis too slow to answer within the response timeout (5 s, as long as the claim's
/// retry budget): the first attempt times out, yet its SET reaches Redis once it
/// wakes. The retry must still happen, and win by finding its own id: skipping the
/// message would leave it unanswered by every replica, since the key is ours.
#[tokio::test]
async fn a_claim_that_times_out_is_retried_and_wins() {
    let redis = RedisServer::start().await;
    let claimer = Claimer::new(
        bus_config(&redis.url(), "test-claimer"),
        GroupName::new("slow").unwrap(),
    );
    assert_eq!(claimer.claim(Uuid::now_v7()).await, ClaimOutcome::Won);
    let mut connection = redis.connection().await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(6_000)
        .arg("WRITE")
        .query_async(&mut connection)
        .await
        .unwrap();
    let id = Uuid::now_v7();
    assert_eq!(claimer.claim(id).await, ClaimOutcome::Won);
    let holder: String = redis::cmd("GET")
        .arg(format!("bytebot:claim:slow:{id}"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(holder, claimer.replica_id());
    let stats = claimer.counters().stats();
    assert_eq!((stats.won, stats.failed), (2, 0));
}
