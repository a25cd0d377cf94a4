//! Keeps the client's balanced channel to the etcd members that answer.
//! The client spreads requests over every `--etcd-servers` endpoint, and
//! tonic's balancer, unlike gRPC-go's that upstream's client uses, keeps
//! sending to a member that is gone (its connection fails at each call:
//! an unresolvable name, a refused connection). So each member is probed
//! on a connection of its own every [`PROBE_INTERVAL`]; one that does not
//! answer within [`PROBE_TIMEOUT`] is taken out of the balancer, and put
//! back once it answers again. The last member in the balancer is never
//! taken out: requests then fail (and `/readyz/etcd` says so) rather than
//! have nowhere to go.

use std::collections::BTreeSet;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};
use futures_util::future::join_all;

/// How often each member is probed.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a member may take to answer a probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A change to the balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Remove(String),
    Add(String),
}

/// The changes that make the balancer hold the members that answered,
/// keeping at least one member in it.
pub fn plan(in_balancer: &BTreeSet<String>, answered: &BTreeSet<String>) -> Vec<Change> {
    let mut changes: Vec<Change> = answered
        .difference(in_balancer)
        .map(|member| Change::Add(member.clone()))
        .collect();
    let mut remaining = in_balancer.len() + changes.len();
    for member in in_balancer.difference(answered) {
        if remaining > 1 {
            changes.push(Change::Remove(member.clone()));
            remaining -= 1;
        }
    }
    changes
}

/// Probes `endpoints` and adjusts `client`'s balancer until the returned
/// task is aborted.
pub fn spawn(
    client: Client,
    endpoints: Vec<String>,
    options: ConnectOptions,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // One lazily connected client per member, for its probes only.
        let mut probes = Vec::new();
        for endpoint in &endpoints {
            match Client::connect([endpoint.as_str()], Some(options.clone())).await {
                Ok(probe) => probes.push((endpoint.clone(), probe)),
                Err(err) => {
                    tracing::warn!(endpoint, error = %err, "etcd member probe: cannot connect")
                }
            }
        }
        let mut in_balancer: BTreeSet<String> = endpoints.iter().cloned().collect();
        loop {
            tokio::time::sleep(PROBE_INTERVAL).await;
            let answers = join_all(probes.iter().map(|(endpoint, probe)| async move {
                let mut maintenance = probe.maintenance_client();
                let answered = matches!(
                    tokio::time::timeout(PROBE_TIMEOUT, maintenance.status()).await,
                    Ok(Ok(_))
                );
                (endpoint, answered)
            }))
            .await;
            let answered: BTreeSet<String> = answers
                .into_iter()
                .filter(|(_, answered)| *answered)
                .map(|(endpoint, _)| endpoint.clone())
                .collect();
            for change in plan(&in_balancer, &answered) {
                let applied = match &change {
                    Change::Remove(member) => client.remove_endpoint(member).await,
                    Change::Add(member) => client.add_endpoint(member).await,
                };
                match (applied, &change) {
                    (Ok(()), Change::Remove(member)) => {
                        tracing::warn!(member, "etcd member does not answer: no requests go to it");
                        in_balancer.remove(member);
                    }
                    (Ok(()), Change::Add(member)) => {
                        tracing::info!(member, "etcd member answers again: requests go to it");
                        in_balancer.insert(member.clone());
                    }
                    (Err(err), _) => {
                        tracing::warn!(?change, error = %err, "etcd member balancing")
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(members: &[&str]) -> BTreeSet<String> {
        members.iter().map(|m| m.to_string()).collect()
    }

    #[test]
    fn silent_members_go_answering_ones_come_back_and_one_always_stays() {
        let all = set(&["a", "b", "c"]);
        assert_eq!(plan(&all, &all), vec![]);
        assert_eq!(
            plan(&all, &set(&["a", "c"])),
            vec![Change::Remove("b".into())]
        );
        assert_eq!(plan(&set(&["a", "c"]), &all), vec![Change::Add("b".into())]);
        // Nobody answers: one member stays, so requests fail rather than
        // have nowhere to go.
        assert_eq!(
            plan(&all, &set(&[])),
            vec![Change::Remove("a".into()), Change::Remove("b".into())]
        );
        assert_eq!(plan(&set(&["c"]), &set(&[])), vec![]);
        // One comes back while the last silent one stays: the silent one can
        // go now.
        assert_eq!(
            plan(&set(&["c"]), &set(&["a"])),
            vec![Change::Add("a".into()), Change::Remove("c".into())]
        );
    }
}
