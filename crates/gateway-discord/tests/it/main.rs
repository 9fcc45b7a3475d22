//! End-to-end tests of the gateway: a real private Redis, serenity pointed at the fake
//! Discord from `bytebot-test-support`, and `run` (or the built binary) in between.

mod bench;
mod binary;
mod health;
mod inbound;
mod outbound;
mod resilience;
mod support;
