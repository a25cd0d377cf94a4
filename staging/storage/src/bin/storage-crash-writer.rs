//! Crash-test helper: opens the embedded store in the given directory and
//! creates keys from several concurrent writers until killed, printing
//! `ACK <key> <revision>` on stdout once each create is acknowledged (so
//! durable). Starts with `READY <revision>`, the revision it reopened at.
//! Used by `tests/crash.rs`, which kills it with SIGKILL mid-stream.
//!
//! Usage: `storage-crash-writer DIR RUN [WRITERS]`

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use apiserver_storage::{EmbeddedOptions, EmbeddedStorage, Storage};
use bytes::Bytes;

/// Stops on its own after this many creates per writer if nobody kills it.
const MAX_PER_WRITER: usize = 100_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("storage-crash-writer: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: storage-crash-writer DIR RUN [WRITERS]";
    let dir = args.next().ok_or(usage)?;
    let run = args.next().ok_or(usage)?;
    let writers: usize = match args.next() {
        Some(n) => n.parse().map_err(|e| format!("WRITERS {n:?}: {e}"))?,
        None => 4,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let store = EmbeddedStorage::open(&dir, EmbeddedOptions::default()).await?;
        let stdout = Arc::new(Mutex::new(std::io::stdout()));
        let revision = store.current_revision().await?;
        print_line(&stdout, &format!("READY {revision}"))?;
        let mut tasks = Vec::new();
        for w in 0..writers {
            let store = store.clone();
            let stdout = Arc::clone(&stdout);
            let run = run.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..MAX_PER_WRITER {
                    let key = format!("/registry/crash/{run}/w{w}-{i:06}");
                    let value = Bytes::from(format!("{{\"writer\":{w},\"seq\":{i}}}"));
                    let kv = store.create(&key, value).await?;
                    print_line(&stdout, &format!("ACK {key} {}", kv.mod_revision))?;
                }
                Ok::<(), BoxError>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        Ok(())
    })
}

fn print_line(stdout: &Mutex<std::io::Stdout>, line: &str) -> Result<(), BoxError> {
    let stdout = stdout.lock().map_err(|_| "stdout lock poisoned")?;
    let mut out = stdout.lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}
