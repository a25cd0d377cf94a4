//! The service allocation repair loop (upstream's `RepairIPs` and
//! `RepairNodePorts` in kube-apiserver): every few minutes, the cluster-IP
//! and node-port pools are reconciled with the stored services, so a value
//! whose commit or release step never ran is neither lost nor handed out
//! twice for long.

use std::sync::Arc;
use std::time::Duration;

use apiserver::registry::Store;

use crate::registry::core::service::{Leaks, ServiceStrategy};

/// Upstream's repair interval.
pub const INTERVAL: Duration = Duration::from_secs(3 * 60);

pub struct ServiceRepair {
    pub services: Arc<Store<ServiceStrategy>>,
    pub interval: Duration,
}

impl ServiceRepair {
    /// Repairs every `interval` until the process ends.
    pub async fn run(self) {
        let mut leaks = Leaks::default();
        loop {
            tokio::time::sleep(self.interval).await;
            if let Err(err) = self.pass(&mut leaks).await {
                tracing::warn!("service allocation repair: {err}");
            }
        }
    }

    /// One pass over every stored service.
    pub async fn pass(&self, leaks: &mut Leaks) -> anyhow::Result<()> {
        let (services, _) = self
            .services
            .list_objects(None)
            .await
            .map_err(|status| anyhow::anyhow!(status.message))?;
        let repaired = self
            .services
            .strategy()
            .repair(services.iter(), leaks)
            .await
            .map_err(|message| anyhow::anyhow!(message))?;
        if repaired.taken > 0 || repaired.released > 0 {
            tracing::warn!(
                taken = repaired.taken,
                released = repaired.released,
                "service allocation repair: the IP and port pools disagreed with the stored services"
            );
        }
        Ok(())
    }
}
