//! `send` refuses payloads no subscriber would accept, before publishing them.

use std::time::Duration;

use bytebot_core::Space;
use bytebot_core::bus::{BusConfig, RedisUrl, SubscribeOptions, Subscription};
use bytebot_core::envelope::MAX_PAYLOAD_BYTES;
use bytebot_core::pattern::Pattern;
use bytebot_test_support::{PATIENCE, RedisServer};
use router_tools::console::Identity;
use router_tools::send::{self, Message, SendConfig};

/// Published, an oversize payload reaches subscribers that all skip it, and `send
/// --wait` then reports "no reply"; refused, it says why and publishes nothing.
#[tokio::test]
async fn send_refuses_an_envelope_or_raw_payload_over_the_limit_before_publishing() {
    let redis = RedisServer::start().await;
    let url = RedisUrl::parse(&redis.url()).unwrap();
    let mut everything = Subscription::start(
        BusConfig::new(url.clone(), "test"),
        vec![Pattern::parse_raw("*")],
        SubscribeOptions::default(),
    );
    everything.wait_connected(PATIENCE).await.unwrap();
    let identity = Identity {
        platform: "console".into(),
        space: Space::id("local"),
        room: "terminal".into(),
        user: "tester".into(),
        name: None,
        bot: false,
    };
    let messages = [
        (
            Message::Raw {
                channel: "inbound.console.local.terminal.tester".into(),
                payload: vec![b'x'; MAX_PAYLOAD_BYTES + 1],
            },
            None,
        ),
        // The content fits; the envelope around it does not.
        (
            Message::Inbound {
                identity,
                content: "x".repeat(MAX_PAYLOAD_BYTES - 10),
            },
            Some(Duration::from_secs(1)),
        ),
    ];
    for (message, wait) in messages {
        let error = send::run(SendConfig {
            redis_url: url.clone(),
            message,
            wait,
            settle: Duration::from_millis(300),
        })
        .await
        .expect_err("refused");
        let error = format!("{error:#}");
        assert!(
            error.contains("over the 1048576-byte (1 MiB) limit")
                && error.contains("nothing was published"),
            "{error}"
        );
    }
    let mut connection = redis.connection().await;
    let _: i64 = redis::cmd("PUBLISH")
        .arg("marker")
        .arg("after")
        .query_async(&mut connection)
        .await
        .unwrap();
    let first = tokio::time::timeout(PATIENCE, everything.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.channel, "marker", "something was published before it");
}
