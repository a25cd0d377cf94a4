//! Periodic compaction of etcd's history (`--etcd-compaction-interval`,
//! upstream's `storage/etcd3/compact.go` algorithm, our code): every
//! interval, each apiserver tries one compare-and-swap on the version of the
//! `compact_rev_key` key; the one that wins compacts etcd up to the revision
//! it recorded one interval earlier, so however many apiservers share the
//! cluster, history is compacted once per interval and always keeps at least
//! one interval of events for watches and continue tokens.

use std::time::Duration;

use etcd_client::{Compare, CompareOp, Txn, TxnOp, TxnOpResponse};

use super::errors::EtcdError;
use super::{EtcdStorage, header_revision};
use crate::{Result, Revision, Storage};

/// The key apiservers coordinate on (shared with upstream's apiservers: it
/// is outside every `--etcd-prefix`).
pub const COMPACT_REV_KEY: &str = "compact_rev_key";

/// One compactor's memory between rounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// The version of `compact_rev_key` this compactor expects.
    pub version: i64,
    /// The revision recorded at the previous round: what the next winner
    /// compacts to.
    pub revision: Revision,
}

/// Runs one round: try to take the next version of `compact_rev_key`; if
/// this compactor wins, compact to the revision of the previous round and
/// record the current one. Returns the state for the next round.
pub async fn compact_round(storage: &EtcdStorage, last: Round) -> Result<Round> {
    let mut kv = storage.client().kv_client();
    let txn = Txn::new()
        .when(vec![Compare::version(
            COMPACT_REV_KEY,
            CompareOp::Equal,
            last.version,
        )])
        .and_then(vec![TxnOp::put(
            COMPACT_REV_KEY,
            last.revision.get().to_string(),
            None,
        )])
        .or_else(vec![TxnOp::get(COMPACT_REV_KEY, None)]);
    let response = kv
        .txn(txn)
        .await
        .map_err(|e| EtcdError::new("coordinating compaction", e).into_storage())?;
    let current = header_revision(response.header());
    if !response.succeeded() {
        // Another apiserver won this round: follow its version.
        let version = response
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Get(get) => get.kvs().first().map(|kv| kv.version()),
                _ => None,
            })
            .unwrap_or(0);
        return Ok(Round {
            version,
            revision: current,
        });
    }
    if last.revision > Revision::ZERO {
        storage.compact(last.revision).await?;
        tracing::info!(revision = %last.revision, "compacted etcd");
    }
    Ok(Round {
        version: last.version + 1,
        revision: current,
    })
}

/// Compacts every `interval` until the returned task is aborted. An
/// interval of zero disables compaction (upstream's meaning) and returns
/// `None`.
pub fn spawn(storage: EtcdStorage, interval: Duration) -> Option<tokio::task::JoinHandle<()>> {
    if interval.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut round = Round::default();
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match compact_round(&storage, round).await {
                Ok(next) => round = next,
                // etcd unreachable: try again next interval from the same state.
                Err(err) => tracing::warn!(%err, "compacting etcd failed"),
            }
        }
    }))
}
