//! What the runtime does to text before any platform sees it: `--max-parts`, control
//! characters, blank content.

use bytebot_core::envelope::OutboundMessage;
use bytebot_test_support::{free_local_addr, http_get, metric_value, scrape_until};

use crate::support::{Toy, next_receipt, outbound};

/// One huge publish must not become hundreds of platform requests: over `--max-parts`
/// nothing is sent, the receipt says why, and it is counted as `too_many_parts`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_max_parts_is_refused_whole() {
    let addr = free_local_addr();
    let toy = Toy::start_with(|config| {
        config.max_parts = 2;
        config.http_addr = Some(addr);
    })
    .await;
    let mut receipts = toy.subscribe("receipt.toy.*.*.*").await;
    // Three parts of at most 10 characters.
    toy.publish(&outbound("north"), "\"one two three four five\"")
        .await;
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert!(!receipt.ok);
    assert_eq!(
        receipt.error.unwrap().message,
        "the message would be sent as 3 parts of at most 10 characters, more than the gateway's limit of 2 (--max-parts)"
    );
    assert!(toy.chat.posts().is_empty());
    assert_eq!(toy.counters.stats().outbound_too_many_parts, 1);
    let skipped = r#"bytebot_messages_skipped_total{daemon="gateway-toy",reason="too_many_parts"}"#;
    scrape_until(addr, skipped, 1.0).await.unwrap();

    // Two parts are within the limit.
    toy.publish(&outbound("north"), "\"one two three\"").await;
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert!(receipt.ok);
    assert_eq!(receipt.message_ids.len(), 2);
    toy.stop().await.unwrap();
}

/// NUL, ESC and the other C0 controls (and DEL) never reach the platform; line feeds
/// and tabs do, and CRLF becomes LF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_are_stripped() {
    let toy = Toy::start().await;
    let mut receipts = toy.subscribe("receipt.toy.*.*.*").await;
    let message = OutboundMessage::new("\u{1b}[1ma\r\nb\tc\0\u{7f}");
    toy.publish(&outbound("north"), message.encode()).await;
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert!(receipt.ok, "{receipt:?}");
    assert_eq!(toy.chat.texts_in("north"), ["[1ma\nb\tc"]);
    toy.stop().await.unwrap();
}

/// Content made only of control characters is blank once they are stripped: refused
/// with a failed receipt and counted, never sent as an empty message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_blank_after_stripping_is_refused() {
    let addr = free_local_addr();
    let toy = Toy::start_with(|config| config.http_addr = Some(addr)).await;
    let mut receipts = toy.subscribe("receipt.toy.*.*.*").await;
    toy.publish(
        &outbound("north"),
        OutboundMessage::new("\0\u{7}\u{1b} \u{7f}").encode(),
    )
    .await;
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert!(!receipt.ok);
    assert!(
        receipt
            .error
            .unwrap()
            .message
            .contains("blank once control characters are removed")
    );
    assert!(toy.chat.posts().is_empty());
    assert_eq!(toy.counters.stats().outbound_blank, 1);
    let skipped = r#"bytebot_messages_skipped_total{daemon="gateway-toy",reason="blank_content"}"#;
    let body = scrape_until(addr, skipped, 1.0).await.unwrap();
    assert_eq!(metric_value(&body, skipped), Some(1.0));
    assert_eq!(http_get(addr, "/readyz").await.unwrap().status, 200);
    toy.stop().await.unwrap();
}

/// Embeds, components and files go with the last part of a split message, under the
/// end of the text; the first part still quotes the question.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extras_go_with_the_last_part() {
    let toy = Toy::start().await;
    let mut receipts = toy.subscribe("receipt.toy.*.*.*").await;
    let payload = serde_json::json!({
        "content": "one two three four five",
        "reply_to": "7",
        "embeds": [{"title": "x"}],
        "components": [{"type": 1, "components": []}],
        "files": [{"filename": "a.txt", "base64": "aGk="}],
    });
    toy.publish(&outbound("north"), payload.to_string()).await;
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert!(receipt.ok, "{receipt:?}");
    let posts = toy.chat.posts();
    let shape: Vec<(&str, Option<u64>, Vec<&str>)> = posts
        .iter()
        .map(|post| (post.content.as_str(), post.reply_to, post.extras.clone()))
        .collect();
    assert_eq!(
        shape,
        [
            ("one two", Some(7), vec![]),
            ("three four", None, vec![]),
            ("five", None, vec!["embeds", "components", "files"]),
        ]
    );
    toy.stop().await.unwrap();
}

/// A send with embeds or files needs no text: one post without text. An edit that only
/// changes the extras keeps the text. Components alone are not a message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extras_need_no_text() {
    let toy = Toy::start().await;
    let mut receipts = toy.subscribe("receipt.toy.*.*.*").await;
    toy.publish(&outbound("north"), r#"{"embeds":[{"title":"x"}]}"#)
        .await;
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert!(receipt.ok, "{receipt:?}");
    toy.publish(&outbound("north"), r#"{"content":"hello"}"#)
        .await;
    let (_, receipt) = next_receipt(&mut receipts).await;
    let hello = receipt.message_ids[0].clone();
    let edit = format!(r#"{{"action":"edit","message_id":"{hello}","components":[]}}"#);
    toy.publish(&outbound("north"), edit).await;
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert!(receipt.ok, "{receipt:?}");
    let posts = toy.chat.posts();
    assert_eq!(posts.len(), 2);
    assert_eq!(
        (posts[0].content.as_str(), posts[0].extras.clone()),
        ("", vec!["embeds"])
    );
    assert_eq!(
        (posts[1].content.as_str(), posts[1].extras.clone()),
        ("hello", vec!["components"])
    );

    toy.publish(
        &outbound("north"),
        r#"{"content":" \u0000","components":[{"type":1,"components":[]}]}"#,
    )
    .await;
    let (_, receipt) = next_receipt(&mut receipts).await;
    assert!(!receipt.ok);
    assert_eq!(toy.chat.posts().len(), 2);
    toy.stop().await.unwrap();
}
