//! Events about messages (edits, deletions, reactions): the bot answers new messages
//! only, unless it answered the message concerned.

use bytebot_core::envelope::{InboundKind, Reaction};
use bytebot_test_support::{RedisServer, scrape_until};

use crate::support::{Outbound, Running, event, message, publish_inbound};

/// Once gateways publish edits, an edited `!ping` must not be answered as a second
/// `!ping`; kinds the bot does not handle are skipped and show in /metrics.
#[tokio::test]
async fn events_about_unanswered_messages_get_no_reply_and_are_counted() {
    let redis = RedisServer::start().await;
    let mut outbound = Outbound::listen(&redis).await;
    let bot = Running::start(&redis).await;
    let mut reaction = event(InboundKind::ReactionAdded, "m0", "");
    reaction.reaction = Some(Reaction::unicode("👍"));
    for event in [event(InboundKind::MessageEdited, "m0", "!ping"), reaction] {
        publish_inbound(&redis, &event).await;
    }
    let ping = message("m1", "!ping");
    publish_inbound(&redis, &ping).await;

    let (_, reply) = outbound.next().await;
    assert_eq!(
        reply.in_reply_to,
        Some(ping.id),
        "the new !ping, not the edit"
    );
    assert_eq!(reply.content, "pong");
    let series = r#"bytebot_messages_skipped_total{daemon="example-subscriber",reason="kind"}"#;
    scrape_until(bot.addr, series, 2.0).await.unwrap();
    let stats = bot.stop().await;
    assert_eq!((stats.skipped_kind, stats.replies), (2, 1));
}
