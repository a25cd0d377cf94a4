//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's
//! `leaderelection` does it: a candidate takes the lease when it is free or
//! its holder stopped renewing for longer than the lease duration, then
//! renews it; every change is a replace at the resourceVersion read, so
//! two candidates never both win.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::chrono::{DateTime, Utc};
use kube::Api;
use kube::api::PostParams;

/// One candidate for one lease.
#[derive(Clone)]
pub struct LeaseLock {
    pub leases: Api<Lease>,
    pub name: String,
    pub identity: String,
    pub duration: Duration,
}

impl LeaseLock {
    /// Waits until this candidate holds the lease.
    pub async fn acquire(&self) -> kube::Result<()> {
        loop {
            if self.try_acquire_or_renew().await? {
                return Ok(());
            }
            tokio::time::sleep(self.duration / 4).await;
        }
    }

    /// Renews the lease every quarter of its duration until a renewal
    /// fails or another candidate took it (then returns).
    pub async fn keep(&self) {
        loop {
            tokio::time::sleep(self.duration / 4).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => {}
                Ok(false) | Err(_) => return,
            }
        }
    }

    /// Takes or renews the lease; `false` when another holder's lease is
    /// still current (or another candidate won the race).
    pub async fn try_acquire_or_renew(&self) -> kube::Result<bool> {
        let now = Utc::now();
        let Some(mut lease) = self.leases.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now, now, 0)),
            };
            return match self.leases.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(err) => Err(err),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let ours = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        let renewed = spec.renew_time.as_ref().map(|time| time.0);
        let expired = renewed.is_none_or(|renewed: DateTime<Utc>| renewed + self.duration < now);
        if !ours && !expired {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
        let acquired = if ours {
            spec.acquire_time.map_or(now, |time| time.0)
        } else {
            now
        };
        lease.spec = Some(self.spec(acquired, now, transitions));
        match self
            .leases
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(err) => Err(err),
        }
    }

    fn spec(&self, acquired: DateTime<Utc>, renewed: DateTime<Utc>, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(self.duration.as_secs().max(1) as i32),
            acquire_time: Some(MicroTime(acquired)),
            renew_time: Some(MicroTime(renewed)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }
}
