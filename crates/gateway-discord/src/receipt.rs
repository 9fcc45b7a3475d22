//! `DeliveryReceipt`: what the gateway publishes on `receipt.discord.<space>.<room>.<user>`
//! after each outbound message, so a subscriber can learn that its reply failed.
//!
//! This is wire format (documented in `docs/subscribers.md`, section "Delivery
//! receipts"): new fields get `#[serde(default)]`, `v` changes only for breaking
//! changes. It lives in the gateway for now because it is the only writer; it belongs in
//! `bytebot-core` next to the envelope once a Rust subscriber needs to read it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The receipt format version.
pub const RECEIPT_VERSION: u32 = 1;

/// The outcome of one outbound message, published on the `receipt` topic with the same
/// address as the outbound topic it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReceipt {
    /// Receipt format version: 1.
    pub v: u32,
    /// The outbound envelope's `in_reply_to` (the inbound envelope id it answered), to
    /// correlate; absent when the outbound message had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<Uuid>,
    /// Whether every part of the message was delivered.
    pub ok: bool,
    /// The Discord message ids sent, in order: one per part of a long message that was
    /// split. On failure, the parts sent before it (usually none).
    #[serde(default)]
    pub message_ids: Vec<String>,
    /// Why delivery failed; absent when `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<DeliveryError>,
}

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryError {
    /// Discord's JSON error code (e.g. 50013 Missing Permissions, 10003 Unknown
    /// Channel); absent when the failure did not come from Discord (an invalid envelope,
    /// a network error, the gateway shutting down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// A human-readable explanation (Discord's message when it gave one).
    pub message: String,
    /// The HTTP status Discord answered with, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl DeliveryReceipt {
    /// A successful delivery of `message_ids`.
    pub fn delivered(in_reply_to: Option<Uuid>, message_ids: Vec<String>) -> DeliveryReceipt {
        DeliveryReceipt {
            v: RECEIPT_VERSION,
            in_reply_to,
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
            ok: false,
            message_ids,
            error: Some(error),
        }
    }

    /// The JSON payload to publish.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a receipt always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The JSON is the contract documented in docs/subscribers.md.
    #[test]
    fn receipts_have_the_documented_shape_and_round_trip() {
        let id = Uuid::parse_str("019abcde-0000-7000-8000-000000000001").unwrap();
        let ok = DeliveryReceipt::delivered(Some(id), vec!["1".into(), "2".into()]);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&ok.encode()).unwrap(),
            json!({"v": 1, "in_reply_to": id.to_string(), "ok": true, "message_ids": ["1", "2"]})
        );
        let failed = DeliveryReceipt::failed(
            None,
            Vec::new(),
            DeliveryError {
                code: Some(50013),
                message: "Missing Permissions".into(),
                status: Some(403),
            },
        );
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&failed.encode()).unwrap(),
            json!({"v": 1, "ok": false, "message_ids": [],
                   "error": {"code": 50013, "message": "Missing Permissions", "status": 403}})
        );
        for receipt in [ok, failed] {
            assert_eq!(
                serde_json::from_slice::<DeliveryReceipt>(&receipt.encode()).unwrap(),
                receipt
            );
        }
    }
}
