//! The JSON envelope (wire format v1).
