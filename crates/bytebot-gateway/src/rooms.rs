//! One ordered worker per room: a task and a bounded queue, created on demand and
//! retired when idle.
//!
//! Messages to one room are performed one after the other in publish order, while
//! different rooms proceed concurrently (a slow or rate-limited room does not hold up
//! the others). Memory is bounded by [`Limits`]: a message that does not fit is
//! dropped, counted, and answered with a failed receipt. Each message ends with a
//! receipt on `receipt.<platform>.*` carrying the platform's message ids.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytebot_core::bus::Publisher;
use bytebot_core::envelope::OutboundAction;
use bytebot_core::receipt::DeliveryReceipt;
use bytebot_core::{Direction, Topic};
use bytebot_daemon::metrics::Histogram;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{Instant, Interval};
use uuid::Uuid;

use crate::adapter::{Adapter, local_error};
use crate::counters::GatewayCounters;
use crate::runtime::Limits;

/// Everything the dispatcher and the workers share.
pub(crate) struct Shared<A: Adapter> {
    pub(crate) adapter: Arc<A>,
    /// Where receipts go.
    pub(crate) publisher: Publisher,
    pub(crate) counters: GatewayCounters,
    pub(crate) limits: Limits,
    /// The most parts one outbound message may become (`--max-parts`).
    pub(crate) max_parts: usize,
    /// On shutdown, how long the workers get to finish what they hold.
    pub(crate) drain_timeout: Duration,
    /// How long each platform request took (`bytebot_send_duration_seconds`).
    pub(crate) send_duration: Histogram,
    /// Jobs queued or in progress across all rooms.
    pub(crate) total_pending: AtomicUsize,
}

impl<A: Adapter> Shared<A> {
    /// Publishes `receipt` on the receipt topic at the outbound topic's address.
    pub(crate) fn publish_receipt(&self, outbound_topic: &Topic, receipt: &DeliveryReceipt) {
        let topic = outbound_topic.with_direction(Direction::Receipt);
        self.publisher.publish(topic.to_string(), receipt.encode());
    }
}

/// One outbound envelope, ready to perform.
pub(crate) struct Job<A: Adapter> {
    /// The outbound topic, for logs and the receipt.
    pub(crate) topic: Topic,
    pub(crate) in_reply_to: Option<Uuid>,
    pub(crate) action: OutboundAction,
    /// The adapter's requests, performed in order until one fails.
    pub(crate) steps: Vec<A::Prepared>,
}

/// A room's worker as the dispatcher sees it (`J`: what its queue holds).
struct Worker<J> {
    sender: mpsc::Sender<J>,
    /// Jobs handed to the worker and not finished yet. Only the dispatcher increments
    /// it, so at 0 the worker is idle and has nothing queued: safe to retire.
    pending: Arc<AtomicUsize>,
    last_used: Instant,
}

/// The live workers, owned by the dispatcher.
pub(crate) struct Rooms<A: Adapter> {
    shared: Arc<Shared<A>>,
    workers: HashMap<A::Room, Worker<Job<A>>>,
    tasks: JoinSet<()>,
}

impl<A: Adapter> Rooms<A> {
    pub(crate) fn new(shared: Arc<Shared<A>>) -> Rooms<A> {
        Rooms {
            shared,
            workers: HashMap::new(),
            tasks: JoinSet::new(),
        }
    }

    /// How often [`Rooms::sweep`] should run.
    pub(crate) fn sweep_interval(&self) -> Interval {
        let period = self
            .shared
            .limits
            .idle_after
            .clamp(Duration::from_millis(10), Duration::from_secs(10));
        tokio::time::interval(period)
    }

    /// Retires idle workers and reaps finished tasks, so neither grows.
    pub(crate) fn sweep(&mut self) {
        retire_idle(&mut self.workers, self.shared.limits.idle_after);
        while self.tasks.try_join_next().is_some() {}
    }

    /// Hands `job` to its room's worker (created if needed), or refuses it when the
    /// queues are full.
    pub(crate) fn queue(&mut self, room: A::Room, job: Job<A>) {
        let shared = &self.shared;
        if shared.total_pending.load(Ordering::Relaxed) >= shared.limits.total_queued {
            return refuse(shared, job, "the gateway's outbound queue is full");
        }
        if !self.workers.contains_key(&room) && self.workers.len() >= shared.limits.max_rooms {
            retire_idle(&mut self.workers, Duration::ZERO);
            if self.workers.len() >= shared.limits.max_rooms {
                return refuse(shared, job, "too many rooms busy at once");
            }
        }
        let tasks = &mut self.tasks;
        let worker = self.workers.entry(room.clone()).or_insert_with(|| {
            let (sender, receiver) = mpsc::channel(shared.limits.per_room_queue.max(1));
            let pending = Arc::new(AtomicUsize::new(0));
            tasks.spawn(work(
                room,
                receiver,
                Arc::clone(&pending),
                Arc::clone(shared),
            ));
            Worker {
                sender,
                pending,
                last_used: Instant::now(),
            }
        });
        worker.last_used = Instant::now();
        worker.pending.fetch_add(1, Ordering::AcqRel);
        shared.total_pending.fetch_add(1, Ordering::AcqRel);
        if let Err(err) = worker.sender.try_send(job) {
            worker.pending.fetch_sub(1, Ordering::AcqRel);
            shared.total_pending.fetch_sub(1, Ordering::AcqRel);
            let job = match err {
                mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job) => {
                    job
                }
            };
            refuse(shared, job, "this room's outbound queue is full");
        }
    }

    /// Closes every queue and lets the workers finish what they hold, within the drain
    /// timeout; what is left then is abandoned (logged).
    pub(crate) async fn drain(self) {
        let Rooms {
            shared,
            workers,
            mut tasks,
        } = self;
        drop(workers);
        let in_flight = shared.total_pending.load(Ordering::Relaxed);
        if in_flight > 0 {
            tracing::info!(in_flight, timeout = ?shared.drain_timeout, "finishing outbound messages before exiting");
        }
        let drained = tokio::time::timeout(shared.drain_timeout, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            let abandoned = shared.total_pending.load(Ordering::Relaxed);
            tracing::warn!(
                abandoned,
                "shutdown deadline reached; abandoning unsent outbound messages"
            );
            tasks.shutdown().await;
        }
    }
}

/// Drops a message the gateway has no room for: logged, counted, failed receipt.
fn refuse<A: Adapter>(shared: &Shared<A>, job: Job<A>, reason: &str) {
    tracing::warn!(topic = %job.topic, reason, "dropping outbound message");
    shared.counters.add(|c| &c.outbound_dropped);
    let receipt = DeliveryReceipt::failed(job.in_reply_to, Vec::new(), local_error(reason))
        .for_action(job.action);
    shared.publish_receipt(&job.topic, &receipt);
}

/// Retires workers with nothing queued or in progress that have been idle for
/// `idle_after`. Dropping the sender ends the worker's loop.
fn retire_idle<R, J>(workers: &mut HashMap<R, Worker<J>>, idle_after: Duration) {
    workers.retain(|_, worker| {
        worker.pending.load(Ordering::Acquire) > 0 || worker.last_used.elapsed() < idle_after
    });
}

/// One room's worker: performs its jobs in order until its sender is dropped.
async fn work<A: Adapter>(
    room: A::Room,
    mut jobs: mpsc::Receiver<Job<A>>,
    pending: Arc<AtomicUsize>,
    shared: Arc<Shared<A>>,
) {
    while let Some(job) = jobs.recv().await {
        perform(&room, job, &shared).await;
        pending.fetch_sub(1, Ordering::AcqRel);
        shared.total_pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Performs every step of one job, stopping at the first failure, then publishes the
/// receipt.
async fn perform<A: Adapter>(room: &A::Room, job: Job<A>, shared: &Shared<A>) {
    let Job {
        topic,
        in_reply_to,
        action,
        steps,
    } = job;
    let n_parts = steps.len();
    let mut message_ids = Vec::with_capacity(n_parts);
    let mut failure = None;
    for step in steps {
        let started = Instant::now();
        let done = tokio::time::timeout(
            shared.limits.send_timeout,
            shared.adapter.perform(room, step),
        )
        .await;
        shared.send_duration.record(started.elapsed().as_secs_f64());
        match done {
            Ok(Ok(ids)) => message_ids.extend(ids),
            Ok(Err(error)) => {
                failure = Some(error);
                break;
            }
            Err(_) => {
                failure = Some(local_error(format!(
                    "{} did not answer within {:?}",
                    shared.adapter.platform(),
                    shared.limits.send_timeout
                )));
                break;
            }
        }
    }
    let receipt = match failure {
        None => {
            tracing::debug!(%topic, %action, n_parts, "performed outbound message");
            shared.counters.add(|c| &c.outbound_sent);
            DeliveryReceipt::delivered(in_reply_to, message_ids)
        }
        Some(error) => {
            tracing::warn!(
                %topic,
                %action,
                code = error.code,
                status = error.status,
                error = %error.message,
                n_done = message_ids.len(),
                n_parts,
                "the platform refused an outbound message"
            );
            shared.counters.add(|c| &c.outbound_failed);
            DeliveryReceipt::failed(in_reply_to, message_ids, error)
        }
    };
    shared.publish_receipt(&topic, &receipt.for_action(action));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(pending: usize, idle_for: Duration) -> Worker<()> {
        let (sender, _) = mpsc::channel(1);
        Worker {
            sender,
            pending: Arc::new(AtomicUsize::new(pending)),
            last_used: Instant::now() - idle_for,
        }
    }

    /// Idle rooms must not keep a task each forever; busy ones must never be cut off
    /// (their queue would be lost, or a new worker would race the old one).
    #[tokio::test]
    async fn only_idle_workers_are_retired() {
        let idle = |pending, seconds| worker(pending, Duration::from_secs(seconds));
        let mut workers = HashMap::from([(1, idle(0, 120)), (2, idle(1, 120)), (3, idle(0, 1))]);
        retire_idle(&mut workers, Duration::from_secs(60));
        let mut kept: Vec<u64> = workers.keys().copied().collect();
        kept.sort_unstable();
        assert_eq!(kept, [2, 3]);
    }
}
