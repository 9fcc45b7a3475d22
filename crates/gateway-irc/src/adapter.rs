//! The mapping between IRC and envelopes, both ways: [`publish`] turns a message the
//! connection heard into an inbound envelope, and [`Irc`] is the runtime's
//! [`Adapter`] for outbound topics.
//!
//! Topics:
//! - a channel message: `inbound.irc.<network>.<channel>.<nick>`, the channel folded to
//!   lower case under the server's CASEMAPPING (`#Rust` and `#rust` are one room);
//! - a private message to the bot: `inbound.irc.@me.<nick>@<network>.<nick>` (the room
//!   names the conversation and its network, so two networks never share a room).
//!
//! IRC names may contain `.`, `*`, `[`, `]`, `\`, `^`, `{`, `}`, `|`: the topic grammar
//! percent-encodes those that matter to Redis patterns or to the grammar.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytebot_core::envelope::{Author, InboundMessage};
use bytebot_core::receipt::DeliveryError;
use bytebot_core::{Platform, Space, Topic};
use bytebot_gateway::{Action, Adapter, Inbound, PrepareError, Route, TextLimits, local_error};

use crate::connection::{Connection, Event, Incoming};
use crate::session::Session;
use crate::split::{split_lines, text_budget};

/// The platform segment of every IRC topic.
pub const PLATFORM: &str = "irc";

/// The longest target the runtime's first split plans for (ngircd's CHANNELLEN is 50,
/// most networks' 64); [`Adapter::prepare`] then splits again for the real target.
const PLANNED_TARGET_LEN: usize = 64;

/// Publishes one event the connection heard (the connection already dropped our own
/// messages); NOTICEs and other ignored events are only counted.
pub fn publish(inbound: &Inbound, network: &str, event: Event, session: &Session) {
    let message = match event {
        Event::Message(message) => message,
        Event::Ignored(reason) => {
            tracing::debug!(reason, "not published");
            inbound.ignore();
            return;
        }
    };
    match envelope(inbound, network, message, session) {
        Some(envelope) => {
            inbound.publish(envelope);
        }
        None => inbound.ignore(),
    }
}

fn envelope(
    inbound: &Inbound,
    network: &str,
    message: Incoming,
    session: &Session,
) -> Option<InboundMessage> {
    let Incoming {
        nick,
        source,
        channel,
        text,
        action,
    } = message;
    let built = match &channel {
        Some(channel) => inbound.topic(Space::id(network), &session.fold(channel), &nick),
        None => inbound.topic(Space::Direct, &format!("{nick}@{network}"), &nick),
    };
    let topic = match built {
        Ok(topic) => topic,
        Err(err) => {
            tracing::warn!(%nick, channel = channel.as_deref().unwrap_or("(private)"), error = %err, "cannot build a topic for a message");
            return None;
        }
    };
    let mut author = Author::new(nick.clone(), nick);
    author.display_name = None;
    tracing::trace!(%source, "message from");
    // IRC has no message ids: the envelope's own id stands in, so `message_id` is
    // unique and `reply_to` is harmless (replies on IRC are plain messages).
    let mut envelope = InboundMessage::new(topic, String::new(), author, text);
    envelope.message_id = envelope.id.to_string();
    envelope.emote = action;
    Some(envelope)
}

/// Where an outbound message goes: a channel or a nick. Two rooms are the same when
/// their names fold to the same thing (one ordered worker per channel, whatever case).
#[derive(Debug, Clone)]
pub struct IrcRoom {
    /// The folded name (channel or nick).
    key: String,
    /// The name to send to.
    target: String,
}

impl PartialEq for IrcRoom {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for IrcRoom {}

impl Hash for IrcRoom {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

/// The IRC adapter: the runtime calls it for every outbound envelope.
pub struct Irc {
    platform: Platform,
    network: String,
    connection: Arc<Connection>,
}

impl Irc {
    /// The adapter for `connection`, serving the topics of `network`.
    pub fn new(network: String, connection: Arc<Connection>) -> Irc {
        Irc {
            platform: Platform::new(PLATFORM).expect("`irc` is a valid platform name"),
            network,
            connection,
        }
    }

    fn session(&self) -> Session {
        self.connection.status().borrow().session.clone()
    }
}

impl Adapter for Irc {
    type Room = IrcRoom;
    type Prepared = Vec<String>;

    fn platform(&self) -> &Platform {
        &self.platform
    }

    fn route(&self, topic: &Topic) -> Route<IrcRoom> {
        let session = self.session();
        let room = topic.room().as_str();
        match topic.space() {
            Space::Id(network) if *network != self.network => Route::NotMine,
            Space::Id(_) if session.is_channel(room) => Route::Room(IrcRoom {
                key: session.fold(room),
                target: room.to_owned(),
            }),
            Space::Id(_) => Route::Invalid(format!(
                "`{room}` is not a channel name (private messages use the space @me and the room <nick>@<network>)"
            )),
            Space::Direct => match room.rsplit_once('@') {
                Some((_, network)) if network != self.network => Route::NotMine,
                Some((nick, _)) if !nick.is_empty() && !session.is_channel(nick) => {
                    Route::Room(IrcRoom {
                        key: session.fold(nick),
                        target: nick.to_owned(),
                    })
                }
                _ => Route::Invalid(format!(
                    "`{room}` is not <nick>@<network>, the room of a private message"
                )),
            },
        }
    }

    fn text_limits(&self) -> TextLimits {
        let session = self.session();
        let planned_target = "#".repeat(PLANNED_TARGET_LEN);
        let budget = text_budget(&session.nick, session.source.as_deref(), &planned_target);
        TextLimits::chars(budget).with_max_bytes(budget)
    }

    fn prepare(&self, room: &IrcRoom, action: Action) -> Result<Vec<String>, PrepareError> {
        let why = match action {
            Action::Send(text) => {
                let extras = text.extras();
                if !extras.is_empty() {
                    // Refused rather than degraded: the bot learns from the receipt
                    // and can send a text version; nothing half-sent.
                    return Err(PrepareError::Unsupported(format!(
                        "IRC cannot send {}: only text (link what is online in the content)",
                        extras.join(", ")
                    )));
                }
                let session = self.session();
                let budget = text_budget(&session.nick, session.source.as_deref(), &room.target);
                let lines = split_lines(&text.content, budget);
                if lines.is_empty() {
                    return Err(PrepareError::Invalid("nothing to send".to_owned()));
                }
                return Ok(lines);
            }
            Action::Edit { .. } => {
                "IRC cannot edit a message: messages have no ids and cannot change once sent"
            }
            Action::Delete { .. } => {
                "IRC cannot delete a message: messages have no ids and cannot be taken back"
            }
            Action::React { .. } | Action::Unreact { .. } => "IRC has no reactions",
            Action::Typing => "IRC has no typing indicator",
            Action::Interaction(_) => "IRC has no interactions (slash commands, buttons, modals)",
            _ => "IRC cannot do this action",
        };
        Err(PrepareError::Unsupported(why.to_owned()))
    }

    async fn perform(
        &self,
        room: &IrcRoom,
        lines: Vec<String>,
    ) -> Result<Vec<String>, DeliveryError> {
        // IRC acknowledges nothing and has no message ids: success means every line
        // was written to the server, and the receipt's message_ids stay empty.
        self.connection
            .send(&room.target, &lines)
            .await
            .map(|()| Vec::new())
            .map_err(|err| local_error(err.to_string()))
    }

    async fn close(&self) {
        self.connection.quit("bytebot gateway shutting down").await;
    }
}
