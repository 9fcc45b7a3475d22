//! gateway-irc against a real IRC server (ngircd), one per test.

mod binary;
mod connection;
mod gateway;
mod ping_bench;
