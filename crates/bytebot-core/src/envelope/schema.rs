//! JSON Schemas of the envelope, generated from the Rust types and committed under
//! `schema/` for subscribers written in other languages.
//!
//! The committed files are checked against these functions by a test
//! (`tests/it/schema.rs`); regenerate them with
//! `BYTEBOT_BLESS=1 cargo test -p bytebot-core --test it schema`.

use schemars::consts::meta_schemas;
use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::{
    InboundKind, InboundMessage, MAX_COMPONENT_ROWS, MAX_EMBEDS, MAX_FILES, OutboundAction,
    OutboundMessage, WIRE_VERSION,
};

/// The `$id` of the inbound schema: where the committed file is published.
pub const INBOUND_SCHEMA_ID: &str =
    "https://raw.githubusercontent.com/bytebot/bytebot/main/schema/inbound.v1.json";

/// The `$id` of the outbound schema: where the committed file is published.
pub const OUTBOUND_SCHEMA_ID: &str =
    "https://raw.githubusercontent.com/bytebot/bytebot/main/schema/outbound.v1.json";

/// The JSON Schema (draft 2020-12) of an inbound envelope, as [`super::decode_inbound`]
/// accepts it. Self-contained: every `$ref` points into its own `$defs`.
///
/// Checks that a schema cannot express (`platform`, `space` and `room` equal to the
/// topic's segments, the topics' directions) are in the description.
pub fn inbound_schema() -> Schema {
    let mut schema = generator().into_root_schema_for::<InboundMessage>();
    let object = schema.ensure_object();
    object.insert("$id".into(), INBOUND_SCHEMA_ID.into());
    object.insert("title".into(), "Bytebot inbound envelope, version 1".into());
    object.insert(
        "description".into(),
        "A chat message or an event about one (`kind`), published by a gateway as JSON \
         on an inbound topic (`inbound.platform.space.room.user`). Unknown fields must be \
         ignored: fields may be added within version 1, and so may kinds: skip a `kind` you \
         do not know. A reader must refuse a `v` it does not know. `platform`, `space` and \
         `room` always equal the corresponding segments of `topic` (unescaped), `direct` is \
         true exactly when the topic's space segment is `@me`, `topic` is an inbound topic \
         and `reply_topic` an outbound one; answer by publishing an outbound envelope on \
         `reply_topic`."
            .into(),
    );
    // What the decoder checks per kind (`InboundMessage::validate`).
    let reactions: Vec<&str> = InboundKind::ALL
        .into_iter()
        .filter(|kind| kind.is_reaction())
        .map(InboundKind::as_str)
        .collect();
    object.insert(
        "allOf".into(),
        serde_json::json!([
            {
                "if": {"required": ["kind"], "properties": {"kind": {"enum": reactions}}},
                "then": {"required": ["reaction"]},
            },
            {
                "if": {"required": ["kind"], "properties": {"kind": {"const": InboundKind::Interaction.as_str()}}},
                "then": {"required": ["interaction"]},
            },
        ]),
    );
    unwrap_descriptions(schema)
}

/// The JSON Schema (draft 2020-12) of an outbound envelope, as
/// [`super::decode_outbound`] accepts it: the object, or (legacy) a bare non-blank
/// string taken as its `content`.
pub fn outbound_schema() -> Schema {
    let mut generator = generator();
    let object = generator.subschema_for::<OutboundMessage>();
    let definitions = generator.take_definitions(true);
    let names = |wanted: fn(OutboundAction) -> bool| -> Vec<&'static str> {
        OutboundAction::ALL
            .into_iter()
            .filter(|action| wanted(*action))
            .map(OutboundAction::as_str)
            .collect()
    };
    // What each action needs, as the decoder checks it (`OutboundMessage::validate`).
    // An absent `action` is `send`.
    let object_rules = json_schema!({
        "allOf": [
            object,
            {
                "if": {"required": ["action"], "properties": {"action": {"enum": names(|a| !a.has_content())}}},
                "else": {
                    "anyOf": [
                        {
                            "required": ["content"],
                            "properties": {"content": {"minLength": 1, "pattern": "\\S"}},
                        },
                        {
                            "required": ["embeds"],
                            "properties": {"embeds": {"type": "array", "minItems": 1}},
                        },
                        {
                            "required": ["files"],
                            "properties": {"files": {"minItems": 1}},
                        },
                        {
                            "required": ["action"],
                            "properties": {"action": {"enum": ["edit", "update", "edit_response"]}},
                            "anyOf": [
                                {"required": ["embeds"], "properties": {"embeds": {"type": "array"}}},
                                {"required": ["components"], "properties": {"components": {"type": "array"}}},
                            ],
                        },
                    ],
                },
            },
            {
                "properties": {
                    "embeds": {"maxItems": MAX_EMBEDS},
                    "components": {"maxItems": MAX_COMPONENT_ROWS},
                    "files": {"maxItems": MAX_FILES},
                },
            },
            {
                "if": {"required": ["action"], "properties": {"action": {"enum": names(OutboundAction::targets_message)}}},
                "then": {
                    "required": ["message_id"],
                    "properties": {"message_id": {"minLength": 1, "pattern": "\\S"}},
                },
            },
            {
                "if": {"required": ["action"], "properties": {"action": {"enum": ["react", "unreact"]}}},
                "then": {
                    "required": ["emoji"],
                    "properties": {"emoji": {"minLength": 1, "pattern": "\\S"}},
                },
            },
            {
                "if": {"required": ["action"], "properties": {"action": {"const": "start_thread"}}},
                "then": {
                    "required": ["thread_name"],
                    "properties": {"thread_name": {"minLength": 1, "maxLength": super::outbound::MAX_THREAD_NAME, "pattern": "\\S"}},
                },
            },
            {
                "if": {"required": ["action"], "properties": {"action": {"enum": names(OutboundAction::is_interaction)}}},
                "then": {"required": ["in_reply_to"]},
            },
            {
                "if": {"required": ["action"], "properties": {"action": {"const": "modal"}}},
                "then": {
                    "required": ["modal"],
                    "properties": {"modal": {
                        "properties": {
                            "custom_id": {"minLength": 1, "pattern": "\\S"},
                            "title": {"minLength": 1, "pattern": "\\S"},
                            "fields": {"minItems": 1},
                        },
                    }},
                },
            },
        ],
    });
    unwrap_descriptions(json_schema!({
        "$schema": meta_schemas::DRAFT2020_12,
        "$id": OUTBOUND_SCHEMA_ID,
        "title": "Bytebot outbound envelope, version 1",
        "description": "An action, published by a subscriber as JSON on the `reply_topic` \
            of the inbound envelope it answers (an outbound topic): by default a message to \
            send. Either an object, or, as accepted from the previous gateway's subscribers, \
            a bare JSON string used as the content of a plain message. `send`, `edit`, \
            `respond`, `update`, `followup` and `edit_response` need `content` with a \
            non-whitespace character, except a `send`, `respond` or `followup` with \
            `embeds` or `files` and an `edit`, `update` or `edit_response` that changes \
            `embeds`, `components` or `files`; `embeds` and `components` are Discord's \
            JSON, `files` inline base64 (at most 10, 5 and 10; a platform that cannot \
            show them refuses the envelope with a failed receipt); `edit`, `delete`, \
            `react` and `unreact` need `message_id`; `react` and `unreact` need `emoji`; \
            the interaction actions (`respond`, `defer`, `update`, `modal`, \
            `autocomplete`, `followup`, `edit_response`, `delete_response`) need \
            `in_reply_to`, the id of the `interaction` envelope they answer; `modal` needs \
            `modal`. Unknown fields \
            are ignored; a `v` or an `action` the gateway does not know is refused with a \
            failed receipt.",
        "anyOf": [
            object_rules,
            {
                "type": "string",
                "minLength": 1,
                "pattern": "\\S",
                "description": "Legacy form: the content of a plain message, with the default mention policy (`users`).",
            },
        ],
        "$defs": definitions,
    }))
}

/// Renders a schema as committed: pretty JSON with a trailing newline, and keys in a
/// fixed order (`$schema`, `$id`, `title`, `description` first, `$defs` last), so the
/// files are readable and do not depend on serde_json's `preserve_order` feature.
pub fn render_schema(schema: &Schema) -> String {
    let ordered = Ordered {
        value: schema.as_value(),
        names: false,
    };
    let mut text = serde_json::to_string_pretty(&ordered).expect("a schema always serializes");
    text.push('\n');
    text
}

/// Every committed schema file: its name under `schema/` and its rendered contents.
pub fn schema_files() -> [(&'static str, String); 2] {
    [
        ("inbound.v1.json", render_schema(&inbound_schema())),
        ("outbound.v1.json", render_schema(&outbound_schema())),
    ]
}

/// The schema of an inbound `kind`: any string, since kinds are added within version 1
/// and a reader skips the ones it does not know; the known ones as examples.
pub(crate) fn kind_schema(_: &mut SchemaGenerator) -> Schema {
    let known: Vec<&str> = InboundKind::ALL.iter().map(|kind| kind.as_str()).collect();
    json_schema!({
        "type": "string",
        "examples": known,
    })
}

/// The schema of a command option's `value`: a string, an integer, a number or a
/// boolean (ids are strings).
pub(crate) fn option_value_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["string", "number", "boolean"],
    })
}

/// The schema of an autocomplete choice's `value`: a string or a number.
pub(crate) fn choice_value_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["string", "number"],
    })
}

/// The schema of `v`: the integer 1, so a v2 payload fails validation against v1.
pub(crate) fn version_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "integer",
        "const": WIRE_VERSION,
    })
}

/// Joins the lines of every `description` (doc comments wrap at 90 columns) into one
/// line per paragraph: readers of other languages see them in editors and generated code.
/// Every committed schema goes through it (the receipt's too).
pub(crate) fn unwrap_descriptions(schema: Schema) -> Schema {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(object) => {
                for (key, child) in object.iter_mut() {
                    match child {
                        Value::String(text) if key == "description" => {
                            let paragraphs: Vec<String> =
                                text.split("\n\n").map(|p| p.replace('\n', " ")).collect();
                            *text = paragraphs.join("\n\n");
                        }
                        _ => walk(child),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value = schema.to_value();
    walk(&mut value);
    Schema::try_from(value).expect("a schema stays an object when its descriptions change")
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12().into_generator()
}

/// Keywords in the order a reader wants them; others follow alphabetically, then `$defs`.
const KEY_ORDER: &[&str] = &[
    "$schema",
    "$id",
    "title",
    "description",
    "type",
    "const",
    "enum",
    "format",
    "pattern",
    "minLength",
    "minimum",
    "default",
    "examples",
    "required",
    "properties",
    "items",
    "anyOf",
    "oneOf",
    "allOf",
    "if",
    "then",
    "else",
    "$ref",
];

/// Serializes a JSON value with each object's keys in [`KEY_ORDER`]. `names` marks a
/// map of names (`properties`, `$defs`), whose keys are sorted alphabetically instead.
///
/// A serializer rather than a reordered `Value`: without `preserve_order`, a
/// `serde_json::Map` always iterates alphabetically.
struct Ordered<'a> {
    value: &'a Value,
    names: bool,
}

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::Object(object) => {
                let rank = |key: &str| -> (usize, String) {
                    if self.names {
                        return (0, key.to_owned());
                    }
                    match KEY_ORDER.iter().position(|known| *known == key) {
                        Some(position) => (position, String::new()),
                        None if key == "$defs" => (KEY_ORDER.len() + 1, String::new()),
                        None => (KEY_ORDER.len(), key.to_owned()),
                    }
                };
                let mut entries: Vec<(&String, &Value)> = object.iter().collect();
                entries.sort_by_cached_key(|(key, _)| rank(key));
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, child) in entries {
                    let names = !self.names
                        && matches!(key.as_str(), "properties" | "$defs" | "patternProperties");
                    map.serialize_entry(
                        key,
                        &Ordered {
                            value: child,
                            names,
                        },
                    )?;
                }
                map.end()
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(|item| Ordered {
                value: item,
                names: false,
            })),
            scalar => scalar.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Other languages cannot fetch remote references offline: every `$ref` must point
    /// into the document itself.
    #[test]
    fn schemas_are_self_contained() {
        for (name, text) in schema_files() {
            for line in text.lines().filter(|line| line.contains("\"$ref\"")) {
                assert!(line.contains("\"#/$defs/"), "{name}: {line}");
            }
        }
    }

    /// The committed files are compared as text, so rendering must not depend on map
    /// order or on anything but the types.
    #[test]
    fn rendering_is_stable_and_ordered() {
        let text = render_schema(&inbound_schema());
        assert_eq!(text, render_schema(&inbound_schema()));
        assert!(text.ends_with("}\n"));
        assert!(text.starts_with(
            "{\n  \"$schema\": \"https://json-schema.org/draft/2020-12/schema\",\n  \"$id\": "
        ));
        let reparsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(&reparsed, inbound_schema().as_value());
    }

    /// The outbound schema must describe both forms the decoder accepts.
    #[test]
    fn outbound_schema_accepts_the_object_or_a_string() {
        let schema = outbound_schema();
        let any_of = schema.get("anyOf").unwrap().as_array().unwrap();
        assert_eq!(
            any_of[0]["allOf"][0],
            serde_json::json!({"$ref": "#/$defs/OutboundMessage"})
        );
        assert_eq!(any_of[1]["type"], "string");
        assert!(schema.get("$defs").unwrap().get("MentionPolicy").is_some());
    }
}
