//! CPU-heavy request work kept off the async workers: decoding a large
//! body, applying a patch, decoding and encoding a long list. Such work
//! takes a permit from a pool of as many as the machine has cores (waiting
//! asynchronously when all are taken) and runs with `block_in_place`, so the
//! runtime moves the worker's other tasks — `/healthz`, watches — to another
//! thread while it computes. Small work runs inline: a permit costs more
//! than it saves.

use std::sync::OnceLock;

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Request bodies and patches from this size on are heavy.
pub const HEAVY_BYTES: usize = 64 * 1024;
/// Lists of this many items or more are heavy to decode and encode.
pub const HEAVY_ITEMS: usize = 256;

fn pool() -> &'static Semaphore {
    static POOL: OnceLock<Semaphore> = OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Semaphore::new(cores)
    })
}

/// The right to run heavy work, or none for light work.
pub struct Reservation {
    /// A place in the pool, held until the reservation drops.
    _permit: Option<SemaphorePermit<'static>>,
    /// Run off the async worker (`block_in_place`).
    offload: bool,
}

/// Reserves a place in the pool when `heavy` (the caller measured the
/// work: [`HEAVY_BYTES`], [`HEAVY_ITEMS`]).
pub async fn reserve(heavy: bool) -> Reservation {
    let permit = if heavy {
        // The pool is never closed.
        pool().acquire().await.ok()
    } else {
        None
    };
    Reservation {
        offload: permit.is_some(),
        _permit: permit,
    }
}

/// As [`reserve`], for heavy work found inside other work that may hold a
/// permit already (a write's validation, under a large patch's
/// reservation): it never waits, as waiting for a second permit while
/// holding one deadlocks once every permit is held that way. With no
/// permit free the work still leaves the async worker, over the pool's
/// bound.
pub fn reserve_now(heavy: bool) -> Reservation {
    Reservation {
        _permit: if heavy {
            pool().try_acquire().ok()
        } else {
            None
        },
        offload: heavy,
    }
}

impl Reservation {
    /// Runs `work`: off the async worker when it is heavy and the runtime
    /// can hand the worker's tasks over (a multi-threaded one), inline
    /// otherwise.
    pub fn run<T>(&self, work: impl FnOnce() -> T) -> T {
        let multi_threaded = Handle::try_current()
            .is_ok_and(|handle| handle.runtime_flavor() == RuntimeFlavor::MultiThread);
        if self.offload && multi_threaded {
            tokio::task::block_in_place(work)
        } else {
            work()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn heavy_work_leaves_the_workers_free() {
        let reservation = reserve(true).await;
        // While this worker computes, another task still runs.
        let (sender, receiver) = std::sync::mpsc::channel();
        let other = tokio::spawn(async move {
            sender.send(()).unwrap();
        });
        let seen = reservation.run(|| receiver.recv_timeout(std::time::Duration::from_secs(5)));
        assert!(
            seen.is_ok(),
            "the other task did not run during the heavy work"
        );
        other.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn work_inside_work_never_waits_for_a_second_place() {
        // Every place taken, as by large patches whose validation is heavy.
        let mut held = Vec::new();
        while let Ok(permit) = pool().try_acquire() {
            held.push(permit);
        }
        let nested = reserve_now(true);
        let (sender, receiver) = std::sync::mpsc::channel();
        let other = tokio::spawn(async move {
            sender.send(()).unwrap();
        });
        let seen = nested.run(|| receiver.recv_timeout(std::time::Duration::from_secs(5)));
        assert!(seen.is_ok(), "the nested heavy work held the worker");
        other.await.unwrap();
        drop(held);
    }

    #[tokio::test]
    async fn light_work_and_single_threaded_runtimes_run_inline() {
        assert_eq!(reserve(false).await.run(|| 7), 7);
        assert_eq!(reserve(true).await.run(|| 8), 8);
    }
}
