//! A toy chat platform kept in memory, and its complete adapter: all a new platform
//! has to write. Rooms are lowercase names, messages get increasing numeric ids, and a
//! message holds at most 10 characters, so splitting shows with short texts.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

use bytebot_core::envelope::{Author, InboundMessage};
use bytebot_core::receipt::DeliveryError;
use bytebot_core::{Platform, Space, Topic};
use bytebot_gateway::{Action, Adapter, Inbound, PrepareError, Published, Route, TextLimits};
use tokio::sync::watch;

/// The toy platform's user id for the bot itself.
pub const BOT_USER: &str = "toybot";

/// A message as the toy platform keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub id: u64,
    pub room: String,
    pub content: String,
    pub reply_to: Option<u64>,
    pub reactions: Vec<String>,
    pub deleted: bool,
    /// What the message shows besides text (`embeds`, `components`, `files`: the toy
    /// platform keeps only their names).
    pub extras: Vec<&'static str>,
}

/// The platform itself ("the server"): what tests inspect and disturb.
#[derive(Debug, Clone)]
pub struct ToyChat {
    posts: Arc<Mutex<Vec<Post>>>,
    /// Rooms where every request fails as if the bot had no permission there.
    locked_rooms: Arc<Mutex<HashSet<String>>>,
    /// While true, requests wait (a slow or rate-limited platform).
    held: watch::Sender<bool>,
    /// Whether the bot is connected (until [`Adapter::close`]).
    online: watch::Sender<bool>,
}

impl Default for ToyChat {
    fn default() -> ToyChat {
        ToyChat {
            posts: Arc::default(),
            locked_rooms: Arc::default(),
            held: watch::Sender::new(false),
            online: watch::Sender::new(true),
        }
    }
}

impl ToyChat {
    /// Every message, in the order the platform received them.
    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// The texts posted in `room`, in order.
    pub fn texts_in(&self, room: &str) -> Vec<String> {
        self.posts()
            .into_iter()
            .filter(|post| post.room == room)
            .map(|post| post.content)
            .collect()
    }

    /// Requests to `room` fail from now on.
    pub fn lock_room(&self, room: &str) {
        self.locked_rooms.lock().unwrap().insert(room.to_owned());
    }

    /// Holds (`true`) or releases (`false`) every request.
    pub fn hold(&self, held: bool) {
        self.held.send_replace(held);
    }
}

/// One request to the toy platform, as [`Adapter::prepare`] builds it.
#[derive(Debug)]
pub enum ToyRequest {
    Post {
        content: String,
        reply_to: Option<u64>,
        extras: Vec<&'static str>,
    },
    Edit {
        id: u64,
        content: String,
        extras: Vec<&'static str>,
    },
    Delete {
        id: u64,
    },
    React {
        id: u64,
        emoji: String,
        add: bool,
    },
}

/// The adapter: the toy platform <-> envelopes.
pub struct ToyAdapter {
    pub chat: ToyChat,
    pub inbound: Inbound,
    platform: Platform,
}

impl ToyAdapter {
    pub fn new(chat: ToyChat, inbound: Inbound) -> ToyAdapter {
        inbound.set_own_user_id(BOT_USER);
        ToyAdapter {
            chat,
            inbound,
            platform: Platform::new("toy").expect("a valid platform name"),
        }
    }

    /// The platform connection: ends when the adapter closes it (the runtime waits
    /// for that on shutdown).
    pub fn session(&self) -> impl Future<Output = anyhow::Error> + Send + use<> {
        let mut online = self.chat.online.subscribe();
        async move {
            let _ = online.wait_for(|online| !online).await;
            anyhow::anyhow!("disconnected")
        }
    }

    /// Someone says `text` in `room`: the inbound side of the mapping.
    pub fn hear(&self, room: &str, user: &str, bot: bool, text: &str) -> Published {
        let Ok(topic) = self.inbound.topic(Space::id("world"), room, user) else {
            return Published::Invalid;
        };
        let mut author = Author::new(user, user);
        author.bot = bot;
        let message_id = self.chat.posts.lock().unwrap().len() + 1;
        self.inbound.publish(InboundMessage::new(
            topic,
            message_id.to_string(),
            author,
            text,
        ))
    }
}

fn message_id(raw: &str) -> Result<u64, PrepareError> {
    raw.parse()
        .map_err(|_| PrepareError::Invalid(format!("`{raw}` is not a toy message id")))
}

impl Adapter for ToyAdapter {
    type Room = String;
    type Prepared = ToyRequest;

    fn platform(&self) -> &Platform {
        &self.platform
    }

    fn route(&self, topic: &Topic) -> Route<String> {
        if topic.space().segment() == "elsewhere" {
            return Route::NotMine; // another toy gateway serves that space
        }
        let room = topic.room().as_str();
        if room.bytes().all(|byte| byte.is_ascii_lowercase()) {
            Route::Room(room.to_owned())
        } else {
            Route::Invalid(format!("`{room}` is not a toy room name"))
        }
    }

    fn text_limits(&self) -> TextLimits {
        TextLimits::chars(10)
    }

    fn prepare(&self, _room: &String, action: Action) -> Result<ToyRequest, PrepareError> {
        Ok(match action {
            Action::Send(text) => ToyRequest::Post {
                reply_to: text.reply_to.as_deref().map(message_id).transpose()?,
                extras: text.extras(),
                content: text.content,
            },
            Action::Edit {
                message_id: id,
                text,
            } => ToyRequest::Edit {
                id: message_id(&id)?,
                extras: text.extras(),
                content: text.content,
            },
            Action::Delete { message_id: id } => ToyRequest::Delete {
                id: message_id(&id)?,
            },
            Action::React {
                message_id: id,
                emoji,
            } => ToyRequest::React {
                id: message_id(&id)?,
                emoji,
                add: true,
            },
            Action::Unreact {
                message_id: id,
                emoji,
            } => ToyRequest::React {
                id: message_id(&id)?,
                emoji,
                add: false,
            },
            _ => {
                return Err(PrepareError::Unsupported(
                    "the toy platform cannot show typing".to_owned(),
                ));
            }
        })
    }

    async fn perform(
        &self,
        room: &String,
        request: ToyRequest,
    ) -> Result<Vec<String>, DeliveryError> {
        let _ = self.chat.held.subscribe().wait_for(|held| !held).await;
        if self.chat.locked_rooms.lock().unwrap().contains(room) {
            return Err(DeliveryError {
                code: Some(403),
                message: "the bot may not write here".to_owned(),
                status: None,
            });
        }
        let mut posts = self.chat.posts.lock().unwrap();
        let unknown = |id: u64| DeliveryError {
            code: Some(404),
            message: format!("no message {id}"),
            status: None,
        };
        let id = match request {
            ToyRequest::Post {
                content,
                reply_to,
                extras,
            } => {
                let id = posts.len() as u64 + 1;
                posts.push(Post {
                    id,
                    room: room.clone(),
                    content,
                    reply_to,
                    reactions: Vec::new(),
                    deleted: false,
                    extras,
                });
                id
            }
            ToyRequest::Edit {
                id,
                content,
                extras,
            } => {
                let post = posts
                    .iter_mut()
                    .find(|post| post.id == id)
                    .ok_or_else(|| unknown(id))?;
                // An edit without text changes only the extras.
                if !content.is_empty() {
                    post.content = content;
                }
                if !extras.is_empty() {
                    post.extras = extras;
                }
                id
            }
            ToyRequest::Delete { id } => {
                let post = posts
                    .iter_mut()
                    .find(|post| post.id == id)
                    .ok_or_else(|| unknown(id))?;
                post.deleted = true;
                id
            }
            ToyRequest::React { id, emoji, add } => {
                let post = posts
                    .iter_mut()
                    .find(|post| post.id == id)
                    .ok_or_else(|| unknown(id))?;
                post.reactions.retain(|existing| *existing != emoji);
                if add {
                    post.reactions.push(emoji);
                }
                id
            }
        };
        Ok(vec![id.to_string()])
    }

    async fn close(&self) {
        self.chat.online.send_replace(false);
    }
}
