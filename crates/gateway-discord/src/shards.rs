//! Which Discord shards this process runs (`--shards START-END --shard-count N`) and
//! which outbound messages it therefore owns.
//!
//! Discord delivers a guild's events on shard `(guild_id >> 22) % count`
//! (`serenity::utils::shard_id`) and DMs on shard 0. Every gateway process subscribes
//! to all of `outbound.discord.*`, so each must send only what its own shards would have
//! received: a guild's channels by the guild's shard, DMs (`@me`) by the process that
//! runs shard 0. Everything else is another process' ([`Route::NotMine`]). With every
//! shard running somewhere, each outbound message has exactly one owner.

use std::fmt;
use std::str::FromStr;

use bytebot_core::{Space, Topic};
use bytebot_gateway::Route;
use serenity::all::GuildId;

/// An inclusive range of shard ids, `START-END` (`0-3` is shards 0, 1, 2 and 3) or a
/// single shard `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardRange {
    /// The first shard.
    pub start: u32,
    /// The last shard, included.
    pub end: u32,
}

impl ShardRange {
    /// Whether `shard` is in the range.
    pub fn contains(&self, shard: u32) -> bool {
        (self.start..=self.end).contains(&shard)
    }

    /// How many shards the range holds.
    pub fn len(&self) -> u32 {
        self.end - self.start + 1
    }

    /// Never: a range holds at least one shard (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The shard ids, in order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + use<> {
        self.start..=self.end
    }
}

impl fmt::Display for ShardRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// Why `--shards` or `--shard-count` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShardsError {
    /// Not `START-END` or `N` with decimal shard ids.
    #[error(
        "`{0}` is not a shard range: expected START-END (both included, e.g. 0-3) or one shard id (e.g. 5)"
    )]
    Syntax(String),
    /// `END` before `START`.
    #[error(
        "the shard range {start}-{end} ends before it starts: write the lower id first ({end}-{start})"
    )]
    Reversed {
        /// The first id given.
        start: u32,
        /// The last id given.
        end: u32,
    },
    /// A shard count of 0.
    #[error("the shard count must be at least 1")]
    ZeroCount,
    /// A shard id the count does not have (ids run from 0 to count - 1).
    #[error("shard {end} does not exist with --shard-count {count}: shard ids run from 0 to {last}", last = count - 1)]
    BeyondCount {
        /// The last shard of the range.
        end: u32,
        /// The total number of shards.
        count: u32,
    },
    /// Only one of the two flags.
    #[error(
        "--shards and --shard-count go together (BYTEBOT_SHARDS and BYTEBOT_SHARD_COUNT): give both, or neither to run every shard in this process"
    )]
    Incomplete,
}

impl FromStr for ShardRange {
    type Err = ShardsError;

    fn from_str(raw: &str) -> Result<ShardRange, ShardsError> {
        let syntax = || ShardsError::Syntax(shorten(raw));
        let id = |text: &str| {
            let text = text.trim();
            if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(syntax());
            }
            text.parse::<u32>().map_err(|_| syntax())
        };
        let (start, end) = match raw.split_once('-') {
            Some((start, end)) => (id(start)?, id(end)?),
            None => {
                let shard = id(raw)?;
                (shard, shard)
            }
        };
        if end < start {
            return Err(ShardsError::Reversed { start, end });
        }
        Ok(ShardRange { start, end })
    }
}

fn shorten(raw: &str) -> String {
    raw.chars().take(40).collect()
}

/// The operator's sharding: this process runs `range` of `count` shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sharding {
    /// The shards this process runs.
    pub range: ShardRange,
    /// The bot's total number of shards, the same in every process.
    pub count: u32,
}

impl Sharding {
    /// Checks the flags together: both or neither (`None`: every shard here, the count
    /// Discord recommends), and a range within the count.
    pub fn from_flags(
        range: Option<ShardRange>,
        count: Option<u32>,
    ) -> Result<Option<Sharding>, ShardsError> {
        match (range, count) {
            (None, None) => Ok(None),
            (Some(range), Some(count)) => Sharding::new(range, count).map(Some),
            _ => Err(ShardsError::Incomplete),
        }
    }

    /// `range` of `count` shards.
    pub fn new(range: ShardRange, count: u32) -> Result<Sharding, ShardsError> {
        if count == 0 {
            return Err(ShardsError::ZeroCount);
        }
        if range.end >= count {
            return Err(ShardsError::BeyondCount {
                end: range.end,
                count,
            });
        }
        Ok(Sharding { range, count })
    }

    /// Every shard of `count`, in one process.
    pub fn all(count: u32) -> Sharding {
        let count = count.max(1);
        Sharding {
            range: ShardRange {
                start: 0,
                end: count - 1,
            },
            count,
        }
    }

    /// The shard Discord delivers `guild_id`'s events on.
    pub fn shard_of(&self, guild_id: u64) -> u32 {
        serenity::utils::shard_id(GuildId::new(guild_id.max(1)), self.count)
    }

    /// Whether this process sends what arrives on `topic` (see the module docs); a
    /// guild space that is not a Discord id is invalid.
    pub fn route<R>(&self, topic: &Topic, room: R) -> Route<R> {
        let shard = match topic.space() {
            Space::Direct => 0,
            Space::Id(guild) => match guild.as_str().parse::<u64>() {
                Ok(guild_id) if guild_id != 0 => self.shard_of(guild_id),
                _ => {
                    return Route::Invalid(format!(
                        "space `{}` is neither `@me` nor a discord guild id",
                        shorten(guild.as_str())
                    ));
                }
            },
        };
        if self.range.contains(shard) {
            Route::Room(room)
        } else {
            Route::NotMine
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_inclusive_and_a_single_id_is_one_shard() {
        let range: ShardRange = "0-3".parse().unwrap();
        assert_eq!(range, ShardRange { start: 0, end: 3 });
        assert_eq!(range.len(), 4);
        assert_eq!(range.iter().collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert_eq!(
            " 5 ".parse::<ShardRange>().unwrap(),
            ShardRange { start: 5, end: 5 }
        );
        assert_eq!("6-7".parse::<ShardRange>().unwrap().to_string(), "6-7");
    }

    /// An operator's typo must stop the gateway with a message that says what is wrong.
    #[test]
    fn bad_ranges_are_refused_with_a_reason() {
        assert_eq!(
            "3-1".parse::<ShardRange>(),
            Err(ShardsError::Reversed { start: 3, end: 1 })
        );
        for garbage in [
            "",
            "-",
            "a-b",
            "1-",
            "-2",
            "1-2-3",
            "0x1",
            "+1",
            "1..3",
            "99999999999",
        ] {
            assert!(
                matches!(garbage.parse::<ShardRange>(), Err(ShardsError::Syntax(_))),
                "{garbage:?}"
            );
        }
        let range: ShardRange = "6-8".parse().unwrap();
        let err = Sharding::new(range, 8).unwrap_err();
        assert_eq!(err, ShardsError::BeyondCount { end: 8, count: 8 });
        assert!(err.to_string().contains("0 to 7"), "{err}");
        assert_eq!(Sharding::new(range, 0), Err(ShardsError::ZeroCount));
        assert_eq!(
            Sharding::from_flags(Some(range), None),
            Err(ShardsError::Incomplete)
        );
        assert_eq!(
            Sharding::from_flags(None, Some(8)),
            Err(ShardsError::Incomplete)
        );
        assert_eq!(Sharding::from_flags(None, None), Ok(None));
    }

    /// serenity's formula, checked by hand: a guild id's timestamp bits, modulo the count.
    #[test]
    fn guilds_map_to_shards_like_discord() {
        let sharding = Sharding::all(8);
        let guild: u64 = 1_190_804_811_990_446_190;
        assert_eq!(sharding.shard_of(guild), ((guild >> 22) % 8) as u32);
        assert_eq!(Sharding::all(1).shard_of(guild), 0);
    }

    #[test]
    fn only_the_owner_of_a_guilds_shard_or_of_shard_0_for_dms_sends() {
        let count = 8;
        let ranges: Vec<Sharding> = ["0-2", "3-5", "6-7"]
            .iter()
            .map(|range| Sharding::new(range.parse().unwrap(), count).unwrap())
            .collect();
        for shard in 0..count {
            // A guild id on `shard`: its timestamp bits are `shard`.
            let guild = (u64::from(shard) << 22) | 12345;
            let topic: Topic = format!("outbound.discord.{guild}.42.7").parse().unwrap();
            let owners: Vec<usize> = ranges
                .iter()
                .enumerate()
                .filter(|(_, sharding)| sharding.route(&topic, ()) == Route::Room(()))
                .map(|(index, _)| index)
                .collect();
            assert_eq!(owners.len(), 1, "shard {shard} has owners {owners:?}");
            assert!(ranges[owners[0]].range.contains(shard));
        }
        let dm: Topic = "outbound.discord.@me.42.7".parse().unwrap();
        assert_eq!(ranges[0].route(&dm, ()), Route::Room(()));
        assert_eq!(ranges[1].route(&dm, ()), Route::NotMine);
        assert_eq!(ranges[2].route(&dm, ()), Route::NotMine);
        let bad: Topic = "outbound.discord.general.42.7".parse().unwrap();
        assert!(matches!(ranges[0].route(&bad, ()), Route::Invalid(_)));
    }
}
