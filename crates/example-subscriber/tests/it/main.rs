//! example-subscriber run in-process against real, private Redis servers: a test
//! plays the gateway (it publishes inbound envelopes and receipts) and checks what
//! the bot publishes.
mod events;
mod interactions;
mod support;
