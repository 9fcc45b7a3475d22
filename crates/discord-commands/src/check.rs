//! Discord's rules for application commands, checked offline: what Discord's API
//! would refuse with "Invalid Form Body", found before a deploy, each problem pointing
//! at its command (`commands[2] /roll`) and field (`options[0].choices[3].value`).
//!
//! The rules are those of Discord's "Application Commands" reference: the name regex
//! (lowercase for chat input), description lengths, option types and where each option
//! field applies, sub-command nesting, required options before optional ones, at most
//! 25 options and 25 choices, value types and ranges, the 4000-character total per
//! command, and per file: names unique per command type, at most 100 chat input
//! commands, 15 user and 15 message commands, one entry point.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Which command: `commands[2] /roll` (index in the file and name), or `the file`.
    pub command: String,
    /// The field inside the command, as a JSON path (`options[0].name`); empty for the
    /// command or the file as a whole.
    pub field: String,
    /// What is wrong, and what Discord expects.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.command, self.message)
        } else {
            write!(f, "{}: {}: {}", self.command, self.field, self.message)
        }
    }
}

/// Discord's name rule for chat input commands and options (also lowercase).
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$").expect("a valid regex")
});

/// The locales Discord accepts as keys of `name_localizations` and
/// `description_localizations`.
const LOCALES: [&str; 32] = [
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl",
    "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th",
    "zh-CN", "ja", "zh-TW", "ko",
];

/// Fields of an application command object (those Discord adds, such as `id`, are
/// accepted so that a file saved from Discord's answer checks).
const COMMAND_FIELDS: [&str; 17] = [
    "type",
    "name",
    "name_localizations",
    "description",
    "description_localizations",
    "options",
    "default_member_permissions",
    "dm_permission",
    "default_permission",
    "contexts",
    "integration_types",
    "nsfw",
    "handler",
    "id",
    "application_id",
    "version",
    "guild_id",
];

const OPTION_FIELDS: [&str; 14] = [
    "type",
    "name",
    "name_localizations",
    "description",
    "description_localizations",
    "required",
    "choices",
    "options",
    "channel_types",
    "min_value",
    "max_value",
    "min_length",
    "max_length",
    "autocomplete",
];

// Command types.
const CHAT_INPUT: u64 = 1;
const USER: u64 = 2;
const MESSAGE: u64 = 3;
const PRIMARY_ENTRY_POINT: u64 = 4;

// Option types.
const SUB_COMMAND: u64 = 1;
const SUB_COMMAND_GROUP: u64 = 2;
const STRING: u64 = 3;
const INTEGER: u64 = 4;
const CHANNEL: u64 = 7;
const NUMBER: u64 = 10;

/// Discord's channel types (`channel_types` of a channel option).
const CHANNEL_TYPES: [u64; 13] = [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16];

/// The largest integer Discord takes in `min_value`, `max_value` and choices (2^53).
const MAX_SAFE: f64 = 9_007_199_254_740_992.0;

/// Checks a parsed commands file against Discord's rules; empty when it passes.
pub fn check(file: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Value::Array(commands) = file else {
        let hint = match file {
            Value::Object(object) if object.contains_key("commands") => {
                ": put the array itself at the top, not an object with \"commands\""
            }
            Value::Object(_) => ": wrap a single command in [ ]",
            _ => "",
        };
        problems.push(Problem {
            command: "the file".to_owned(),
            field: String::new(),
            message: format!(
                "must be a JSON array of application command objects, as Discord's bulk overwrite takes{hint}"
            ),
        });
        return problems;
    };
    let mut seen = HashSet::new();
    let mut per_type = [0usize; 5];
    for (index, command) in commands.iter().enumerate() {
        let mut checker = Checker {
            command: label(index, command),
            problems: &mut problems,
        };
        let Some(kind) = checker.command(command) else {
            continue;
        };
        per_type[usize::try_from(kind).unwrap_or(0)] += 1;
        if let Some(name) = command.get("name").and_then(Value::as_str)
            && !seen.insert((kind, name.to_owned()))
        {
            checker.problem(
                "name",
                format!(
                    "another {} command has this name: names are unique per command type",
                    type_name(kind)
                ),
            );
        }
    }
    for (kind, limit) in [
        (CHAT_INPUT, 100),
        (USER, 15),
        (MESSAGE, 15),
        (PRIMARY_ENTRY_POINT, 1),
    ] {
        let count = per_type[usize::try_from(kind).unwrap_or(0)];
        if count > limit {
            problems.push(Problem {
                command: "the file".to_owned(),
                field: String::new(),
                message: format!(
                    "{count} {} commands: Discord allows at most {limit}",
                    type_name(kind)
                ),
            });
        }
    }
    problems
}

/// `commands[2] /roll`: the index in the file and, when it has one, the name.
fn label(index: usize, command: &Value) -> String {
    let name = command.get("name").and_then(Value::as_str).map(|name| {
        let short: String = name.chars().take(40).collect();
        let slash = match command.get("type").and_then(Value::as_u64) {
            None | Some(CHAT_INPUT) => "/",
            _ => "",
        };
        format!(" {slash}{short}")
    });
    format!("commands[{index}]{}", name.unwrap_or_default())
}

fn type_name(kind: u64) -> &'static str {
    match kind {
        CHAT_INPUT => "chat input",
        USER => "user",
        MESSAGE => "message",
        _ => "entry point",
    }
}

/// Where an options list sits: it decides which option types it may hold.
#[derive(Clone, Copy, PartialEq)]
enum Level {
    Command,
    Group,
    SubCommand,
}

struct Checker<'a> {
    command: String,
    problems: &'a mut Vec<Problem>,
}

impl Checker<'_> {
    fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            command: self.command.clone(),
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Checks one command; returns its type when it is one.
    fn command(&mut self, command: &Value) -> Option<u64> {
        let Value::Object(object) = command else {
            self.problem("", "must be an application command object");
            return None;
        };
        self.unknown_fields(object, "", &COMMAND_FIELDS);
        let kind = match object.get("type") {
            None => CHAT_INPUT,
            Some(value) => match value.as_u64() {
                Some(kind @ 1..=4) => kind,
                _ => {
                    self.problem(
                        "type",
                        "must be 1 (chat input), 2 (user), 3 (message) or 4 (primary entry point)",
                    );
                    return None;
                }
            },
        };
        let chat = kind == CHAT_INPUT || kind == PRIMARY_ENTRY_POINT;
        self.name(object.get("name"), "name", chat);
        self.localizations(object, "", "name_localizations", |checker, field, value| {
            checker.name(Some(value), field, chat);
        });
        if chat {
            self.description(object.get("description"), "description");
            self.localizations(
                object,
                "",
                "description_localizations",
                |checker, field, value| {
                    checker.description(Some(value), field);
                },
            );
        } else {
            match object.get("description") {
                None | Some(Value::Null) => {}
                Some(Value::String(text)) if text.is_empty() => {}
                Some(_) => self.problem(
                    "description",
                    "user and message commands have no description: leave it out or make it \"\"",
                ),
            }
        }
        match object.get("options") {
            None | Some(Value::Null) => {}
            Some(options) if kind == CHAT_INPUT => self.options(options, "options", Level::Command),
            Some(_) => self.problem("options", "only chat input commands take options"),
        }
        match object.get("default_member_permissions") {
            None | Some(Value::Null) => {}
            Some(Value::String(bits))
                if !bits.is_empty()
                    && bits.len() <= 20
                    && bits.bytes().all(|b| b.is_ascii_digit()) => {}
            Some(_) => self.problem(
                "default_member_permissions",
                "must be a permission bit set as a string of digits (e.g. \"8\"), or null",
            ),
        }
        for field in ["dm_permission", "default_permission", "nsfw"] {
            if let Some(value) = object.get(field)
                && !value.is_boolean()
                && !value.is_null()
            {
                self.problem(field, "must be true or false");
            }
        }
        self.small_set(
            object,
            "contexts",
            &[0, 1, 2],
            "0 (guild), 1 (bot DM) or 2 (private channel)",
        );
        self.small_set(
            object,
            "integration_types",
            &[0, 1],
            "0 (guild install) or 1 (user install)",
        );
        match (object.get("handler"), kind) {
            (None | Some(Value::Null), _) => {}
            (Some(value), PRIMARY_ENTRY_POINT) => {
                if !matches!(value.as_u64(), Some(1 | 2)) {
                    self.problem(
                        "handler",
                        "must be 1 (app handler) or 2 (Discord launch activity)",
                    );
                }
            }
            (Some(_), _) => self.problem(
                "handler",
                "only primary entry point commands (type 4) have a handler",
            ),
        }
        let total = characters(object);
        if total > 4000 {
            self.problem(
                "",
                format!("{total} characters in names, descriptions and choice values: Discord allows 4000 per command"),
            );
        }
        Some(kind)
    }

    fn unknown_fields(&mut self, object: &Map<String, Value>, path: &str, known: &[&str]) {
        for key in object.keys() {
            if !known.contains(&key.as_str()) {
                self.problem(
                    &join(path, key),
                    "unknown field (a typo? Discord ignores fields it does not know)",
                );
            }
        }
    }

    /// A command or option name: Discord's regex and lowercase for chat input and
    /// options, 1 to 32 characters of anything for user and message commands.
    fn name(&mut self, value: Option<&Value>, field: &str, chat: bool) {
        let Some(Value::String(name)) = value else {
            self.problem(field, "required: a string of 1 to 32 characters");
            return;
        };
        let length = name.chars().count();
        if !(1..=32).contains(&length) {
            self.problem(field, format!("{length} characters: must be 1 to 32"));
        } else if chat && !NAME.is_match(name) {
            self.problem(
                field,
                "may only hold letters, digits, - and _ (no spaces): Discord's rule is ^[-_\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$",
            );
        } else if chat && name.to_lowercase() != *name {
            self.problem(
                field,
                "must be lowercase for chat input commands and options",
            );
        }
    }

    fn description(&mut self, value: Option<&Value>, field: &str) {
        let Some(Value::String(description)) = value else {
            self.problem(field, "required: a string of 1 to 100 characters");
            return;
        };
        let length = description.chars().count();
        if !(1..=100).contains(&length) {
            self.problem(field, format!("{length} characters: must be 1 to 100"));
        }
    }

    /// `name_localizations` or `description_localizations`: null, or an object from
    /// Discord's locales to strings that each follow `rule`.
    fn localizations(
        &mut self,
        object: &Map<String, Value>,
        path: &str,
        key: &str,
        rule: impl Fn(&mut Self, &str, &Value),
    ) {
        let field = join(path, key);
        match object.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (locale, value) in map {
                    let field = format!("{field}.{locale}");
                    if !LOCALES.contains(&locale.as_str()) {
                        self.problem(
                            &field,
                            "not one of Discord's locales (e.g. en-US, fr, de, pt-BR)",
                        );
                    } else if !value.is_null() {
                        rule(self, &field, value);
                    }
                }
            }
            Some(_) => self.problem(&field, "must be an object from locale to text, or null"),
        }
    }

    fn small_set(&mut self, object: &Map<String, Value>, key: &str, allowed: &[u64], words: &str) {
        match object.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                let mut seen = HashSet::new();
                for (index, item) in items.iter().enumerate() {
                    match item.as_u64() {
                        Some(n) if allowed.contains(&n) => {
                            if !seen.insert(n) {
                                self.problem(&format!("{key}[{index}]"), "listed twice");
                            }
                        }
                        _ => self.problem(&format!("{key}[{index}]"), format!("must be {words}")),
                    }
                }
            }
            Some(_) => self.problem(key, format!("must be an array of {words}")),
        }
    }

    /// An options list at `level` (the command's, a group's or a sub-command's).
    fn options(&mut self, value: &Value, path: &str, level: Level) {
        let Value::Array(options) = value else {
            self.problem(path, "must be an array of option objects");
            return;
        };
        if options.len() > 25 {
            self.problem(
                path,
                format!("{} options: Discord allows at most 25", options.len()),
            );
        }
        if level == Level::Group && options.is_empty() {
            self.problem(path, "a sub-command group needs at least one sub-command");
        }
        let mut names = HashSet::new();
        let mut optional_seen = false;
        let mut kinds = Vec::new();
        for (index, option) in options.iter().enumerate() {
            let path = format!("{path}[{index}]");
            let Some(kind) = self.option(option, &path, level) else {
                continue;
            };
            kinds.push(kind);
            if let Some(name) = option.get("name").and_then(Value::as_str)
                && !names.insert(name.to_owned())
            {
                self.problem(
                    &format!("{path}.name"),
                    "another option at this level has this name",
                );
            }
            if kind != SUB_COMMAND && kind != SUB_COMMAND_GROUP {
                let required = option
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if required && optional_seen {
                    self.problem(
                        &format!("{path}.required"),
                        "required options must come before optional ones",
                    );
                }
                optional_seen |= !required;
            }
        }
        let subs = kinds
            .iter()
            .filter(|kind| **kind == SUB_COMMAND || **kind == SUB_COMMAND_GROUP)
            .count();
        if level == Level::Command && subs > 0 && subs < kinds.len() {
            self.problem(
                path,
                "sub-commands and sub-command groups cannot sit next to other options: put those inside the sub-commands",
            );
        }
    }

    /// One option; returns its type when it has a valid one.
    fn option(&mut self, option: &Value, path: &str, level: Level) -> Option<u64> {
        let Value::Object(object) = option else {
            self.problem(path, "must be an option object");
            return None;
        };
        self.unknown_fields(object, path, &OPTION_FIELDS);
        let type_field = format!("{path}.type");
        let kind = match object.get("type").and_then(Value::as_u64) {
            Some(kind @ 1..=11) => kind,
            _ => {
                self.problem(
                    &type_field,
                    "required: 1 sub-command, 2 sub-command group, 3 string, 4 integer, 5 boolean, 6 user, 7 channel, 8 role, 9 mentionable, 10 number or 11 attachment",
                );
                return None;
            }
        };
        let nested = match (level, kind) {
            (Level::Group, SUB_COMMAND) | (Level::Command, _) => None,
            (Level::Group, _) => Some("a sub-command group may only hold sub-commands (type 1)"),
            (Level::SubCommand, SUB_COMMAND | SUB_COMMAND_GROUP) => Some(
                "a sub-command cannot hold sub-commands or groups (Discord nests at most command > group > sub-command)",
            ),
            (Level::SubCommand, _) => None,
        };
        if let Some(message) = nested {
            self.problem(&type_field, message);
        }
        self.name(object.get("name"), &format!("{path}.name"), true);
        self.localizations(
            object,
            path,
            "name_localizations",
            |checker, field, value| {
                checker.name(Some(value), field, true);
            },
        );
        self.description(object.get("description"), &format!("{path}.description"));
        self.localizations(
            object,
            path,
            "description_localizations",
            |checker, field, value| {
                checker.description(Some(value), field);
            },
        );
        let sub = kind == SUB_COMMAND || kind == SUB_COMMAND_GROUP;
        if let Some(required) = object.get("required") {
            if !required.is_boolean() {
                self.problem(&format!("{path}.required"), "must be true or false");
            } else if sub && required.as_bool() == Some(true) {
                self.problem(
                    &format!("{path}.required"),
                    "sub-commands and groups cannot be required",
                );
            }
        }
        match object.get("options") {
            None | Some(Value::Null) if kind == SUB_COMMAND_GROUP => {
                self.problem(
                    &format!("{path}.options"),
                    "a sub-command group needs at least one sub-command",
                );
            }
            None | Some(Value::Null) => {}
            Some(options) if kind == SUB_COMMAND => {
                self.options(options, &format!("{path}.options"), Level::SubCommand)
            }
            Some(options) if kind == SUB_COMMAND_GROUP => {
                self.options(options, &format!("{path}.options"), Level::Group)
            }
            Some(_) => self.problem(
                &format!("{path}.options"),
                "only sub-commands and groups hold options",
            ),
        }
        let valued = matches!(kind, STRING | INTEGER | NUMBER);
        let has_choices = match object.get("choices") {
            None | Some(Value::Null) => false,
            Some(choices) if valued => self.choices(choices, &format!("{path}.choices"), kind),
            Some(_) => {
                self.problem(
                    &format!("{path}.choices"),
                    "only string, integer and number options have choices",
                );
                false
            }
        };
        if let Some(autocomplete) = object.get("autocomplete") {
            let field = format!("{path}.autocomplete");
            if !autocomplete.is_boolean() {
                self.problem(&field, "must be true or false");
            } else if autocomplete.as_bool() == Some(true) && !valued {
                self.problem(
                    &field,
                    "only string, integer and number options autocomplete",
                );
            } else if autocomplete.as_bool() == Some(true) && has_choices {
                self.problem(
                    &field,
                    "an option with choices cannot autocomplete: choose one",
                );
            }
        }
        match object.get("channel_types") {
            None | Some(Value::Null) => {}
            Some(Value::Array(types)) if kind == CHANNEL => {
                for (index, channel_type) in types.iter().enumerate() {
                    if !channel_type
                        .as_u64()
                        .is_some_and(|t| CHANNEL_TYPES.contains(&t))
                    {
                        self.problem(&format!("{path}.channel_types[{index}]"), "not one of Discord's channel types (0 text, 2 voice, 4 category, 5 announcement, 10-12 threads, 13 stage, 15 forum, 16 media)");
                    }
                }
            }
            Some(_) if kind == CHANNEL => self.problem(
                &format!("{path}.channel_types"),
                "must be an array of channel types",
            ),
            Some(_) => self.problem(
                &format!("{path}.channel_types"),
                "only channel options (type 7) have channel_types",
            ),
        }
        self.bounds(object, path, kind);
        Some(kind)
    }

    /// `choices` of a string, integer or number option; returns whether there are any.
    fn choices(&mut self, value: &Value, path: &str, kind: u64) -> bool {
        let Value::Array(choices) = value else {
            self.problem(path, "must be an array of {\"name\", \"value\"} objects");
            return false;
        };
        if choices.len() > 25 {
            self.problem(
                path,
                format!("{} choices: Discord allows at most 25", choices.len()),
            );
        }
        for (index, choice) in choices.iter().enumerate() {
            let path = format!("{path}[{index}]");
            let Value::Object(object) = choice else {
                self.problem(&path, "must be a {\"name\", \"value\"} object");
                continue;
            };
            self.unknown_fields(object, &path, &["name", "name_localizations", "value"]);
            self.choice_name(object.get("name"), &format!("{path}.name"));
            self.localizations(
                object,
                &path,
                "name_localizations",
                |checker, field, value| {
                    checker.choice_name(Some(value), field);
                },
            );
            let field = format!("{path}.value");
            match (kind, object.get("value")) {
                (STRING, Some(Value::String(text))) => {
                    let length = text.chars().count();
                    if !(1..=100).contains(&length) {
                        self.problem(
                            &field,
                            format!("{length} characters: a string choice's value is 1 to 100"),
                        );
                    }
                }
                (STRING, _) => self.problem(&field, "required: a string (this is a string option)"),
                (INTEGER, Some(Value::Number(n))) if n.is_i64() || n.is_u64() => {
                    self.range(n.as_f64(), &field);
                }
                (INTEGER, _) => {
                    self.problem(&field, "required: an integer (this is an integer option)")
                }
                (_, Some(Value::Number(n))) => self.range(n.as_f64(), &field),
                (_, _) => self.problem(&field, "required: a number (this is a number option)"),
            }
        }
        !choices.is_empty()
    }

    fn choice_name(&mut self, value: Option<&Value>, field: &str) {
        let Some(Value::String(name)) = value else {
            self.problem(field, "required: a string of 1 to 100 characters");
            return;
        };
        let length = name.chars().count();
        if !(1..=100).contains(&length) {
            self.problem(field, format!("{length} characters: must be 1 to 100"));
        }
    }

    fn range(&mut self, value: Option<f64>, field: &str) {
        if !value.is_some_and(|value| (-MAX_SAFE..=MAX_SAFE).contains(&value)) {
            self.problem(field, "out of Discord's range (-2^53 to 2^53)");
        }
    }

    /// `min_value`/`max_value` (integer and number options) and
    /// `min_length`/`max_length` (string options).
    fn bounds(&mut self, object: &Map<String, Value>, path: &str, kind: u64) {
        let mut values = [None, None];
        for (slot, key) in ["min_value", "max_value"].into_iter().enumerate() {
            let field = format!("{path}.{key}");
            match object.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) if kind == INTEGER && !(n.is_i64() || n.is_u64()) => {
                    self.problem(&field, "must be an integer (this is an integer option)");
                }
                Some(Value::Number(n)) if kind == INTEGER || kind == NUMBER => {
                    self.range(n.as_f64(), &field);
                    values[slot] = n.as_f64();
                }
                Some(Value::Number(_)) => self.problem(
                    &field,
                    "only integer and number options have min_value and max_value",
                ),
                Some(_) => self.problem(&field, "must be a number"),
            }
        }
        if let [Some(min), Some(max)] = values
            && min > max
        {
            self.problem(&format!("{path}.min_value"), "is greater than max_value");
        }
        let mut lengths = [None, None];
        for (slot, (key, low)) in [("min_length", 0), ("max_length", 1)]
            .into_iter()
            .enumerate()
        {
            let field = format!("{path}.{key}");
            match object.get(key) {
                None | Some(Value::Null) => {}
                Some(value) if kind == STRING => match value.as_u64() {
                    Some(n) if (low..=6000).contains(&n) => lengths[slot] = Some(n),
                    _ => self.problem(&field, format!("must be an integer from {low} to 6000")),
                },
                Some(_) => {
                    self.problem(&field, "only string options have min_length and max_length")
                }
            }
        }
        if let [Some(min), Some(max)] = lengths
            && min > max
        {
            self.problem(&format!("{path}.min_length"), "is greater than max_length");
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Discord's 4000-character budget: names, descriptions and choice names and values of
/// a command and everything in it.
fn characters(object: &Map<String, Value>) -> usize {
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .map_or(0, |text| text.chars().count())
    };
    let mut total = text("name") + text("description");
    if let Some(Value::Array(options)) = object.get("options") {
        for option in options {
            if let Value::Object(option) = option {
                total += characters(option);
            }
        }
    }
    if let Some(Value::Array(choices)) = object.get("choices") {
        for choice in choices {
            total += choice
                .get("name")
                .and_then(Value::as_str)
                .map_or(0, |name| name.chars().count());
            total += match choice.get("value") {
                Some(Value::String(value)) => value.chars().count(),
                Some(Value::Number(value)) => value.to_string().len(),
                _ => 0,
            };
        }
    }
    total
}
