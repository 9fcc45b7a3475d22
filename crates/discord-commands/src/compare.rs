//! Whether Discord's commands already match a file, so the gateway writes only when
//! something changed (Discord limits command creates per day).
//!
//! Discord answers `GET .../commands?with_localizations=true` with more than the file
//! says: ids, `application_id`, `version`, `guild_id`, and its defaults filled in
//! (`type: 1`, `nsfw: false`, `default_member_permissions: null`, `dm_permission: true`,
//! `contexts`, `integration_types`), while it leaves out `required: false` and empty
//! lists. Both sides are reduced to a canonical form before they are compared: only the
//! fields a write sets, each default spelled out, empty localizations and lists dropped,
//! numbers compared by value (`1` and `1.0` are the same), commands matched by type and
//! name (Discord does not keep the file's order of commands; options keep theirs, since
//! it is the order users see).
//!
//! `contexts`, `integration_types` and `dm_permission` have defaults Discord derives
//! from the app's install settings: they are compared only when the file sets them.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Number, Value};

/// What writing a file would change: command labels (`/roll`, `Report (message)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// In the file, not on Discord.
    pub added: Vec<String>,
    /// On both, different.
    pub changed: Vec<String>,
    /// On Discord, not in the file (a write deletes them).
    pub removed: Vec<String>,
}

impl Changes {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

impl fmt::Display for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no change");
        }
        let mut first = true;
        for (what, labels) in [
            ("added", &self.added),
            ("changed", &self.changed),
            ("removed", &self.removed),
        ] {
            if labels.is_empty() {
                continue;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{what} {}", labels.join(", "))?;
        }
        Ok(())
    }
}

/// The fields whose default Discord derives from the app's settings: compared only
/// when the file sets them.
const APP_DEFAULTS: [&str; 3] = ["contexts", "integration_types", "dm_permission"];

/// Compares the commands a file declares with those Discord holds.
pub fn changes(desired: &[Value], existing: &[Value]) -> Changes {
    let mut existing_by_key: BTreeMap<(u64, String), &Value> = existing
        .iter()
        .map(|command| (key(command), command))
        .collect();
    let mut changes = Changes::default();
    for command in desired {
        let key = key(command);
        let label = label(&key);
        match existing_by_key.remove(&key) {
            None => changes.added.push(label),
            Some(current) => {
                let kept: Vec<&str> = APP_DEFAULTS
                    .into_iter()
                    .filter(|field| command.get(*field).is_some())
                    .collect();
                if canonical_command(command, &kept) != canonical_command(current, &kept) {
                    changes.changed.push(label);
                }
            }
        }
    }
    changes.removed = existing_by_key.into_keys().map(|key| label(&key)).collect();
    changes
}

fn key(command: &Value) -> (u64, String) {
    let kind = command.get("type").and_then(Value::as_u64).unwrap_or(1);
    let name = command
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    (kind, name.to_owned())
}

fn label((kind, name): &(u64, String)) -> String {
    match kind {
        1 => format!("/{name}"),
        2 => format!("{name} (user)"),
        3 => format!("{name} (message)"),
        _ => format!("{name} (entry point)"),
    }
}

/// A command reduced to what a write sets, with Discord's defaults spelled out.
fn canonical_command(command: &Value, app_defaults: &[&str]) -> Value {
    let mut out = Map::new();
    let kind = command.get("type").and_then(Value::as_u64).unwrap_or(1);
    out.insert("type".into(), Value::from(kind));
    text(command, "name", &mut out);
    text(command, "description", &mut out);
    localizations(command, "name_localizations", &mut out);
    localizations(command, "description_localizations", &mut out);
    options(command, &mut out);
    out.insert(
        "default_member_permissions".into(),
        command
            .get("default_member_permissions")
            .cloned()
            .unwrap_or(Value::Null),
    );
    flag(command, "nsfw", false, &mut out);
    for field in app_defaults {
        let value = match command.get(*field) {
            Some(Value::Array(items)) => {
                let mut numbers: Vec<u64> = items.iter().filter_map(Value::as_u64).collect();
                numbers.sort_unstable();
                numbers.dedup();
                Value::from(numbers)
            }
            Some(value) => value.clone(),
            None => Value::Null,
        };
        out.insert((*field).to_owned(), value);
    }
    if kind == 4 {
        out.insert(
            "handler".into(),
            command.get("handler").cloned().unwrap_or(Value::Null),
        );
    }
    Value::Object(out)
}

fn canonical_option(option: &Value) -> Value {
    let mut out = Map::new();
    out.insert(
        "type".into(),
        option.get("type").cloned().unwrap_or(Value::Null),
    );
    text(option, "name", &mut out);
    text(option, "description", &mut out);
    localizations(option, "name_localizations", &mut out);
    localizations(option, "description_localizations", &mut out);
    flag(option, "required", false, &mut out);
    flag(option, "autocomplete", false, &mut out);
    options(option, &mut out);
    if let Some(Value::Array(choices)) = option.get("choices")
        && !choices.is_empty()
    {
        let choices = choices
            .iter()
            .map(|choice| {
                let mut canonical = Map::new();
                text(choice, "name", &mut canonical);
                localizations(choice, "name_localizations", &mut canonical);
                canonical.insert(
                    "value".into(),
                    number(choice.get("value").cloned().unwrap_or(Value::Null)),
                );
                Value::Object(canonical)
            })
            .collect();
        out.insert("choices".into(), Value::Array(choices));
    }
    if let Some(Value::Array(types)) = option.get("channel_types")
        && !types.is_empty()
    {
        let mut types: Vec<u64> = types.iter().filter_map(Value::as_u64).collect();
        types.sort_unstable();
        out.insert("channel_types".into(), Value::from(types));
    }
    for field in ["min_value", "max_value", "min_length", "max_length"] {
        if let Some(value) = option.get(field).filter(|value| !value.is_null()) {
            out.insert(field.into(), number(value.clone()));
        }
    }
    Value::Object(out)
}

fn text(from: &Value, key: &str, out: &mut Map<String, Value>) {
    let text = from.get(key).and_then(Value::as_str).unwrap_or_default();
    out.insert(key.into(), Value::from(text));
}

/// Localizations: null, absent and `{}` are all "none"; null entries are dropped.
fn localizations(from: &Value, key: &str, out: &mut Map<String, Value>) {
    if let Some(Value::Object(map)) = from.get(key) {
        let map: Map<String, Value> = map
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(locale, value)| (locale.clone(), value.clone()))
            .collect();
        if !map.is_empty() {
            out.insert(key.into(), Value::Object(map));
        }
    }
}

fn flag(from: &Value, key: &str, default: bool, out: &mut Map<String, Value>) {
    let value = from.get(key).and_then(Value::as_bool).unwrap_or(default);
    out.insert(key.into(), Value::from(value));
}

fn options(from: &Value, out: &mut Map<String, Value>) {
    if let Some(Value::Array(options)) = from.get("options")
        && !options.is_empty()
    {
        out.insert(
            "options".into(),
            Value::Array(options.iter().map(canonical_option).collect()),
        );
    }
}

/// Numbers compared by value: `1`, `1.0` and `1e0` are the same to Discord.
fn number(value: Value) -> Value {
    match &value {
        Value::Number(n) => n
            .as_f64()
            .and_then(Number::from_f64)
            .map_or(value, Value::Number),
        _ => value,
    }
}
