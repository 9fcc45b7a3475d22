//! Replica groups: run N copies of a bot and have each message answered once.
//!
//! Pub/sub gives every replica every message. Replicas of one group therefore *claim*
//! each inbound envelope before handling it, with one atomic Redis command, and only
//! the replica whose claim wins runs the handler; the others skip the message and
//! count it. The protocol is small enough for any language to join (the Python
//! example does), so one group can mix languages:
//!
//! ```text
//! SET bytebot:claim:<group>:<envelope id> <replica id> NX PX 30000 GET
//! ```
//!
//! - **Key**: `bytebot:claim:<group>:<envelope id>`, the envelope's `id` as lower-case
//!   hyphenated UUID text (`019abf77-fcaf-7013-8b52-6e0c4a9d2f18`). The group name is
//!   a [`GroupName`]: ASCII letters, digits, `-`, `_` and `.`, 1 to 64 of them.
//! - **Value**: the replica's id ([`Claimer::replica_id`]), unique per running
//!   replica: who handled the message, for an operator reading the key.
//! - **Expiry**: [`CLAIM_TTL`] (30 s), so claims do not accumulate. It must outlast the
//!   spread between the moments two replicas receive the same message; a replica that
//!   lags more than that behind the others could claim a message again.
//! - **Outcome**: the reply is the key's previous value. Nil: the key was free, this
//!   replica won. Its own id: a retry of its own earlier claim whose reply was lost, it
//!   won. Anything else: another replica has the message; skip it
//!   ([`ClaimOutcome::Lost`], counted as `claimed_by_another_replica`).
//! - **Errors**: on a Redis error (a timeout included) the claim is retried
//!   (reconnecting) for up to [`CLAIM_RETRY`] (5 s) after that first error; then the
//!   message is skipped ([`ClaimOutcome::Failed`], `claim_failed`). A retry is safe
//!   because of `GET`: a first attempt that did reach Redis is answered by its own id. Skipping rather than answering unclaimed keeps "at most one
//!   reply": every replica that cannot reach Redis would otherwise answer.
//!
//! `NX` with `GET` needs Redis 7.0 or newer. On a Redis Cluster
//! (`redis+cluster://`), each key lives in its own slot and the claimer's connection
//! is a cluster connection ([`crate::bus::connect_keyed`]) that follows the slots.
//!
//! **What is guaranteed.** At most one replica of a group handles an envelope (while
//! its claim lives). A replica that dies loses only the messages it had claimed and not
//! yet answered (its in-flight messages); every later message is claimed by the
//! surviving replicas at once, since they all receive every message. Delivery stays
//! pub/sub's: at most once.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::bus::{BusConfig, BusError, Connection, connect_keyed};

/// How long a claim key lives: longer than any plausible delay between two replicas
/// receiving the same message (their queues are bounded), short enough that claims do
/// not pile up in Redis (at 1000 messages a second, 30 000 keys of ~100 bytes).
pub const CLAIM_TTL: Duration = Duration::from_secs(30);

/// How long a claim is retried while Redis fails, before the message is skipped.
pub const CLAIM_RETRY: Duration = Duration::from_secs(5);

/// The longest a group name may be.
pub const MAX_GROUP_NAME: usize = 64;

/// The name of a replica group: 1 to 64 ASCII letters, digits, `-`, `_` or `.`, so it
/// can never break the claim key apart (no `:`) or need quoting anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupName(String);

/// Why a group name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupNameError {
    /// The name is empty.
    #[error("a group name must not be empty")]
    Empty,
    /// The name is longer than [`MAX_GROUP_NAME`].
    #[error("a group name has at most {MAX_GROUP_NAME} characters, this one has {0}")]
    TooLong(usize),
    /// The name has a character outside `A-Z a-z 0-9 - _ .`.
    #[error("a group name may only hold ASCII letters, digits, `-`, `_` and `.`, not {0:?}")]
    Character(char),
}

impl GroupName {
    /// Checks `name` (see [`GroupName`]).
    pub fn new(name: impl Into<String>) -> Result<GroupName, GroupNameError> {
        let name = name.into();
        if name.is_empty() {
            return Err(GroupNameError::Empty);
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(GroupNameError::Character(bad));
        }
        if name.len() > MAX_GROUP_NAME {
            return Err(GroupNameError::TooLong(name.len()));
        }
        Ok(GroupName(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The claim key of one envelope in this group:
    /// `bytebot:claim:<group>:<envelope id>`.
    pub fn claim_key(&self, envelope_id: Uuid) -> String {
        format!("bytebot:claim:{}:{}", self.0, envelope_id.hyphenated())
    }
}

impl FromStr for GroupName {
    type Err = GroupNameError;

    fn from_str(name: &str) -> Result<GroupName, GroupNameError> {
        GroupName::new(name)
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What came of one claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This replica has the message: handle it.
    Won,
    /// Another replica of the group has it: skip it.
    Lost,
    /// Redis failed for [`CLAIM_RETRY`]: skip it (nobody may have it).
    Failed,
}

impl ClaimOutcome {
    /// Why the message is skipped, as a metric label (`claimed_by_another_replica`,
    /// `claim_failed`); `None` for [`ClaimOutcome::Won`].
    pub fn skip_reason(self) -> Option<&'static str> {
        match self {
            ClaimOutcome::Won => None,
            ClaimOutcome::Lost => Some("claimed_by_another_replica"),
            ClaimOutcome::Failed => Some("claim_failed"),
        }
    }
}

/// A claimer's counters at one moment (from [`ClaimCounters::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimStats {
    /// Claims this replica won: messages it handled (`bytebot_claims_won_total`).
    pub won: u64,
    /// Messages skipped because another replica had claimed them.
    pub lost: u64,
    /// Messages skipped because Redis failed for [`CLAIM_RETRY`].
    pub failed: u64,
}

/// The live counters of a [`Claimer`]: cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ClaimCounters {
    inner: Arc<[AtomicU64; 3]>,
}

impl ClaimCounters {
    /// The counters now.
    pub fn stats(&self) -> ClaimStats {
        let [won, lost, failed] = &*self.inner;
        ClaimStats {
            won: won.load(Ordering::Relaxed),
            lost: lost.load(Ordering::Relaxed),
            failed: failed.load(Ordering::Relaxed),
        }
    }

    fn record(&self, outcome: ClaimOutcome) {
        let index = match outcome {
            ClaimOutcome::Won => 0,
            ClaimOutcome::Lost => 1,
            ClaimOutcome::Failed => 2,
        };
        self.inner[index].fetch_add(1, Ordering::Relaxed);
    }
}

/// Claims envelopes for one replica of a group, on a connection of its own that it
/// opens lazily and reopens after errors. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Claimer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: BusConfig,
    group: GroupName,
    replica_id: String,
    /// The connection and its generation, `None` until first used and after an error.
    connection: Mutex<Option<(u64, Connection)>>,
    /// The generation of the next connection made: an error drops the connection only
    /// if it is still the one that failed, so the claims in flight on it when it broke
    /// do not each throw away the fresh connection the first of them made.
    generations: AtomicU64,
    counters: ClaimCounters,
    /// Failures logged once per outage, not once per message.
    failing: std::sync::atomic::AtomicBool,
}

impl Claimer {
    /// A claimer for a replica of `group`, connecting with `config`. The replica id is
    /// `<host>:<pid>:<random>`, unique per claimer.
    pub fn new(config: BusConfig, group: GroupName) -> Claimer {
        Claimer::with_counters(config, group, ClaimCounters::default())
    }

    /// [`Claimer::new`], counting in `counters` (a [`crate::bot::Bot`]'s).
    pub(crate) fn with_counters(
        config: BusConfig,
        group: GroupName,
        counters: ClaimCounters,
    ) -> Claimer {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let random = Uuid::now_v7().simple().to_string();
        let replica_id = format!(
            "{}:{}:{}",
            host.replace(|c: char| !c.is_ascii_graphic(), "-"),
            std::process::id(),
            &random[random.len() - 8..]
        );
        Claimer {
            inner: Arc::new(Inner {
                config,
                group,
                replica_id,
                connection: Mutex::new(None),
                generations: AtomicU64::new(0),
                counters,
                failing: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// The group this replica belongs to.
    pub fn group(&self) -> &GroupName {
        &self.inner.group
    }

    /// This replica's id: the value of the claim keys it wins.
    pub fn replica_id(&self) -> &str {
        &self.inner.replica_id
    }

    /// The live counters.
    pub fn counters(&self) -> ClaimCounters {
        self.inner.counters.clone()
    }

    /// Starts claiming `envelope_id` in the background; await the handle for the
    /// outcome. Claims of one room are started in order as messages arrive and awaited
    /// in that order, so their round trips overlap instead of adding up.
    pub fn start(&self, envelope_id: Uuid) -> JoinHandle<ClaimOutcome> {
        let claimer = self.clone();
        tokio::spawn(async move { claimer.claim(envelope_id).await })
    }

    /// Claims `envelope_id` for this replica (see the module docs), retrying on Redis
    /// errors for up to [`CLAIM_RETRY`] after the first; counts the outcome.
    ///
    /// The budget starts at the first error, not at the first attempt: an attempt that
    /// times out has already used the connection's whole response timeout (5 s by
    /// default, as long as the budget), and its SET may well have reached Redis, so it
    /// still deserves a retry, which `GET` makes safe.
    pub async fn claim(&self, envelope_id: Uuid) -> ClaimOutcome {
        let inner = &self.inner;
        let key = inner.group.claim_key(envelope_id);
        let mut deadline = None;
        let mut attempt = 0;
        let outcome = loop {
            let (generation, error) = match self.try_claim(&key).await {
                Ok(outcome) => {
                    if inner.failing.swap(false, Ordering::Relaxed) {
                        tracing::info!(group = %inner.group, "claims work again");
                    }
                    break outcome;
                }
                Err(failed) => failed,
            };
            {
                let mut slot = inner.connection.lock().await;
                if slot
                    .as_ref()
                    .is_some_and(|(current, _)| Some(*current) == generation)
                {
                    *slot = None;
                }
            }
            let deadline =
                *deadline.get_or_insert_with(|| tokio::time::Instant::now() + CLAIM_RETRY);
            let delay = inner.config.backoff().delay(attempt);
            attempt += 1;
            if tokio::time::Instant::now() + delay > deadline {
                if !inner.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(group = %inner.group, %key, error = %error, retried_for = ?CLAIM_RETRY, "cannot claim messages; skipping them until redis answers");
                }
                break ClaimOutcome::Failed;
            }
            tracing::debug!(%key, error = %error, attempt, "claim failed; retrying");
            tokio::time::sleep(delay).await;
        };
        inner.counters.record(outcome);
        outcome
    }

    /// One `SET key replica NX PX ttl GET`. An error comes with the generation of the
    /// connection it happened on (`None`: making the connection failed).
    async fn try_claim(&self, key: &str) -> Result<ClaimOutcome, (Option<u64>, BusError)> {
        let inner = &self.inner;
        let (generation, mut connection) = {
            let mut slot = inner.connection.lock().await;
            match &*slot {
                Some((generation, connection)) => (*generation, connection.clone()),
                None => {
                    let connection = connect_keyed(&inner.config)
                        .await
                        .map_err(|err| (None, err))?;
                    let generation = inner.generations.fetch_add(1, Ordering::Relaxed);
                    *slot = Some((generation, connection.clone()));
                    (generation, connection)
                }
            }
        };
        let ttl_millis = u64::try_from(CLAIM_TTL.as_millis()).unwrap_or(u64::MAX);
        let previous: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(&inner.replica_id)
            .arg("NX")
            .arg("PX")
            .arg(ttl_millis)
            .arg("GET")
            .query_async(&mut connection)
            .await
            .map_err(|err| (Some(generation), inner.config.redis_error(err)))?;
        Ok(match previous {
            None => ClaimOutcome::Won,
            Some(holder) if holder == inner.replica_id => ClaimOutcome::Won,
            Some(_) => ClaimOutcome::Lost,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_are_checked() {
        assert_eq!(
            GroupName::new("ping-bot_2.eu").unwrap().as_str(),
            "ping-bot_2.eu"
        );
        assert_eq!(GroupName::new(""), Err(GroupNameError::Empty));
        assert_eq!(GroupName::new("a:b"), Err(GroupNameError::Character(':')));
        assert_eq!(GroupName::new("a b"), Err(GroupNameError::Character(' ')));
        assert_eq!(GroupName::new("é"), Err(GroupNameError::Character('é')));
        assert_eq!(
            GroupName::new("a".repeat(65)),
            Err(GroupNameError::TooLong(65))
        );
        assert!(GroupName::new("a".repeat(64)).is_ok());
    }

    /// The key is the protocol other languages implement: its spelling must not drift.
    #[test]
    fn claim_keys_spell_the_documented_protocol() {
        let group: GroupName = "pingers".parse().unwrap();
        let id = Uuid::parse_str("019ABF77-FCAF-7013-8B52-6E0C4A9D2F18").unwrap();
        assert_eq!(
            group.claim_key(id),
            "bytebot:claim:pingers:019abf77-fcaf-7013-8b52-6e0c4a9d2f18"
        );
    }

    #[test]
    fn replica_ids_differ_per_claimer() {
        let config = BusConfig::new(crate::bus::RedisUrl::default(), "test");
        let group = GroupName::new("g").unwrap();
        let a = Claimer::new(config.clone(), group.clone());
        let b = Claimer::new(config, group);
        assert_ne!(a.replica_id(), b.replica_id());
        assert!(!a.replica_id().contains(char::is_whitespace));
    }
}
