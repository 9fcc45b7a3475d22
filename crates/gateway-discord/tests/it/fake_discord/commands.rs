//! Application commands on the fake Discord: `GET /oauth2/applications/@me`, and
//! `GET`/`PUT` (bulk overwrite) of `/applications/{app}/commands` and
//! `/applications/{app}/guilds/{guild}/commands`, stored per scope, every write
//! recorded.
//!
//! Like Discord, a stored command comes back with fields of Discord's own: `id` (kept
//! across overwrites for the same type and name), `application_id`, a new `version`,
//! `guild_id`, the defaults filled in (`type`, `default_member_permissions`,
//! `dm_permission` for global commands, `contexts`, `integration_types`, `nsfw`,
//! empty localizations), and `required: false` left out of options. Localizations come
//! back only with `?with_localizations=true`. A body that breaks Discord's rules gets
//! 400 Invalid Form Body, as on Discord.

use std::sync::Mutex;

use serde_json::{Map, Value, json};

use super::{APPLICATION_ID, FAKE_BOT_USERNAME, FakeDiscord, RestRequest, State};

/// One bulk overwrite the fake accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandWrite {
    /// The guild for guild commands; `None` for global ones.
    pub guild_id: Option<u64>,
    /// The request body: the array of commands.
    pub body: Value,
}

/// The commands of each scope and the writes, in order.
#[derive(Debug, Default)]
pub(super) struct Store {
    /// (guild or global, the commands as Discord stores them).
    scopes: Mutex<Vec<(Option<u64>, Vec<Value>)>>,
    writes: Mutex<Vec<CommandWrite>>,
}

impl FakeDiscord {
    /// Every command write (PUT) so far, in order.
    pub fn command_writes(&self) -> Vec<CommandWrite> {
        self.state.commands.writes.lock().unwrap().clone()
    }

    /// The commands Discord holds globally (`None`) or in a guild, as a GET with
    /// localizations returns them.
    pub fn commands(&self, guild_id: Option<u64>) -> Vec<Value> {
        stored(&self.state, guild_id)
    }
}

fn stored(state: &State, guild_id: Option<u64>) -> Vec<Value> {
    state
        .commands
        .scopes
        .lock()
        .unwrap()
        .iter()
        .find(|(scope, _)| *scope == guild_id)
        .map(|(_, commands)| commands.clone())
        .unwrap_or_default()
}

/// Answers the command and application routes; `None` for any other request.
pub(super) fn answer(
    state: &State,
    request: &RestRequest,
    segments: &[&str],
) -> Option<(u16, Value)> {
    let (application, guild_id) = match segments {
        ["api", "v10", "oauth2", "applications", "@me"] if request.method == "GET" => {
            return Some((
                200,
                json!({"id": APPLICATION_ID.to_string(), "name": FAKE_BOT_USERNAME,
                       "icon": null, "description": "", "bot_public": true,
                       "bot_require_code_grant": false, "verify_key": "00", "flags": 0}),
            ));
        }
        ["api", "v10", "applications", application, "commands"] => (*application, None),
        [
            "api",
            "v10",
            "applications",
            application,
            "guilds",
            guild,
            "commands",
        ] => (*application, Some(guild.parse::<u64>().ok()?)),
        _ => return None,
    };
    if application != APPLICATION_ID.to_string() {
        return Some((403, json!({"code": 50001, "message": "Missing Access"})));
    }
    match request.method.as_str() {
        "GET" => {
            let with_localizations = request
                .query
                .split('&')
                .any(|pair| pair == "with_localizations=true");
            let commands = stored(state, guild_id)
                .into_iter()
                .map(|command| {
                    if with_localizations {
                        command
                    } else {
                        without_localizations(command)
                    }
                })
                .collect();
            Some((200, Value::Array(commands)))
        }
        "PUT" => Some(overwrite(state, request, guild_id)),
        _ => Some((
            405,
            json!({"code": 0, "message": "405: Method Not Allowed"}),
        )),
    }
}

fn overwrite(state: &State, request: &RestRequest, guild_id: Option<u64>) -> (u16, Value) {
    let problems = discord_commands::check(&request.body);
    if !problems.is_empty() {
        let errors: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return (
            400,
            json!({"code": 50035, "message": "Invalid Form Body", "errors": {"_errors": errors}}),
        );
    }
    state.commands.writes.lock().unwrap().push(CommandWrite {
        guild_id,
        body: request.body.clone(),
    });
    let before = stored(state, guild_id);
    let commands: Vec<Value> = request
        .body
        .as_array()
        .into_iter()
        .flatten()
        .map(|command| as_stored(state, command, guild_id, &before))
        .collect();
    let mut scopes = state.commands.scopes.lock().unwrap();
    scopes.retain(|(scope, _)| *scope != guild_id);
    scopes.push((guild_id, commands.clone()));
    (200, Value::Array(commands))
}

/// A command as Discord stores and returns it.
fn as_stored(state: &State, command: &Value, guild_id: Option<u64>, before: &[Value]) -> Value {
    let mut stored = command.as_object().cloned().unwrap_or_default();
    let kind = stored.get("type").and_then(Value::as_u64).unwrap_or(1);
    let same =
        |other: &&Value| other["type"].as_u64() == Some(kind) && other["name"] == stored["name"];
    let id = before.iter().find(same).map_or_else(
        || state.snowflake().to_string(),
        |old| old["id"].as_str().unwrap_or_default().to_owned(),
    );
    stored.insert("id".into(), json!(id));
    stored.insert("application_id".into(), json!(APPLICATION_ID.to_string()));
    stored.insert("version".into(), json!(state.snowflake().to_string()));
    stored.insert("type".into(), json!(kind));
    if let Some(guild_id) = guild_id {
        stored.insert("guild_id".into(), json!(guild_id.to_string()));
    } else {
        stored.entry("dm_permission").or_insert(json!(true));
    }
    for (key, default) in [
        ("description", json!("")),
        ("default_member_permissions", Value::Null),
        ("contexts", Value::Null),
        ("integration_types", json!([0])),
        ("nsfw", json!(false)),
        ("name_localizations", Value::Null),
        ("description_localizations", Value::Null),
    ] {
        stored.entry(key).or_insert(default);
    }
    if let Some(Value::Array(options)) = stored.get_mut("options") {
        options.iter_mut().for_each(strip_required_false);
    }
    Value::Object(stored)
}

/// Discord leaves `required: false` out of the options it returns.
fn strip_required_false(option: &mut Value) {
    let Value::Object(object) = option else {
        return;
    };
    if object.get("required") == Some(&json!(false)) {
        object.remove("required");
    }
    if let Some(Value::Array(options)) = object.get_mut("options") {
        options.iter_mut().for_each(strip_required_false);
    }
}

/// A command as a GET without `with_localizations` returns it.
fn without_localizations(command: Value) -> Value {
    fn strip(object: &mut Map<String, Value>) {
        object.remove("name_localizations");
        object.remove("description_localizations");
        for key in ["options", "choices"] {
            if let Some(Value::Array(items)) = object.get_mut(key) {
                for item in items {
                    if let Value::Object(item) = item {
                        strip(item);
                    }
                }
            }
        }
    }
    let mut command = command;
    if let Value::Object(object) = &mut command {
        strip(object);
    }
    command
}
