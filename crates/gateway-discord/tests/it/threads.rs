//! Threads are rooms: a message in a thread is published with the thread as its room
//! and the parent channel in `discord.parent_channel_id`; a reply on its `reply_topic`
//! goes to the thread.

use bytebot_core::envelope::{OutboundMessage, decode_inbound};
use serde_json::json;

use crate::fake_discord::DiscordMessage;
use crate::support::{ALICE, CHANNEL, GUILD, Gateway, next, next_json, wait_posted};

const THREAD: u64 = 1_300_000_000_000_000_001;

/// After THREAD_CREATE, a message in the thread names the thread as its room and the
/// channel as its parent; the answer posts to the thread's own id. A message in the
/// parent channel has no parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_is_a_room_that_names_its_channel() {
    let gateway = Gateway::start().await;
    let mut inbound = gateway.subscribe("inbound.discord.*").await;
    let mut receipts = gateway.subscribe("receipt.discord.*").await;
    gateway
        .discord
        .create_thread(GUILD, CHANNEL, THREAD, "release 0.4");
    gateway.discord.send_message(&DiscordMessage::guild(
        GUILD,
        THREAD,
        ALICE,
        "in the thread",
    ));
    gateway.discord.send_message(&DiscordMessage::guild(
        GUILD,
        CHANNEL,
        ALICE,
        "in the channel",
    ));

    let delivery = next(&mut inbound).await;
    assert_eq!(
        delivery.channel,
        format!("inbound.discord.{GUILD}.{THREAD}.{ALICE}")
    );
    let in_thread = decode_inbound(&delivery.payload).unwrap();
    assert_eq!(in_thread.room, THREAD.to_string());
    let discord = in_thread.discord.clone().expect("a discord object");
    assert_eq!(
        discord.parent_channel_id.as_deref(),
        Some(CHANNEL.to_string().as_str())
    );
    let in_channel = decode_inbound(&next(&mut inbound).await.payload).unwrap();
    assert_eq!(in_channel.content, "in the channel");
    assert_eq!(in_channel.discord, None);

    let reply = OutboundMessage::reply_to(&in_thread, "answered in the thread");
    gateway
        .publish(&in_thread.reply_topic.to_string(), reply.encode())
        .await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(receipt["ok"], json!(true), "{receipt}");
    assert!(wait_posted(&gateway.discord, THREAD, 1).await);
    assert_eq!(
        gateway.discord.posted_in(THREAD)[0].content(),
        "answered in the thread"
    );
    assert!(gateway.discord.posted_in(CHANNEL).is_empty());
    gateway.stop().await.unwrap();
}

/// `start_thread` starts a thread from a message; the receipt gives the thread's id,
/// which is then a room to publish in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_starts_a_thread_from_a_message() {
    let gateway = Gateway::start().await;
    let mut receipts = gateway.subscribe("receipt.discord.*").await;
    let topic = crate::support::outbound_topic(CHANNEL);
    gateway.publish(&topic, "\"a message to discuss\"").await;
    let (_, sent) = next_json(&mut receipts).await;
    let message_id = sent["message_ids"][0].as_str().unwrap().to_owned();

    let start =
        json!({"action": "start_thread", "message_id": message_id, "thread_name": "Discussion"});
    gateway.publish(&topic, start.to_string()).await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(
        receipt,
        json!({"v": 1, "action": "start_thread", "ok": true, "message_ids": [message_id]})
    );
    let request = gateway
        .discord
        .requests()
        .into_iter()
        .find(|request| request.path.ends_with("/threads"))
        .expect("a thread creation");
    assert_eq!(
        request.path,
        format!("/api/v10/channels/{CHANNEL}/messages/{message_id}/threads")
    );
    assert_eq!(request.body["name"], json!("Discussion"));

    let thread: u64 = message_id.parse().unwrap();
    gateway
        .publish(&crate::support::outbound_topic(thread), "\"first post\"")
        .await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(receipt["ok"], json!(true), "{receipt}");
    assert_eq!(gateway.discord.posted_in(thread)[0].content(), "first post");

    let nameless = json!({"action": "start_thread", "message_id": message_id});
    gateway.publish(&topic, nameless.to_string()).await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(receipt["ok"], json!(false));
    let error = receipt["error"]["message"].as_str().unwrap();
    assert!(
        error.contains("`start_thread` needs `thread_name`"),
        "{error}"
    );
    gateway.stop().await.unwrap();
}
