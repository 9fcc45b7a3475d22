//! The intents the gateway asks for in IDENTIFY: Message Content by default, none
//! privileged with `--message-content=false` (for bots that only use interactions).

use crate::support::Gateway;

/// Discord's intent bits (gateway docs).
/// GUILDS: thread creations and lists, so a message in a thread names its channel.
const GUILDS: u64 = 1;
const GUILD_MESSAGES: u64 = 1 << 9;
const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
const DIRECT_MESSAGES: u64 = 1 << 12;
const DIRECT_MESSAGE_REACTIONS: u64 = 1 << 13;
const MESSAGE_CONTENT: u64 = 1 << 15;
/// Every privileged intent: GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT.
const PRIVILEGED: u64 = (1 << 1) | (1 << 8) | MESSAGE_CONTENT;
const BASE: u64 =
    GUILDS | GUILD_MESSAGES | GUILD_MESSAGE_REACTIONS | DIRECT_MESSAGES | DIRECT_MESSAGE_REACTIONS;

async fn identified_intents(gateway: &Gateway) -> u64 {
    let identifies = gateway.discord.identifies();
    assert!(!identifies.is_empty());
    identifies[0].intents
}

/// By default the gateway asks for Message Content (and nothing else privileged).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_content_is_asked_for_by_default() {
    let gateway = Gateway::start().await;
    let intents = identified_intents(&gateway).await;
    assert_eq!(intents, BASE | MESSAGE_CONTENT, "{intents:#b}");
    gateway.stop().await.unwrap();
}

/// With `message_content: false` no privileged intent is asked for: such a bot needs
/// no approval from Discord.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_message_content_no_privileged_intent_is_asked_for() {
    let gateway = Gateway::start_with(|config| config.message_content = false).await;
    let intents = identified_intents(&gateway).await;
    assert_eq!(intents & PRIVILEGED, 0, "{intents:#b}");
    assert_eq!(intents, BASE, "{intents:#b}");
    gateway.stop().await.unwrap();
}
