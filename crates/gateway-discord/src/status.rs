//! What each of this process' shards is doing, for `/readyz` and `/metrics`.
//!
//! Read from state that serenity and the inbound handler keep anyway (the shard
//! manager's runners, the in-order collectors of `inbound.rs`, a count per shard),
//! never a request to Discord.
//!
//! **Readiness rule**: the process is ready only when *every* shard of its range is up,
//! a shard being up when serenity has it in the connected stage (READY or RESUMED
//! received, heartbeats acknowledged) and its in-order collector is registered. A
//! process with a shard down loses that shard's guilds entirely (their events and their
//! outbound messages), so an orchestrator should see it; the body says which shards are
//! up and which are down, and why (`shards up: 0, 2; down: 1 (resuming)`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytebot_daemon::Metrics;
use bytebot_daemon::metrics::names;
use serenity::all::{ConnectionStage, ShardId, ShardManager};

use crate::shards::Sharding;

/// One shard at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShardState {
    pub(crate) shard: u32,
    /// serenity's stage; `None` while the shard has no runner (not started yet).
    pub(crate) stage: Option<ConnectionStage>,
    /// serenity's heartbeat latency (refreshed on each heartbeat ACK).
    pub(crate) latency: Option<Duration>,
    /// Whether the shard's in-order collector was registered (on its first READY).
    pub(crate) collecting: bool,
}

impl ShardState {
    /// Connected and publishing in order.
    pub(crate) fn is_up(&self) -> bool {
        self.stage == Some(ConnectionStage::Connected) && self.collecting
    }

    /// Why it is down (only for a shard that is not up).
    fn reason(&self) -> String {
        match self.stage {
            None => "not started".to_owned(),
            Some(ConnectionStage::Connected) => "starting the session".to_owned(),
            Some(stage) => stage.to_string(),
        }
    }
}

/// The shards of this process: shared by the health check, the metrics refresh and the
/// inbound handler.
#[derive(Default)]
pub(crate) struct ShardStatus {
    /// Set once the client exists (after the token check and `GET /gateway/bot`).
    client: OnceLock<(Arc<ShardManager>, Sharding)>,
    /// Shards whose in-order collector has been registered.
    collecting: Mutex<BTreeSet<u32>>,
    /// Discord events received, per shard.
    inbound_events: Mutex<BTreeMap<u32, u64>>,
    /// The last states read: reused when serenity holds its runner map at that moment.
    last_seen: Mutex<Vec<ShardState>>,
}

impl ShardStatus {
    /// The client is built: from now on its shards are reported.
    pub(crate) fn set_client(&self, shard_manager: Arc<ShardManager>, sharding: Sharding) {
        let _ = self.client.set((shard_manager, sharding));
    }

    /// `shard`'s in-order collector is registered (called on each READY).
    pub(crate) fn collecting(&self, shard: u32) {
        self.collecting
            .lock()
            .expect("collecting lock")
            .insert(shard);
    }

    /// A Discord event arrived on `shard`.
    pub(crate) fn count_event(&self, shard: u32) {
        *self
            .inbound_events
            .lock()
            .expect("inbound events lock")
            .entry(shard)
            .or_default() += 1;
    }

    /// Every shard of the range, in order; `None` while logging in.
    pub(crate) fn snapshot(&self) -> Option<Vec<ShardState>> {
        let (shard_manager, sharding) = self.client.get()?;
        // The runner map sits behind an async mutex: a probe only tries it, and reuses
        // the previous answer in the rare case serenity holds it at that moment.
        let Ok(runners) = shard_manager.runners.try_lock() else {
            return Some(self.last_seen.lock().expect("last seen lock").clone());
        };
        let collecting = self.collecting.lock().expect("collecting lock");
        let states: Vec<ShardState> = sharding
            .range
            .iter()
            .map(|shard| {
                let runner = runners.get(&ShardId(shard));
                ShardState {
                    shard,
                    stage: runner.map(|runner| runner.stage),
                    latency: runner.and_then(|runner| runner.latency),
                    collecting: collecting.contains(&shard),
                }
            })
            .collect();
        drop(runners);
        self.last_seen
            .lock()
            .expect("last seen lock")
            .clone_from(&states);
        Some(states)
    }

    /// The `discord` readiness check (see the module docs for the rule).
    pub(crate) fn readiness(&self) -> Result<(), String> {
        let Some(states) = self.snapshot() else {
            return Err("logging in".to_owned());
        };
        readiness(&states)
    }

    /// Copies the shards' state into `/metrics` (at each scrape).
    pub(crate) fn record(&self, metrics: &Metrics) {
        let Some(states) = self.snapshot() else {
            return;
        };
        let events = self
            .inbound_events
            .lock()
            .expect("inbound events lock")
            .clone();
        for state in states {
            let shard = state.shard.to_string();
            let label = [("shard", shard.as_str())];
            metrics
                .gauge(names::SHARD_CONNECTED, &label)
                .set(if state.is_up() { 1.0 } else { 0.0 });
            if let Some(latency) = state.latency {
                metrics
                    .gauge(names::SHARD_LATENCY, &label)
                    .set(latency.as_secs_f64());
            }
            metrics
                .counter(names::SHARD_INBOUND_EVENTS, &label)
                .absolute(events.get(&state.shard).copied().unwrap_or(0));
        }
    }
}

/// Ready when every shard is up; otherwise which are up and which are down, and why.
fn readiness(states: &[ShardState]) -> Result<(), String> {
    let down: Vec<String> = states
        .iter()
        .filter(|state| !state.is_up())
        .map(|state| format!("{} ({})", state.shard, state.reason()))
        .collect();
    if down.is_empty() {
        return Ok(());
    }
    let up: Vec<String> = states
        .iter()
        .filter(|state| state.is_up())
        .map(|state| state.shard.to_string())
        .collect();
    let up = if up.is_empty() {
        "none".to_owned()
    } else {
        up.join(", ")
    };
    Err(format!("shards up: {up}; down: {}", down.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(shard: u32, stage: Option<ConnectionStage>, collecting: bool) -> ShardState {
        ShardState {
            shard,
            stage,
            latency: None,
            collecting,
        }
    }

    #[test]
    fn ready_only_when_every_shard_is_up_and_the_body_names_the_others() {
        let connected = Some(ConnectionStage::Connected);
        assert_eq!(
            readiness(&[state(0, connected, true), state(1, connected, true)]),
            Ok(())
        );
        assert_eq!(
            readiness(&[
                state(0, connected, true),
                state(1, Some(ConnectionStage::Resuming), true),
                state(2, connected, false),
                state(3, None, false),
            ]),
            Err(
                "shards up: 0; down: 1 (resuming), 2 (starting the session), 3 (not started)"
                    .to_owned()
            )
        );
        assert_eq!(
            readiness(&[state(4, Some(ConnectionStage::Identifying), false)]),
            Err("shards up: none; down: 4 (identifying)".to_owned())
        );
    }
}
