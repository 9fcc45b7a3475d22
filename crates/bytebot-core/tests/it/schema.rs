//! The committed JSON Schemas and example payloads under `schema/` agree with the types
//! and the decoders: they are what subscribers in other languages build against.

use std::fs;
use std::path::{Path, PathBuf};

use bytebot_core::envelope::{
    self, InboundKind, OutboundAction, decode_inbound, decode_outbound, inbound_schema,
    outbound_schema,
};
use bytebot_core::receipt::{decode_receipt, receipt_schema};
use serde_json::{Value, json};

/// An inbound envelope id, for the interaction actions.
const ID: &str = "019abf76-3a17-7d01-b2c4-5e9f10a7c311";

const REGENERATE: &str = "BYTEBOT_BLESS=1 cargo test -p bytebot-core --test it schema";

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema")
}

fn blessing() -> bool {
    std::env::var_os("BYTEBOT_BLESS").is_some_and(|value| value == "1")
}

/// A validator that also checks formats (`uuid`, `date-time`), which draft 2020-12 only
/// annotates by default: stricter than required, so examples cannot drift.
fn validator(schema: &schemars::Schema) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema.as_value())
        .expect("the generated schema is a valid draft 2020-12 schema")
}

/// Schema validation errors of `instance`, as one line each (empty when valid).
fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect()
}

/// Other languages read the committed files, so they must be exactly what the types
/// generate; `BYTEBOT_BLESS=1` rewrites them after an intended change.
#[test]
fn committed_schemas_match_the_types() {
    let mut stale = Vec::new();
    for (name, generated) in envelope::schema_files() {
        let path = schema_dir().join(name);
        let committed = fs::read_to_string(&path).unwrap_or_default();
        if committed == generated {
            continue;
        }
        if blessing() {
            fs::write(&path, generated)
                .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
        } else {
            stale.push(format!("schema/{name}"));
        }
    }
    assert!(
        stale.is_empty(),
        "stale schema files: {} (they differ from what the envelope types generate: a wire \
         format change?); if the change is intended, regenerate them with `{REGENERATE}` \
         and commit the result",
        stale.join(" and "),
    );
}

/// Every example is documentation a subscriber author copies: it must be valid for the
/// schema and for the decoder, or the two disagree.
#[test]
fn examples_validate_against_the_schemas_and_decode() {
    let inbound = validator(&inbound_schema());
    let outbound = validator(&outbound_schema());
    let receipt = validator(&receipt_schema());
    let mut names: Vec<String> = fs::read_dir(schema_dir().join("examples"))
        .expect("schema/examples exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    for required in [
        "inbound-guild-message.json",
        "inbound-direct-message.json",
        "outbound-reply.json",
        "outbound-minimal.json",
        "outbound-bare-string.json",
        "receipt-send.json",
        "receipt-edit.json",
        "receipt-failed.json",
    ] {
        assert!(
            names.iter().any(|name| name == required),
            "missing example {required}"
        );
    }
    for name in &names {
        let payload = fs::read(schema_dir().join("examples").join(name)).unwrap();
        let instance: Value = serde_json::from_slice(&payload)
            .unwrap_or_else(|error| panic!("{name} is not JSON: {error}"));
        let (validator, decoded) = if name.starts_with("inbound-") {
            (&inbound, decode_inbound(&payload).map(drop))
        } else if name.starts_with("outbound-") {
            (&outbound, decode_outbound(&payload).map(drop))
        } else if name.starts_with("receipt-") {
            (&receipt, decode_receipt(&payload).map(drop))
        } else {
            panic!("example {name} must start with `inbound-`, `outbound-` or `receipt-`");
        };
        let errors = schema_errors(validator, &instance);
        assert!(errors.is_empty(), "{name} fails the schema: {errors:#?}");
        if let Err(error) = decoded {
            panic!(
                "{name} does not decode: {error} ({:?})",
                std::error::Error::source(&error)
            );
        }
    }
}

/// Every inbound kind and every outbound action has an example a subscriber author can
/// copy, named after it (`inbound-message-edited.json`, `outbound-react.json`).
#[test]
fn every_kind_and_action_has_an_example() {
    for kind in InboundKind::ALL {
        let name = match kind {
            InboundKind::Message => "inbound-guild-message.json".to_owned(),
            other => format!("inbound-{}.json", other.as_str().replace('_', "-")),
        };
        let payload = fs::read(schema_dir().join("examples").join(&name))
            .unwrap_or_else(|error| panic!("missing example {name}: {error}"));
        assert_eq!(decode_inbound(&payload).unwrap().kind, kind, "{name}");
    }
    for action in OutboundAction::ALL {
        let name = match action {
            OutboundAction::Send => "outbound-reply.json".to_owned(),
            other => format!("outbound-{}.json", other.as_str()),
        };
        let payload = fs::read(schema_dir().join("examples").join(&name))
            .unwrap_or_else(|error| panic!("missing example {name}: {error}"));
        assert_eq!(decode_outbound(&payload).unwrap().action, action, "{name}");
    }
}

/// The round trip the docs describe: a reply, its receipt with the new message's id,
/// then an edit of that message.
#[test]
fn edit_example_edits_the_message_of_the_send_receipt() {
    let read = |name: &str| fs::read(schema_dir().join("examples").join(name)).unwrap();
    let receipt = decode_receipt(&read("receipt-send.json")).unwrap();
    let edit = decode_outbound(&read("outbound-edit.json")).unwrap();
    let reply = decode_outbound(&read("outbound-reply.json")).unwrap();
    assert_eq!(receipt.in_reply_to, reply.in_reply_to);
    assert_eq!(edit.message_id.as_ref(), Some(&receipt.message_ids[0]));
}

/// The direct-message example must really be one: `@me` in the space and the topic.
#[test]
fn direct_message_example_uses_the_reserved_space() {
    let payload = fs::read(schema_dir().join("examples/inbound-direct-message.json")).unwrap();
    let message = decode_inbound(&payload).unwrap();
    assert!(message.is_direct());
    assert_eq!(message.space, "@me");
}

/// The guild example shows every list a subscriber may meet, and the reply example
/// answers it, as the docs claim.
#[test]
fn reply_example_answers_the_guild_example() {
    let guild = fs::read(schema_dir().join("examples/inbound-guild-message.json")).unwrap();
    let guild = decode_inbound(&guild).unwrap();
    assert!(!guild.mentions.is_empty() && !guild.attachments.is_empty());
    let reply = fs::read(schema_dir().join("examples/outbound-reply.json")).unwrap();
    let reply = decode_outbound(&reply).unwrap();
    assert_eq!(reply.in_reply_to, Some(guild.id));
    assert_eq!(reply.reply_to.as_ref(), Some(&guild.message_id));
}

/// The inbound guild example, as a mutable JSON value.
fn guild_example() -> Value {
    let payload = fs::read(schema_dir().join("examples/inbound-guild-message.json")).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// Invalid payloads must fail the schema (proof the validation test can fail) and the
/// decoder alike, so the schema never promises what the decoder refuses or vice versa.
#[test]
fn invalid_payloads_fail_the_schema_and_the_decoder() {
    let inbound = validator(&inbound_schema());
    let outbound = validator(&outbound_schema());

    let mut inbound_cases: Vec<(&str, Value)> = Vec::new();
    let mut missing_content = guild_example();
    missing_content.as_object_mut().unwrap().remove("content");
    inbound_cases.push(("missing content", missing_content));
    let mut author_string = guild_example();
    author_string["author"] = json!("179258058118135808");
    inbound_cases.push(("author is a string", author_string));
    let mut author_without_bot = guild_example();
    author_without_bot["author"]
        .as_object_mut()
        .unwrap()
        .remove("bot");
    inbound_cases.push(("author without bot", author_without_bot));
    let mut version_2 = guild_example();
    version_2["v"] = json!(2);
    inbound_cases.push(("version 2", version_2));
    let mut reaction_without_emoji = guild_example();
    reaction_without_emoji["kind"] = json!("reaction_added");
    inbound_cases.push(("reaction without its emoji", reaction_without_emoji));
    let mut array = guild_example();
    array = json!([array]);
    inbound_cases.push(("array", array));
    let mut bad_topic = guild_example();
    bad_topic["topic"] = json!("inbound.discord.1190804811990446190");
    inbound_cases.push(("short topic", bad_topic));
    let mut mention_without_name = guild_example();
    mention_without_name["mentions"] = json!([{"id": "80351110224678912"}]);
    inbound_cases.push(("mention without name", mention_without_name));

    for (case, instance) in &inbound_cases {
        assert!(
            !schema_errors(&inbound, instance).is_empty(),
            "inbound schema accepts: {case}"
        );
        assert!(
            decode_inbound(instance.to_string().as_bytes()).is_err(),
            "decode_inbound accepts: {case}"
        );
    }

    let mut interaction_without_details = guild_example();
    interaction_without_details["kind"] = json!("interaction");
    inbound_cases.push(("interaction without details", interaction_without_details));

    let outbound_cases = [
        ("empty object", json!({})),
        ("empty content", json!({"content": ""})),
        ("blank content", json!({"content": " \n\t"})),
        ("empty bare string", json!("")),
        ("blank bare string", json!("   ")),
        ("content is a number", json!({"content": 5})),
        (
            "unknown mention policy",
            json!({"content": "hi", "mentions": "everyone"}),
        ),
        ("version 2", json!({"v": 2, "content": "hi"})),
        (
            "send with only components",
            json!({"components": [{"type": 1, "components": []}]}),
        ),
        ("send with an empty list of embeds", json!({"embeds": []})),
        (
            "an embed that is not an object",
            json!({"embeds": ["title"]}),
        ),
        (
            "eleven embeds",
            json!({"embeds": vec![json!({"title": "x"}); 11]}),
        ),
        (
            "six component rows",
            json!({"content": "x", "components": vec![json!({"type": 1}); 6]}),
        ),
        (
            "eleven files",
            json!({"files": vec![json!({"filename": "a", "base64": ""}); 11]}),
        ),
        (
            "a file without base64",
            json!({"files": [{"filename": "a"}]}),
        ),
        (
            "edit with only an empty list of files",
            json!({"action": "edit", "message_id": "1", "files": []}),
        ),
        ("array", json!(["pong"])),
        ("array of the fields", json!([1, "arr"])),
        ("number", json!(42)),
        ("boolean", json!(true)),
        ("null", json!(null)),
        ("send without content", json!({"action": "send"})),
        (
            "edit without content",
            json!({"action": "edit", "message_id": "1"}),
        ),
        (
            "edit without message_id",
            json!({"action": "edit", "content": "x"}),
        ),
        ("delete without message_id", json!({"action": "delete"})),
        (
            "delete with a blank message_id",
            json!({"action": "delete", "message_id": " "}),
        ),
        (
            "react without emoji",
            json!({"action": "react", "message_id": "1"}),
        ),
        (
            "unreact with a blank emoji",
            json!({"action": "unreact", "message_id": "1", "emoji": ""}),
        ),
        (
            "unknown action",
            json!({"action": "pin", "message_id": "1"}),
        ),
        ("defer without in_reply_to", json!({"action": "defer"})),
        (
            "respond without content",
            json!({"action": "respond", "in_reply_to": ID}),
        ),
        (
            "modal without its form",
            json!({"action": "modal", "in_reply_to": ID}),
        ),
        (
            "modal without fields",
            json!({"action": "modal", "in_reply_to": ID,
                   "modal": {"custom_id": "a", "title": "t", "fields": []}}),
        ),
    ];
    for (case, instance) in &outbound_cases {
        assert!(
            !schema_errors(&outbound, instance).is_empty(),
            "outbound schema accepts: {case}"
        );
        assert!(
            decode_outbound(instance.to_string().as_bytes()).is_err(),
            "decode_outbound accepts: {case}"
        );
    }
}

/// Kinds are added within version 1: both the schema and the decoder must accept a kind
/// they do not know, so an older subscriber skips it instead of failing.
#[test]
fn unknown_kinds_pass_the_schema_and_the_decoder() {
    let inbound = validator(&inbound_schema());
    let mut future = guild_example();
    future["kind"] = json!("poll_voted");
    assert!(schema_errors(&inbound, &future).is_empty());
    assert_eq!(
        decode_inbound(future.to_string().as_bytes()).unwrap().kind,
        InboundKind::Unknown
    );
}

/// Actions without content are valid with only what they need, in the schema too.
#[test]
fn minimal_actions_pass_the_schema_and_the_decoder() {
    let outbound = validator(&outbound_schema());
    for instance in [
        json!({"action": "typing"}),
        json!({"action": "delete", "message_id": "1"}),
        json!({"action": "react", "message_id": "1", "emoji": "👍"}),
        json!({"action": "edit", "message_id": "1", "content": "x"}),
        json!({"action": "send", "content": "x"}),
        json!({"embeds": [{"title": "x"}]}),
        json!({"files": [{"filename": "a.txt", "base64": "aGk="}]}),
        json!({"action": "edit", "message_id": "1", "components": []}),
        json!({"action": "edit", "message_id": "1", "embeds": []}),
        json!({"action": "edit", "message_id": "1", "files": [{"filename": "a", "base64": ""}]}),
        json!({"action": "defer", "in_reply_to": ID}),
        json!({"action": "delete_response", "in_reply_to": ID}),
        json!({"action": "respond", "in_reply_to": ID, "content": "x"}),
    ] {
        assert!(schema_errors(&outbound, &instance).is_empty(), "{instance}");
        assert!(
            decode_outbound(instance.to_string().as_bytes()).is_ok(),
            "{instance}"
        );
    }
}
