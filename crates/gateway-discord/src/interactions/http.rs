//! The requests that answer interactions: `POST /interactions/{id}/{token}/callback` and
//! the webhook endpoints `/webhooks/{application}/{token}[/messages/@original]`.
//!
//! A client of our own rather than serenity's `Http`: serenity's `Http::request` is
//! `#[instrument]`ed with the request (its route, the interaction token included) as a
//! span field, so the token would appear in every log line emitted inside it at trace
//! level. Here the token is only ever in the URL handed to reqwest, and errors are
//! reported without their URL ([`reqwest::Error::without_url`]) and with the token cut
//! out of whatever text remains. These endpoints are authenticated by the token alone:
//! the bot token is not sent.

use std::time::Duration;

use bytebot_core::receipt::DeliveryError;
use bytebot_gateway::local_error;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// How long one request may take (the runtime bounds answers with its own timeout too).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Discord's HTTP API, for interaction answers only.
pub(crate) struct Client {
    http: reqwest::Client,
    /// `https://discord.com/api/v10`, or the proxy's (`--discord-api-url`) `/api/v10`.
    base: String,
}

impl Client {
    /// A client for `api_url` (without `/api/v10`; `None`: discord.com).
    pub(crate) fn new(api_url: Option<&str>) -> Client {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!(
                "DiscordBot (https://github.com/bytebot/bytebot, ",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .build()
            .unwrap_or_default();
        let root = api_url
            .unwrap_or("https://discord.com")
            .trim_end_matches('/');
        Client {
            http,
            base: format!("{root}/api/v10"),
        }
    }

    /// The initial response (`type` 4 to 9), `POST /interactions/{id}/{token}/callback`.
    pub(crate) async fn callback(
        &self,
        interaction_id: u64,
        token: &SecretString,
        body: &Value,
    ) -> Result<(), DeliveryError> {
        let url = format!(
            "{}/interactions/{interaction_id}/{}/callback",
            self.base,
            token.expose_secret()
        );
        self.send(reqwest::Method::POST, &url, Some(body), token)
            .await
            .map(drop)
    }

    /// A follow-up message, `POST /webhooks/{application}/{token}`; its message id.
    pub(crate) async fn followup(
        &self,
        application_id: u64,
        token: &SecretString,
        body: &Value,
    ) -> Result<Vec<String>, DeliveryError> {
        let url = format!(
            "{}/webhooks/{application_id}/{}",
            self.base,
            token.expose_secret()
        );
        let message = self
            .send(reqwest::Method::POST, &url, Some(body), token)
            .await?;
        Ok(message_id(&message))
    }

    /// Edits the original response, `PATCH /webhooks/{application}/{token}/messages/@original`;
    /// its message id.
    pub(crate) async fn edit_original(
        &self,
        application_id: u64,
        token: &SecretString,
        body: &Value,
    ) -> Result<Vec<String>, DeliveryError> {
        let url = self.original(application_id, token);
        let message = self
            .send(reqwest::Method::PATCH, &url, Some(body), token)
            .await?;
        Ok(message_id(&message))
    }

    /// Deletes the original response.
    pub(crate) async fn delete_original(
        &self,
        application_id: u64,
        token: &SecretString,
    ) -> Result<(), DeliveryError> {
        let url = self.original(application_id, token);
        self.send(reqwest::Method::DELETE, &url, None, token)
            .await
            .map(drop)
    }

    fn original(&self, application_id: u64, token: &SecretString) -> String {
        format!(
            "{}/webhooks/{application_id}/{}/messages/@original",
            self.base,
            token.expose_secret()
        )
    }

    /// One request; Discord's JSON answer (`Null` when empty), or its error.
    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
        token: &SecretString,
    ) -> Result<Value, DeliveryError> {
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let redacted = |err: reqwest::Error| {
            let text = err.without_url().to_string();
            local_error(text.replace(token.expose_secret(), "***"))
        };
        let response = request.send().await.map_err(redacted)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(redacted)?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let message = value["message"]
            .as_str()
            .map_or_else(|| format!("discord answered {status}"), str::to_owned);
        Err(DeliveryError {
            code: value["code"].as_i64(),
            message: message.replace(token.expose_secret(), "***"),
            status: Some(status.as_u16()),
        })
    }
}

fn message_id(message: &Value) -> Vec<String> {
    message["id"]
        .as_str()
        .map(|id| vec![id.to_owned()])
        .unwrap_or_default()
}
