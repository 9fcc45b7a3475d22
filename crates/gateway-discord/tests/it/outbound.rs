//! Redis -> Discord: outbound envelopes become the right Discord requests, in order,
//! with receipts; bad input is skipped.

use bytebot_core::envelope::{MentionPolicy, OutboundMessage};
use bytebot_test_support::wait_until;
use serde_json::json;
use uuid::Uuid;

use crate::support::{
    ALICE, CHANNEL, GUILD, Gateway, OTHER_CHANNEL, PATIENCE, TOKEN, next_json, outbound_topic,
    wait_posted,
};

/// The basic path: an envelope on the outbound topic is POSTed to that channel, with
/// the bot token and safe mentions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbound_envelope_is_posted_with_the_right_body() {
    let gateway = Gateway::start().await;
    let payload = OutboundMessage::new("pong <@99>").encode();
    assert_eq!(gateway.publish(&outbound_topic(CHANNEL), payload).await, 1);

    assert!(wait_posted(&gateway.discord, CHANNEL, 1).await);
    let posted = &gateway.discord.posted_in(CHANNEL)[0];
    assert_eq!(posted.content(), "pong <@99>");
    assert_eq!(posted.body["allowed_mentions"]["parse"], json!(["users"]));
    assert!(
        posted
            .body
            .get("message_reference")
            .is_none_or(|v| v.is_null())
    );
    let request = gateway
        .discord
        .requests()
        .into_iter()
        .find(|request| request.path == format!("/api/v10/channels/{CHANNEL}/messages"))
        .unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.authorization.as_deref(),
        Some(format!("Bot {TOKEN}").as_str())
    );
    gateway.stop().await.unwrap();
}

/// Discord refuses more than 2000 characters: a 5000-character answer arrives as
/// several messages, in order, cut between words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_reply_is_split_into_ordered_messages() {
    let gateway = Gateway::start().await;
    let content = (0..1000)
        .map(|i| format!("w{i:03}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(content.chars().count(), 4999);
    gateway
        .publish(
            &outbound_topic(CHANNEL),
            OutboundMessage::new(content.clone()).encode(),
        )
        .await;

    assert!(wait_posted(&gateway.discord, CHANNEL, 3).await);
    let parts: Vec<String> = gateway
        .discord
        .posted_in(CHANNEL)
        .iter()
        .map(|posted| posted.content().to_owned())
        .collect();
    assert_eq!(parts.len(), 3);
    assert!(parts.iter().all(|part| part.chars().count() <= 2000));
    assert_eq!(
        parts.join(" "),
        content,
        "parts lost, cut inside a word or reordered"
    );
    gateway.stop().await.unwrap();
}

/// `reply_to` makes a Discord reply (a message reference) to the inbound message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_to_becomes_a_message_reference() {
    let gateway = Gateway::start().await;
    let mut message = OutboundMessage::new("pong");
    message.reply_to = Some("1443167930991902725".into());
    gateway
        .publish(&outbound_topic(CHANNEL), message.encode())
        .await;

    assert!(wait_posted(&gateway.discord, CHANNEL, 1).await);
    let posted = &gateway.discord.posted_in(CHANNEL)[0];
    assert_eq!(
        posted.body["message_reference"]["message_id"],
        json!("1443167930991902725")
    );
    assert_eq!(
        posted.body["message_reference"]["channel_id"],
        json!(CHANNEL.to_string())
    );
    gateway.stop().await.unwrap();
}

/// A subscriber echoing user text must not ping a whole server, even if it asks to,
/// unless the operator allowed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_in_content_does_not_ping() {
    let gateway = Gateway::start().await;
    let mut message = OutboundMessage::new("@everyone @here <@&123> free nitro");
    gateway
        .publish(&outbound_topic(CHANNEL), message.encode())
        .await;
    message.mentions = MentionPolicy::All;
    gateway
        .publish(&outbound_topic(CHANNEL), message.encode())
        .await;

    assert!(wait_posted(&gateway.discord, CHANNEL, 2).await);
    for posted in gateway.discord.posted_in(CHANNEL) {
        assert_eq!(posted.content(), "@everyone @here <@&123> free nitro");
        assert_eq!(posted.body["allowed_mentions"]["parse"], json!(["users"]));
        assert_eq!(posted.body["allowed_mentions"]["roles"], json!([]));
    }
    gateway.stop().await.unwrap();
}

/// With the operator's `--allow-mass-mentions`, an envelope asking for `all` may ping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mass_mentions_need_the_flag_and_the_envelope() {
    let gateway = Gateway::start_with(|config| config.allow_mass_mentions = true).await;
    let mut message = OutboundMessage::new("@everyone release is out");
    gateway
        .publish(&outbound_topic(CHANNEL), message.encode())
        .await;
    message.mentions = MentionPolicy::All;
    gateway
        .publish(&outbound_topic(CHANNEL), message.encode())
        .await;

    assert!(wait_posted(&gateway.discord, CHANNEL, 2).await);
    let posted = gateway.discord.posted_in(CHANNEL);
    assert_eq!(
        posted[0].body["allowed_mentions"]["parse"],
        json!(["users"])
    );
    assert_eq!(
        posted[1].body["allowed_mentions"]["parse"],
        json!(["users", "roles", "everyone"])
    );
    gateway.stop().await.unwrap();
}

/// Replies to one channel arrive in publish order; two channels interleave freely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_quick_replies_keep_their_order_per_channel() {
    let gateway = Gateway::start().await;
    let mut connection = gateway.redis.connection().await;
    let mut pipeline = redis::pipe();
    for i in 0..50 {
        for channel in [CHANNEL, OTHER_CHANNEL] {
            pipeline
                .cmd("PUBLISH")
                .arg(outbound_topic(channel))
                .arg(OutboundMessage::new(format!("reply {i}")).encode())
                .ignore();
        }
    }
    pipeline.exec_async(&mut connection).await.unwrap();

    for channel in [CHANNEL, OTHER_CHANNEL] {
        assert!(
            wait_posted(&gateway.discord, channel, 50).await,
            "only {} of 50 replies in {channel}",
            gateway.discord.posted_in(channel).len()
        );
        let contents: Vec<String> = gateway
            .discord
            .posted_in(channel)
            .iter()
            .map(|posted| posted.content().to_owned())
            .collect();
        let expected: Vec<String> = (0..50).map(|i| format!("reply {i}")).collect();
        assert_eq!(contents, expected, "out of order in {channel}");
    }
    gateway.stop().await.unwrap();
}

/// Bad input from any publisher is logged, counted and skipped; the next valid message
/// still goes out (the Go gateway panicked on a short topic, which the five-segment
/// subscription now keeps from reaching the gateway at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_outbound_is_skipped_and_counted() {
    let gateway = Gateway::start().await;
    let valid = OutboundMessage::new("still alive").encode();
    assert_eq!(
        gateway.publish("outbound.discord.1", valid.clone()).await,
        0,
        "a three-segment topic never reaches the gateway"
    );
    let cases: Vec<(String, Vec<u8>)> = vec![
        ("outbound.discord.g.c.u.extra".into(), valid.clone()),
        (
            format!("outbound.discord.{GUILD}.general.{ALICE}"),
            valid.clone(),
        ),
        (outbound_topic(CHANNEL), b"{not json".to_vec()),
        (outbound_topic(CHANNEL), br#"{"content": ""}"#.to_vec()),
        (
            outbound_topic(CHANNEL),
            br#"{"v": 2, "content": "from the future"}"#.to_vec(),
        ),
        (
            outbound_topic(CHANNEL),
            br#"{"content": "x", "reply_to": "not-an-id"}"#.to_vec(),
        ),
        (outbound_topic(CHANNEL), vec![0xff, 0xfe, 0x00]),
        // The schema allows an object or a string: every other JSON type is refused
        // and counted (`[1,"arr"]` was once sent to Discord as "arr").
        (outbound_topic(CHANNEL), br#"[1,"arr"]"#.to_vec()),
        (outbound_topic(CHANNEL), b"42".to_vec()),
        (outbound_topic(CHANNEL), b"true".to_vec()),
        (outbound_topic(CHANNEL), b"null".to_vec()),
    ];
    let n_cases = cases.len() as u64;
    for (topic, payload) in cases {
        gateway.publish(&topic, payload).await;
    }
    gateway.publish(&outbound_topic(CHANNEL), valid).await;

    assert!(wait_posted(&gateway.discord, CHANNEL, 1).await);
    assert!(
        wait_until(PATIENCE, || gateway.counters.stats().outbound_malformed
            == n_cases)
        .await,
        "{:?}",
        gateway.counters.stats()
    );
    let posted = gateway.discord.posted();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0].content(), "still alive");
    gateway.stop().await.unwrap();
}

/// Subscribers written for the Go gateway publish a bare JSON string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_json_string_payload_is_sent() {
    let gateway = Gateway::start().await;
    gateway.publish(&outbound_topic(CHANNEL), "\"pong\"").await;
    assert!(wait_posted(&gateway.discord, CHANNEL, 1).await);
    assert_eq!(gateway.discord.posted_in(CHANNEL)[0].content(), "pong");
    gateway.stop().await.unwrap();
}

/// A subscriber learns its reply went out, with the Discord message ids, correlated by
/// `in_reply_to`, on the receipt topic at the same address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_receipt_reports_the_sent_message_ids() {
    let gateway = Gateway::start().await;
    let mut receipts = gateway.subscribe("receipt.discord.*").await;
    let correlation = Uuid::now_v7();
    let mut message = OutboundMessage::new("x ".repeat(1500));
    message.in_reply_to = Some(correlation);
    gateway
        .publish(&outbound_topic(CHANNEL), message.encode())
        .await;

    let (topic, receipt) = next_json(&mut receipts).await;
    assert_eq!(topic, format!("receipt.discord.{GUILD}.{CHANNEL}.{ALICE}"));
    let posted_ids: Vec<String> = gateway
        .discord
        .posted_in(CHANNEL)
        .iter()
        .map(|posted| posted.id.to_string())
        .collect();
    assert_eq!(posted_ids.len(), 2);
    assert_eq!(
        receipt,
        json!({"v": 1, "in_reply_to": correlation.to_string(), "ok": true, "message_ids": posted_ids})
    );
    gateway.stop().await.unwrap();
}

/// A reply Discord refuses (bot lacks permission) is reported with Discord's code,
/// message and HTTP status, so the subscriber can tell its user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_receipt_reports_discord_errors() {
    let gateway = Gateway::start().await;
    gateway
        .discord
        .fail_channel(OTHER_CHANNEL, 403, 50013, "Missing Permissions");
    let mut receipts = gateway.subscribe("receipt.discord.*").await;
    let correlation = Uuid::now_v7();
    let mut message = OutboundMessage::new("pong");
    message.in_reply_to = Some(correlation);
    gateway
        .publish(&outbound_topic(OTHER_CHANNEL), message.encode())
        .await;

    let (topic, receipt) = next_json(&mut receipts).await;
    assert_eq!(
        topic,
        format!("receipt.discord.{GUILD}.{OTHER_CHANNEL}.{ALICE}")
    );
    assert_eq!(
        receipt,
        json!({"v": 1, "in_reply_to": correlation.to_string(), "ok": false, "message_ids": [],
               "error": {"code": 50013, "message": "Missing Permissions", "status": 403}})
    );
    assert!(wait_until(PATIENCE, || gateway.counters.stats().outbound_failed == 1).await);

    // The failure is per message: the next one to a healthy channel goes out.
    gateway.publish(&outbound_topic(CHANNEL), "\"ok\"").await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(receipt["ok"], json!(true));
    gateway.stop().await.unwrap();
}

/// An invalid payload on a valid topic also gets a failed receipt, so its publisher can
/// find out without reading the gateway's logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_payload_gets_a_failed_receipt() {
    let gateway = Gateway::start().await;
    let mut receipts = gateway.subscribe("receipt.discord.*").await;
    gateway
        .publish(&outbound_topic(CHANNEL), r#"{"content": "  "}"#)
        .await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(receipt["ok"], json!(false));
    assert!(receipt["error"].get("code").is_none());
    assert!(
        receipt["error"]["message"]
            .as_str()
            .unwrap()
            .contains("empty content"),
        "{receipt}"
    );
    gateway.stop().await.unwrap();
}

/// One huge publish must not hold a channel for minutes: what would take more than
/// `--max-parts` (default 10) messages is not sent at all, and the receipt says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_over_max_parts_is_not_sent() {
    let gateway = Gateway::start().await;
    let mut receipts = gateway.subscribe("receipt.discord.*").await;
    let content = "word ".repeat(4500); // 22 500 characters: 12 messages
    gateway
        .publish(
            &outbound_topic(CHANNEL),
            OutboundMessage::new(content).encode(),
        )
        .await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(receipt["ok"], json!(false));
    let reason = receipt["error"]["message"].as_str().unwrap();
    assert!(reason.contains("12 parts"), "{reason}");
    assert!(reason.contains("--max-parts"), "{reason}");
    assert_eq!(gateway.counters.stats().outbound_too_many_parts, 1);
    assert!(gateway.discord.posted().is_empty());
    gateway.stop().await.unwrap();
}

/// Control characters never reach Discord (an ESC would reach every client that
/// renders the message raw); line breaks do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_never_reach_discord() {
    let gateway = Gateway::start().await;
    gateway
        .publish(
            &outbound_topic(CHANNEL),
            OutboundMessage::new("\u{1b}[2Jpong\r\nline\0").encode(),
        )
        .await;
    assert!(wait_posted(&gateway.discord, CHANNEL, 1).await);
    assert_eq!(
        gateway.discord.posted_in(CHANNEL)[0].content(),
        "[2Jpong\nline"
    );
    gateway.stop().await.unwrap();
}
