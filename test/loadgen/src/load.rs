//! The two ways of loading a server. A closed loop: N workers, each sends
//! its next request when its previous answer is read, until a request
//! count or a duration is reached; latency is each request's own time. An
//! open loop: requests are scheduled at a target rate for a duration,
//! whether or not the server keeps up, and handed to N workers; latency is
//! measured from each request's scheduled send time, so time spent queued
//! behind a slow server counts (no coordinated omission). What a request
//! is comes from a [`Workload`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use hyper::Method;
use hyper::body::Bytes;
use tokio::sync::mpsc;

use crate::client::{Connection, Reply};
use crate::stats::Summary;

/// One request to send.
pub struct Call {
    pub method: Method,
    pub path: String,
    pub body: Option<Bytes>,
}

/// Which request is asked for: worker `worker` of `workers`, the run's
/// `index`-th request (closed loop: worker `w` sends `w`, `w + workers`,
/// `w + 2 × workers`, …; open loop: the scheduled sequence number).
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub worker: usize,
    pub workers: usize,
    pub index: u64,
}

/// What the requests of a run are and what their answers must be.
pub trait Workload: Send + Sync + 'static {
    /// The request for `slot`; none ends the worker (its share is done).
    fn call(&self, slot: Slot) -> Option<Call>;

    /// The status every answer must have.
    fn expected_status(&self) -> u16;

    /// Looks at an answer with the expected status (e.g. keeps the
    /// object's new resourceVersion); an error counts as a failure.
    fn answered(&self, _slot: Slot, _reply: &Reply) -> Result<()> {
        Ok(())
    }
}

/// When a closed loop ends.
#[derive(Clone, Copy, Debug)]
pub enum Bound {
    /// After this many requests (all workers together).
    Requests(u64),
    /// When this much time has passed (requests in flight then finish).
    For(Duration),
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct Run {
    /// The latency of every answered request, whatever its status.
    pub latencies: Vec<Duration>,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that failed: an unexpected status, a transport error (which
    /// also ends its worker), or an answer the workload refused.
    pub failures: u64,
    /// The first failure, for the error message.
    pub first_failure: Option<String>,
    /// Open loop: requests scheduled in the window that could not be handed
    /// to a worker before it closed (every worker busy, the queue full).
    pub not_sent: u64,
}

impl Run {
    /// Answered requests.
    pub fn answered(&self) -> usize {
        self.latencies.len()
    }

    /// Answered requests per second of the run.
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.answered() as f64 / seconds
        } else {
            0.0
        }
    }

    /// The latency summary (sorts the latencies).
    pub fn summary(&mut self) -> Option<Summary> {
        Summary::of(&mut self.latencies)
    }

    /// Answers with `status`.
    pub fn with_status(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// An error naming `what` and the first failure when any request failed.
    pub fn ensure_ok(&self, what: &str) -> Result<()> {
        if self.failures == 0 {
            return Ok(());
        }
        bail!(
            "{what}: {} requests failed ({} answered, by status {:?}); the first: {}",
            self.failures,
            self.answered(),
            self.statuses,
            self.first_failure.as_deref().unwrap_or("?")
        )
    }

    fn merge(&mut self, log: Log) {
        self.latencies.extend(log.latencies);
        for (status, count) in log.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.failures += log.failures;
        if self.first_failure.is_none() {
            self.first_failure = log.first_failure;
        }
    }
}

/// One worker's record.
#[derive(Default)]
struct Log {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, u64>,
    failures: u64,
    first_failure: Option<String>,
}

impl Log {
    fn fail(&mut self, message: impl FnOnce() -> String) {
        self.failures += 1;
        if self.first_failure.is_none() {
            self.first_failure = Some(message());
        }
    }

    /// Sends `call`, records its latency from `from`; false when the
    /// connection is unusable.
    async fn exchange(
        &mut self,
        connection: &mut Connection,
        workload: &dyn Workload,
        slot: Slot,
        call: Call,
        from: Instant,
    ) -> bool {
        let Call { method, path, body } = call;
        match connection.call(method.clone(), &path, body).await {
            Ok(reply) => {
                self.latencies.push(from.elapsed());
                *self.statuses.entry(reply.status).or_default() += 1;
                let expected = workload.expected_status();
                if reply.status != expected {
                    self.fail(|| {
                        format!(
                            "{method} {path} answered {} (expected {expected}): {}",
                            reply.status,
                            reply.text()
                        )
                    });
                } else if let Err(err) = workload.answered(slot, &reply) {
                    self.fail(|| format!("{method} {path}: {err:#}"));
                }
                true
            }
            Err(err) => {
                self.fail(|| format!("{method} {path}: {err:#}"));
                false
            }
        }
    }
}

/// Runs `workload` with one worker per connection handle until `bound`.
pub async fn closed_loop<W: Workload>(
    connections: Vec<Connection>,
    workload: Arc<W>,
    bound: Bound,
) -> Result<Run> {
    let workers = connections.len();
    let started = Instant::now();
    let (limit, deadline) = match bound {
        Bound::Requests(count) => (Some(count), None),
        Bound::For(duration) => (None, Some(started + duration)),
    };
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(worker, mut connection)| {
            let workload = workload.clone();
            tokio::spawn(async move {
                let mut log = Log::default();
                let mut index = worker as u64;
                while limit.is_none_or(|limit| index < limit)
                    && deadline.is_none_or(|deadline| Instant::now() < deadline)
                {
                    let slot = Slot {
                        worker,
                        workers,
                        index,
                    };
                    let Some(call) = workload.call(slot) else {
                        break;
                    };
                    let sent = Instant::now();
                    if !log
                        .exchange(&mut connection, &*workload, slot, call, sent)
                        .await
                    {
                        break;
                    }
                    index += workers as u64;
                }
                log
            })
        })
        .collect();
    let mut run = Run::default();
    for task in tasks {
        run.merge(task.await?);
    }
    run.elapsed = started.elapsed();
    Ok(run)
}

/// Runs `workload` at `rate` requests per second for `duration`, handed
/// to one worker per connection handle.
///
/// The schedule is kept by a thread of its own sleeping with the OS's
/// high-resolution timer (tokio's timer wheel would add up to a
/// millisecond to every request); request `i` is due at `start + i / rate`
/// and its latency runs from then to its answer. Requests wait in a queue
/// of one second's worth when every worker is busy; what could not be
/// queued by the end of the window is counted in [`Run::not_sent`].
pub async fn open_loop<W: Workload>(
    connections: Vec<Connection>,
    workload: Arc<W>,
    rate: f64,
    duration: Duration,
) -> Result<Run> {
    if !(rate.is_finite() && rate > 0.0) {
        bail!("the open loop's rate must be a positive number of requests per second, not {rate}");
    }
    let workers = connections.len();
    if workers == 0 {
        bail!("the open loop needs at least one connection");
    }
    let total = (rate * duration.as_secs_f64()).floor() as u64;
    let capacity = (rate.ceil() as usize).clamp(workers, 65_536);
    let (queue, receiver) = mpsc::channel::<(u64, Instant)>(capacity);
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    let started = Instant::now();
    let window_end = started + duration;
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(worker, mut connection)| {
            let (workload, receiver) = (workload.clone(), receiver.clone());
            tokio::spawn(async move {
                let mut log = Log::default();
                loop {
                    let next = receiver.lock().await.recv().await;
                    let Some((index, due)) = next else { break };
                    let slot = Slot {
                        worker,
                        workers,
                        index,
                    };
                    let Some(call) = workload.call(slot) else {
                        continue;
                    };
                    if !log
                        .exchange(&mut connection, &*workload, slot, call, due)
                        .await
                    {
                        break;
                    }
                }
                log
            })
        })
        .collect();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let not_sent = tokio::task::spawn_blocking(move || {
        for index in 0..total {
            let due = started + interval.mul_f64(index as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let mut job = (index, due);
            loop {
                match queue.try_send(job) {
                    Ok(()) => break,
                    Err(mpsc::error::TrySendError::Full(back)) => {
                        if Instant::now() >= window_end {
                            return total - index;
                        }
                        job = back;
                        std::thread::sleep(Duration::from_micros(100));
                    }
                    // Every worker ended (their connections broke).
                    Err(mpsc::error::TrySendError::Closed(_)) => return total - index,
                }
            }
        }
        0
    })
    .await?;
    let mut run = Run::default();
    for task in tasks {
        run.merge(task.await?);
    }
    run.elapsed = started.elapsed();
    run.not_sent = not_sent;
    Ok(run)
}
