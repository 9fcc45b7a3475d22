//! The intents the gateway asks for in IDENTIFY: Message Content by default, none
//! privileged with `--message-content=false` (for bots that only use interactions),
//! Server Members with `--member-events` (member joins as `member_joined`).

use bytebot_core::envelope::{InboundKind, SPACE_ROOM};

use crate::fake_discord::members::GUILD_MEMBERS_INTENT;
use crate::support::{ALICE, GUILD, Gateway, next_json};

/// Discord's intent bits (gateway docs).
/// GUILDS: thread creations and lists, so a message in a thread names its channel.
const GUILDS: u64 = 1;
const GUILD_MESSAGES: u64 = 1 << 9;
const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
const DIRECT_MESSAGES: u64 = 1 << 12;
const DIRECT_MESSAGE_REACTIONS: u64 = 1 << 13;
const MESSAGE_CONTENT: u64 = 1 << 15;
/// Every privileged intent: GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT.
const PRIVILEGED: u64 = GUILD_MEMBERS_INTENT | (1 << 8) | MESSAGE_CONTENT;
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

/// With `member_events` the gateway asks for the Server Members intent and publishes a
/// join as `member_joined` on the guild's `%40space` room, by the new member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_joins_are_published_with_member_events() {
    let gateway = Gateway::start_with(|config| config.member_events = true).await;
    assert_eq!(
        identified_intents(&gateway).await,
        BASE | MESSAGE_CONTENT | GUILD_MEMBERS_INTENT
    );
    let mut inbound = gateway.subscribe("inbound.discord.*.*.*").await;
    assert!(gateway.discord.member_joins(GUILD, ALICE, Some("Ali")));
    let (channel, envelope) = next_json(&mut inbound).await;
    assert_eq!(channel, format!("inbound.discord.{GUILD}.%40space.{ALICE}"));
    assert_eq!(envelope["kind"], "member_joined");
    assert_eq!(envelope["room"], SPACE_ROOM);
    assert_eq!(envelope["author"]["id"], ALICE.to_string());
    assert_eq!(envelope["author"]["display_name"], "Ali");
    assert_eq!(envelope["content"], "");
    assert_eq!(envelope["timestamp"], "2026-11-26T09:00:00Z");
    let decoded = bytebot_core::envelope::decode_inbound(envelope.to_string().as_bytes()).unwrap();
    assert_eq!(decoded.kind, InboundKind::MemberJoined);
    gateway.stop().await.unwrap();
}

/// Without `member_events` the Server Members intent is not asked for, so Discord (and
/// the fake) send no joins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_events_are_off_by_default() {
    let gateway = Gateway::start().await;
    assert_eq!(identified_intents(&gateway).await & GUILD_MEMBERS_INTENT, 0);
    assert!(!gateway.discord.member_joins(GUILD, ALICE, None));
    gateway.stop().await.unwrap();
}
