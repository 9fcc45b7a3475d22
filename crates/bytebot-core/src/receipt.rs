//! Delivery receipts: what a gateway publishes after each outbound message, so the
//! subscriber that sent it can learn whether it reached the chat.
//!
//! A receipt is published on the `receipt` topic with the same address as the outbound
//! topic it answers (`outbound.discord.G.C.U` -> `receipt.discord.G.C.U`, see
//! [`Topic::with_direction`](crate::Topic::with_direction)), and correlated by
//! `in_reply_to`, copied from the outbound envelope. Like the envelope it is wire
//! format: its JSON Schema is committed as `schema/receipt.v1.json` (a test below keeps
//! it in sync), new fields get `#[serde(default)]`, and `v` changes only for breaking
//! changes. Documented for subscribers in `docs/subscribers.md`.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::envelope::{EnvelopeError, MAX_PAYLOAD_BYTES, OutboundAction, check_object};

/// The receipt format version this build writes and the only one it reads.
pub const RECEIPT_VERSION: u32 = 1;

/// The `$id` of the receipt schema: where the committed file is published.
pub const RECEIPT_SCHEMA_ID: &str =
    "https://raw.githubusercontent.com/bytebot/bytebot/main/schema/receipt.v1.json";

/// The outcome of one outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryReceipt {
    /// Receipt format version: always 1 here. Readers refuse versions they do not know.
    #[schemars(schema_with = "version_schema")]
    pub v: u32,
    /// The outbound envelope's `in_reply_to` (the id of the inbound envelope it
    /// answered), for correlation. Absent when the outbound message had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("format" = "uuid"))]
    pub in_reply_to: Option<Uuid>,
    /// The outbound envelope's `action`: `send` when absent.
    #[serde(default, skip_serializing_if = "OutboundAction::is_send")]
    pub action: OutboundAction,
    /// Whether the action was carried out (for a send: every part delivered).
    pub ok: bool,
    /// For a `send`: the platform's ids of the messages sent, in order, one per part
    /// when a long message was split (on failure, the parts sent before it, usually
    /// none); keep them to `edit` or `delete` the messages later. For `edit`, `delete`,
    /// `react` and `unreact`: the message acted on. Empty for `typing`, and on
    /// platforms without message ids (IRC), which the receipt's platform documents.
    #[serde(default)]
    pub message_ids: Vec<String>,
    /// Why delivery failed. Absent when `ok` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<DeliveryError>,
}

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryError {
    /// The platform's own error code (Discord: 50013 Missing Permissions, 10003 Unknown
    /// Channel, 50035 Invalid Form Body...). Absent when the failure did not come from
    /// the platform: an invalid envelope, a network error, a full queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// A human-readable explanation (the platform's message when it gave one).
    pub message: String,
    /// The HTTP status the platform answered with, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl DeliveryReceipt {
    /// A successful delivery of `message_ids`.
    pub fn delivered(in_reply_to: Option<Uuid>, message_ids: Vec<String>) -> DeliveryReceipt {
        DeliveryReceipt {
            v: RECEIPT_VERSION,
            in_reply_to,
            action: OutboundAction::Send,
            ok: true,
            message_ids,
            error: None,
        }
    }

    /// A failed delivery; `message_ids` are the parts sent before the failure.
    pub fn failed(
        in_reply_to: Option<Uuid>,
        message_ids: Vec<String>,
        error: DeliveryError,
    ) -> DeliveryReceipt {
        DeliveryReceipt {
            v: RECEIPT_VERSION,
            in_reply_to,
            action: OutboundAction::Send,
            ok: false,
            message_ids,
            error: Some(error),
        }
    }

    /// The same receipt for `action` (the outbound envelope's).
    pub fn for_action(mut self, action: OutboundAction) -> DeliveryReceipt {
        self.action = action;
        self
    }

    /// The JSON payload to publish.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a receipt always serializes")
    }
}

/// Decodes a receipt: refuses a payload over [`MAX_PAYLOAD_BYTES`] (before parsing), JSON
/// other than an object, a `v` other than [`RECEIPT_VERSION`], and invalid JSON or
/// missing fields.
pub fn decode_receipt(payload: &[u8]) -> Result<DeliveryReceipt, EnvelopeError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(EnvelopeError::TooLarge {
            size: payload.len(),
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    check_object(payload, false)?;
    let value: Value = serde_json::from_slice(payload).map_err(EnvelopeError::Json)?;
    if let Some(found) = value.get("v").and_then(Value::as_u64)
        && found != u64::from(RECEIPT_VERSION)
    {
        return Err(EnvelopeError::UnsupportedVersion { found });
    }
    serde_json::from_value(value).map_err(EnvelopeError::Json)
}

/// The JSON Schema (draft 2020-12) of a receipt, committed as `schema/receipt.v1.json`.
pub fn receipt_schema() -> Schema {
    let mut schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<DeliveryReceipt>();
    let object = schema.ensure_object();
    object.insert("$id".into(), RECEIPT_SCHEMA_ID.into());
    object.insert("title".into(), "Bytebot delivery receipt, version 1".into());
    object.insert(
        "description".into(),
        "The outcome of one outbound message, published by the gateway that handled it \
         on the receipt topic with the same address as the outbound topic \
         (`receipt.platform.space.room.user`), correlated by `in_reply_to`. Unknown \
         fields must be ignored: fields may be added within version 1."
            .into(),
    );
    crate::envelope::schema::unwrap_descriptions(schema)
}

/// The schema of `v`: the integer 1.
fn version_schema(_: &mut schemars::SchemaGenerator) -> Schema {
    schemars::json_schema!({"type": "integer", "const": RECEIPT_VERSION})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::render_schema;
    use serde_json::json;

    fn missing_permissions() -> DeliveryError {
        DeliveryError {
            code: Some(50013),
            message: "Missing Permissions".into(),
            status: Some(403),
        }
    }

    /// The JSON is the contract documented in docs/subscribers.md.
    #[test]
    fn receipts_have_the_documented_shape_and_round_trip() {
        let id = Uuid::parse_str("019abcde-0000-7000-8000-000000000001").unwrap();
        let ok = DeliveryReceipt::delivered(Some(id), vec!["1".into(), "2".into()]);
        assert_eq!(
            serde_json::from_slice::<Value>(&ok.encode()).unwrap(),
            json!({"v": 1, "in_reply_to": id.to_string(), "ok": true, "message_ids": ["1", "2"]})
        );
        let failed = DeliveryReceipt::failed(None, Vec::new(), missing_permissions());
        assert_eq!(
            serde_json::from_slice::<Value>(&failed.encode()).unwrap(),
            json!({"v": 1, "ok": false, "message_ids": [],
                   "error": {"code": 50013, "message": "Missing Permissions", "status": 403}})
        );
        for receipt in [ok, failed] {
            assert_eq!(decode_receipt(&receipt.encode()).unwrap(), receipt);
        }
    }

    /// Readers must refuse what they cannot understand, and ignore what they do not know.
    #[test]
    fn decoding_checks_version_size_and_fields() {
        assert!(matches!(
            decode_receipt(br#"{"v": 2, "ok": true}"#),
            Err(EnvelopeError::UnsupportedVersion { found: 2 })
        ));
        assert!(matches!(
            decode_receipt(br#"{"v": 1}"#),
            Err(EnvelopeError::Json(_))
        ));
        assert!(matches!(
            decode_receipt(&vec![b' '; MAX_PAYLOAD_BYTES + 1]),
            Err(EnvelopeError::TooLarge { .. })
        ));
        let newer = decode_receipt(br#"{"v": 1, "ok": true, "retries": 3}"#).unwrap();
        assert_eq!(newer, DeliveryReceipt::delivered(None, Vec::new()));
    }

    /// Other languages read the committed file, so it must be what the types generate;
    /// `BYTEBOT_BLESS=1 cargo test -p bytebot-core --lib receipt` rewrites it.
    #[test]
    fn committed_schema_matches_the_type() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/receipt.v1.json");
        let generated = render_schema(&receipt_schema());
        if std::env::var_os("BYTEBOT_BLESS").is_some_and(|value| value == "1") {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "schema/receipt.v1.json is stale; regenerate it with \
             `BYTEBOT_BLESS=1 cargo test -p bytebot-core --lib receipt`"
        );
    }

    #[test]
    fn schema_requires_the_core_fields_and_pins_the_version() {
        let schema = receipt_schema().to_value();
        assert_eq!(schema["required"], json!(["v", "ok"]));
        assert_eq!(schema["properties"]["v"]["const"], json!(1));
        assert_eq!(schema["$id"], json!(RECEIPT_SCHEMA_ID));
    }
}
