//! Member joins on the fake Discord: `GUILD_MEMBER_ADD`, dispatched only to a session
//! that asked for the privileged Server Members intent, as Discord does.

use serde_json::json;

use super::{FakeDiscord, TIMESTAMP};

/// The Server Members intent (`GUILD_MEMBERS`), privileged.
pub const GUILD_MEMBERS_INTENT: u64 = 1 << 1;

impl FakeDiscord {
    /// Queues a `GUILD_MEMBER_ADD` for `user_id` joining `guild_id`, with every field
    /// serenity's `Member` requires, if the guild's shard identified with the Server
    /// Members intent; returns whether it did (Discord sends nothing otherwise).
    pub fn member_joins(&self, guild_id: u64, user_id: u64, nick: Option<&str>) -> bool {
        let shard = self.shard_of_guild(guild_id);
        let intents = self
            .identifies()
            .iter()
            .rev()
            .find(|identify| identify.shard == shard)
            .map_or(0, |identify| identify.intents);
        if intents & GUILD_MEMBERS_INTENT == 0 {
            return false;
        }
        self.dispatch(
            "GUILD_MEMBER_ADD",
            json!({
                "guild_id": guild_id.to_string(),
                "user": {"id": user_id.to_string(), "username": format!("user{user_id}"),
                         "discriminator": "0", "global_name": null, "avatar": null, "bot": false},
                "nick": nick,
                "avatar": null,
                "roles": [],
                "joined_at": TIMESTAMP,
                "premium_since": null,
                "deaf": false,
                "mute": false,
                "flags": 0,
                "pending": false,
                "communication_disabled_until": null,
            }),
        );
        true
    }
}
