//! End-to-end tests of the gateway: a real private Redis, serenity pointed at the fake
//! Discord of `fake_discord/`, and `run` (or the built binary) in between.

mod actions;
mod bench;
mod binary;
mod commands;
mod events;
mod fake_discord;
mod health;
mod inbound;
mod intents;
mod interaction_bench;
mod interactions;
mod monolith_bench;
mod outbound;
mod profile;
mod resilience;
mod rich;
mod shards;
mod support;
mod threads;
