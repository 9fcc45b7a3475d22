//! Threads in the fake Discord: `THREAD_CREATE` dispatches with the channel object
//! serenity 0.12.5 reads (a `GuildChannel` with `thread_metadata`).

use serde_json::{Value, json};

use super::{FakeDiscord, TIMESTAMP};

/// A public thread's channel object (type 11), `thread_id` in `parent_id` of `guild_id`.
pub fn thread_json(guild_id: u64, parent_id: u64, thread_id: u64, name: &str) -> Value {
    json!({
        "id": thread_id.to_string(),
        "guild_id": guild_id.to_string(),
        "parent_id": parent_id.to_string(),
        "owner_id": "179258058118135808",
        "type": 11,
        "name": name,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "flags": 0,
        "thread_metadata": {
            "archived": false,
            "auto_archive_duration": 1440,
            "archive_timestamp": TIMESTAMP,
            "locked": false,
            "create_timestamp": TIMESTAMP,
        },
    })
}

impl FakeDiscord {
    /// Someone starts the thread `thread_id` in `parent_id` (Discord dispatches
    /// `THREAD_CREATE` to bots with the GUILDS intent).
    pub fn create_thread(&self, guild_id: u64, parent_id: u64, thread_id: u64, name: &str) {
        let mut thread = thread_json(guild_id, parent_id, thread_id, name);
        thread["newly_created"] = json!(true);
        self.dispatch("THREAD_CREATE", thread);
    }
}

/// `POST /channels/{c}/messages/{m}/threads`: a thread started from a message has the
/// message's id. The fake knows no channel's guild, so the thread's is a fixed one.
pub(super) fn started(channel_id: u64, message_id: u64, body: &Value) -> (u16, Value) {
    let Some(name) = body["name"].as_str().filter(|name| !name.is_empty()) else {
        return (400, json!({"code": 50035, "message": "Invalid Form Body"}));
    };
    (201, thread_json(1, channel_id, message_id, name))
}
