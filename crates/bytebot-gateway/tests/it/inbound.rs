//! Platform -> Redis through the `Inbound` handle: topics, the loop guard, counting.

use bytebot_core::envelope::decode_inbound;
use bytebot_gateway::Published;

use crate::support::{Toy, next};
use crate::toy::BOT_USER;

/// What people say is published on `inbound.<platform>.<space>.<room>.<user>`; the
/// bot's own messages never are (they would loop), other bots' only on request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_are_published_and_the_bot_itself_never() {
    let toy = Toy::start().await;
    let mut inbound = toy.subscribe("inbound.toy.*.*.*").await;
    assert_eq!(
        toy.adapter.hear("north", BOT_USER, true, "my own"),
        Published::OwnEvent
    );
    assert_eq!(
        toy.adapter.hear("north", "robot", true, "beep"),
        Published::OtherBot
    );
    assert_eq!(
        toy.adapter.hear("north", "alice", false, "!ping"),
        Published::Published
    );

    let delivery = next(&mut inbound).await;
    assert_eq!(delivery.channel, "inbound.toy.world.north.alice");
    let message = decode_inbound(&delivery.payload).unwrap();
    assert_eq!(message.content, "!ping");
    assert_eq!(
        message.reply_topic.to_string(),
        "outbound.toy.world.north.alice"
    );
    let stats = toy.counters.stats();
    assert_eq!((stats.inbound_published, stats.inbound_ignored), (1, 2));
    toy.stop().await.unwrap();
}

/// With `include_bots`, other bots are heard too; the bot itself still is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_bots_publishes_other_bots_only() {
    let toy = Toy::start_with(|config| config.include_bots = true).await;
    assert_eq!(
        toy.adapter.hear("north", "robot", true, "beep"),
        Published::Published
    );
    assert_eq!(
        toy.adapter.hear("north", BOT_USER, true, "mine"),
        Published::OwnEvent
    );
    toy.stop().await.unwrap();
}
