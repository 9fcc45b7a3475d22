//! The fake Discord's interactions: `INTERACTION_CREATE` dispatches that serenity 0.12.5
//! accepts, and the endpoints that answer them, with Discord's rules.
//!
//! Payloads carry every field serenity requires (checked against its model types:
//! `CommandInteraction`, `ComponentInteraction`, `ModalInteraction` need `id`,
//! `application_id`, `type`, `data`, `channel_id`, `token`, `version`, `locale`,
//! `entitlements` and `attachment_size_limit`; a guild `member` needs `user`, `roles`,
//! `deaf`, `mute` and `flags`; a component's `message` is a whole message).
//!
//! Endpoints: `POST /interactions/{id}/{token}/callback` (204; `10062 Unknown
//! interaction` more than 3 s after the dispatch or for an unknown id or token,
//! `40060 Interaction has already been acknowledged` for a second initial response),
//! `POST /webhooks/{app}/{token}` (a follow-up: 200 with a new message) and
//! `PATCH`/`DELETE /webhooks/{app}/{token}/messages/@original` (`10015 Unknown
//! Webhook` before the interaction is acknowledged). Every call is recorded with its
//! time, for the latency bench.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{
    APPLICATION_ID, FAKE_BOT_USER_ID, FAKE_BOT_USERNAME, FakeDiscord, RestRequest, State,
    TIMESTAMP, message_json,
};

/// How long Discord waits for the initial response.
pub const INITIAL_RESPONSE_DEADLINE: Duration = Duration::from_secs(3);

/// The permissions the fake gives members (decimal, as Discord sends them; only bits
/// serenity 0.12.5 knows, since it drops the others).
pub const MEMBER_PERMISSIONS: &str = "2107735977479745";

/// An interaction to dispatch with [`FakeDiscord::interact`].
#[derive(Debug, Clone)]
pub struct DiscordInteraction {
    pub guild_id: Option<u64>,
    pub channel_id: u64,
    pub user_id: u64,
    pub locale: String,
    pub kind: InteractionKind,
}

/// What the user did.
#[derive(Debug, Clone)]
pub enum InteractionKind {
    /// A slash command: its name, Discord's `options` array and `resolved` object.
    Command {
        name: String,
        options: Value,
        resolved: Value,
    },
    /// Typing in an option with autocomplete (`options` has one `focused`).
    Autocomplete { name: String, options: Value },
    /// A button click (`component_type` 2) or a select menu choice (3: `values`), on the
    /// message `message_id`.
    Component {
        custom_id: String,
        component_type: u8,
        values: Vec<String>,
        message_id: u64,
    },
    /// A submitted modal: each input's `custom_id` and value.
    ModalSubmit {
        custom_id: String,
        fields: Vec<(String, String)>,
    },
}

impl DiscordInteraction {
    /// `/name` in a guild channel, with Discord's `options` array.
    pub fn command(
        guild_id: u64,
        channel_id: u64,
        user_id: u64,
        name: &str,
        options: Value,
    ) -> DiscordInteraction {
        DiscordInteraction {
            guild_id: Some(guild_id),
            channel_id,
            user_id,
            locale: "en-US".to_owned(),
            kind: InteractionKind::Command {
                name: name.to_owned(),
                options,
                resolved: json!({}),
            },
        }
    }

    /// A button click on `message_id` in a guild channel.
    pub fn button(
        guild_id: u64,
        channel_id: u64,
        user_id: u64,
        message_id: u64,
        custom_id: &str,
    ) -> DiscordInteraction {
        DiscordInteraction {
            kind: InteractionKind::Component {
                custom_id: custom_id.to_owned(),
                component_type: 2,
                values: Vec::new(),
                message_id,
            },
            ..DiscordInteraction::command(guild_id, channel_id, user_id, "", json!([]))
        }
    }

    /// A submitted modal in a guild channel.
    pub fn modal_submit(
        guild_id: u64,
        channel_id: u64,
        user_id: u64,
        custom_id: &str,
        fields: &[(&str, &str)],
    ) -> DiscordInteraction {
        DiscordInteraction {
            kind: InteractionKind::ModalSubmit {
                custom_id: custom_id.to_owned(),
                fields: fields
                    .iter()
                    .map(|(id, value)| ((*id).to_owned(), (*value).to_owned()))
                    .collect(),
            },
            ..DiscordInteraction::command(guild_id, channel_id, user_id, "", json!([]))
        }
    }

    /// Typing `typed` in the option `option` of `/name`.
    pub fn autocomplete(
        guild_id: u64,
        channel_id: u64,
        user_id: u64,
        name: &str,
        option: &str,
        typed: &str,
    ) -> DiscordInteraction {
        DiscordInteraction {
            kind: InteractionKind::Autocomplete {
                name: name.to_owned(),
                options: json!([{"name": option, "type": 3, "value": typed, "focused": true}]),
            },
            ..DiscordInteraction::command(guild_id, channel_id, user_id, "", json!([]))
        }
    }

    /// The same interaction with Discord's `resolved` object (commands only).
    pub fn with_resolved(mut self, value: Value) -> DiscordInteraction {
        if let InteractionKind::Command { resolved, .. } = &mut self.kind {
            *resolved = value;
        }
        self
    }

    fn user_json(&self) -> Value {
        json!({"id": self.user_id.to_string(), "username": format!("user{}", self.user_id),
               "discriminator": "0", "global_name": null, "avatar": null, "bot": false})
    }

    /// The complete `INTERACTION_CREATE` payload.
    fn to_json(&self, id: u64, token: &str) -> Value {
        let (kind, data) = match &self.kind {
            InteractionKind::Command {
                name,
                options,
                resolved,
            } => (
                2,
                json!({"id": "1300000000000000001", "name": name, "type": 1,
                       "options": options, "resolved": resolved}),
            ),
            InteractionKind::Autocomplete { name, options } => (
                4,
                json!({"id": "1300000000000000001", "name": name, "type": 1, "options": options}),
            ),
            InteractionKind::Component {
                custom_id,
                component_type,
                values,
                ..
            } => {
                let mut data = json!({"custom_id": custom_id, "component_type": component_type});
                if *component_type != 2 {
                    data["values"] = json!(values);
                }
                (3, data)
            }
            InteractionKind::ModalSubmit { custom_id, fields } => {
                let rows: Vec<Value> = fields
                    .iter()
                    .map(|(id, value)| json!({"type": 1, "components": [{"type": 4, "custom_id": id, "value": value}]}))
                    .collect();
                (5, json!({"custom_id": custom_id, "components": rows}))
            }
        };
        let mut payload = json!({
            "id": id.to_string(),
            "application_id": APPLICATION_ID.to_string(),
            "type": kind,
            "data": data,
            "channel_id": self.channel_id.to_string(),
            "token": token,
            "version": 1,
            "locale": self.locale,
            "entitlements": [],
            "authorizing_integration_owners": {},
            "attachment_size_limit": 26_214_400,
        });
        match self.guild_id {
            Some(guild_id) => {
                payload["guild_id"] = json!(guild_id.to_string());
                payload["guild_locale"] = json!("en-US");
                payload["member"] = json!({"user": self.user_json(), "roles": [], "joined_at": TIMESTAMP,
                    "deaf": false, "mute": false, "flags": 0, "nick": null, "permissions": MEMBER_PERMISSIONS});
            }
            None => payload["user"] = self.user_json(),
        }
        if let InteractionKind::Component { message_id, .. } = &self.kind {
            let author = json!({"id": FAKE_BOT_USER_ID.to_string(), "username": FAKE_BOT_USERNAME,
                                "discriminator": "0", "global_name": null, "avatar": null, "bot": true});
            let mut message = message_json(
                *message_id,
                self.channel_id,
                author,
                "a message with a button",
            );
            if let Some(guild_id) = self.guild_id {
                message["guild_id"] = json!(guild_id.to_string());
            }
            payload["message"] = message;
        }
        payload
    }
}

/// An interaction the fake dispatched: what a test needs to find its answers.
#[derive(Debug, Clone)]
pub struct Dispatched {
    pub id: u64,
    /// The token, to search logs and Redis for.
    pub token: String,
    pub at: Instant,
}

/// One call to the interaction endpoints, as the fake answered it.
#[derive(Debug, Clone)]
pub struct InteractionCall {
    /// `callback`, `followup`, `edit_original` or `delete_original`.
    pub endpoint: &'static str,
    /// The interaction it concerns (found by its token).
    pub interaction_id: u64,
    pub body: Value,
    /// The status the fake answered.
    pub status: u16,
    /// Discord's error code, when it refused.
    pub code: Option<i64>,
    pub at: Instant,
}

impl InteractionCall {
    /// The callback `type` (4: message, 5: deferred message, 6: deferred update,
    /// 7: update, 8: autocomplete, 9: modal).
    pub fn callback_type(&self) -> Option<u64> {
        self.body["type"].as_u64()
    }

    /// The message content of the call (a callback's `data.content`, else `content`).
    pub fn content(&self) -> Option<&str> {
        self.body["data"]["content"]
            .as_str()
            .or_else(|| self.body["content"].as_str())
    }
}

/// The fake's interaction state.
#[derive(Debug, Default)]
pub(super) struct Interactions {
    /// By interaction id: when it was dispatched, its token, and the type of its
    /// initial response once there is one.
    live: Mutex<HashMap<u64, Live>>,
    calls: Mutex<Vec<InteractionCall>>,
    /// Rung at every call.
    called: tokio::sync::Notify,
}

#[derive(Debug)]
struct Live {
    token: String,
    at: Instant,
    acknowledged: Option<u64>,
    original_id: u64,
}

impl FakeDiscord {
    /// Dispatches `INTERACTION_CREATE` for `interaction` with a fresh id and token.
    pub fn interact(&self, interaction: &DiscordInteraction) -> Dispatched {
        let id = self.state.snowflake();
        let token = format!(
            "aW50ZXJhY3Rpb246{id}:TOKEN-do-not-log-{}",
            self.state.snowflake()
        );
        let at = Instant::now();
        self.state.interactions.live.lock().unwrap().insert(
            id,
            Live {
                token: token.clone(),
                at,
                acknowledged: None,
                original_id: self.state.snowflake(),
            },
        );
        self.dispatch("INTERACTION_CREATE", interaction.to_json(id, &token));
        Dispatched { id, token, at }
    }

    /// Every call to the interaction endpoints so far, in arrival order.
    pub fn interaction_calls(&self) -> Vec<InteractionCall> {
        self.state.interactions.calls.lock().unwrap().clone()
    }

    /// Waits (up to `patience`) for the first call about `interaction_id`.
    pub async fn first_call(
        &self,
        interaction_id: u64,
        patience: Duration,
    ) -> Option<InteractionCall> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let called = self.state.interactions.called.notified();
            tokio::pin!(called);
            called.as_mut().enable();
            if let Some(call) = self.calls_for(interaction_id).into_iter().next() {
                return Some(call);
            }
            if tokio::time::timeout_at(deadline, called).await.is_err() {
                return None;
            }
        }
    }

    /// The calls about one interaction.
    pub fn calls_for(&self, interaction_id: u64) -> Vec<InteractionCall> {
        self.interaction_calls()
            .into_iter()
            .filter(|call| call.interaction_id == interaction_id)
            .collect()
    }
}

/// Answers `/api/v10/interactions/...` and `/api/v10/webhooks/...`.
pub(super) fn answer(state: &State, request: &RestRequest, segments: &[&str]) -> (u16, Value) {
    let arrived = Instant::now();
    let interactions = &state.interactions;
    let mut live = interactions.live.lock().unwrap();
    let by_token = |token: &str| {
        live.iter()
            .find(|(_, entry)| entry.token == token)
            .map(|(id, _)| *id)
    };
    let (endpoint, interaction_id, outcome) = match (request.method.as_str(), segments) {
        ("POST", ["interactions", id, token, "callback"]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let outcome = match live.get_mut(&id) {
                Some(entry)
                    if entry.token == *token && entry.at.elapsed() <= INITIAL_RESPONSE_DEADLINE =>
                {
                    if entry.acknowledged.is_some() {
                        Err((400, 40060, "Interaction has already been acknowledged."))
                    } else {
                        entry.acknowledged = request.body["type"].as_u64().or(Some(0));
                        Ok((204, Value::Null))
                    }
                }
                _ => Err((404, 10062, "Unknown interaction")),
            };
            ("callback", id, outcome)
        }
        (method, ["webhooks", app, token, rest @ ..]) if *app == APPLICATION_ID.to_string() => {
            let id = by_token(token).unwrap_or(0);
            let entry = live.get(&id).filter(|entry| entry.acknowledged.is_some());
            let outcome = match (method, rest, entry) {
                (_, _, None) => Err((404, 10015, "Unknown Webhook")),
                ("POST", [], Some(_)) => {
                    let message_id = state.snowflake();
                    Ok((200, webhook_message(message_id, &request.body)))
                }
                ("PATCH", ["messages", "@original"], Some(entry)) => {
                    Ok((200, webhook_message(entry.original_id, &request.body)))
                }
                ("DELETE", ["messages", "@original"], Some(_)) => Ok((204, Value::Null)),
                _ => Err((404, 0, "404: Not Found")),
            };
            let endpoint = match (method, rest) {
                ("POST", []) => "followup",
                ("PATCH", _) => "edit_original",
                ("DELETE", _) => "delete_original",
                _ => "webhook",
            };
            (endpoint, id, outcome)
        }
        _ => ("unknown", 0, Err((404, 0, "404: Not Found"))),
    };
    drop(live);
    let (status, code, response) = match outcome {
        Ok((status, body)) => (status, None, body),
        Err((status, code, message)) => (
            status,
            Some(code),
            json!({"code": code, "message": message}),
        ),
    };
    interactions.calls.lock().unwrap().push(InteractionCall {
        endpoint,
        interaction_id,
        body: request.body.clone(),
        status,
        code,
        at: arrived,
    });
    interactions.called.notify_waiters();
    (status, response)
}

/// The message a webhook call returns.
fn webhook_message(id: u64, body: &Value) -> Value {
    json!({"id": id.to_string(), "content": body["content"].as_str().unwrap_or_default(),
           "flags": body["flags"].as_u64().unwrap_or(0)})
}
