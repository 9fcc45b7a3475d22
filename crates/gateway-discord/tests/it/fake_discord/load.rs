//! The fake under load, for the benches (`monolith_bench.rs`): a tap that keeps only
//! what a bench needs of each reply (channel, the message it answers, arrival time)
//! instead of every request and post, a closed loop that sends the next message from
//! the reply's own handler, and the fake's own ceiling against trivial counterparts.
//!
//! Nothing here changes what the fake answers; [`FakeDiscord::start_load`] only stops
//! it from keeping every request, post and delivered dispatch (memory and time that
//! would grow with the run and show in the bench process's figures).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::{DiscordMessage, FakeDiscord, State};

/// One `POST .../messages` the fake answered under load.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    /// The channel from the path.
    pub channel_id: u64,
    /// `message_reference.message_id` (0 when the post is not a reply).
    pub reply_to: u64,
    /// When the request had fully arrived.
    pub received_at: Instant,
}

/// The fake's load bookkeeping (a field of its state).
#[derive(Debug, Default)]
pub(super) struct Tap {
    on: AtomicBool,
    /// `PATCH` requests (edits) seen while on.
    patches: AtomicU64,
    inner: Mutex<TapInner>,
}

#[derive(Debug, Default)]
struct TapInner {
    replies: Vec<Reply>,
    closed_loop: Option<ClosedLoop>,
}

/// A closed loop in progress: every reply to one of its messages sends the next.
#[derive(Debug)]
struct ClosedLoop {
    template: DiscordMessage,
    first_id: u64,
    channels: Vec<u64>,
    /// When each message `first_id + i` was dispatched.
    sent_at: Vec<Instant>,
    /// No message is sent after this.
    until: Instant,
}

impl ClosedLoop {
    /// The next message, dispatched on `state` (its send time recorded).
    fn send_next(&mut self, state: &State) {
        let index = self.sent_at.len();
        let mut message = self.template.clone();
        message.id = self.first_id + index as u64;
        message.channel_id = self.channels[index % self.channels.len()];
        self.sent_at.push(Instant::now());
        state.inject(&message);
    }
}

impl Tap {
    pub(super) fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Counts a request by method (only edits are of interest).
    pub(super) fn count(&self, method: &str) {
        if method == "PATCH" {
            self.patches.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a successful post; in a closed loop, a reply sends the next message.
    pub(super) fn posted(&self, state: &State, channel_id: u64, body: &Value) {
        let reply_to = body["message_reference"]["message_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .or_else(|| body["message_reference"]["message_id"].as_u64())
            .unwrap_or(0);
        let received_at = Instant::now();
        let mut inner = self.inner.lock().unwrap();
        inner.replies.push(Reply {
            channel_id,
            reply_to,
            received_at,
        });
        if let Some(closed_loop) = &mut inner.closed_loop
            && reply_to >= closed_loop.first_id
            && received_at < closed_loop.until
        {
            closed_loop.send_next(state);
        }
    }
}

impl State {
    /// [`FakeDiscord::send_message`] from inside the fake.
    fn inject(&self, message: &DiscordMessage) {
        let mut payload = message.to_json();
        payload["id"] = json!(message.id.to_string());
        let shard = self.shard_of(&payload);
        self.sessions
            .lock()
            .unwrap()
            .entry(shard)
            .or_default()
            .log
            .push(("MESSAGE_CREATE".to_owned(), payload));
        self.log_grew.notify_waiters();
    }
}

impl FakeDiscord {
    /// Load mode from now on: requests, posts and delivered dispatches are no longer
    /// kept (see [`FakeDiscord::take_replies`]); edits and deletions of any id succeed.
    pub fn start_load(&self) {
        self.state.requests.lock().unwrap().clear();
        self.state.posted.lock().unwrap().clear();
        self.state.load.on.store(true, Ordering::SeqCst);
    }

    /// The posts answered since the last call, in arrival order.
    pub fn take_replies(&self) -> Vec<Reply> {
        std::mem::take(&mut self.state.load.inner.lock().unwrap().replies)
    }

    /// How many posts arrived since the last [`FakeDiscord::take_replies`].
    pub fn replies_so_far(&self) -> usize {
        self.state.load.inner.lock().unwrap().replies.len()
    }

    /// `PATCH` requests (edits) under load so far.
    pub fn patches(&self) -> u64 {
        self.state.load.patches.load(Ordering::Relaxed)
    }

    /// A closed loop for `duration`: `window` messages (copies of `template` with ids
    /// from `first_id`, round-robin over `channels`) are sent at once, then each reply
    /// to one of them sends the next. Returns when each message was sent (message
    /// `first_id + i` at index `i`).
    pub async fn closed_loop(
        &self,
        template: DiscordMessage,
        first_id: u64,
        channels: Vec<u64>,
        window: usize,
        duration: Duration,
    ) -> Vec<Instant> {
        {
            let mut inner = self.state.load.inner.lock().unwrap();
            let closed_loop = inner.closed_loop.insert(ClosedLoop {
                template,
                first_id,
                channels,
                sent_at: Vec::new(),
                until: Instant::now() + duration,
            });
            for _ in 0..window {
                closed_loop.send_next(&self.state);
            }
        }
        tokio::time::sleep(duration).await;
        let closed_loop = self.state.load.inner.lock().unwrap().closed_loop.take();
        closed_loop.map(|closed| closed.sent_at).unwrap_or_default()
    }

    /// The fake's gateway side alone: `n` `MESSAGE_CREATE` dispatches injected as fast
    /// as one thread can, to a bare WebSocket client that only counts them (in this
    /// process, so the client's cost is on the fake's cores too). Dispatches per second.
    pub async fn dispatch_ceiling(n: u64) -> f64 {
        let discord = Arc::new(FakeDiscord::start().await);
        discord.start_load();
        let ws_url = discord.state.ws_url.lock().unwrap().clone();
        let (mut socket, _) = tokio_tungstenite::connect_async(format!("{ws_url}/?v=10"))
            .await
            .expect("connect to the fake gateway");
        let _hello = socket.next().await;
        let identify = json!({"op": 2, "d": {"token": "x", "intents": 0, "properties": {},
                                              "shard": [0, 1]}});
        socket
            .send(WsMessage::Text(identify.to_string()))
            .await
            .unwrap();
        let _ready = socket.next().await;
        let counter = tokio::spawn(async move {
            let mut seen = 0;
            while seen < n {
                match socket.next().await {
                    Some(Ok(WsMessage::Text(text))) if text.contains("MESSAGE_CREATE") => seen += 1,
                    Some(Ok(_)) => {}
                    _ => break,
                }
            }
            (seen, Instant::now())
        });
        let started = Instant::now();
        let injector = Arc::clone(&discord);
        std::thread::spawn(move || {
            for i in 0..n {
                let mut message = DiscordMessage::guild(1, 2 + i % 8, 3, &format!("ceiling {i}"));
                message.id = 1_000 + i;
                injector.send_message(&message);
            }
        });
        let (seen, finished) = counter.await.unwrap();
        assert_eq!(seen, n, "the bare client got every dispatch");
        n as f64 / (finished - started).as_secs_f64()
    }

    /// The fake's REST side alone: `n` `POST .../messages` (a reply, the size serenity
    /// sends) over `connections` keep-alive connections, each waiting for its answer
    /// before the next (as serenity does per request), from bare clients in this
    /// process. Posts per second.
    pub async fn post_ceiling(n: u64, connections: u64) -> f64 {
        let discord = FakeDiscord::start().await;
        discord.start_load();
        let addr = discord.http_addr;
        let started = Instant::now();
        let clients: Vec<_> = (0..connections)
            .map(|connection| {
                tokio::spawn(async move {
                    let stream = TcpStream::connect(addr).await.expect("connect");
                    stream.set_nodelay(true).unwrap();
                    let mut stream = BufReader::new(stream);
                    for i in (connection..n).step_by(connections as usize) {
                        let body = json!({"content": "pong", "allowed_mentions": {"parse": [],
                                          "replied_user": false}, "message_reference":
                                          {"message_id": (1_000 + i).to_string(),
                                           "channel_id": "2", "fail_if_not_exists": false}})
                        .to_string();
                        let request = format!(
                            "POST /api/v10/channels/{}/messages HTTP/1.1\r\nhost: fake\r\nauthorization: Bot x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            2 + connection,
                            body.len()
                        );
                        stream.get_mut().write_all(request.as_bytes()).await.unwrap();
                        let mut content_length = 0;
                        loop {
                            let mut line = String::new();
                            stream.read_line(&mut line).await.unwrap();
                            let line = line.trim_end();
                            if line.is_empty() {
                                break;
                            }
                            if let Some(value) = line.strip_prefix("content-length: ") {
                                content_length = value.parse().unwrap();
                            }
                        }
                        let mut answer = vec![0; content_length];
                        stream.read_exact(&mut answer).await.unwrap();
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        let elapsed = started.elapsed();
        assert_eq!(
            discord.take_replies().len() as u64,
            n,
            "every post was taken"
        );
        n as f64 / elapsed.as_secs_f64()
    }
}
