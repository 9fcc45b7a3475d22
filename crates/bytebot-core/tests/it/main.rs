//! Integration tests for bytebot-core against real, private `redis-server` processes.
mod bus;
mod patterns;
mod schema;
