//! Redis -> platform: order per room, splitting, receipts, actions, queue limits and
//! bad input.

use bytebot_core::envelope::OutboundAction;
use bytebot_core::envelope::OutboundMessage;
use bytebot_test_support::{PATIENCE, wait_until};
use uuid::Uuid;

use crate::support::{Toy, next_receipt, outbound};

/// One room's messages are performed in publish order; two rooms interleave freely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_room_keeps_its_order() {
    let toy = Toy::start().await;
    let mut messages = Vec::new();
    for i in 0..40 {
        for room in ["north", "south"] {
            messages.push((
                outbound(room),
                OutboundMessage::new(format!("{room} {i}")).encode(),
            ));
        }
    }
    toy.publish_all(&messages).await;
    for room in ["north", "south"] {
        assert!(
            wait_until(PATIENCE, || toy.chat.texts_in(room).len() == 40).await,
            "{:?}",
            toy.chat.texts_in(room)
        );
        let expected: Vec<String> = (0..40).map(|i| format!("{room} {i}")).collect();
        assert_eq!(toy.chat.texts_in(room), expected, "out of order in {room}");
    }
    assert_eq!(toy.counters.stats().outbound_sent, 80);
    toy.stop().await.unwrap();
}

/// Text over the platform's limit goes out as several messages, cut between words, in
/// order; only the first quotes the message it answers; the receipt lists every id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_text_is_split_and_the_receipt_has_every_id() {
    let toy = Toy::start().await;
    let mut receipts = toy.subscribe("receipt.toy.*.*.*").await;
    let correlation = Uuid::now_v7();
    let mut message = OutboundMessage::new("one two three four five");
    message.reply_to = Some("7".into());
    message.in_reply_to = Some(correlation);
    toy.publish(&outbound("north"), message.encode()).await;

    let (topic, receipt) = next_receipt(&mut receipts).await;
    assert_eq!(topic, "receipt.toy.world.north.alice");
    assert!(receipt.ok, "{receipt:?}");
    assert_eq!(receipt.in_reply_to, Some(correlation));
    assert_eq!(receipt.action, OutboundAction::Send);
    let posts = toy.chat.posts();
    let texts: Vec<&str> = posts.iter().map(|post| post.content.as_str()).collect();
    assert_eq!(texts, ["one two", "three four", "five"]);
    let ids: Vec<String> = posts.iter().map(|post| post.id.to_string()).collect();
    assert_eq!(receipt.message_ids, ids);
    let replies: Vec<Option<u64>> = posts.iter().map(|post| post.reply_to).collect();
    assert_eq!(replies, [Some(7), None, None]);
    toy.stop().await.unwrap();
}

/// A platform refusal is reported as it is, and only costs its own message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_reaches_the_receipt_and_the_counters() {
    let toy = Toy::start().await;
    toy.chat.lock_room("south");
    let mut receipts = toy.subscribe("receipt.toy.*.*.*").await;
    toy.publish(&outbound("south"), "\"hello\"").await;
    let (topic, receipt) = next_receipt(&mut receipts).await;
    assert_eq!(topic, "receipt.toy.world.south.alice");
    assert!(!receipt.ok);
    let error = receipt.error.unwrap();
    assert_eq!(error.code, Some(403));
    assert_eq!(error.message, "the bot may not write here");
    assert_eq!(toy.counters.stats().outbound_failed, 1);

    toy.publish(&outbound("north"), "\"hello\"").await;
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert!(receipt.ok);
    toy.stop().await.unwrap();
}

/// Edit, react, unreact and delete reach the adapter as actions on the message a send
/// created, and their receipts say which action they answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_reach_the_adapter_with_their_receipts() {
    let toy = Toy::start().await;
    let mut receipts = toy.subscribe("receipt.toy.*.*.*").await;
    toy.publish(&outbound("north"), "\"first\"").await;
    let (_, sent) = next_receipt(&mut receipts).await;
    let id = sent.message_ids[0].clone();

    for message in [
        OutboundMessage::edit(&id, "second"),
        OutboundMessage::react(&id, "👍"),
        OutboundMessage::react(&id, "🎲"),
        OutboundMessage::unreact(&id, "👍"),
    ] {
        toy.publish(&outbound("north"), message.encode()).await;
        let (_, receipt) = next_receipt(&mut receipts).await;
        assert!(receipt.ok, "{receipt:?}");
        assert_eq!(receipt.action, message.action);
        assert_eq!(receipt.message_ids, std::slice::from_ref(&id));
    }
    let post = toy.chat.posts().remove(0);
    assert_eq!(post.content, "second");
    assert_eq!(post.reactions, ["🎲"]);

    toy.publish(&outbound("north"), OutboundMessage::delete(&id).encode())
        .await;
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert_eq!((receipt.ok, receipt.action), (true, OutboundAction::Delete));
    assert!(toy.chat.posts()[0].deleted);

    // An edit must fit in one message: it is refused, not split.
    toy.publish(
        &outbound("north"),
        OutboundMessage::edit(&id, "far too long for one").encode(),
    )
    .await;
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert_eq!((receipt.ok, receipt.action), (false, OutboundAction::Edit));
    assert!(receipt.error.unwrap().message.contains("cannot be split"));
    toy.stop().await.unwrap();
}

/// An action the platform cannot do gets a failed receipt that says so, never silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_action_gets_a_failed_receipt() {
    let toy = Toy::start().await;
    let mut receipts = toy.subscribe("receipt.toy.*.*.*").await;
    toy.publish(&outbound("north"), OutboundMessage::typing().encode())
        .await;
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert_eq!(
        (receipt.ok, receipt.action),
        (false, OutboundAction::Typing)
    );
    assert_eq!(
        receipt.error.unwrap().message,
        "the toy platform cannot show typing"
    );
    assert_eq!(toy.counters.stats().outbound_unsupported, 1);
    toy.stop().await.unwrap();
}

/// A flooded room loses its own overflow (counted, with a failed receipt) instead of
/// growing memory; what fits is performed in order once the platform answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_room_queue_drops_with_a_failed_receipt() {
    let toy = Toy::start_with(|config| config.limits.per_room_queue = 1).await;
    let mut receipts = toy.subscribe("receipt.toy.*.*.*").await;
    toy.chat.hold(true);
    // The first goes in flight as soon as it is read; it then waits on the platform.
    toy.publish(&outbound("north"), "\"0\"").await;
    assert!(wait_until(PATIENCE, || toy.counters.stats().outbound_received == 1).await);
    let messages: Vec<(String, Vec<u8>)> = (1..5)
        .map(|i| (outbound("north"), format!("\"{i}\"").into_bytes()))
        .collect();
    toy.publish_all(&messages).await;
    assert!(wait_until(PATIENCE, || toy.counters.stats().outbound_dropped == 3).await);
    toy.chat.hold(false);

    let mut n_refused = 0;
    for _ in 0..5 {
        let (_, receipt) = next_receipt(&mut receipts).await;
        if !receipt.ok {
            n_refused += 1;
            assert!(receipt.error.unwrap().message.contains("queue is full"));
        }
    }
    assert_eq!(n_refused, 3);
    assert_eq!(toy.chat.texts_in("north"), ["0", "1"]);
    toy.stop().await.unwrap();
}

/// Bad input from any publisher is logged, counted and skipped; an invalid payload on
/// a valid topic also gets a failed receipt; a topic for another gateway is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_skipped_and_counted() {
    let toy = Toy::start().await;
    let mut receipts = toy.subscribe("receipt.toy.*.*.*").await;
    toy.publish("outbound.toy.world.North.alice", "\"bad room\"")
        .await;
    toy.publish("outbound.toy.elsewhere.north.alice", "\"not mine\"")
        .await;
    toy.publish(&outbound("north"), "[1, \"array\"]").await;
    toy.publish(
        &outbound("north"),
        r#"{"content": "x", "reply_to": "seven"}"#,
    )
    .await;
    toy.publish(&outbound("north"), "\"alive\"").await;

    let (_, receipt) = next_receipt(&mut receipts).await;
    assert!(!receipt.ok);
    assert!(
        receipt
            .error
            .unwrap()
            .message
            .starts_with("invalid outbound envelope")
    );
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert!(!receipt.ok);
    assert!(
        receipt
            .error
            .unwrap()
            .message
            .contains("`seven` is not a toy message id")
    );
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert!(receipt.ok);
    assert_eq!(toy.chat.texts_in("north"), ["alive"]);
    let stats = toy.counters.stats();
    assert_eq!((stats.outbound_received, stats.outbound_malformed), (5, 3));
    toy.stop().await.unwrap();
}
