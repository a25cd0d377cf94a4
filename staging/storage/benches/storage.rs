//! Benchmark of the embedded store (`cargo bench -p apiserver-storage`):
//! create throughput (one writer, then N concurrent writers sharing group
//! commits), get, list of 1k / 10k objects, and watch fan-out latency.
//! Each row is one measured run on a fresh store in a temporary directory
//! (set TMPDIR to measure another disk); values are 1 KiB, like a small pod.
//! Prints a table; nothing is asserted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apiserver_storage::{
    EmbeddedOptions, EmbeddedStorage, ListOptions, Storage, WatchEvent, WatchOptions,
};
use bytes::Bytes;
use futures_util::StreamExt as _;

const VALUE_SIZE: usize = 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Row {
    name: String,
    ops: usize,
    total: Duration,
    latencies: Vec<Duration>,
}

impl Row {
    fn print(&self) {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let pct = |p: f64| -> String {
            if sorted.is_empty() {
                return "-".into();
            }
            let i = ((sorted.len() - 1) as f64 * p).round() as usize;
            format_duration(sorted[i])
        };
        println!(
            "| {:<44} | {:>7} | {:>9} | {:>11.0} | {:>9} | {:>9} |",
            self.name,
            self.ops,
            format_duration(self.total),
            self.ops as f64 / self.total.as_secs_f64(),
            pct(0.5),
            pct(0.99),
        );
    }
}

fn format_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.1}µs")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{:.2}s", us / 1e6)
    }
}

fn value(i: usize) -> Bytes {
    let mut v = format!("{{\"kind\":\"Pod\",\"metadata\":{{\"name\":\"p{i}\"}},\"pad\":\"");
    while v.len() < VALUE_SIZE - 2 {
        v.push('x');
    }
    v.push_str("\"}");
    Bytes::from(v)
}

async fn fresh() -> Result<(tempfile::TempDir, Arc<dyn Storage>), BoxError> {
    let dir = tempfile::tempdir()?;
    let store = EmbeddedStorage::open(dir.path(), EmbeddedOptions::default()).await?;
    Ok((dir, Arc::new(store)))
}

async fn creates(writers: usize, total: usize) -> Result<Row, BoxError> {
    let (_dir, store) = fresh().await?;
    let per_writer = total / writers;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_writer);
            for i in 0..per_writer {
                let t = Instant::now();
                store
                    .create(&format!("/registry/pods/ns/w{w}-{i}"), value(i))
                    .await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, BoxError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(Row {
        name: format!("create, {writers} concurrent writer(s)"),
        ops: per_writer * writers,
        total: start.elapsed(),
        latencies,
    })
}

async fn populate(store: &Arc<dyn Storage>, prefix: &str, n: usize) -> Result<(), BoxError> {
    let mut tasks = Vec::new();
    let writers = 32;
    for w in 0..writers {
        let store = Arc::clone(store);
        let prefix = prefix.to_owned();
        tasks.push(tokio::spawn(async move {
            for i in (w..n).step_by(writers) {
                store.create(&format!("{prefix}p{i:06}"), value(i)).await?;
            }
            Ok::<_, BoxError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

async fn gets(readers: usize, total: usize) -> Result<Row, BoxError> {
    let (_dir, store) = fresh().await?;
    let n = 10_000;
    populate(&store, "/registry/pods/ns/", n).await?;
    let per_reader = total / readers;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for r in 0..readers {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_reader);
            for i in 0..per_reader {
                let key = format!("/registry/pods/ns/p{:06}", (i * 7919 + r * 104_729) % n);
                let t = Instant::now();
                store.get(&key).await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, BoxError>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(Row {
        name: format!("get (10k keys), {readers} concurrent reader(s)"),
        ops: per_reader * readers,
        total: start.elapsed(),
        latencies,
    })
}

async fn lists(objects: usize, rounds: usize, limit: Option<usize>) -> Result<Row, BoxError> {
    let (_dir, store) = fresh().await?;
    populate(&store, "/registry/pods/ns/", objects).await?;
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let mut token = None;
        let mut seen = 0;
        loop {
            let page = store
                .list(
                    "/registry/pods/ns/",
                    ListOptions {
                        limit: limit.and_then(std::num::NonZeroUsize::new),
                        continue_token: token.take(),
                        revision: None,
                    },
                )
                .await?;
            seen += page.items.len();
            match page.continue_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        if seen != objects {
            return Err(format!("listed {seen} of {objects}").into());
        }
        latencies.push(t.elapsed());
    }
    let pages = match limit {
        Some(l) => format!(", pages of {l}"),
        None => String::new(),
    };
    Ok(Row {
        name: format!("list {objects} objects{pages}"),
        ops: rounds,
        total: start.elapsed(),
        latencies,
    })
}

/// Latency from the start of each create to its delivery at every watcher.
async fn watch_fanout(watchers: usize, events: usize) -> Result<Row, BoxError> {
    let (_dir, store) = fresh().await?;
    let from = store.current_revision().await?;
    let started: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; events]));
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        let mut watch = store
            .watch(
                "/registry/pods/",
                WatchOptions {
                    revision: Some(from),
                    recursive: true,
                },
            )
            .await?;
        let started = Arc::clone(&started);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(events);
            for _ in 0..events {
                let event = watch.next().await.ok_or("watch ended")??;
                let now = Instant::now();
                let WatchEvent::Added(kv) = event else {
                    return Err("unexpected event".into());
                };
                let i: usize = kv
                    .key
                    .rsplit('p')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("bad key")?;
                let t = started.lock().map_err(|_| "poisoned")?[i].ok_or("no start time")?;
                latencies.push(now - t);
            }
            Ok::<_, BoxError>(latencies)
        }));
    }
    let start = Instant::now();
    for i in 0..events {
        started.lock().map_err(|_| "poisoned")?[i] = Some(Instant::now());
        store
            .create(&format!("/registry/pods/ns/p{i}"), value(i))
            .await?;
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(Row {
        name: format!("watch fan-out: {events} creates → {watchers} watchers"),
        ops: events * watchers,
        total: start.elapsed(),
        latencies,
    })
}

fn main() -> Result<(), BoxError> {
    // `cargo bench` passes --bench (and maybe a filter); nothing to parse.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!(
            "embedded store (redb, fsync per commit), {} CPU(s), values {VALUE_SIZE} B, temp dir {}",
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            std::env::temp_dir().display()
        );
        println!();
        println!(
            "| {:<44} | {:>7} | {:>9} | {:>11} | {:>9} | {:>9} |",
            "benchmark", "ops", "total", "ops/s", "p50", "p99"
        );
        println!("|{:-<46}|{:->9}|{:->11}|{:->13}|{:->11}|{:->11}|", "", "", "", "", "", "");
        creates(1, 2_000).await?.print();
        creates(16, 16_000).await?.print();
        creates(64, 32_000).await?.print();
        gets(1, 20_000).await?.print();
        gets(8, 40_000).await?.print();
        lists(1_000, 20, None).await?.print();
        lists(10_000, 5, None).await?.print();
        lists(10_000, 5, Some(500)).await?.print();
        watch_fanout(10, 1_000).await?.print();
        watch_fanout(100, 500).await?.print();
        Ok(())
    })
}
