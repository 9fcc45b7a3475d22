//! Readiness: the named checks behind `/readyz`.
//!
//! `/healthz` only says the process answers; `/readyz` says it can do its job: every
//! check passes and the daemon is not shutting down. Checks are cheap synchronous
//! reads of state the daemon keeps anyway (a `watch` of the Redis subscription, the
//! gateway's session flags), never a request to Redis or the chat platform.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytebot_core::bus::SubscriptionCounters;

type CheckFn = dyn Fn() -> Result<(), String> + Send + Sync;

/// The readiness checks of one daemon. Cheap to clone; clones share the "shutting
/// down" flag.
#[derive(Clone, Default)]
pub struct Health {
    checks: Vec<(String, Arc<CheckFn>)>,
    draining: Arc<AtomicBool>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.checks.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Health")
            .field("checks", &names)
            .field("draining", &self.draining.load(Ordering::Relaxed))
            .finish()
    }
}

impl Health {
    /// No checks yet: ready until one is added or [`Health::set_draining`] is called.
    pub fn new() -> Health {
        Health::default()
    }

    /// Adds a check: `check` returns `Err(reason)` while `name` is not ready.
    pub fn check(
        mut self,
        name: impl Into<String>,
        check: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) -> Health {
        self.checks.push((name.into(), Arc::new(check)));
        self
    }

    /// Adds a check that passes while `subscription()` returns a connected
    /// subscription (`None`: not started yet).
    pub fn redis_subscription(
        self,
        subscription: impl Fn() -> Option<SubscriptionCounters> + Send + Sync + 'static,
    ) -> Health {
        self.check("redis", move || match subscription() {
            Some(counters) if counters.is_connected() => Ok(()),
            Some(_) => Err("not subscribed (connecting or reconnecting)".to_owned()),
            None => Err("not started".to_owned()),
        })
    }

    /// From now on `/readyz` answers 503: the daemon takes no new work.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// `Ok` when ready, else a short line naming what is not (`redis: not subscribed`).
    pub fn readiness(&self) -> Result<(), String> {
        if self.draining.load(Ordering::Relaxed) {
            return Err("shutting down".to_owned());
        }
        let failures: Vec<String> = self
            .checks
            .iter()
            .filter_map(|(name, check)| check().err().map(|reason| format!("{name}: {reason}")))
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_check_passes_and_not_draining() {
        let up = Arc::new(AtomicBool::new(false));
        let probe = Arc::clone(&up);
        let health = Health::new()
            .check("always", || Ok(()))
            .check("redis", move || {
                if probe.load(Ordering::Relaxed) {
                    Ok(())
                } else {
                    Err("down".to_owned())
                }
            });
        assert_eq!(health.readiness(), Err("redis: down".to_owned()));
        up.store(true, Ordering::Relaxed);
        assert_eq!(health.readiness(), Ok(()));
        health.clone().set_draining();
        assert_eq!(health.readiness(), Err("shutting down".to_owned()));
    }
}
