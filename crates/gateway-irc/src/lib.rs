//! gateway-irc: the IRC <-> Redis bridge.
//!
//! - [`connection`]: one task per server connection (registration, keepalive,
//!   reconnect, rejoin) and its [`Connection`](connection::Connection) handle;
//! - [`split`]: outbound text into lines of at most 512 bytes as the server relays them;
//! - [`flood`]: the token bucket every PRIVMSG goes through;
//! - [`session`]: what the server said about its rules (CASEMAPPING) and about us;
//! - [`config`]: server, nick, channels and secrets, parsed once.

pub mod config;
pub mod connection;
pub mod flood;
pub mod session;
pub mod split;
mod wire;
