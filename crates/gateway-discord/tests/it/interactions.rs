//! Interactions end to end: `INTERACTION_CREATE` from the fake Discord becomes an
//! `interaction` envelope, and the answers published on its `reply_topic` become the
//! callback and webhook calls Discord expects, with its 3-second and one-answer rules
//! kept by the gateway.

use std::time::Duration;

use bytebot_core::bus::Subscription;
use bytebot_core::envelope::{
    Choice, InboundKind, InboundMessage, InteractionType, Modal, ModalInput, OptionType,
    OutboundMessage, decode_inbound,
};
use bytebot_core::receipt::{DeliveryReceipt, decode_receipt};
use bytebot_test_support::wait_until;
use gateway_discord::InteractionSettings;
use serde_json::json;

use crate::fake_discord::{DiscordInteraction, InteractionCall, MEMBER_PERMISSIONS};
use crate::support::{ALICE, CHANNEL, GUILD, Gateway, PATIENCE, next};

/// A gateway with `settings`, and subscriptions to its inbound envelopes and receipts.
async fn start(
    configure: impl FnOnce(&mut InteractionSettings),
) -> (Gateway, Subscription, Subscription) {
    let gateway = Gateway::start_with(|config| configure(&mut config.interactions)).await;
    let inbound = gateway.subscribe("inbound.discord.*").await;
    let receipts = gateway.subscribe("receipt.discord.*").await;
    (gateway, inbound, receipts)
}

async fn next_interaction(inbound: &mut Subscription) -> InboundMessage {
    let delivery = next(inbound).await;
    let envelope = decode_inbound(&delivery.payload).expect("an inbound envelope");
    assert_eq!(envelope.kind, InboundKind::Interaction);
    envelope
}

async fn next_receipt(receipts: &mut Subscription) -> DeliveryReceipt {
    decode_receipt(&next(receipts).await.payload).expect("a receipt")
}

/// Publishes `answer` where the interaction says.
async fn answer(gateway: &Gateway, interaction: &InboundMessage, answer: &OutboundMessage) {
    let receivers = gateway
        .publish(&interaction.reply_topic.to_string(), answer.encode())
        .await;
    assert_eq!(receivers, 1, "the gateway listens on the reply topic");
}

/// Waits until the fake has `n` calls about `interaction_id`, and returns them.
async fn calls(gateway: &Gateway, interaction_id: u64, n: usize) -> Vec<InteractionCall> {
    assert!(
        wait_until(PATIENCE, || gateway.discord.calls_for(interaction_id).len()
            >= n)
        .await,
        "expected {n} calls, got {:#?}",
        gateway.discord.calls_for(interaction_id)
    );
    gateway.discord.calls_for(interaction_id)
}

fn ping() -> DiscordInteraction {
    DiscordInteraction::command(GUILD, CHANNEL, ALICE, "ping", json!([]))
}

/// A fast answer is the initial response itself (type 4), with no defer before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_answer_is_sent_directly_without_a_defer() {
    let (gateway, mut inbound, mut receipts) = start(|_| {}).await;
    let dispatched = gateway.discord.interact(&ping());
    let interaction = next_interaction(&mut inbound).await;
    assert_eq!(
        interaction.topic.to_string(),
        format!("inbound.discord.{GUILD}.{CHANNEL}.{ALICE}")
    );
    assert_eq!(interaction.author.id, ALICE.to_string());
    assert_eq!(interaction.message_id, dispatched.id.to_string());
    let details = interaction.interaction.clone().unwrap();
    assert_eq!(details.kind, InteractionType::Command);
    assert_eq!(details.name.as_deref(), Some("ping"));
    assert_eq!(details.id, dispatched.id.to_string());
    assert_eq!(details.locale.as_deref(), Some("en-US"));
    assert_eq!(details.permissions.as_deref(), Some(MEMBER_PERMISSIONS));

    answer(
        &gateway,
        &interaction,
        &OutboundMessage::respond(&interaction, "pong"),
    )
    .await;
    let receipt = next_receipt(&mut receipts).await;
    assert!(receipt.ok, "{receipt:?}");
    assert_eq!(receipt.in_reply_to, Some(interaction.id));
    assert_eq!(receipt.action.as_str(), "respond");
    let calls = calls(&gateway, dispatched.id, 1).await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].endpoint, "callback");
    assert_eq!(calls[0].callback_type(), Some(4));
    assert_eq!(calls[0].content(), Some("pong"));
    assert_eq!(calls[0].status, 204);
    assert!(calls[0].at >= dispatched.at);
    // Long after the defer deadline: still no defer, the answer was the response.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(gateway.discord.calls_for(dispatched.id).len(), 1);
    assert_eq!(gateway.counters.stats().interactions_deferred, 0);
}

/// Options keep their types, sub-commands nest, and the users, roles and attachments
/// they name arrive resolved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_options_are_typed_and_resolved() {
    let (gateway, mut inbound, _receipts) = start(|_| {}).await;
    let options = json!([{"name": "warn", "type": 1, "options": [
        {"name": "who", "type": 6, "value": "80351110224678912"},
        {"name": "role", "type": 8, "value": "1400000000000000001"},
        {"name": "days", "type": 4, "value": 3},
        {"name": "ratio", "type": 10, "value": 0.5},
        {"name": "public", "type": 5, "value": true},
        {"name": "log", "type": 11, "value": "1400000000000000002"},
    ]}]);
    let resolved = json!({
        "users": {"80351110224678912": {"id": "80351110224678912", "username": "nelly",
            "discriminator": "0", "global_name": null, "avatar": null, "bot": false}},
        "members": {"80351110224678912": {"nick": "Nelly", "roles": [], "joined_at": "2026-11-26T09:00:00.000000+00:00",
            "deaf": false, "mute": false, "flags": 0}},
        "roles": {"1400000000000000001": {"id": "1400000000000000001", "name": "mods", "color": 0,
            "colors": {"primary_color": 0}, "hoist": false, "managed": false, "mentionable": true,
            "permissions": "0", "position": 1}},
        "attachments": {"1400000000000000002": {"id": "1400000000000000002", "filename": "build.log",
            "proxy_url": "https://media.example/build.log", "size": 1234, "url": "https://cdn.example/build.log",
            "content_type": "text/plain"}},
    });
    gateway.discord.interact(
        &DiscordInteraction::command(GUILD, CHANNEL, ALICE, "admin", options)
            .with_resolved(resolved),
    );
    let interaction = next_interaction(&mut inbound).await;
    let details = interaction.interaction.unwrap();
    assert_eq!(details.name.as_deref(), Some("admin"));
    let warn = &details.options[0];
    assert_eq!(
        (warn.name.as_str(), warn.kind),
        ("warn", OptionType::SubCommand)
    );
    let values: Vec<(OptionType, serde_json::Value)> = warn
        .options
        .iter()
        .map(|option| (option.kind, option.value.clone().unwrap()))
        .collect();
    assert_eq!(
        values,
        [
            (OptionType::User, json!("80351110224678912")),
            (OptionType::Role, json!("1400000000000000001")),
            (OptionType::Integer, json!(3)),
            (OptionType::Number, json!(0.5)),
            (OptionType::Boolean, json!(true)),
            (OptionType::Attachment, json!("1400000000000000002")),
        ]
    );
    let user = &details.resolved.users["80351110224678912"];
    assert_eq!(
        (user.name.as_str(), user.display_name.as_deref()),
        ("nelly", Some("Nelly"))
    );
    assert_eq!(details.resolved.roles["1400000000000000001"].name, "mods");
    let file = &details.resolved.attachments["1400000000000000002"];
    assert_eq!(
        (file.filename.as_str(), file.size),
        ("build.log", Some(1234))
    );
}

/// A slow handler: the gateway defers within Discord's 3 s (the fake refuses a later
/// callback with 10062), and the late answer edits the placeholder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_answer_is_deferred_in_time_then_edits_the_placeholder() {
    let (gateway, mut inbound, mut receipts) = start(|_| {}).await;
    let dispatched = gateway.discord.interact(&ping());
    let interaction = next_interaction(&mut inbound).await;
    let deferred = calls(&gateway, dispatched.id, 1).await;
    assert_eq!(deferred[0].callback_type(), Some(5));
    assert_eq!(
        deferred[0].status, 204,
        "the defer came too late: {deferred:#?}"
    );
    assert!(
        wait_until(PATIENCE, || gateway.counters.stats().interactions_deferred
            == 1)
        .await
    );

    answer(
        &gateway,
        &interaction,
        &OutboundMessage::respond(&interaction, "pong, slowly"),
    )
    .await;
    let receipt = next_receipt(&mut receipts).await;
    assert!(receipt.ok, "{receipt:?}");
    assert_eq!(receipt.message_ids.len(), 1, "the edited message's id");
    let calls = calls(&gateway, dispatched.id, 2).await;
    assert_eq!(calls[1].endpoint, "edit_original");
    assert_eq!(calls[1].content(), Some("pong, slowly"));
    assert_eq!(calls.len(), 2);
}

/// A subscriber's own defer ("thinking...", here ephemeral) goes out at once, and the
/// gateway does not defer again; the answer then edits the placeholder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_defer_goes_out_at_once_and_the_answer_edits_it() {
    let (gateway, mut inbound, mut receipts) = start(|_| {}).await;
    let dispatched = gateway.discord.interact(&ping());
    let interaction = next_interaction(&mut inbound).await;
    answer(
        &gateway,
        &interaction,
        &OutboundMessage::defer(&interaction).ephemeral(),
    )
    .await;
    assert!(next_receipt(&mut receipts).await.ok);
    let deferred = calls(&gateway, dispatched.id, 1).await;
    assert_eq!(deferred[0].callback_type(), Some(5));
    assert_eq!(
        deferred[0].body["data"]["flags"], 64,
        "the subscriber's ephemeral defer"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    answer(
        &gateway,
        &interaction,
        &OutboundMessage::respond(&interaction, "done thinking"),
    )
    .await;
    assert!(next_receipt(&mut receipts).await.ok);
    let calls = calls(&gateway, dispatched.id, 2).await;
    assert_eq!(calls.len(), 2, "no second defer: {calls:#?}");
    assert_eq!(calls[1].endpoint, "edit_original");
    assert_eq!(calls[1].content(), Some("done thinking"));
    assert_eq!(gateway.counters.stats().interactions_deferred, 0);
}

/// An ephemeral answer carries Discord's ephemeral flag, and embeds and components
/// travel with an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ephemeral_answer_has_the_ephemeral_flag() {
    let (gateway, mut inbound, mut receipts) = start(|_| {}).await;
    let dispatched = gateway.discord.interact(&ping());
    let interaction = next_interaction(&mut inbound).await;
    let mut respond = OutboundMessage::respond(&interaction, "only you see this").ephemeral();
    let object = |value: serde_json::Value| match value {
        serde_json::Value::Object(object) => object,
        _ => unreachable!(),
    };
    respond.embeds = Some(vec![object(json!({"title": "Dice"}))]);
    let row = json!({"type": 1, "components": [{"type": 2, "style": 1, "label": "Again", "custom_id": "t:again"}]});
    respond.components = Some(vec![object(row.clone())]);
    answer(&gateway, &interaction, &respond).await;
    assert!(next_receipt(&mut receipts).await.ok);
    let calls = calls(&gateway, dispatched.id, 1).await;
    assert_eq!(calls[0].callback_type(), Some(4));
    assert_eq!(calls[0].body["data"]["flags"], 64);
    assert_eq!(calls[0].content(), Some("only you see this"));
    // The envelope's embeds and components go with the answer.
    assert_eq!(calls[0].body["data"]["embeds"], json!([{"title": "Dice"}]));
    assert_eq!(calls[0].body["data"]["components"], json!([row]));
}

/// A button click names its message and `custom_id`; `update` replaces that message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_click_updates_its_message() {
    let (gateway, mut inbound, mut receipts) = start(|_| {}).await;
    let message_id = 1_450_000_000_000_000_001;
    let dispatched = gateway.discord.interact(&DiscordInteraction::button(
        GUILD,
        CHANNEL,
        ALICE,
        message_id,
        "example:roll:again:2d6",
    ));
    let interaction = next_interaction(&mut inbound).await;
    assert_eq!(interaction.message_id, message_id.to_string());
    let details = interaction.interaction.clone().unwrap();
    assert_eq!(details.kind, InteractionType::Component);
    assert_eq!(details.custom_id.as_deref(), Some("example:roll:again:2d6"));
    assert_eq!(details.component_type.as_deref(), Some("button"));
    answer(
        &gateway,
        &interaction,
        &OutboundMessage::update(&interaction, "🎲 7"),
    )
    .await;
    assert!(next_receipt(&mut receipts).await.ok);
    let calls = calls(&gateway, dispatched.id, 1).await;
    assert_eq!(calls[0].callback_type(), Some(7));
    assert_eq!(calls[0].content(), Some("🎲 7"));
}

/// A modal opens as the first answer, and its submission comes back with its fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modal_opens_and_its_submission_arrives_with_its_fields() {
    let (gateway, mut inbound, mut receipts) = start(|_| {}).await;
    let dispatched = gateway.discord.interact(&DiscordInteraction::command(
        GUILD,
        CHANNEL,
        ALICE,
        "feedback",
        json!([]),
    ));
    let interaction = next_interaction(&mut inbound).await;
    let modal = Modal {
        custom_id: "example:feedback".into(),
        title: "Feedback".into(),
        fields: vec![ModalInput::short("text", "What do you think?")],
    };
    answer(
        &gateway,
        &interaction,
        &OutboundMessage::modal(&interaction, modal),
    )
    .await;
    assert!(next_receipt(&mut receipts).await.ok);
    let calls = calls(&gateway, dispatched.id, 1).await;
    assert_eq!(calls[0].callback_type(), Some(9));
    assert_eq!(calls[0].body["data"]["custom_id"], "example:feedback");
    assert_eq!(
        calls[0].body["data"]["components"][0]["components"][0]["custom_id"],
        "text"
    );

    let submitted = gateway.discord.interact(&DiscordInteraction::modal_submit(
        GUILD,
        CHANNEL,
        ALICE,
        "example:feedback",
        &[("text", "love it")],
    ));
    let submission = next_interaction(&mut inbound).await;
    let details = submission.interaction.clone().unwrap();
    assert_eq!(details.kind, InteractionType::ModalSubmit);
    assert_eq!(details.custom_id.as_deref(), Some("example:feedback"));
    assert_eq!(details.fields.len(), 1);
    assert_eq!(
        (
            details.fields[0].custom_id.as_str(),
            details.fields[0].value.as_str()
        ),
        ("text", "love it")
    );
    answer(
        &gateway,
        &submission,
        &OutboundMessage::respond(&submission, "thanks!"),
    )
    .await;
    assert!(next_receipt(&mut receipts).await.ok);
    assert_eq!(
        self::calls(&gateway, submitted.id, 1).await[0].callback_type(),
        Some(4)
    );
}

/// Typing an option with suggestions arrives with the focused option; the choices go
/// back as callback type 8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocomplete_gets_its_choices() {
    let (gateway, mut inbound, mut receipts) = start(|_| {}).await;
    let dispatched = gateway.discord.interact(&DiscordInteraction::autocomplete(
        GUILD, CHANNEL, ALICE, "roll", "dice", "2d",
    ));
    let interaction = next_interaction(&mut inbound).await;
    let details = interaction.interaction.clone().unwrap();
    assert_eq!(details.kind, InteractionType::Autocomplete);
    let focused = details.focused.unwrap();
    assert_eq!(
        (focused.name.as_str(), focused.value.as_str()),
        ("dice", "2d")
    );
    assert_eq!(focused.kind, OptionType::String);
    let choices = vec![Choice::text("2d6"), Choice::text("2d20")];
    answer(
        &gateway,
        &interaction,
        &OutboundMessage::autocomplete(&interaction, choices),
    )
    .await;
    assert!(next_receipt(&mut receipts).await.ok);
    let calls = calls(&gateway, dispatched.id, 1).await;
    assert_eq!(calls[0].callback_type(), Some(8));
    assert_eq!(
        calls[0].body["data"]["choices"],
        json!([{"name": "2d6", "value": "2d6"}, {"name": "2d20", "value": "2d20"}])
    );
}

/// Two subscribers answer the same command: one response reaches Discord, the other
/// answer gets a failed receipt saying so, and Discord never sees a second response
/// (no 40060).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_answers_make_one_response_and_one_failed_receipt() {
    let (gateway, mut inbound, mut receipts) = start(|_| {}).await;
    let dispatched = gateway.discord.interact(&ping());
    let interaction = next_interaction(&mut inbound).await;
    answer(
        &gateway,
        &interaction,
        &OutboundMessage::respond(&interaction, "pong from A"),
    )
    .await;
    answer(
        &gateway,
        &interaction,
        &OutboundMessage::respond(&interaction, "pong from B"),
    )
    .await;
    let first = next_receipt(&mut receipts).await;
    let second = next_receipt(&mut receipts).await;
    assert!(first.ok, "{first:?}");
    assert!(!second.ok, "{second:?}");
    let error = second.error.unwrap();
    assert!(error.message.contains("already answered"), "{error:?}");
    assert_eq!(error.code, None, "refused by the gateway, not by Discord");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let calls = gateway.discord.calls_for(dispatched.id);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].content(), Some("pong from A"));
    assert!(calls.iter().all(|call| call.code.is_none()));
    assert_eq!(gateway.counters.stats().interactions_already_answered, 1);
}

/// Nobody answers: after the defer, the placeholder becomes the notice at the deadline,
/// and it is counted; a late answer is then refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_answering_shows_the_notice() {
    let (gateway, mut inbound, mut receipts) = start(|settings| {
        settings.defer_after = Duration::from_millis(200);
        settings.notice_after = Duration::from_millis(1200);
        settings.notice = "Nobody home, try later.".into();
    })
    .await;
    let dispatched = gateway.discord.interact(&ping());
    let interaction = next_interaction(&mut inbound).await;
    let calls = calls(&gateway, dispatched.id, 2).await;
    assert_eq!(calls[0].callback_type(), Some(5));
    assert_eq!(calls[1].endpoint, "edit_original");
    assert_eq!(calls[1].content(), Some("Nobody home, try later."));
    assert_eq!(calls[1].status, 200);
    assert!(
        wait_until(PATIENCE, || gateway
            .counters
            .stats()
            .interactions_unanswered
            == 1)
        .await
    );
    answer(
        &gateway,
        &interaction,
        &OutboundMessage::respond(&interaction, "too late"),
    )
    .await;
    let late = next_receipt(&mut receipts).await;
    assert!(!late.ok);
    assert!(late.error.unwrap().message.contains("already answered"));
}

/// A modal can only be the first response: after the gateway's defer, a modal gets a
/// failed receipt that says why, and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modal_after_a_defer_gets_a_failed_receipt_saying_so() {
    let (gateway, mut inbound, mut receipts) = start(|settings| {
        settings.defer_after = Duration::from_millis(100);
    })
    .await;
    let dispatched = gateway.discord.interact(&ping());
    let interaction = next_interaction(&mut inbound).await;
    assert_eq!(
        calls(&gateway, dispatched.id, 1).await[0].callback_type(),
        Some(5)
    );
    let modal = Modal {
        custom_id: "example:late".into(),
        title: "Too late".into(),
        fields: vec![ModalInput::short("text", "Text")],
    };
    answer(
        &gateway,
        &interaction,
        &OutboundMessage::modal(&interaction, modal),
    )
    .await;
    let receipt = next_receipt(&mut receipts).await;
    assert!(!receipt.ok);
    let message = receipt.error.unwrap().message;
    assert!(
        message.contains("first answer") && message.contains("deferred"),
        "{message}"
    );
    assert_eq!(gateway.discord.calls_for(dispatched.id).len(), 1);
}

/// An answer to an interaction this gateway never received (another process', or
/// made up) is skipped quietly, counted as `not_mine`: only the receiver knows the
/// token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_to_an_unknown_interaction_is_left_to_its_owner() {
    let (gateway, mut inbound, mut receipts) = start(|_| {}).await;
    gateway.discord.interact(&ping());
    let mut interaction = next_interaction(&mut inbound).await;
    interaction.id = uuid::Uuid::now_v7();
    answer(
        &gateway,
        &interaction,
        &OutboundMessage::respond(&interaction, "pong"),
    )
    .await;
    assert!(
        wait_until(PATIENCE, || gateway.counters.stats().outbound_not_mine == 1).await,
        "{:?}",
        gateway.counters.stats()
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), receipts.recv())
            .await
            .is_err(),
        "no receipt from a process that does not own the interaction"
    );
}

/// The interaction token is a credential: through a whole session of interactions
/// (answered directly, deferred then edited, followed up, answered twice, left
/// unanswered) it appears in no log line of the binary at trace level and in no
/// message on Redis (everything watched with `PSUBSCRIBE *`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interaction_tokens_appear_in_no_log_line_and_no_redis_message() {
    use std::process::{Command, Stdio};
    use std::sync::{Arc, Mutex};

    let redis = bytebot_test_support::RedisServer::start().await;
    let discord = crate::fake_discord::FakeDiscord::start().await;
    let mut everything = crate::support::subscribe(&redis, "*").await;
    // Every (channel, payload) Redis delivered.
    type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let seen: Seen = Arc::default();
    let recorder = {
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Some(delivery) = everything.recv().await {
                seen.lock()
                    .unwrap()
                    .push((delivery.channel, delivery.payload.to_vec()));
            }
        })
    };
    let mut inbound = crate::support::subscribe(&redis, "inbound.discord.*").await;
    let mut receipts = crate::support::subscribe(&redis, "receipt.discord.*").await;
    let child = Command::new(env!("CARGO_BIN_EXE_gateway-discord"))
        .env("DISCORD_TOKEN", crate::support::TOKEN)
        .env("REDIS_URL", redis.url())
        .env("DISCORD_API_URL", discord.api_url())
        .env("RUST_LOG", "trace")
        .args(["--log-format", "json", "--interaction-defer-after", "0.2"])
        .args(["--interaction-notice-after", "1.5"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the gateway");
    let pid = child.id();
    let waiter = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap());
    assert!(
        wait_until(PATIENCE, || discord.connected()).await,
        "never logged in"
    );
    assert!(
        redis.wait_for_pattern_subscribers(4).await,
        "the gateway never subscribed"
    );
    let mut connection = redis.connection().await;
    let mut publish = async |topic: &str, message: &OutboundMessage| {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(topic)
            .arg(message.encode())
            .query_async(&mut connection)
            .await
            .unwrap();
    };
    let mut tokens = Vec::new();
    let mut next_envelope = async || {
        let delivery = tokio::time::timeout(PATIENCE, inbound.recv())
            .await
            .unwrap()
            .unwrap();
        decode_inbound(&delivery.payload).unwrap()
    };

    // Deferred by the gateway, then answered, followed up, edited and deleted.
    let slow = discord.interact(&ping());
    tokens.push(slow.token.clone());
    let envelope = next_envelope().await;
    assert!(wait_until(PATIENCE, || !discord.calls_for(slow.id).is_empty()).await);
    let topic = envelope.reply_topic.to_string();
    for answer in [
        OutboundMessage::respond(&envelope, "late pong"),
        OutboundMessage::followup(&envelope, "one more").ephemeral(),
        OutboundMessage::edit_response(&envelope, "late pong (edited)"),
        OutboundMessage::delete_response(&envelope),
    ] {
        publish(&topic, &answer).await;
    }
    // Answered directly, twice.
    let fast = discord.interact(&ping());
    tokens.push(fast.token.clone());
    let envelope = next_envelope().await;
    for content in ["pong", "pong again"] {
        publish(&topic, &OutboundMessage::respond(&envelope, content)).await;
    }
    // Never answered: the notice.
    let ignored = discord.interact(&ping());
    tokens.push(ignored.token.clone());
    next_envelope().await;
    for _ in 0..6 {
        tokio::time::timeout(PATIENCE, receipts.recv())
            .await
            .unwrap()
            .unwrap();
    }
    assert!(wait_until(PATIENCE, || discord.calls_for(ignored.id).len() >= 2).await);
    assert_eq!(
        discord.calls_for(slow.id).len(),
        5,
        "{:#?}",
        discord.calls_for(slow.id)
    );

    assert!(
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = tokio::time::timeout(PATIENCE, waiter)
        .await
        .unwrap()
        .unwrap();
    recorder.abort();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}:\n{stderr}", out.status);
    assert!(
        stderr.lines().count() > 50,
        "trace logging was not on:\n{stderr}"
    );
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .filter(|(topic, _)| topic.starts_with("inbound."))
            .count()
            >= 3
            && seen
                .iter()
                .filter(|(topic, _)| topic.starts_with("receipt."))
                .count()
                >= 6,
        "PSUBSCRIBE * saw too little: {:?}",
        seen.iter().map(|(topic, _)| topic).collect::<Vec<_>>()
    );
    for token in &tokens {
        // The token, and a distinctive part of it in case something logs it altered.
        let part = token.split(':').nth(1).unwrap();
        for secret in [token.as_str(), part] {
            let leaks: Vec<String> = stderr
                .lines()
                .filter(|line| line.contains(secret))
                .map(|line| line.replace(secret, "<TOKEN>"))
                .collect();
            assert!(
                leaks.is_empty(),
                "an interaction token leaked into the logs:\n{}",
                leaks.join("\n")
            );
            assert!(
                !stdout.contains(secret),
                "an interaction token leaked onto stdout"
            );
            for (topic, payload) in seen.iter() {
                assert!(
                    !String::from_utf8_lossy(payload).contains(secret) && !topic.contains(secret),
                    "an interaction token leaked onto Redis ({topic})"
                );
            }
        }
    }
}
