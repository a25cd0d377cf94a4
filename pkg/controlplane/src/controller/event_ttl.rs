//! Event expiry (`--event-ttl`): upstream stores events with an etcd lease
//! of the TTL; here a sweeper deletes every event older than the TTL, by
//! its last observed time, so expiry survives restarts like the data does.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::chrono::{DateTime, Utc};

use apiserver::registry::Store;
use apiserver::registry::rest::DeleteOptions;

use crate::registry::core::event::EventStrategy;

pub struct EventTtl {
    pub events: Arc<Store<EventStrategy>>,
    pub ttl: Duration,
}

impl EventTtl {
    /// Sweeps every `ttl / 10` (at most once a minute, at least once a
    /// second) until the process ends.
    pub async fn run(self) {
        let period = (self.ttl / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
        loop {
            if let Err(err) = self.sweep(SystemClock::now()).await {
                tracing::warn!("event TTL: {err}");
            }
            tokio::time::sleep(period).await;
        }
    }

    /// Deletes the events that expired at `now`; returns how many.
    pub async fn sweep(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let (events, _) = self
            .events
            .list_objects(None)
            .await
            .map_err(|status| anyhow::anyhow!(status.message))?;
        let ttl = k8s_openapi::chrono::Duration::from_std(self.ttl)
            .map_err(|_| anyhow::anyhow!("--event-ttl {:?} is out of range", self.ttl))?;
        let mut deleted = 0;
        for event in events {
            if last_seen(&event).is_some_and(|seen| seen + ttl <= now) {
                let name = event.metadata.name.clone().unwrap_or_default();
                let namespace = event.metadata.namespace.clone();
                match self
                    .events
                    .delete_object(namespace.as_deref(), &name, &DeleteOptions::default())
                    .await
                {
                    Ok(_) => deleted += 1,
                    Err(status) if status.code == 404 => {}
                    Err(status) => return Err(anyhow::anyhow!(status.message)),
                }
            }
        }
        Ok(deleted)
    }
}

/// When the event last happened: lastTimestamp, eventTime, else creation.
fn last_seen(event: &Event) -> Option<DateTime<Utc>> {
    event
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// The wall clock as chrono time (k8s-openapi's chrono has no clock).
pub struct SystemClock;

impl SystemClock {
    pub fn now() -> DateTime<Utc> {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        DateTime::from_timestamp(
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            since.subsec_nanos(),
        )
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use apiserver::admission;
    use apiserver_storage::{EmbeddedOptions, EmbeddedStorage, Storage};
    use k8s_openapi::api::core::v1::ObjectReference;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn event(name: &str, last_seen: DateTime<Utc>) -> Event {
        Event {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some("default".to_string()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                kind: Some("Pod".to_string()),
                name: Some("web".to_string()),
                namespace: Some("default".to_string()),
                ..ObjectReference::default()
            },
            reason: Some("Started".to_string()),
            message: Some("started".to_string()),
            type_: Some("Normal".to_string()),
            last_timestamp: Some(Time(last_seen)),
            ..Event::default()
        }
    }

    #[tokio::test]
    async fn sweep_deletes_only_events_older_than_the_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> = Arc::new(
            EmbeddedStorage::open(dir.path(), EmbeddedOptions::default())
                .await
                .unwrap(),
        );
        let events = Arc::new(Store::new(
            Arc::new(EventStrategy),
            storage,
            admission::Chain::default(),
        ));
        let now = SystemClock::now();
        let hour = k8s_openapi::chrono::Duration::hours(1);
        for (name, seen) in [
            ("old", now - hour * 2),
            ("edge", now - hour),
            ("fresh", now - hour / 2),
        ] {
            events
                .create_object(Some("default"), event(name, seen), false)
                .await
                .unwrap_or_else(|status| panic!("{name}: {}", status.message));
        }
        let sweeper = EventTtl {
            events: events.clone(),
            ttl: Duration::from_secs(3600),
        };
        assert_eq!(sweeper.sweep(now).await.unwrap(), 2);
        let (left, _) = events.list_objects(Some("default")).await.unwrap();
        let names: Vec<_> = left
            .iter()
            .filter_map(|e| e.metadata.name.clone())
            .collect();
        assert_eq!(names, ["fresh"]);
        assert_eq!(sweeper.sweep(now + hour).await.unwrap(), 1);
    }
}
