#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod bot;
pub mod bus;
pub mod envelope;
pub mod group;
pub mod pattern;
pub mod receipt;
pub mod shutdown;
pub mod topic;

pub use topic::{Direction, Platform, RoomId, Space, Topic, TopicError, UserId};
