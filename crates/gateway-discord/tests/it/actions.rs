//! Outbound actions beyond a send: edit, delete, react, unreact, typing, each against
//! the fake Discord's endpoints, with receipts.

use bytebot_core::envelope::OutboundMessage;
use serde_json::json;

use crate::support::{CHANNEL, Gateway, next_json, outbound_topic};

/// The round trip a bot does: send, read the id from the receipt, then edit, react,
/// unreact and delete that message; each action gets its own receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_message_can_be_edited_reacted_to_and_deleted() {
    let gateway = Gateway::start().await;
    let mut receipts = gateway.subscribe("receipt.discord.*").await;
    let topic = outbound_topic(CHANNEL);
    gateway.publish(&topic, "\"pong\"").await;
    let (_, sent) = next_json(&mut receipts).await;
    let id = sent["message_ids"][0].as_str().unwrap().to_owned();
    let numeric: u64 = id.parse().unwrap();

    gateway
        .publish(&topic, OutboundMessage::edit(&id, "pong (41 ms)").encode())
        .await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(
        receipt,
        json!({"v": 1, "action": "edit", "ok": true, "message_ids": [id]})
    );
    let edit = gateway
        .discord
        .requests()
        .into_iter()
        .find(|request| request.method == "PATCH")
        .expect("a PATCH");
    assert_eq!(
        edit.path,
        format!("/api/v10/channels/{CHANNEL}/messages/{id}")
    );
    assert_eq!(edit.body["content"], json!("pong (41 ms)"));
    assert_eq!(edit.body["allowed_mentions"]["parse"], json!(["users"]));

    for message in [
        OutboundMessage::react(&id, "👍"),
        OutboundMessage::react(&id, "party:1190804811990446000"),
    ] {
        gateway.publish(&topic, message.encode()).await;
        let (_, receipt) = next_json(&mut receipts).await;
        assert_eq!(receipt["action"], json!("react"));
        assert_eq!(receipt["ok"], json!(true), "{receipt}");
    }
    assert_eq!(
        gateway.discord.reactions_on(numeric),
        ["👍", "party:1190804811990446000"]
    );
    gateway
        .publish(&topic, OutboundMessage::unreact(&id, "👍").encode())
        .await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(
        (&receipt["action"], &receipt["ok"]),
        (&json!("unreact"), &json!(true))
    );
    assert_eq!(
        gateway.discord.reactions_on(numeric),
        ["party:1190804811990446000"]
    );

    gateway
        .publish(&topic, OutboundMessage::delete(&id).encode())
        .await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(
        receipt,
        json!({"v": 1, "action": "delete", "ok": true, "message_ids": [id]})
    );
    assert_eq!(gateway.discord.deleted(), [numeric]);
    gateway.stop().await.unwrap();
}

/// Typing is a fire-and-forget POST; its receipt has no message ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_shows_in_the_channel() {
    let gateway = Gateway::start().await;
    let mut receipts = gateway.subscribe("receipt.discord.*").await;
    gateway
        .publish(&outbound_topic(CHANNEL), OutboundMessage::typing().encode())
        .await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(
        receipt,
        json!({"v": 1, "action": "typing", "ok": true, "message_ids": []})
    );
    assert_eq!(gateway.discord.typing(), [CHANNEL]);
    gateway.stop().await.unwrap();
}

/// Acting on a message Discord does not know reports Discord's error; an id or emoji
/// that cannot be Discord's is refused before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_targets_get_failed_receipts() {
    let gateway = Gateway::start().await;
    let mut receipts = gateway.subscribe("receipt.discord.*").await;
    let topic = outbound_topic(CHANNEL);
    gateway
        .publish(
            &topic,
            OutboundMessage::edit("1443167930991902725", "x").encode(),
        )
        .await;
    let (_, receipt) = next_json(&mut receipts).await;
    assert_eq!(
        receipt["error"],
        json!({"code": 10008, "message": "Unknown Message", "status": 404})
    );

    for (message, reason) in [
        (
            OutboundMessage::delete("latest"),
            "message_id `latest` is not a discord message id",
        ),
        (
            OutboundMessage::react("1443167930991902725", "thumbs up"),
            "emoji `thumbs up` is neither a unicode emoji nor `name:id`",
        ),
    ] {
        gateway.publish(&topic, message.encode()).await;
        let (_, receipt) = next_json(&mut receipts).await;
        assert_eq!(receipt["ok"], json!(false));
        let text = receipt["error"]["message"].as_str().unwrap();
        assert!(text.contains(reason), "{text}");
    }
    let n_requests = gateway
        .discord
        .requests()
        .iter()
        .filter(|request| request.method != "GET")
        .count();
    assert_eq!(n_requests, 1, "only the edit reached discord");
    gateway.stop().await.unwrap();
}
