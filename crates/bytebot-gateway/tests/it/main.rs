//! The runtime proven once, without any real platform: a private Redis, the toy
//! in-memory platform of `toy.rs` and `GatewayRuntime` in between.

mod inbound;
mod lifecycle;
mod outbound;
mod support;
mod text;
mod toy;
