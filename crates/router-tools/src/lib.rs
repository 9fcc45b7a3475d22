//! router-tools: the operator's command line for a Bytebot bus.
//!
//! One module per subcommand; `main.rs` parses the flags and calls them. Every
//! subcommand that touches Redis takes a [`bytebot_core::bus::RedisUrl`], which prints
//! with its password redacted, so no output of this tool can leak it.

pub mod bench;
pub mod chat;
pub mod commands;
pub mod console;
pub mod conversation;
pub mod doctor;
pub mod send;
pub mod topic;
pub mod watch;
