//! Tests of the rules (one per rule, each asserting where the problem points) and of the
//! comparison (Discord's own answer for a file compares equal to the file).

use serde_json::{Value, json};

use crate::{Commands, FileError, check};

fn roll() -> Value {
    json!({
        "name": "roll",
        "description": "Roll dice",
        "options": [
            {"type": 3, "name": "dice", "description": "NdM, e.g. 2d6", "required": true},
            {"type": 4, "name": "times", "description": "How often", "min_value": 1, "max_value": 10},
        ],
    })
}

/// The one problem a file has, as printed.
fn only_problem(file: Value) -> String {
    let problems = check(&file);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    problems[0].to_string()
}

fn with_option(option: Value) -> Value {
    json!([{"name": "cmd", "description": "A command", "options": [option]}])
}

#[test]
fn a_valid_file_passes_with_every_command_type() {
    let file = json!([
        {"name": "ping", "description": "Answers pong"},
        roll(),
        {"type": 2, "name": "High Five"},
        {"type": 3, "name": "Report message", "description": ""},
        {"name": "admin", "description": "Admin tools", "default_member_permissions": "8",
         "contexts": [0], "integration_types": [0], "nsfw": false,
         "name_localizations": {"fr": "administration", "de": null},
         "options": [
            {"type": 2, "name": "users", "description": "Users", "options": [
                {"type": 1, "name": "ban", "description": "Ban someone", "options": [
                    {"type": 6, "name": "who", "description": "Who", "required": true},
                    {"type": 7, "name": "where", "description": "Where", "channel_types": [0, 5]},
                ]},
            ]},
            {"type": 1, "name": "say", "description": "Say", "options": [
                {"type": 3, "name": "text", "description": "Text", "min_length": 1, "max_length": 200,
                 "choices": [{"name": "Hi", "value": "hi"}]},
                {"type": 10, "name": "ratio", "description": "Ratio", "autocomplete": true},
            ]},
         ]},
        {"name": "पिंग", "description": "Devanagari name"},
        {"name": "ทดสอบ", "description": "Thai name"},
    ]);
    assert_eq!(check(&file), vec![]);
    assert_eq!(Commands::parse(&file.to_string()).unwrap().len(), 7);
}

#[test]
fn the_file_must_be_an_array() {
    let message = only_problem(json!({"commands": [roll()]}));
    assert!(
        message.starts_with("the file: must be a JSON array"),
        "{message}"
    );
    assert!(
        message.contains("not an object with \"commands\""),
        "{message}"
    );
}

#[test]
fn chat_input_names_follow_discords_regex_and_are_lowercase() {
    let message = only_problem(json!([{"name": "Roll", "description": "d"}]));
    assert_eq!(
        message,
        "commands[0] /Roll: name: must be lowercase for chat input commands and options"
    );
    let message = only_problem(json!([{"name": "roll dice", "description": "d"}]));
    assert!(
        message.starts_with("commands[0] /roll dice: name: may only hold letters"),
        "{message}"
    );
    let message = only_problem(json!([{"name": "a".repeat(33), "description": "d"}]));
    assert!(
        message.contains("name: 33 characters: must be 1 to 32"),
        "{message}"
    );
    let message = only_problem(json!([{"description": "d"}]));
    assert_eq!(
        message,
        "commands[0]: name: required: a string of 1 to 32 characters"
    );
    // User and message commands may have capitals and spaces.
    assert_eq!(check(&json!([{"type": 2, "name": "Give Cookie"}])), vec![]);
}

#[test]
fn descriptions_are_1_to_100_characters_and_only_for_chat_input() {
    let message = only_problem(json!([{"name": "roll"}]));
    assert_eq!(
        message,
        "commands[0] /roll: description: required: a string of 1 to 100 characters"
    );
    let message = only_problem(json!([{"name": "roll", "description": "x".repeat(101)}]));
    assert!(message.contains("description: 101 characters"), "{message}");
    let message = only_problem(json!([{"type": 3, "name": "Quote", "description": "no"}]));
    assert!(
        message.starts_with(
            "commands[0] Quote: description: user and message commands have no description"
        ),
        "{message}"
    );
}

#[test]
fn at_most_25_options_and_25_choices() {
    let options: Vec<Value> = (0..26)
        .map(|n| json!({"type": 3, "name": format!("o{n}"), "description": "d"}))
        .collect();
    let message = only_problem(json!([{"name": "cmd", "description": "d", "options": options}]));
    assert_eq!(
        message,
        "commands[0] /cmd: options: 26 options: Discord allows at most 25"
    );
    let choices: Vec<Value> = (0..26)
        .map(|n| json!({"name": format!("c{n}"), "value": n}))
        .collect();
    let message = only_problem(with_option(
        json!({"type": 4, "name": "n", "description": "d", "choices": choices}),
    ));
    assert_eq!(
        message,
        "commands[0] /cmd: options[0].choices: 26 choices: Discord allows at most 25"
    );
}

#[test]
fn required_options_come_before_optional_ones() {
    let file = json!([{"name": "cmd", "description": "d", "options": [
        {"type": 3, "name": "a", "description": "d"},
        {"type": 3, "name": "b", "description": "d", "required": true},
    ]}]);
    assert_eq!(
        only_problem(file),
        "commands[0] /cmd: options[1].required: required options must come before optional ones"
    );
}

#[test]
fn option_types_and_their_fields() {
    let message = only_problem(with_option(
        json!({"type": 12, "name": "x", "description": "d"}),
    ));
    assert!(
        message.starts_with("commands[0] /cmd: options[0].type: required: 1 sub-command"),
        "{message}"
    );
    let message = only_problem(with_option(
        json!({"type": 5, "name": "x", "description": "d", "choices": [{"name": "a", "value": "a"}]}),
    ));
    assert!(
        message.contains("options[0].choices: only string, integer and number"),
        "{message}"
    );
    let message = only_problem(with_option(
        json!({"type": 4, "name": "x", "description": "d", "choices": [{"name": "a", "value": "a"}]}),
    ));
    assert!(
        message.contains("options[0].choices[0].value: required: an integer"),
        "{message}"
    );
    let message = only_problem(with_option(
        json!({"type": 4, "name": "x", "description": "d", "min_value": 5, "max_value": 1}),
    ));
    assert!(
        message.contains("options[0].min_value: is greater than max_value"),
        "{message}"
    );
    let message = only_problem(with_option(
        json!({"type": 3, "name": "x", "description": "d", "autocomplete": true,
               "choices": [{"name": "a", "value": "a"}]}),
    ));
    assert!(
        message.contains("options[0].autocomplete: an option with choices cannot autocomplete"),
        "{message}"
    );
    let message = only_problem(with_option(
        json!({"type": 3, "name": "x", "description": "d", "channel_types": [0]}),
    ));
    assert!(
        message.contains("options[0].channel_types: only channel options"),
        "{message}"
    );
    let message = only_problem(with_option(
        json!({"type": 3, "name": "x", "description": "d", "max_length": 6001}),
    ));
    assert!(
        message.contains("options[0].max_length: must be an integer from 1 to 6000"),
        "{message}"
    );
}

#[test]
fn sub_commands_nest_command_group_sub_command_only() {
    let message = only_problem(with_option(
        json!({"type": 1, "name": "sub", "description": "d", "options": [
            {"type": 1, "name": "deeper", "description": "d"},
        ]}),
    ));
    assert!(
        message.starts_with(
            "commands[0] /cmd: options[0].options[0].type: a sub-command cannot hold sub-commands"
        ),
        "{message}"
    );
    let message = only_problem(with_option(
        json!({"type": 2, "name": "group", "description": "d", "options": [
            {"type": 3, "name": "text", "description": "d"},
        ]}),
    ));
    assert!(
        message
            .contains("options[0].options[0].type: a sub-command group may only hold sub-commands"),
        "{message}"
    );
    let file = json!([{"name": "cmd", "description": "d", "options": [
        {"type": 1, "name": "sub", "description": "d"},
        {"type": 3, "name": "text", "description": "d"},
    ]}]);
    assert!(
        only_problem(file).contains(
            "options: sub-commands and sub-command groups cannot sit next to other options"
        )
    );
    let message = only_problem(with_option(
        json!({"type": 2, "name": "group", "description": "d"}),
    ));
    assert!(
        message.contains("options[0].options: a sub-command group needs at least one sub-command"),
        "{message}"
    );
}

#[test]
fn names_are_unique_per_command_type_and_per_level() {
    let file = json!([
        {"name": "ping", "description": "d"},
        {"type": 2, "name": "ping"},
        {"name": "ping", "description": "again"},
    ]);
    assert_eq!(
        only_problem(file),
        "commands[2] /ping: name: another chat input command has this name: names are unique per command type"
    );
    let file = json!([{"name": "cmd", "description": "d", "options": [
        {"type": 3, "name": "a", "description": "d"},
        {"type": 4, "name": "a", "description": "d"},
    ]}]);
    assert!(
        only_problem(file).contains("options[1].name: another option at this level has this name")
    );
}

#[test]
fn at_most_100_chat_input_commands_and_15_user_commands() {
    let mut commands: Vec<Value> = (0..101)
        .map(|n| json!({"name": format!("c{n}"), "description": "d"}))
        .collect();
    assert_eq!(
        only_problem(Value::Array(commands.clone())),
        "the file: 101 chat input commands: Discord allows at most 100"
    );
    commands.truncate(100);
    commands.extend((0..16).map(|n| json!({"type": 2, "name": format!("User {n}")})));
    assert_eq!(
        only_problem(Value::Array(commands)),
        "the file: 16 user commands: Discord allows at most 15"
    );
}

#[test]
fn unknown_fields_and_bad_locales_are_reported_where_they_are() {
    let message = only_problem(json!([{"name": "ping", "descripton": "typo", "description": "d"}]));
    assert_eq!(
        message,
        "commands[0] /ping: descripton: unknown field (a typo? Discord ignores fields it does not know)"
    );
    let message = only_problem(json!([{"name": "ping", "description": "d",
                                       "description_localizations": {"xx": "d"}}]));
    assert!(
        message.contains("description_localizations.xx: not one of Discord's locales"),
        "{message}"
    );
    let message = only_problem(json!([{"name": "ping", "description": "d",
                                       "name_localizations": {"fr": "Ping Pong"}}]));
    assert!(
        message.contains("name_localizations.fr: may only hold letters"),
        "{message}"
    );
}

#[test]
fn a_command_holds_at_most_4000_characters() {
    let options: Vec<Value> = (0..25)
        .map(|n| json!({"type": 3, "name": format!("o{n}"), "description": "d".repeat(100),
                        "choices": (0..25).map(|c| json!({"name": format!("c{c}"), "value": "v".repeat(10)})).collect::<Vec<_>>()}))
        .collect();
    let message = only_problem(json!([{"name": "big", "description": "d", "options": options}]));
    assert!(
        message
            .contains("characters in names, descriptions and choice values: Discord allows 4000"),
        "{message}"
    );
}

#[test]
fn errors_name_the_position_for_bad_json_and_every_problem_for_bad_rules() {
    let err = Commands::parse("[{\"name\": \"ping\",}]").unwrap_err();
    assert!(matches!(err, FileError::Json { .. }), "{err}");
    assert!(err.to_string().contains("line 1 column"), "{err}");
    let err = Commands::parse(r#"[{"name": "A"}, {"name": "b", "description": "d", "type": 9}]"#)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the commands file breaks Discord's rules: commands[0] /A: name: must be lowercase for chat input commands and options; \
         commands[0] /A: description: required: a string of 1 to 100 characters; \
         commands[1] b: type: must be 1 (chat input), 2 (user), 3 (message) or 4 (primary entry point)"
    );
}

// ---- comparison ----------------------------------------------------------------------

/// What Discord answers for `roll()` after a write: ids, defaults, no `required: false`.
fn roll_as_discord_returns_it() -> Value {
    json!({
        "id": "1300000000000000001", "application_id": "900", "version": "1300000000000000002",
        "type": 1, "name": "roll", "name_localizations": null,
        "description": "Roll dice", "description_localizations": {},
        "default_member_permissions": null, "dm_permission": true, "nsfw": false,
        "contexts": null, "integration_types": [0],
        "options": [
            {"type": 3, "name": "dice", "description": "NdM, e.g. 2d6", "required": true,
             "name_localizations": null, "description_localizations": null},
            {"type": 4, "name": "times", "description": "How often", "min_value": 1.0, "max_value": 10},
        ],
    })
}

#[test]
fn discords_answer_for_the_file_is_no_change() {
    let ping = json!({"name": "ping", "description": "Answers pong"});
    let ping_returned = json!({"id": "1", "application_id": "900", "version": "2", "type": 1,
        "name": "ping", "description": "Answers pong", "default_member_permissions": null,
        "dm_permission": true, "nsfw": false, "contexts": [0, 1, 2], "integration_types": [0, 1]});
    // Discord's order is not the file's.
    let changes = crate::changes(
        &[ping, roll()],
        &[roll_as_discord_returns_it(), ping_returned],
    );
    assert!(changes.is_empty(), "{changes}");
}

#[test]
fn a_changed_added_or_removed_command_is_a_change() {
    let mut roll_changed = roll();
    roll_changed["options"][0]["description"] = json!("Like 3d6");
    let old = json!({"id": "5", "type": 1, "name": "old", "description": "gone soon"});
    let ping = json!({"name": "ping", "description": "Answers pong"});
    let changes = crate::changes(&[roll_changed, ping], &[roll_as_discord_returns_it(), old]);
    assert_eq!(changes.added, vec!["/ping"]);
    assert_eq!(changes.changed, vec!["/roll"]);
    assert_eq!(changes.removed, vec!["/old"]);
    assert_eq!(
        changes.to_string(),
        "added /ping; changed /roll; removed /old"
    );
}

#[test]
fn fields_that_matter_are_compared_and_app_defaults_only_when_set() {
    let base = roll_as_discord_returns_it();
    for (field, value) in [
        ("default_member_permissions", json!("8")),
        ("nsfw", json!(true)),
        ("name_localizations", json!({"fr": "lancer"})),
        ("contexts", json!([0])),
    ] {
        let mut desired = roll();
        desired[field] = value;
        assert_eq!(
            crate::changes(&[desired], std::slice::from_ref(&base)).changed,
            vec!["/roll"],
            "{field}"
        );
    }
    let mut required_dropped = roll();
    required_dropped["options"][0]["required"] = json!(false);
    assert!(!crate::changes(&[required_dropped], std::slice::from_ref(&base)).is_empty());
    // The file sets the same contexts Discord holds, in another order: no change.
    let mut desired = roll();
    desired["contexts"] = json!([2, 0]);
    let mut existing = base;
    existing["contexts"] = json!([0, 2]);
    assert!(crate::changes(&[desired], &[existing]).is_empty());
}
