//! Integration tests for bytebot-core against real, private `redis-server` processes.
mod bot;
mod bus;
mod cluster;
mod group;
mod patterns;
mod schema;
