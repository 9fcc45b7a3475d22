//! `PatternBuilder`: five whole segments, each an exact escaped value or a lone `*`.

use std::borrow::Cow;

use super::Pattern;
use crate::topic::{
    DIRECT_MESSAGE_SPACE, Direction, Platform, RoomId, Space, TopicError, UserId, escape_segment,
};

/// Builds a [`Pattern`] of five whole segments from raw (unescaped) values.
///
/// A segment that is set matches exactly that value (escaped with [`escape_segment`], so
/// it can contain dots, `*` or spaces and still match only itself); a segment that is not
/// set is a lone `*`. Validated in [`PatternBuilder::build`], with the same rules and
/// errors as [`Topic::builder`](crate::Topic::builder).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct PatternBuilder {
    direction: Option<Direction>,
    platform: Option<String>,
    space: Option<Space>,
    room: Option<String>,
    user: Option<String>,
}

impl PatternBuilder {
    /// Only this direction.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self
    }

    /// Only this platform (`discord`, `console`, ...).
    pub fn platform(mut self, platform: impl Into<String>) -> Self {
        self.platform = Some(platform.into());
        self
    }

    /// Only this guild/server, or only direct messages with [`Space::Direct`].
    pub fn space(mut self, space: Space) -> Self {
        self.space = Some(space);
        self
    }

    /// Only direct messages (space `@me`).
    pub fn direct(self) -> Self {
        self.space(Space::Direct)
    }

    /// Only this room (channel), raw.
    pub fn room(mut self, room: impl Into<String>) -> Self {
        self.room = Some(room.into());
        self
    }

    /// Only this user, raw.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// The pattern, or the [`TopicError`] a topic with these values would get: an
    /// invalid platform name or an empty segment.
    pub fn build(self) -> Result<Pattern, TopicError> {
        const ANY: Cow<'static, str> = Cow::Borrowed("*");
        let direction = self
            .direction
            .map_or(ANY, |direction| Cow::Borrowed(direction.as_str()));
        let platform = match self.platform {
            Some(name) => Cow::Owned(Platform::new(name)?.as_str().to_owned()),
            None => ANY,
        };
        let space = match self.space {
            Some(Space::Direct) => Cow::Borrowed(DIRECT_MESSAGE_SPACE),
            Some(space @ Space::Id(_)) => Cow::Owned(space.validated()?.segment().into_owned()),
            None => ANY,
        };
        let room = match self.room {
            Some(raw) => Cow::Owned(escape_segment(RoomId::new(raw)?.as_str()).into_owned()),
            None => ANY,
        };
        let user = match self.user {
            Some(raw) => Cow::Owned(escape_segment(UserId::new(raw)?.as_str()).into_owned()),
            None => ANY,
        };
        Ok(Pattern(format!(
            "{direction}.{platform}.{space}.{room}.{user}"
        )))
    }
}
