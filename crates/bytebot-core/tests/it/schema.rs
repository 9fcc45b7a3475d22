//! The committed JSON Schemas and example payloads under `schema/` agree with the types
//! and the decoders: they are what subscribers in other languages build against.

use std::fs;
use std::path::{Path, PathBuf};

use bytebot_core::envelope::{
    self, decode_inbound, decode_outbound, inbound_schema, outbound_schema,
};
use serde_json::{Value, json};

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
        } else {
            panic!("example {name} must start with `inbound-` or `outbound-`");
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
    let mut unknown_kind = guild_example();
    unknown_kind["kind"] = json!("message_edit");
    inbound_cases.push(("unknown kind", unknown_kind));
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
        ("array", json!(["pong"])),
        ("null", json!(null)),
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
