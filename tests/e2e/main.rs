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
mod tools;
