//! The bus and replica groups on a real Redis Cluster (six local nodes: 3 masters, 3
//! replicas), including the failover of a master.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytebot_core::bot::{Bot, BotCounters, BotOptions};
use bytebot_core::bus::{OutboxOptions, Publisher, RedisUrl, SubscribeOptions, Subscription};
use bytebot_core::envelope::{Author, InboundMessage, OutboundMessage, decode_outbound};
use bytebot_core::group::GroupName;
use bytebot_core::pattern::Pattern;
use bytebot_core::{Direction, Space, Topic};
use bytebot_test_support::{PATIENCE, RedisCluster, bus_config, wait_until};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

fn inbound(room: &str) -> InboundMessage {
    let topic = Topic::builder(Direction::Inbound, "console")
        .space(Space::id("local"))
        .room(room)
        .user("alice")
        .build()
        .unwrap();
    InboundMessage::new(topic, "m1", Author::new("alice", "alice"), "!ping")
}

/// The cluster URL with the node on `port` listed first: per-node connections
/// (publisher, subscription) start there.
fn url_starting_at(cluster: &RedisCluster, port: u16) -> String {
    let mut ports = cluster.ports();
    ports.retain(|p| *p != port);
    ports.insert(0, port);
    let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    format!("redis+cluster://{}", nodes.join(","))
}

/// Replies seen on `outbound.*`, counted by `in_reply_to`.
#[derive(Clone, Default)]
struct Replies(Arc<Mutex<HashMap<Uuid, usize>>>);

impl Replies {
    async fn listen(url: &str) -> (Replies, JoinHandle<()>) {
        let mut subscription = Subscription::start(
            bus_config(url, "test-listener"),
            vec![Pattern::parse_raw("outbound.*")],
            SubscribeOptions {
                queue_capacity: 100_000,
                ..SubscribeOptions::default()
            },
        );
        subscription.wait_connected(PATIENCE).await.unwrap();
        let replies = Replies::default();
        let collected = replies.clone();
        let task = tokio::spawn(async move {
            while let Some(delivery) = subscription.recv().await {
                let reply = decode_outbound(&delivery.payload).unwrap();
                *collected
                    .0
                    .lock()
                    .unwrap()
                    .entry(reply.in_reply_to.unwrap())
                    .or_default() += 1;
            }
        });
        (replies, task)
    }

    fn count(&self, id: Uuid) -> usize {
        self.0.lock().unwrap().get(&id).copied().unwrap_or(0)
    }

    fn duplicated(&self) -> usize {
        self.duplicated_ids().len()
    }

    fn duplicated_ids(&self) -> Vec<Uuid> {
        let replies = self.0.lock().unwrap();
        replies
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, _)| *id)
            .collect()
    }
}

struct Replica {
    counters: BotCounters,
    stop: oneshot::Sender<()>,
    task: JoinHandle<bytebot_core::bot::BotStats>,
}

async fn replica(url: &str, group: &GroupName) -> Replica {
    let mut options = BotOptions::default();
    options.max_queued = 100_000;
    options.subscribe.queue_capacity = 100_000;
    let bot = Bot::new(bus_config(url, "test-replica"), [Pattern::all_inbound()])
        .options(options)
        .group(group.clone());
    let counters = bot.counters();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(bot.run(
        |message: InboundMessage| async move { vec![OutboundMessage::reply_to(&message, "pong")] },
        async {
            let _ = stopped.await;
        },
    ));
    let subscribed = counters.clone();
    assert!(
        wait_until(PATIENCE, || subscribed
            .subscription()
            .is_some_and(|subscription| subscription.is_connected()))
        .await,
        "a replica never subscribed"
    );
    Replica {
        counters,
        stop,
        task,
    }
}

/// PUBLISH on one node reaches a pattern subscriber on another, in order: the
/// cluster forwards pub/sub to every node.
#[tokio::test]
async fn messages_published_on_one_node_reach_subscribers_on_another_in_order() {
    let cluster = RedisCluster::start().await;
    let ports = cluster.ports();
    let mut subscription = Subscription::start(
        bus_config(&url_starting_at(&cluster, ports[0]), "test-subscriber"),
        vec![Pattern::parse_raw("inbound.*")],
        SubscribeOptions::default(),
    );
    subscription.wait_connected(PATIENCE).await.unwrap();
    let publisher = Publisher::start(
        bus_config(&url_starting_at(&cluster, ports[3]), "test-publisher"),
        OutboxOptions::default(),
    );
    // Different channels, so different slots: a cluster-routed pipeline would fail.
    for i in 0..500 {
        publisher.publish(format!("inbound.x.y.room{i}.u"), i.to_string());
    }
    assert_eq!(publisher.flush(PATIENCE).await, 0);
    for i in 0..500 {
        let delivery = tokio::time::timeout(PATIENCE, subscription.recv())
            .await
            .expect("a delivery in time")
            .unwrap();
        assert_eq!(delivery.payload, i.to_string().as_bytes(), "in order");
    }
}

/// Claims are keys spread over every master's slots: a group on the cluster still
/// answers each message once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_on_the_cluster_answers_each_message_once() {
    let cluster = RedisCluster::start().await;
    let url = cluster.url();
    let (replies, listener) = Replies::listen(&url).await;
    let group = GroupName::new("pingers").unwrap();
    let replicas = [replica(&url, &group).await, replica(&url, &group).await];
    let publisher = Publisher::start(bus_config(&url, "test-publisher"), OutboxOptions::default());
    let messages: Vec<InboundMessage> = (0..1000)
        .map(|i| inbound(&format!("r{}", i % 10)))
        .collect();
    for message in &messages {
        publisher.publish(message.topic.to_string(), message.encode());
    }
    assert!(
        wait_until(PATIENCE, || messages
            .iter()
            .all(|m| replies.count(m.id) >= 1))
        .await,
        "not every message was answered"
    );
    for replica in &replicas {
        let counters = replica.counters.clone();
        assert!(
            wait_until(PATIENCE, || {
                let claims = counters.claims();
                claims.won + claims.lost + claims.failed >= 1000
            })
            .await
        );
    }
    assert_eq!(replies.duplicated(), 0);
    let won: u64 = replicas.iter().map(|r| r.counters.claims().won).sum();
    assert_eq!(won, 1000);
    for replica in replicas {
        let _ = replica.stop.send(());
        replica.task.await.unwrap();
    }
    listener.abort();
}

/// A master dies under traffic: its replica is promoted, the bots (subscribed on the
/// dead node or not) and publishers move to live nodes by themselves, and the group
/// keeps answering. What is lost or answered twice during the failover is counted and
/// reported (only messages of the failover window may be); nothing crashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_failover_loses_only_what_was_in_flight() {
    let cluster = RedisCluster::start().await;
    let masters = cluster.masters().await;
    assert_eq!(masters.len(), 3, "3 masters");
    let victim = masters[0];
    // Replica 0 and the publisher start on the victim, replica 1 on another master.
    let on_victim = url_starting_at(&cluster, victim);
    let elsewhere = url_starting_at(&cluster, masters[1]);
    let (replies, listener) = Replies::listen(&elsewhere).await;
    let group = GroupName::new("pingers").unwrap();
    let replicas = [
        replica(&on_victim, &group).await,
        replica(&elsewhere, &group).await,
    ];
    let publisher = Publisher::start(
        bus_config(&on_victim, "test-publisher"),
        OutboxOptions::default(),
    );

    let mut sent = Vec::new();
    let send = |sent: &mut Vec<Uuid>, n: usize| {
        for i in 0..n {
            let message = inbound(&format!("r{}", i % 10));
            publisher.publish(message.topic.to_string(), message.encode());
            sent.push(message.id);
        }
    };
    send(&mut sent, 500);
    assert!(
        wait_until(PATIENCE, || sent.iter().all(|id| replies.count(*id) == 1)).await,
        "the cluster answers before the failover"
    );
    let before = sent.len();

    // Kill the master under traffic.
    let traffic = tokio::spawn({
        let publisher = publisher.clone();
        async move {
            let mut ids = Vec::new();
            for i in 0..300 {
                let message = inbound(&format!("r{}", i % 10));
                publisher.publish(message.topic.to_string(), message.encode());
                ids.push(message.id);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            ids
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.kill(victim);
    let during = traffic.await.unwrap();
    cluster.wait_until_healthy().await;
    sent.extend(&during);

    // After the failover, everything is answered again.
    let after_start = sent.len();
    send(&mut sent, 500);
    let after: Vec<Uuid> = sent[after_start..].to_vec();
    assert!(
        wait_until(PATIENCE, || after.iter().all(|id| replies.count(*id) == 1)).await,
        "after the failover every message is answered; {} of {} were",
        after.iter().filter(|id| replies.count(**id) > 0).count(),
        after.len()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lost = sent.iter().filter(|id| replies.count(**id) == 0).count();
    let duplicated = replies.duplicated();
    eprintln!(
        "failover: {} messages ({} before, {} during the failover, {} after): {lost} lost, {duplicated} answered twice; claims: {:?} / {:?}",
        sent.len(),
        before,
        during.len(),
        after.len(),
        replicas[0].counters.claims(),
        replicas[1].counters.claims(),
    );
    // Replication is asynchronous: a claim acknowledged by the master that dies and not
    // yet copied to its replica is lost with it, and a message the publisher sends again
    // after its own connection broke can then be claimed a second time. Only messages
    // of the failover window may be lost or answered twice; outside it, exactly once.
    assert!(
        replies
            .duplicated_ids()
            .iter()
            .all(|id| during.contains(id)),
        "only messages of the failover window may be answered twice"
    );
    assert!(
        lost <= during.len(),
        "only messages of the failover window are lost"
    );
    for replica in replicas {
        let _ = replica.stop.send(());
        tokio::time::timeout(PATIENCE, replica.task)
            .await
            .expect("a replica stops")
            .unwrap();
    }
    listener.abort();
}

/// `rediss+cluster://` end to end: the URL of a TLS-only cluster with a password
/// parses, never prints the password, and carries pub/sub and a group's claims (keys
/// in every master's slots) over TLS; the nodes refuse plain text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_with_a_password_works_and_never_prints_it() {
    const PASSWORD: &str = "cl-S3CRET-pw";
    let cluster = RedisCluster::builder()
        .tls()
        .password(PASSWORD)
        .start()
        .await;
    let url = cluster.url();
    assert!(url.starts_with("rediss+cluster://"), "{url}");
    let parsed = RedisUrl::parse(&url).unwrap();
    for printed in [parsed.to_string(), format!("{parsed:?}")] {
        assert!(!printed.contains(PASSWORD), "{printed}");
        assert!(
            printed.contains("rediss+cluster://:***@127.0.0.1:"),
            "{printed}"
        );
        assert!(
            printed.contains(",127.0.0.1:") && printed.contains("#insecure"),
            "{printed}"
        );
    }
    assert!(parsed.is_cluster() && parsed.has_password());
    assert_eq!(parsed.redacted().matches(",127.0.0.1:").count(), 5);

    let (replies, listener) = Replies::listen(&url).await;
    let group = GroupName::new("tls-pingers").unwrap();
    let replicas = [replica(&url, &group).await, replica(&url, &group).await];
    let publisher = Publisher::start(bus_config(&url, "test-publisher"), OutboxOptions::default());
    let messages: Vec<InboundMessage> =
        (0..100).map(|i| inbound(&format!("r{}", i % 10))).collect();
    for message in &messages {
        publisher.publish(message.topic.to_string(), message.encode());
    }
    assert!(
        wait_until(PATIENCE, || messages
            .iter()
            .all(|m| replies.count(m.id) >= 1))
        .await,
        "not every message was answered over TLS"
    );
    for replica in &replicas {
        let counters = replica.counters.clone();
        assert!(
            wait_until(PATIENCE, || {
                let claims = counters.claims();
                claims.won + claims.lost >= 100
            })
            .await,
            "a replica did not decide on every claim: {:?}",
            counters.claims()
        );
    }
    assert_eq!(replies.duplicated(), 0);
    let won: u64 = replicas.iter().map(|r| r.counters.claims().won).sum();
    assert_eq!(won, 100);
    // The claim keys are spread over the masters, each reached over TLS.
    let mut masters_with_claims = 0;
    for port in cluster.masters().await {
        let mut connection = cluster.node_connection(port).await;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("bytebot:claim:tls-pingers:*")
            .query_async(&mut connection)
            .await
            .unwrap();
        if !keys.is_empty() {
            masters_with_claims += 1;
        }
    }
    assert!(masters_with_claims >= 2, "{masters_with_claims}");

    // A node speaks TLS only: the plain-text protocol gets no answer.
    let plain = bus_config(
        &format!("redis://:{PASSWORD}@127.0.0.1:{}", cluster.ports()[0]),
        "t",
    )
    .with_connection_timeout(Duration::from_secs(2))
    .with_response_timeout(Duration::from_secs(2));
    assert!(bytebot_core::bus::connect(&plain).await.is_err());

    for replica in replicas {
        let _ = replica.stop.send(());
        replica.task.await.unwrap();
    }
    listener.abort();
}
