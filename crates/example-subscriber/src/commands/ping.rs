//! `!ping`: the liveness check. Answers `pong`, then (once the gateway's receipt says
//! it was delivered) edits it to `pong (N ms)`, the round trip.

use std::time::Duration;

/// `!ping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping;

impl Ping {
    /// Always `pong`: scripts and tests compare it literally.
    pub fn apply(self) -> String {
        "pong".to_owned()
    }

    /// The answer once delivered: `pong (N ms)`, N the time from publishing `pong` to
    /// the gateway's receipt for it (Redis, the gateway, the chat platform and back).
    pub fn with_round_trip(self, round_trip: Duration) -> String {
        format!("pong ({} ms)", round_trip.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_round_trip_is_shown_in_whole_milliseconds() {
        assert_eq!(
            Ping.with_round_trip(Duration::from_micros(41_900)),
            "pong (41 ms)"
        );
    }
}
