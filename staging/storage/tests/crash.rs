//! Crash safety of the embedded store: a writer process is killed with
//! SIGKILL in the middle of a stream of concurrent creates, twice; every
//! create it acknowledged must be there afterwards, with its revision, and
//! the revision must continue above them.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use apiserver_storage::{EmbeddedOptions, EmbeddedStorage, ListOptions, Revision, Storage};
use bytes::Bytes;

/// Acknowledgements to wait for before killing the writer.
const ACKS_BEFORE_KILL: usize = 300;

/// Runs the writer on `dir` until it has acknowledged enough creates, kills
/// it, and returns the revision it started at and every create it
/// acknowledged (including lines printed between the kill and its death).
fn write_until_killed(dir: &std::path::Path, run: &str) -> (Revision, BTreeMap<String, Revision>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_storage-crash-writer"))
        .arg(dir)
        .arg(run)
        .arg("4")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines
        .next()
        .expect("a READY line")
        .expect("read the writer's stdout");
    let started: Revision = ready
        .strip_prefix("READY ")
        .and_then(|rev| rev.parse().ok())
        .unwrap_or_else(|| panic!("not a READY line: {ready:?}"));
    let mut acked = BTreeMap::new();
    let mut killed = false;
    for line in lines {
        // A line cut short by the kill is not an acknowledgement.
        let Ok(line) = line else { break };
        let mut fields = line.split(' ');
        match (fields.next(), fields.next(), fields.next()) {
            (Some("ACK"), Some(key), Some(rev)) => {
                let rev: Revision = rev.parse().expect("a revision");
                acked.insert(key.to_owned(), rev);
            }
            _ => panic!("unexpected line from the writer: {line:?}"),
        }
        if !killed && acked.len() >= ACKS_BEFORE_KILL {
            // Child::kill sends SIGKILL on Unix.
            child.kill().expect("SIGKILL the writer");
            killed = true;
        }
    }
    assert!(killed, "the writer exited before it was killed");
    let status = child.wait().expect("reap the writer");
    assert!(!status.success(), "the writer was killed: {status}");
    (started, acked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_creates_survive_sigkill() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (first_start, first) = write_until_killed(dir.path(), "one");
    assert_eq!(first_start, Revision::ZERO);
    let first_max = first.values().max().copied().expect("acknowledged creates");

    // The second writer reopens after the crash: the revision continues.
    let (second_start, second) = write_until_killed(dir.path(), "two");
    assert!(
        second_start >= first_max,
        "reopened at {second_start}, below acknowledged {first_max}"
    );
    assert!(second.values().all(|rev| *rev > second_start));

    let store = EmbeddedStorage::open(dir.path(), EmbeddedOptions::default())
        .await
        .expect("reopen after the crashes");
    let listed = store
        .list("/registry/crash/", ListOptions::default())
        .await
        .expect("list");
    let stored: BTreeMap<&str, Revision> = listed
        .items
        .iter()
        .map(|kv| (kv.key.as_str(), kv.mod_revision))
        .collect();
    for (key, rev) in first.iter().chain(second.iter()) {
        assert_eq!(
            stored.get(key.as_str()),
            Some(rev),
            "acknowledged create {key} at {rev} after the crash"
        );
    }
    let max = second
        .values()
        .max()
        .copied()
        .expect("acknowledged creates");
    assert!(listed.revision >= max);
    let next = store
        .create("/registry/crash/after", Bytes::from_static(b"{}"))
        .await
        .expect("create after the crashes");
    assert!(next.mod_revision > listed.revision);
    assert!(next.mod_revision > max);
}
