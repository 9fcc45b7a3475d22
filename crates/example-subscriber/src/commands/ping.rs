//! `!ping`: the liveness check. Answers `pong`.

/// `!ping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping;

impl Ping {
    /// Always `pong`: scripts and tests compare it literally.
    pub fn apply(self) -> String {
        "pong".to_owned()
    }
}
