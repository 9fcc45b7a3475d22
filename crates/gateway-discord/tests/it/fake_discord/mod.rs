//! `FakeDiscord`: a Discord REST API and gateway on 127.0.0.1 that serenity can be
//! pointed at, so the gateway is tested end to end without the internet.
//!
//! Interactions (`INTERACTION_CREATE`, the callback and webhook endpoints with
//! Discord's 3-second and one-initial-response rules) are in `interactions.rs`.
//!
//! Two listeners: an HTTP/1.1 server for the REST API (answering `GET /gateway`,
//! `GET /users/@me`, `POST /channels/{id}/messages`, editing and deleting the bot's
//! messages, its reactions (`PUT`/`DELETE .../reactions/{emoji}/@me`) and
//! `POST /channels/{id}/typing`, recording every request) and a
//! WebSocket server for the gateway (HELLO, IDENTIFY -> READY, RESUME -> replay +
//! RESUMED, heartbeat ACKs). A test injects `MESSAGE_CREATE`, `MESSAGE_UPDATE`,
//! `MESSAGE_DELETE` and `MESSAGE_REACTION_ADD/REMOVE` dispatches and faults:
//! close codes, dropped TCP connections, op 7, op 9, Discord error responses, and one
//! shard kept down (its connection dropped, RESUME refused, IDENTIFY unanswered).
//!
//! Shards: `GET /gateway/bot` answers [`FakeDiscord::set_shards`]' count and
//! `max_concurrency`; each IDENTIFY's `shard` field opens that shard's own session, and
//! a dispatch goes to the shard Discord would use (a guild's by `(guild_id >> 22) %
//! count`, everything else to shard 0). Every IDENTIFY is recorded with its time and
//! shard, to check the 5-second bucket rule across processes. Like Discord, a POST with
//! `enforce_nonce` and a nonce already seen returns the first message instead of
//! posting another.
//!
//! Like Discord, the fake keeps each session's dispatches in a log: an event injected
//! while no connection is up waits, and a RESUME replays everything after the client's
//! last sequence number, so "no message lost across a reconnect" is testable.
//!
//! Application commands (`GET`/`PUT` of global and guild commands, every write
//! recorded) live in `commands.rs`; member joins (`GUILD_MEMBER_ADD`, only with the
//! Server Members intent) in `members.rs`.
//!
//! The REST side is a deliberately small hand-written HTTP/1.1 server (keep-alive,
//! `Content-Length` bodies only): serenity sends nothing else, and it avoids a second
//! HTTP stack in the dependency tree.
//!
//! Facts serenity 0.12.5 depends on (from a spike; keep them when editing): every
//! dispatch needs `s`; a dispatch with a missing required field is silently dropped, so
//! payloads here are complete; READY needs `v`, `user{id,username}`, `guilds`,
//! `session_id`, `resume_gateway_url` and `application{id,flags}`; serenity connects to
//! the `url` from `GET /gateway` with `?v=10` appended, so that URL has no query; and
//! IDENTIFY's `presence.since` is not an integer, so nothing here parses it strictly.

mod commands;
pub mod load;
pub mod members;
mod multipart;
mod threads;

pub use multipart::UploadedFile;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

mod interactions;

pub use interactions::{DiscordInteraction, InteractionCall, MEMBER_PERMISSIONS};

/// The bot user the fake logs in as (`GET /users/@me`, READY, authors of sent messages).
pub const FAKE_BOT_USER_ID: u64 = 900_000_000_000_000_001;
/// The bot's username.
pub const FAKE_BOT_USERNAME: &str = "bytebot-test";
const APPLICATION_ID: u64 = 900_000_000_000_000_002;
const TIMESTAMP: &str = "2026-11-26T09:00:00.000000+00:00";
const EDITED_TIMESTAMP: &str = "2026-11-26T09:05:00.000000+00:00";

/// One REST request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RestRequest {
    /// `GET`, `POST`...
    pub method: String,
    /// The path without the query, e.g. `/api/v10/channels/42/messages`.
    pub path: String,
    /// The query string without `?` (empty when none).
    pub query: String,
    /// The `Authorization` header (`Bot <token>`).
    pub authorization: Option<String>,
    /// The body parsed as JSON (`Null` when empty or not JSON); of a multipart body,
    /// its `payload_json`.
    pub body: Value,
    /// The files of a multipart body.
    pub files: Vec<UploadedFile>,
}

/// A message the bot posted (a successful `POST /channels/{id}/messages`).
#[derive(Debug, Clone, PartialEq)]
pub struct PostedMessage {
    /// The channel from the path.
    pub channel_id: u64,
    /// The id the fake gave the message.
    pub id: u64,
    /// The request body serenity sent (a multipart body's `payload_json`).
    pub body: Value,
    /// The files uploaded with it.
    pub files: Vec<UploadedFile>,
    /// When the request arrived (for the gateway's latency bench).
    pub received_at: std::time::Instant,
}

impl PostedMessage {
    /// The body's `content`.
    pub fn content(&self) -> &str {
        self.body["content"].as_str().unwrap_or_default()
    }
}

/// A chat message to inject as a `MESSAGE_CREATE` dispatch.
#[derive(Debug, Clone)]
pub struct DiscordMessage {
    /// Message id; 0 lets the fake pick the next snowflake.
    pub id: u64,
    /// The channel.
    pub channel_id: u64,
    /// The guild; `None` for a direct message.
    pub guild_id: Option<u64>,
    /// The author's user id.
    pub author_id: u64,
    /// The author's username.
    pub author_name: String,
    /// Whether the author is a bot.
    pub author_bot: bool,
    /// The text.
    pub content: String,
    /// The message this one replies to.
    pub reply_to: Option<u64>,
}

impl DiscordMessage {
    /// A message in a guild channel from a human.
    pub fn guild(guild_id: u64, channel_id: u64, author_id: u64, content: &str) -> DiscordMessage {
        DiscordMessage {
            id: 0,
            channel_id,
            guild_id: Some(guild_id),
            author_id,
            author_name: format!("user{author_id}"),
            author_bot: false,
            content: content.to_owned(),
            reply_to: None,
        }
    }

    /// A direct message (no guild) from a human.
    pub fn direct(channel_id: u64, author_id: u64, content: &str) -> DiscordMessage {
        DiscordMessage {
            guild_id: None,
            ..DiscordMessage::guild(0, channel_id, author_id, content)
        }
    }

    /// The same message, written by a bot.
    pub fn by_bot(mut self) -> DiscordMessage {
        self.author_bot = true;
        self
    }

    /// The complete `MESSAGE_CREATE` payload (every field serenity requires).
    pub fn to_json(&self) -> Value {
        let mut value = message_json(
            self.id,
            self.channel_id,
            json!({"id": self.author_id.to_string(), "username": self.author_name,
                   "discriminator": "0", "global_name": null, "avatar": null, "bot": self.author_bot}),
            &self.content,
        );
        if let Some(guild_id) = self.guild_id {
            value["guild_id"] = json!(guild_id.to_string());
            value["member"] =
                json!({"roles": [], "joined_at": TIMESTAMP, "deaf": false, "mute": false});
        }
        if let Some(reply_to) = self.reply_to {
            value["type"] = json!(19);
            value["message_reference"] = json!({"type": 0, "message_id": reply_to.to_string(),
                                                "channel_id": self.channel_id.to_string()});
        }
        value
    }
}

/// A reaction to inject with [`FakeDiscord::react`].
#[derive(Debug, Clone)]
pub struct DiscordReaction {
    pub guild_id: Option<u64>,
    pub channel_id: u64,
    pub message_id: u64,
    pub user_id: u64,
    pub user_name: String,
    pub user_bot: bool,
    /// A Unicode emoji, or a custom one as `name:id`.
    pub emoji: String,
}

impl DiscordReaction {
    /// A human's reaction in a guild channel.
    pub fn guild(
        guild_id: u64,
        channel_id: u64,
        message_id: u64,
        user_id: u64,
        emoji: &str,
    ) -> DiscordReaction {
        DiscordReaction {
            guild_id: Some(guild_id),
            channel_id,
            message_id,
            user_id,
            user_name: format!("user{user_id}"),
            user_bot: false,
            emoji: emoji.to_owned(),
        }
    }
}

fn message_json(id: u64, channel_id: u64, author: Value, content: &str) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel_id.to_string(),
        "author": author,
        "content": content,
        "timestamp": TIMESTAMP,
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": 0,
    })
}

/// A Discord error response the fake gives for one channel's POSTs.
#[derive(Debug, Clone)]
struct Failure {
    status: u16,
    code: i64,
    message: String,
}

/// What a test asks the live gateway connection to do.
#[derive(Debug, Clone)]
enum Fault {
    Close(u16),
    DropTcp,
    Send(Value),
}

#[derive(Debug, Default)]
struct Session {
    id: String,
    /// Every dispatch of the session, in sequence order (`s` = index + 1).
    log: Vec<(String, Value)>,
    /// How many of `log` some connection has sent.
    delivered: usize,
}

/// One IDENTIFY as the fake received it.
#[derive(Debug, Clone, Copy)]
pub struct Identify {
    /// The shard it identified (`shard[0]`).
    pub shard: u32,
    /// The shard count it gave (`shard[1]`).
    pub shard_count: u32,
    /// The gateway intents it asked for (a bit set).
    pub intents: u64,
    /// When it arrived.
    pub at: std::time::Instant,
}

#[derive(Debug, Default)]
struct State {
    requests: Mutex<Vec<RestRequest>>,
    posted: Mutex<Vec<PostedMessage>>,
    /// Ids of the messages the bot deleted.
    deleted: Mutex<Vec<u64>>,
    /// The bot's own reactions: (message id, emoji as Discord's URL names it, decoded).
    reactions: Mutex<Vec<(u64, String)>>,
    /// Channels the bot showed typing in, once per request.
    typing: Mutex<Vec<u64>>,
    failures: Mutex<HashMap<u64, Failure>>,
    /// How long each `POST .../messages` takes to answer (a slow Discord).
    post_delay: Mutex<Duration>,
    /// Close with this code instead of answering IDENTIFY (e.g. 4014).
    close_on_identify: Mutex<Option<u16>>,
    /// While true, IDENTIFY gets no answer yet (a client that is not READY).
    hold_identify: AtomicBool,
    /// Rung when `hold_identify` is released, or a shard of `held_shards`.
    identify_released: Notify,
    /// Shards whose IDENTIFY and RESUME get no answer (a shard that cannot connect).
    held_shards: Mutex<HashSet<u32>>,
    /// Each shard's session.
    sessions: Mutex<HashMap<u32, Session>>,
    /// Rung when a session log grows.
    log_grew: Notify,
    /// Each shard's live connection (its number and fault channel); older connections
    /// that linger after a reconnect stop delivering.
    live: Mutex<HashMap<u32, (u64, mpsc::UnboundedSender<Fault>)>>,
    /// `GET /gateway/bot`'s `shards` (0 is read as 1) and `max_concurrency` (0: 1).
    shard_count: AtomicU32,
    max_concurrency: AtomicU32,
    /// Every IDENTIFY, in arrival order.
    identify_log: Mutex<Vec<Identify>>,
    /// Nonces of posted messages (with `enforce_nonce`) and the message each created.
    nonces: Mutex<HashMap<String, Value>>,
    /// POSTs answered with an earlier message because their nonce was seen.
    duplicate_nonces: AtomicU64,
    identifies: AtomicU64,
    resumes: AtomicU64,
    heartbeats: AtomicU64,
    connections: AtomicU64,
    sessions_started: AtomicU64,
    next_id: AtomicU64,
    ws_url: Mutex<String>,
    /// Application commands (`commands.rs`).
    commands: commands::Store,
    /// Interactions dispatched and the calls that answered them (`interactions.rs`).
    interactions: interactions::Interactions,
    /// The load benches' bookkeeping (`load.rs`): while on, requests and posts are
    /// counted there instead of being kept.
    load: load::Tap,
}

impl State {
    fn snowflake(&self) -> u64 {
        1_000_000_000_000_000_000 + self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn shard_count(&self) -> u32 {
        self.shard_count.load(Ordering::Relaxed).max(1)
    }

    /// The shard Discord delivers a dispatch on: its guild's, else 0 (DMs).
    fn shard_of(&self, data: &Value) -> u32 {
        data["guild_id"]
            .as_str()
            .and_then(|guild| guild.parse::<u64>().ok())
            .map_or(0, |guild| {
                u32::try_from((guild >> 22) % u64::from(self.shard_count())).unwrap_or(0)
            })
    }
}

/// A fake Discord (REST + gateway) on 127.0.0.1; stops when dropped.
#[derive(Debug)]
pub struct FakeDiscord {
    state: Arc<State>,
    http_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl FakeDiscord {
    /// Starts both listeners on free ports.
    pub async fn start() -> FakeDiscord {
        let http_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
        let ws_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind ws");
        let http_addr = http_listener.local_addr().expect("http addr");
        let ws_addr = ws_listener.local_addr().expect("ws addr");
        let state = Arc::new(State::default());
        *state.ws_url.lock().unwrap() = format!("ws://{ws_addr}");
        let tasks = vec![
            tokio::spawn(serve_http(http_listener, Arc::clone(&state))),
            tokio::spawn(serve_gateway(ws_listener, Arc::clone(&state))),
        ];
        FakeDiscord {
            state,
            http_addr,
            tasks,
        }
    }

    /// The REST base URL to give the gateway (`--discord-api-url`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Every REST request so far, in arrival order.
    pub fn requests(&self) -> Vec<RestRequest> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Whether serenity asked for the gateway URL (if not, it went to the real Discord).
    pub fn gateway_url_requested(&self) -> bool {
        self.requests()
            .iter()
            .any(|request| request.method == "GET" && request.path == "/api/v10/gateway")
    }

    /// The messages the bot posted successfully, in order.
    pub fn posted(&self) -> Vec<PostedMessage> {
        self.state.posted.lock().unwrap().clone()
    }

    /// The posted messages in one channel, in order.
    pub fn posted_in(&self, channel_id: u64) -> Vec<PostedMessage> {
        self.posted()
            .into_iter()
            .filter(|message| message.channel_id == channel_id)
            .collect()
    }

    /// The ids of the messages the bot deleted, in order.
    pub fn deleted(&self) -> Vec<u64> {
        self.state.deleted.lock().unwrap().clone()
    }

    /// The bot's current reactions on `message_id` (Unicode emoji, or `name:id`).
    pub fn reactions_on(&self, message_id: u64) -> Vec<String> {
        self.state
            .reactions
            .lock()
            .unwrap()
            .iter()
            .filter(|(id, _)| *id == message_id)
            .map(|(_, emoji)| emoji.clone())
            .collect()
    }

    /// The channels the bot showed typing in, once per request.
    pub fn typing(&self) -> Vec<u64> {
        self.state.typing.lock().unwrap().clone()
    }

    /// Queues a `MESSAGE_UPDATE` for an edit of `message` (its new `content`): the
    /// whole message with `edited_timestamp` set, as Discord sends it.
    pub fn edit_message(&self, message: &DiscordMessage) {
        let mut payload = message.to_json();
        payload["edited_timestamp"] = json!(EDITED_TIMESTAMP);
        self.dispatch("MESSAGE_UPDATE", payload);
    }

    /// Queues a `MESSAGE_UPDATE` that is not an edit: Discord adding a link preview
    /// (only ids and `embeds`, no `edited_timestamp`).
    pub fn add_embed(&self, guild_id: Option<u64>, channel_id: u64, message_id: u64) {
        let mut payload = json!({"id": message_id.to_string(), "channel_id": channel_id.to_string(),
                                 "embeds": [{"type": "link", "url": "https://example.com/"}]});
        if let Some(guild_id) = guild_id {
            payload["guild_id"] = json!(guild_id.to_string());
        }
        self.dispatch("MESSAGE_UPDATE", payload);
    }

    /// Queues a `MESSAGE_DELETE` (Discord sends only the ids).
    pub fn delete_message(&self, guild_id: Option<u64>, channel_id: u64, message_id: u64) {
        let mut payload =
            json!({"id": message_id.to_string(), "channel_id": channel_id.to_string()});
        if let Some(guild_id) = guild_id {
            payload["guild_id"] = json!(guild_id.to_string());
        }
        self.dispatch("MESSAGE_DELETE", payload);
    }

    /// Queues a `MESSAGE_REACTION_ADD` (`added`) or `MESSAGE_REACTION_REMOVE` by
    /// `user_id` on `message_id`, with a Unicode `emoji` or a custom one (`name:id`).
    /// Like Discord, an addition in a guild carries the member, a removal only ids.
    pub fn react(&self, reaction: &DiscordReaction, added: bool) {
        let emoji = match reaction.emoji.split_once(':') {
            Some((name, id)) => json!({"id": id, "name": name}),
            None => json!({"id": null, "name": reaction.emoji}),
        };
        let mut payload = json!({
            "user_id": reaction.user_id.to_string(),
            "channel_id": reaction.channel_id.to_string(),
            "message_id": reaction.message_id.to_string(),
            "emoji": emoji,
            "burst": false,
            "type": 0,
        });
        if let Some(guild_id) = reaction.guild_id {
            payload["guild_id"] = json!(guild_id.to_string());
            if added {
                payload["member"] = json!({
                    "user": {"id": reaction.user_id.to_string(), "username": reaction.user_name,
                             "discriminator": "0", "global_name": null, "avatar": null,
                             "bot": reaction.user_bot},
                    "roles": [], "joined_at": TIMESTAMP, "deaf": false, "mute": false, "flags": 0,
                });
            }
        }
        if added {
            payload["message_author_id"] = json!(FAKE_BOT_USER_ID.to_string());
        }
        let event = if added {
            "MESSAGE_REACTION_ADD"
        } else {
            "MESSAGE_REACTION_REMOVE"
        };
        self.dispatch(event, payload);
    }

    /// Answers every POST to `channel_id` with this Discord error, e.g.
    /// `(403, 50013, "Missing Permissions")`.
    pub fn fail_channel(&self, channel_id: u64, status: u16, code: i64, message: &str) {
        self.state.failures.lock().unwrap().insert(
            channel_id,
            Failure {
                status,
                code,
                message: message.to_owned(),
            },
        );
    }

    /// Makes every `POST .../messages` take `delay` to answer (recorded on arrival), to
    /// test sends in flight at shutdown.
    pub fn delay_posts(&self, delay: Duration) {
        *self.state.post_delay.lock().unwrap() = delay;
    }

    /// Closes the socket with `code` instead of answering the next IDENTIFYs (4014:
    /// disallowed intents, 4004: authentication failed).
    pub fn close_on_identify(&self, code: u16) {
        *self.state.close_on_identify.lock().unwrap() = Some(code);
    }

    /// Holds back the answer to IDENTIFY (READY) until [`FakeDiscord::release_identify`]:
    /// the client stays connected but not ready.
    pub fn hold_identify(&self) {
        self.state.hold_identify.store(true, Ordering::SeqCst);
    }

    /// Answers the held IDENTIFYs (and every later one) with READY.
    pub fn release_identify(&self) {
        self.state.hold_identify.store(false, Ordering::SeqCst);
        self.state.identify_released.notify_waiters();
    }

    /// Drops `shard`'s live connection, refuses to resume its session (op 9, not
    /// resumable) and leaves its IDENTIFYs unanswered until
    /// [`FakeDiscord::bring_shard_up`]: that shard alone stays down.
    pub fn take_shard_down(&self, shard: u32) {
        self.state.held_shards.lock().unwrap().insert(shard);
        if let Some((_, live)) = self.state.live.lock().unwrap().get(&shard) {
            let _ = live.send(Fault::DropTcp);
        }
    }

    /// Answers `shard`'s held IDENTIFY (and every later one, and RESUMEs again).
    pub fn bring_shard_up(&self, shard: u32) {
        self.state.held_shards.lock().unwrap().remove(&shard);
        self.state.identify_released.notify_waiters();
    }

    /// Queues a `MESSAGE_CREATE` dispatch; returns the message id. Delivered now if a
    /// session is connected, else when the client resumes.
    pub fn send_message(&self, message: &DiscordMessage) -> u64 {
        let mut payload = message.to_json();
        let id = if message.id == 0 {
            self.state.snowflake()
        } else {
            message.id
        };
        payload["id"] = json!(id.to_string());
        self.dispatch("MESSAGE_CREATE", payload);
        id
    }

    /// Queues any dispatch (`t`, `d`) on the current session of the shard Discord would
    /// use (`d.guild_id`'s, else shard 0).
    pub fn dispatch(&self, event: &str, data: Value) {
        let shard = self.state.shard_of(&data);
        self.state
            .sessions
            .lock()
            .unwrap()
            .entry(shard)
            .or_default()
            .log
            .push((event.to_owned(), data));
        self.state.log_grew.notify_waiters();
    }

    /// Makes `GET /gateway/bot` recommend `count` shards with `max_concurrency`, and
    /// routes guild dispatches over `count` shards.
    pub fn set_shards(&self, count: u32, max_concurrency: u32) {
        self.state.shard_count.store(count, Ordering::Relaxed);
        self.state
            .max_concurrency
            .store(max_concurrency, Ordering::Relaxed);
    }

    /// The shard a guild's events go to.
    pub fn shard_of_guild(&self, guild_id: u64) -> u32 {
        self.state
            .shard_of(&json!({"guild_id": guild_id.to_string()}))
    }

    /// Every IDENTIFY so far, in arrival order.
    pub fn identifies(&self) -> Vec<Identify> {
        self.state.identify_log.lock().unwrap().clone()
    }

    /// The shards with a live connection past READY/RESUMED, sorted.
    pub fn connected_shards(&self) -> Vec<u32> {
        let mut shards: Vec<u32> = self.state.live.lock().unwrap().keys().copied().collect();
        shards.sort_unstable();
        shards
    }

    /// POSTs that carried an already used nonce with `enforce_nonce` (and so created
    /// nothing).
    pub fn duplicate_nonces(&self) -> u64 {
        self.state.duplicate_nonces.load(Ordering::Relaxed)
    }

    /// Closes the live connection with a close frame (4000: unknown error, resumable).
    pub fn close_connection(&self, code: u16) {
        self.fault(Fault::Close(code));
    }

    /// Drops the live TCP connection without a close frame.
    pub fn drop_connection(&self) {
        self.fault(Fault::DropTcp);
    }

    /// Sends op 7 (reconnect and resume).
    pub fn request_reconnect(&self) {
        self.fault(Fault::Send(json!({"op": 7, "d": null})));
    }

    /// Sends op 9 (invalid session; `resumable: false` makes the client IDENTIFY again).
    pub fn invalidate_session(&self, resumable: bool) {
        self.fault(Fault::Send(json!({"op": 9, "d": resumable})));
    }

    /// Sends `fault` to every live shard connection.
    fn fault(&self, fault: Fault) {
        for (_, live) in self.state.live.lock().unwrap().values() {
            let _ = live.send(fault.clone());
        }
    }

    /// IDENTIFYs received (new sessions).
    pub fn identify_count(&self) -> u64 {
        self.state.identifies.load(Ordering::Relaxed)
    }

    /// RESUMEs received.
    pub fn resume_count(&self) -> u64 {
        self.state.resumes.load(Ordering::Relaxed)
    }

    /// Sessions that got READY or RESUMED: the client is listening.
    pub fn sessions_started(&self) -> u64 {
        self.state.sessions_started.load(Ordering::Relaxed)
    }

    /// Whether a gateway connection (of any shard) is up and past READY/RESUMED.
    pub fn connected(&self) -> bool {
        !self.state.live.lock().unwrap().is_empty()
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // Ends the live connections' tasks too.
        for (_, (_, live)) in self.state.live.lock().unwrap().drain() {
            let _ = live.send(Fault::DropTcp);
        }
    }
}

// ---- REST ----------------------------------------------------------------------------

async fn serve_http(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_http_connection(stream, Arc::clone(&state)));
    }
}

/// Serves HTTP/1.1 requests on one keep-alive connection.
async fn serve_http_connection(stream: TcpStream, state: Arc<State>) {
    let mut stream = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        match stream.read_line(&mut request_line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut content_length = 0usize;
        let mut authorization = None;
        let mut content_type = String::new();
        loop {
            let mut header = String::new();
            match stream.read_line(&mut header).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("authorization") {
                    authorization = Some(value.to_owned());
                } else if name.eq_ignore_ascii_case("content-type") {
                    content_type = value.to_owned();
                }
            }
        }
        let mut body = vec![0u8; content_length];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let (body, files) = match multipart::boundary(&content_type) {
            Some(boundary) => multipart::parse(&boundary, &body),
            None => (
                serde_json::from_slice(&body).unwrap_or(Value::Null),
                Vec::new(),
            ),
        };
        let request = RestRequest {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            authorization,
            body,
            files,
        };
        if state.load.is_on() {
            state.load.count(&request.method);
        } else {
            state.requests.lock().unwrap().push(request.clone());
        }
        let delay = *state.post_delay.lock().unwrap();
        if request.method != "GET" && !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let (status, response) = answer(&state, &request);
        // 204 answers have no body.
        let response = if response.is_null() {
            String::new()
        } else {
            response.to_string()
        };
        // Head and body in one write: two small writes meet Nagle's algorithm and the
        // client's delayed ACK, which held every response back about 40 ms (the
        // gateway bench showed it as a 300/s ceiling on outbound posts).
        let reply = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{response}",
            reason(status),
            response.len()
        );
        if stream.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Error",
    }
}

fn answer(state: &State, request: &RestRequest) -> (u16, Value) {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["api", "v10", "gateway"]) => (200, json!({"url": *state.ws_url.lock().unwrap()})),
        ("GET", ["api", "v10", "gateway", "bot"]) => (
            200,
            json!({
                "url": *state.ws_url.lock().unwrap(),
                "shards": state.shard_count(),
                "session_start_limit": {
                    "total": 1000, "remaining": 1000, "reset_after": 0,
                    "max_concurrency": state.max_concurrency.load(Ordering::Relaxed).max(1),
                },
            }),
        ),
        ("GET", ["api", "v10", "users", "@me"]) => (200, bot_user()),
        ("POST", ["api", "v10", "channels", channel, "messages"]) => {
            let Ok(channel_id) = channel.parse::<u64>() else {
                return (404, json!({"code": 10003, "message": "Unknown Channel"}));
            };
            if let Some(failure) = state.failures.lock().unwrap().get(&channel_id) {
                return (
                    failure.status,
                    json!({"code": failure.code, "message": failure.message}),
                );
            }
            let nonce = request.body["nonce"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| request.body["nonce"].as_u64().map(|n| n.to_string()))
                .filter(|_| request.body["enforce_nonce"] == json!(true));
            let mut nonces = state.nonces.lock().unwrap();
            if let Some(earlier) = nonce.as_ref().and_then(|nonce| nonces.get(nonce)) {
                state.duplicate_nonces.fetch_add(1, Ordering::Relaxed);
                return (200, earlier.clone());
            }
            let id = state.snowflake();
            let content = request.body["content"].as_str().unwrap_or_default();
            let mut message = message_json(id, channel_id, bot_user(), content);
            if let Some(reference) = request.body.get("message_reference") {
                message["type"] = json!(19);
                message["message_reference"] = reference.clone();
            }
            if state.load.is_on() {
                state.load.posted(state, channel_id, &request.body);
                return (200, message);
            }
            state.posted.lock().unwrap().push(PostedMessage {
                channel_id,
                id,
                body: request.body.clone(),
                files: request.files.clone(),
                received_at: std::time::Instant::now(),
            });
            if let Some(nonce) = nonce {
                nonces.insert(nonce, message.clone());
            }
            (200, message)
        }
        (method, ["api", "v10", "channels", channel, rest @ ..]) => {
            let Ok(channel_id) = channel.parse::<u64>() else {
                return (404, json!({"code": 10003, "message": "Unknown Channel"}));
            };
            if let Some(failure) = state.failures.lock().unwrap().get(&channel_id) {
                return (
                    failure.status,
                    json!({"code": failure.code, "message": failure.message}),
                );
            }
            answer_channel(state, request, method, channel_id, rest)
        }
        (_, ["api", "v10", rest @ ..])
            if matches!(rest.first(), Some(&("interactions" | "webhooks"))) =>
        {
            interactions::answer(state, request, rest)
        }
        _ => commands::answer(state, request, &segments)
            .unwrap_or_else(|| (404, json!({"code": 0, "message": "404: Not Found"}))),
    }
}

/// Edits, deletions, reactions and typing in one channel (204s answer `Null`).
fn answer_channel(
    state: &State,
    request: &RestRequest,
    method: &str,
    channel_id: u64,
    rest: &[&str],
) -> (u16, Value) {
    let unknown_message = (404, json!({"code": 10008, "message": "Unknown Message"}));
    let message_id = rest.get(1).and_then(|id| id.parse::<u64>().ok());
    let known = |id: u64| {
        // Under load every id is taken as the bot's: the posts are not kept.
        state.load.is_on()
            || state
                .posted
                .lock()
                .unwrap()
                .iter()
                .any(|posted| posted.id == id && posted.channel_id == channel_id)
                && !state.deleted.lock().unwrap().contains(&id)
    };
    match (method, rest, message_id) {
        ("POST", ["messages", _, "threads"], Some(id)) => {
            threads::started(channel_id, id, &request.body)
        }
        ("POST", ["typing"], _) => {
            state.typing.lock().unwrap().push(channel_id);
            (204, Value::Null)
        }
        ("PATCH", ["messages", _], Some(id)) => {
            if !known(id) {
                return unknown_message;
            }
            let content = request.body["content"].as_str().unwrap_or_default();
            let mut message = message_json(id, channel_id, bot_user(), content);
            message["edited_timestamp"] = json!(EDITED_TIMESTAMP);
            (200, message)
        }
        ("DELETE", ["messages", _], Some(id)) => {
            if !known(id) {
                return unknown_message;
            }
            state.deleted.lock().unwrap().push(id);
            (204, Value::Null)
        }
        ("PUT" | "DELETE", ["messages", _, "reactions", emoji, "@me"], Some(id)) => {
            // Any message can be reacted to, not only the bot's.
            if state.deleted.lock().unwrap().contains(&id) {
                return unknown_message;
            }
            let emoji = percent_decode(emoji);
            let mut reactions = state.reactions.lock().unwrap();
            reactions.retain(|(message, existing)| !(*message == id && *existing == emoji));
            if method == "PUT" {
                reactions.push((id, emoji));
            }
            (204, Value::Null)
        }
        _ => (404, json!({"code": 0, "message": "404: Not Found"})),
    }
}

/// Decodes `%XX` escapes (serenity percent-encodes Unicode emoji in reaction paths).
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| raw.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn bot_user() -> Value {
    json!({"id": FAKE_BOT_USER_ID.to_string(), "username": FAKE_BOT_USERNAME,
           "discriminator": "0", "global_name": null, "avatar": null, "bot": true})
}

// ---- gateway -------------------------------------------------------------------------

async fn serve_gateway(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        // Each dispatch is one small frame: without TCP_NODELAY, Nagle's algorithm holds
        // one back until the client's delayed ACK (up to 40 ms), which the gateway
        // bench measured as a 30 ms p99 on inbound messages.
        let _ = stream.set_nodelay(true);
        let connection = state.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            if let Ok(socket) = tokio_tungstenite::accept_async(stream).await {
                serve_gateway_connection(socket, connection, state).await;
            }
        });
    }
}

type Socket = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn send_json(socket: &mut Socket, value: &Value) -> bool {
    socket
        .send(WsMessage::Text(value.to_string()))
        .await
        .is_ok()
}

async fn close(socket: &mut Socket, code: u16) {
    let _ = socket
        .send(WsMessage::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        })))
        .await;
    let _ = socket.close(None).await;
}

/// One gateway connection: HELLO, then IDENTIFY or RESUME, then dispatches from the
/// session log and heartbeat ACKs until a fault or the client goes away.
async fn serve_gateway_connection(mut socket: Socket, connection: u64, state: Arc<State>) {
    if !send_json(
        &mut socket,
        &json!({"op": 10, "d": {"heartbeat_interval": 41250}, "s": null, "t": null}),
    )
    .await
    {
        return;
    }
    // Sequence number of the last dispatch delivered on this connection.
    let mut delivered: usize;
    // The shard this connection serves (IDENTIFY's, or the resumed session's).
    let shard: u32;
    loop {
        let Some(Ok(message)) = socket.next().await else {
            return;
        };
        let Some(payload) = gateway_payload(&message) else {
            continue;
        };
        match payload["op"].as_u64() {
            Some(1) => {
                state.heartbeats.fetch_add(1, Ordering::Relaxed);
                if !send_json(&mut socket, &json!({"op": 11})).await {
                    return;
                }
            }
            Some(2) => {
                let number = state.identifies.fetch_add(1, Ordering::Relaxed) + 1;
                let shard_field = &payload["d"]["shard"];
                shard = shard_field[0]
                    .as_u64()
                    .and_then(|id| u32::try_from(id).ok())
                    .unwrap_or(0);
                let shard_count = shard_field[1]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(1);
                state.identify_log.lock().unwrap().push(Identify {
                    shard,
                    shard_count,
                    intents: payload["d"]["intents"].as_u64().unwrap_or(0),
                    at: std::time::Instant::now(),
                });
                state.wait_unless_held(shard).await;
                let close_code = *state.close_on_identify.lock().unwrap();
                if let Some(code) = close_code {
                    return close(&mut socket, code).await;
                }
                // A new session: a fresh log that starts with READY (s = 1).
                let ws_url = state.ws_url.lock().unwrap().clone();
                let mut sessions = state.sessions.lock().unwrap();
                let session = sessions.entry(shard).or_default();
                let undelivered = session.delivered;
                let pending: Vec<(String, Value)> =
                    session.log.drain(..).skip(undelivered).collect();
                session.delivered = 0;
                let session_id = format!("fake-session-{number}");
                session.id.clone_from(&session_id);
                session.log.push((
                    "READY".to_owned(),
                    json!({
                        "v": 10,
                        "user": bot_user(),
                        "guilds": [],
                        "session_id": session_id,
                        "resume_gateway_url": ws_url,
                        "application": {"id": APPLICATION_ID.to_string(), "flags": 0},
                        "shard": [shard, shard_count],
                        "private_channels": [],
                    }),
                ));
                // Injected but never delivered (before the first IDENTIFY, or while an
                // invalidated session was being replaced): deliver them in the new one.
                // Discord would lose them; tests would rather not.
                session.log.extend(
                    pending
                        .into_iter()
                        .filter(|(event, _)| event != "READY" && event != "RESUMED"),
                );
                delivered = 0;
                break;
            }
            Some(6) => {
                state.resumes.fetch_add(1, Ordering::Relaxed);
                let seq = payload["d"]["seq"].as_u64().unwrap_or(0);
                let session_id = payload["d"]["session_id"].as_str().unwrap_or_default();
                let known = state
                    .sessions
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|(_, session)| session.id == session_id)
                    .map(|(shard, _)| *shard);
                let Some(known) = known else {
                    let _ = send_json(&mut socket, &json!({"op": 9, "d": false})).await;
                    continue;
                };
                if state.held_shards.lock().unwrap().contains(&known) {
                    // The shard is kept down: its session cannot be resumed either.
                    let _ = send_json(&mut socket, &json!({"op": 9, "d": false})).await;
                    continue;
                }
                shard = known;
                delivered = usize::try_from(seq).unwrap_or(0);
                // Replay what the client missed, then RESUMED (appended to the log so
                // it gets its own sequence number like on Discord).
                state.dispatch_resumed(shard);
                break;
            }
            _ => {}
        }
    }

    let (faults, mut fault_receiver) = mpsc::unbounded_channel();
    state
        .live
        .lock()
        .unwrap()
        .insert(shard, (connection, faults));
    state.sessions_started.fetch_add(1, Ordering::Relaxed);
    loop {
        // Deliver everything logged since the last round.
        let grew = state.log_grew.notified();
        tokio::pin!(grew);
        grew.as_mut().enable();
        if !state.is_live(shard, connection) {
            return;
        }
        let batch: Vec<(usize, String, Value)> = {
            let mut sessions = state.sessions.lock().unwrap();
            let session = sessions.entry(shard).or_default();
            session
                .log
                .iter()
                .enumerate()
                .skip(delivered)
                .map(|(index, (event, data))| (index + 1, event.clone(), data.clone()))
                .collect()
        };
        // The batch is fed, then flushed once: one write for many frames under load
        // (a flush per frame made the fake's ceiling about 15 000 dispatches/s).
        let already_delivered = delivered;
        let mut last = None;
        for (seq, event, data) in batch {
            let dispatch = json!({"op": 0, "s": seq, "t": event, "d": data});
            if socket
                .feed(WsMessage::Text(dispatch.to_string()))
                .await
                .is_err()
            {
                return state.disconnected(shard, connection);
            }
            last = Some(seq);
        }
        if let Some(seq) = last {
            if socket.flush().await.is_err() {
                return state.disconnected(shard, connection);
            }
            delivered = seq;
            let mut sessions = state.sessions.lock().unwrap();
            let session = sessions.entry(shard).or_default();
            session.delivered = session.delivered.max(seq);
            if state.load.is_on() {
                // Not replayed in a bench: keep the log's memory flat.
                for entry in &mut session.log[already_delivered..seq] {
                    *entry = (String::new(), Value::Null);
                }
            }
        }
        tokio::select! {
            () = &mut grew => {}
            fault = fault_receiver.recv() => match fault {
                Some(Fault::Close(code)) => {
                    state.disconnected(shard, connection);
                    return close(&mut socket, code).await;
                }
                Some(Fault::DropTcp) | None => return state.disconnected(shard, connection),
                Some(Fault::Send(value)) => {
                    if !send_json(&mut socket, &value).await {
                        return state.disconnected(shard, connection);
                    }
                }
            },
            incoming = socket.next() => {
                let Some(Ok(message)) = incoming else {
                    return state.disconnected(shard, connection);
                };
                if let Some(payload) = gateway_payload(&message) {
                    if payload["op"].as_u64() == Some(1) {
                        state.heartbeats.fetch_add(1, Ordering::Relaxed);
                        if !send_json(&mut socket, &json!({"op": 11})).await {
                            return state.disconnected(shard, connection);
                        }
                    }
                } else if matches!(message, WsMessage::Close(_)) {
                    return state.disconnected(shard, connection);
                }
            }
        }
    }
}

impl State {
    /// Waits while an IDENTIFY of `shard` is held (all are, or this shard's).
    async fn wait_unless_held(&self, shard: u32) {
        loop {
            let released = self.identify_released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let held = self.hold_identify.load(Ordering::SeqCst)
                || self.held_shards.lock().unwrap().contains(&shard);
            if !held {
                break;
            }
            released.await;
        }
    }

    fn dispatch_resumed(&self, shard: u32) {
        self.sessions
            .lock()
            .unwrap()
            .entry(shard)
            .or_default()
            .log
            .push(("RESUMED".to_owned(), json!({"_trace": ["fake-discord"]})));
    }

    fn is_live(&self, shard: u32, connection: u64) -> bool {
        matches!(self.live.lock().unwrap().get(&shard), Some((live, _)) if *live == connection)
    }

    /// Forgets the shard's live connection, if it is still `connection`.
    fn disconnected(&self, shard: u32, connection: u64) {
        let mut live = self.live.lock().unwrap();
        if matches!(live.get(&shard), Some((live, _)) if *live == connection) {
            live.remove(&shard);
        }
    }
}

/// The JSON of a text (or uncompressed binary) gateway frame. Parsed loosely: only
/// `op` and a few `d` fields are read, never strictly typed (IDENTIFY's
/// `presence.since` is not an integer).
fn gateway_payload(message: &WsMessage) -> Option<Value> {
    match message {
        WsMessage::Text(text) => serde_json::from_str(text).ok(),
        WsMessage::Binary(bytes) => serde_json::from_slice(bytes).ok(),
        _ => None,
    }
}
