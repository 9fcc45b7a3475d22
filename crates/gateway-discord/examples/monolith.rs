//! The monolith: the `!ping` bot written as one plain serenity program, the subject
//! Bytebot is measured against (`tests/it/monolith_bench.rs`, `scripts/bench-monolith`,
//! docs/performance.md). Bench-only code, not a product: no flags, no health endpoint.
//!
//! It does for `!ping` what gateway-discord + example-subscriber do together: replies
//! `pong` to the message (safe mentions: nobody pinged, not even the author), then,
//! once Discord answered, edits the reply to `pong (N ms)`, N the time the send took.
//! Same serenity, same features (no cache, no framework), tokio's default
//! multi-threaded runtime, and the same REST override as the gateway's
//! `--discord-api-url`: serenity's rate limiter off, every call to that base URL.
//!
//! ```text
//! DISCORD_TOKEN=... DISCORD_API_URL=http://127.0.0.1:PORT target/release/examples/monolith
//! ```

use std::time::Instant;

use serenity::all::{
    ClientBuilder, Context, CreateAllowedMentions, CreateMessage, EditMessage, EventHandler,
    GatewayIntents, HttpBuilder, Message, MessageReference, MessageReferenceKind,
};

struct Handler;

/// Nobody is pinged by the bot's answers (the gateway's `mentions: none`).
fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new().replied_user(false)
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn message(&self, context: Context, message: Message) {
        if message.author.bot || message.content != "!ping" {
            return;
        }
        let reply = CreateMessage::new()
            .content("pong")
            .allowed_mentions(no_mentions())
            .reference_message(
                MessageReference::new(MessageReferenceKind::Default, message.channel_id)
                    .message_id(message.id)
                    .fail_if_not_exists(false),
            );
        let started = Instant::now();
        let mut sent = match message.channel_id.send_message(&context.http, reply).await {
            Ok(sent) => sent,
            Err(err) => {
                eprintln!("monolith: sending pong: {err}");
                return;
            }
        };
        let edit = EditMessage::new()
            .content(format!("pong ({} ms)", started.elapsed().as_millis()))
            .allowed_mentions(no_mentions());
        if let Err(err) = sent.edit(&context.http, edit).await {
            eprintln!("monolith: editing pong: {err}");
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let token = std::env::var("DISCORD_TOKEN")?;
    let api_url = std::env::var("DISCORD_API_URL")?;
    let http = HttpBuilder::new(&token)
        .proxy(api_url.trim_end_matches('/'))
        .ratelimiter_disabled(true)
        .build();
    // The gateway's intents with `--message-content` (its default).
    let intents = GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::DIRECT_MESSAGES
        | GatewayIntents::GUILD_MESSAGE_REACTIONS
        | GatewayIntents::DIRECT_MESSAGE_REACTIONS
        | GatewayIntents::MESSAGE_CONTENT;
    let mut client = ClientBuilder::new_with_http(http, intents)
        .event_handler(Handler)
        .await?;
    client.start().await?;
    Ok(())
}
