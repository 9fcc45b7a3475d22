//! End-to-end tests: the built binaries against private Redis servers.
//!
//! Each test starts its own `redis-server` and its own processes (killed on drop), so
//! tests run in parallel and a failure leaves nothing behind.

mod bench;
mod chat;
mod console;
mod demo;
mod deploy;
mod groups;
mod healthcheck;
mod hygiene;
mod irc;
mod node;
mod operate;
mod python;
mod secrets;
mod shards;
mod tools;

// gateway-discord's fake Discord (REST and gateway on 127.0.0.1), so that real
// gateway processes can run here; these tests use only a few of its controls.
#[allow(dead_code, unused_imports)]
#[path = "../../crates/gateway-discord/tests/it/fake_discord/mod.rs"]
mod fake_discord;
