//! The Discord [`Adapter`]: which channel an outbound topic addresses, Discord's text
//! limit, and one serenity REST call per prepared request. Everything around it
//! (subscription, per-channel ordered workers, splitting, receipts, counters) is the
//! runtime's, in `bytebot-gateway`.

use std::sync::Arc;

use bytebot_core::receipt::DeliveryError;
use bytebot_core::{Platform, Topic};
use bytebot_gateway::{Action, Adapter, PrepareError, Route, TextLimits, local_error};
use serenity::all::{
    ChannelId, CreateMessage, CreateThread, EditMessage, Http, HttpError, MessageId, Nonce,
    ReactionType, ShardManager,
};

use crate::convert::{
    self, ConvertError, MESSAGE_LIMIT, edit_request, message_id, outbound_channel, reaction_type,
    send_request,
};
use crate::interactions::Interactions;
use crate::shards::Sharding;

/// One Discord REST call, as [`Discord::prepare`] builds it.
#[derive(Debug)]
pub(crate) enum Request {
    /// `POST /channels/{c}/messages`.
    Send(Box<CreateMessage>),
    /// `PATCH /channels/{c}/messages/{m}`.
    Edit(MessageId, Box<EditMessage>),
    /// `DELETE /channels/{c}/messages/{m}`.
    Delete(MessageId),
    /// `PUT /channels/{c}/messages/{m}/reactions/{emoji}/@me`.
    React(MessageId, ReactionType),
    /// `DELETE /channels/{c}/messages/{m}/reactions/{emoji}/@me`.
    Unreact(MessageId, ReactionType),
    /// `POST /channels/{c}/typing`.
    Typing,
    /// `POST /channels/{c}/messages/{m}/threads`.
    StartThread(MessageId, String),
    /// An answer to an interaction this process received (`interactions/`).
    Interaction(Box<crate::interactions::Prepared>),
}

/// Discord, as the runtime sees it.
pub(crate) struct Discord {
    platform: Platform,
    /// Serenity's REST client (rate-limited, or pointed at a proxy).
    http: Arc<Http>,
    /// Closed on shutdown.
    shard_manager: Arc<ShardManager>,
    /// The operator's `--allow-mass-mentions`.
    allow_mass_mentions: bool,
    /// The shards this process runs: it sends only what they own.
    sharding: Sharding,
    /// The interactions this process received: only it can answer them.
    interactions: Arc<Interactions>,
}

impl Discord {
    pub(crate) fn new(
        http: Arc<Http>,
        shard_manager: Arc<ShardManager>,
        allow_mass_mentions: bool,
        sharding: Sharding,
        interactions: Arc<Interactions>,
    ) -> Discord {
        Discord {
            platform: Platform::new(convert::PLATFORM).expect("`discord` is a valid platform name"),
            http,
            shard_manager,
            allow_mass_mentions,
            sharding,
            interactions,
        }
    }
}

impl Adapter for Discord {
    type Room = ChannelId;
    type Prepared = Request;

    fn platform(&self) -> &Platform {
        &self.platform
    }

    /// A DM's room is its DM channel id, so guild messages and DMs are sent the same
    /// way. Only what this process' shards own is its (`shards.rs`).
    fn route(&self, topic: &Topic) -> Route<ChannelId> {
        match outbound_channel(topic) {
            Ok(channel_id) => self.sharding.route(topic, channel_id),
            Err(err) => Route::Invalid(err.to_string()),
        }
    }

    fn text_limits(&self) -> TextLimits {
        TextLimits::chars(MESSAGE_LIMIT).with_code_fences()
    }

    fn prepare(&self, channel_id: &ChannelId, action: Action) -> Result<Request, PrepareError> {
        let invalid = |err: ConvertError| PrepareError::Invalid(err.to_string());
        let request = match action {
            Action::Send(text) => {
                let nonce = text.idempotency_key.clone();
                let mut request =
                    send_request(text, *channel_id, self.allow_mass_mentions).map_err(invalid)?;
                if let Some(nonce) = nonce {
                    // Discord drops a second message with the same nonce from the same
                    // author for a few minutes: two processes that both think they own
                    // this channel (a rolling deploy) post it once.
                    request = request.nonce(Nonce::String(nonce)).enforce_nonce(true);
                }
                Request::Send(Box::new(request))
            }
            Action::Edit {
                message_id: id,
                text,
            } => Request::Edit(
                message_id(&id).map_err(invalid)?,
                Box::new(edit_request(text, self.allow_mass_mentions).map_err(invalid)?),
            ),
            Action::Delete { message_id: id } => Request::Delete(message_id(&id).map_err(invalid)?),
            Action::React {
                message_id: id,
                emoji,
            } => Request::React(
                message_id(&id).map_err(invalid)?,
                reaction_type(&emoji).map_err(invalid)?,
            ),
            Action::Unreact {
                message_id: id,
                emoji,
            } => Request::Unreact(
                message_id(&id).map_err(invalid)?,
                reaction_type(&emoji).map_err(invalid)?,
            ),
            Action::Typing => Request::Typing,
            Action::StartThread {
                message_id: id,
                name,
            } => Request::StartThread(message_id(&id).map_err(invalid)?, name),
            Action::Interaction(reply) => {
                Request::Interaction(Box::new(self.interactions.prepare(reply)?))
            }
            other => {
                return Err(PrepareError::Unsupported(format!(
                    "gateway-discord cannot {}",
                    other.kind()
                )));
            }
        };
        Ok(request)
    }

    async fn perform(
        &self,
        channel_id: &ChannelId,
        request: Request,
    ) -> Result<Vec<String>, DeliveryError> {
        let http = self.http.as_ref();
        let channel_id = *channel_id;
        // The ids of the message sent or acted on (none for typing).
        let touched = |message_id: MessageId| vec![message_id.to_string()];
        match request {
            Request::Send(request) => channel_id
                .send_message(http, *request)
                .await
                .map(|sent| touched(sent.id)),
            Request::Edit(message_id, request) => channel_id
                .edit_message(http, message_id, *request)
                .await
                .map(|edited| touched(edited.id)),
            Request::Delete(message_id) => channel_id
                .delete_message(http, message_id)
                .await
                .map(|()| touched(message_id)),
            Request::React(message_id, emoji) => http
                .create_reaction(channel_id, message_id, &emoji)
                .await
                .map(|()| touched(message_id)),
            Request::Unreact(message_id, emoji) => http
                .delete_reaction_me(channel_id, message_id, &emoji)
                .await
                .map(|()| touched(message_id)),
            Request::Typing => http.broadcast_typing(channel_id).await.map(|()| Vec::new()),
            // The thread's id is the room to publish in from now on.
            Request::StartThread(message_id, name) => channel_id
                .create_thread_from_message(http, message_id, CreateThread::new(name))
                .await
                .map(|thread| vec![thread.id.to_string()]),
            Request::Interaction(prepared) => return self.interactions.perform(*prepared).await,
        }
        .map_err(|err| discord_error(&err))
    }

    async fn close(&self) {
        self.shard_manager.shutdown_all().await;
    }
}

/// Discord's code, message and HTTP status when Discord answered with an error;
/// otherwise the error's text (network failure, refused by serenity before sending).
fn discord_error(err: &serenity::Error) -> DeliveryError {
    match err {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => DeliveryError {
            code: i64::try_from(response.error.code).ok(),
            message: response.error.message.clone(),
            status: Some(response.status_code.as_u16()),
        },
        other => local_error(other.to_string()),
    }
}
