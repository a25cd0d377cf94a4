//! The physical reference on etcd: a local etcd member for the run
//! (`apiserver_storage`'s test server: a temporary directory, loopback
//! ports, stopped when dropped), and raw puts and gets of the same pod
//! bodies through etcd-client at the same concurrency, so the apiserver's
//! rates can be put as a fraction of what etcd itself does on this machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use apiserver_storage::EtcdStorage;
use apiserver_storage::etcd::test_server::{EtcdServer, etcd_binary};

use crate::load::Run;
use crate::scenarios::Pods;

/// The key prefix of the raw reference (apart from the apiserver's
/// `/registry`).
const PREFIX: &str = "/loadgen-raw";

/// An error saying what to install when there is no etcd binary.
pub fn check_installed() -> Result<()> {
    let binary = etcd_binary();
    let found = if binary.components().count() > 1 {
        binary.is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(&binary).is_file()))
    };
    if found {
        return Ok(());
    }
    bail!(
        "no etcd binary ({}): install etcd-server (apt-get install etcd-server), point ETCD_BIN \
         at one, or use --storage embedded",
        binary.display()
    )
}

/// Starts a local etcd member and waits until it answers.
pub async fn start() -> Result<EtcdServer> {
    check_installed()?;
    // The test server panics with its log when etcd does not come up.
    tokio::spawn(EtcdServer::start()).await.map_err(|err| {
        let reason = match err.try_into_panic() {
            Ok(panic) => panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default(),
            Err(err) => err.to_string(),
        };
        anyhow!("starting a local etcd failed: {reason}")
    })
}

async fn client(etcd: &EtcdServer) -> Result<EtcdStorage> {
    EtcdStorage::connect(&etcd.config(PREFIX))
        .await
        .map_err(|err| anyhow!("connecting to the local etcd: {err}"))
}

fn key(pods: &Pods, index: usize) -> String {
    format!("{PREFIX}/pods/default/{}", pods.name(index))
}

/// Puts of every pod's body, `concurrency` at a time (worker `w` puts
/// pods `w`, `w + concurrency`, …), on one client connection as the
/// apiserver's own etcd client has.
pub async fn raw_puts(etcd: &EtcdServer, pods: &Arc<Pods>, concurrency: usize) -> Result<Run> {
    let store = client(etcd).await?;
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|worker| {
            let (mut kv, pods) = (store.client().kv_client(), pods.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for index in (worker..pods.count()).step_by(concurrency) {
                    let body = Pods::body(&pods.name(index), None);
                    let sent = Instant::now();
                    kv.put(key(&pods, index), body.to_vec(), None)
                        .await
                        .with_context(|| format!("raw etcd put of {}", key(&pods, index)))?;
                    latencies.push(sent.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    collect(tasks, started).await
}

/// Gets of pseudo-random pods put by [`raw_puts`] for `duration`,
/// `concurrency` at a time.
pub async fn raw_gets(
    etcd: &EtcdServer,
    pods: &Arc<Pods>,
    concurrency: usize,
    duration: Duration,
) -> Result<Run> {
    let store = client(etcd).await?;
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|worker| {
            let (mut kv, pods) = (store.client().kv_client(), pods.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut index = worker as u64;
                while Instant::now() < deadline {
                    let Some(pod) = pods.random(index) else { break };
                    let sent = Instant::now();
                    let got = kv
                        .get(key(&pods, pod), None)
                        .await
                        .with_context(|| format!("raw etcd get of {}", key(&pods, pod)))?;
                    latencies.push(sent.elapsed());
                    if got.kvs().len() != 1 {
                        bail!("raw etcd get of {}: not found", key(&pods, pod));
                    }
                    index += concurrency as u64;
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    collect(tasks, started).await
}

async fn collect(
    tasks: Vec<tokio::task::JoinHandle<Result<Vec<Duration>>>>,
    started: Instant,
) -> Result<Run> {
    let mut run = Run::default();
    for task in tasks {
        run.latencies.extend(task.await??);
    }
    run.elapsed = started.elapsed();
    Ok(run)
}
