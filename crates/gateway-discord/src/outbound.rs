//! The Discord [`Adapter`]: which channel an outbound topic addresses, Discord's text
//! limit, and one serenity REST call per prepared request. Everything around it
//! (subscription, per-channel ordered workers, splitting, receipts, counters) is the
//! runtime's, in `bytebot-gateway`.

use std::sync::Arc;

use bytebot_core::receipt::DeliveryError;
use bytebot_core::{Platform, Topic};
use bytebot_gateway::{Action, Adapter, PrepareError, Route, TextLimits, local_error};
use serenity::all::{ChannelId, CreateMessage, Http, HttpError, ShardManager};

use crate::convert::{self, ConvertError, MESSAGE_LIMIT, outbound_channel, send_request};

/// One Discord REST call, as [`Discord::prepare`] builds it.
#[derive(Debug)]
pub(crate) enum Request {
    /// `POST /channels/{id}/messages`.
    Send(Box<CreateMessage>),
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
}

impl Discord {
    pub(crate) fn new(
        http: Arc<Http>,
        shard_manager: Arc<ShardManager>,
        allow_mass_mentions: bool,
    ) -> Discord {
        Discord {
            platform: Platform::new(convert::PLATFORM).expect("`discord` is a valid platform name"),
            http,
            shard_manager,
            allow_mass_mentions,
        }
    }
}

impl Adapter for Discord {
    type Room = ChannelId;
    type Prepared = Request;

    fn platform(&self) -> &Platform {
        &self.platform
    }

    /// A DM's room is its DM channel id, so guild messages and DMs are sent the same way.
    fn route(&self, topic: &Topic) -> Route<ChannelId> {
        match outbound_channel(topic) {
            Ok(channel_id) => Route::Room(channel_id),
            Err(err) => Route::Invalid(err.to_string()),
        }
    }

    fn text_limits(&self) -> TextLimits {
        TextLimits::chars(MESSAGE_LIMIT)
    }

    fn prepare(&self, channel_id: &ChannelId, action: Action) -> Result<Request, PrepareError> {
        let invalid = |err: ConvertError| PrepareError::Invalid(err.to_string());
        match action {
            Action::Send(text) => send_request(text, *channel_id, self.allow_mass_mentions)
                .map(|request| Request::Send(Box::new(request)))
                .map_err(invalid),
            other => Err(PrepareError::Unsupported(format!(
                "gateway-discord cannot {} yet",
                other.kind()
            ))),
        }
    }

    async fn perform(
        &self,
        channel_id: &ChannelId,
        request: Request,
    ) -> Result<Vec<String>, DeliveryError> {
        let http = self.http.as_ref();
        match request {
            Request::Send(request) => channel_id
                .send_message(http, *request)
                .await
                .map(|sent| vec![sent.id.to_string()]),
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
