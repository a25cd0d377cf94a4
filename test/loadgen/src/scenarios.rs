//! The scenarios: pod creates, gets of random existing pods, updates (a
//! PUT of an existing pod with a changed label and the resourceVersion its
//! last answer carried), a list of every pod (time to first byte, to the
//! last byte, bytes), and watch fan-out (W watchers on configmaps, then E
//! events created one at a time; when each reached each watcher), and
//! custom-object creates (a CustomResourceDefinition with a schema, then
//! its objects, each pruned, defaulted and validated by it).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use http_body_util::BodyExt;
use hyper::Method;
use hyper::body::{Bytes, Incoming};
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::sync::mpsc;

use crate::client::{Connection, Reply, Target};
use crate::load::{Call, Slot, Workload};

/// Where the pods and configmaps go.
pub const NAMESPACE: &str = "default";

/// The pods of a run: `count` of them named `pod-00000`, …, and the
/// resourceVersion each one's last answer carried.
pub struct Pods {
    count: usize,
    width: usize,
    versions: Vec<Mutex<String>>,
}

/// An object's `metadata.resourceVersion`.
#[derive(Deserialize)]
struct Versioned {
    metadata: VersionedMeta,
}

#[derive(Deserialize)]
struct VersionedMeta {
    #[serde(rename = "resourceVersion")]
    resource_version: String,
}

fn resource_version(reply: &Reply) -> Result<String> {
    let object: Versioned = serde_json::from_slice(&reply.body)
        .context("an object without metadata.resourceVersion")?;
    Ok(object.metadata.resource_version)
}

impl Pods {
    pub fn new(count: usize) -> Arc<Pods> {
        Arc::new(Pods {
            count,
            width: count.saturating_sub(1).to_string().len().max(5),
            versions: (0..count).map(|_| Mutex::new(String::new())).collect(),
        })
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn name(&self, index: usize) -> String {
        format!("pod-{index:0width$}", width = self.width)
    }

    /// `/api/v1/namespaces/default/pods`.
    pub fn collection() -> String {
        format!("/api/v1/namespaces/{NAMESPACE}/pods")
    }

    /// The pod `name`: one container with a port and requests, two labels,
    /// and for an update a third label and the resourceVersion it updates.
    pub fn body(name: &str, update: Option<(u64, &str)>) -> Bytes {
        let mut pod = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "bench", "tier": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
        });
        if let Some((generation, version)) = update {
            pod["metadata"]["labels"]["loadgen-update"] = generation.to_string().into();
            pod["metadata"]["resourceVersion"] = version.into();
        }
        Bytes::from(pod.to_string())
    }

    /// A pseudo-random pod for the `index`-th request (the same for the
    /// same index); none when there are no pods.
    pub fn random(&self, index: u64) -> Option<usize> {
        (self.count > 0).then(|| (mix(index) % self.count as u64) as usize)
    }

    /// The resourceVersion pod `index`'s last answer carried (empty before
    /// it was created).
    pub fn version(&self, index: usize) -> String {
        self.versions[index]
            .lock()
            .map(|version| version.clone())
            .unwrap_or_default()
    }

    fn remember(&self, index: usize, reply: &Reply) -> Result<()> {
        let version = resource_version(reply)?;
        if let Ok(mut kept) = self.versions[index].lock() {
            *kept = version;
        }
        Ok(())
    }

    /// Creates of every pod (the run's `index` is the pod's), 201 each.
    pub fn creates(self: &Arc<Self>) -> Arc<Creates> {
        Arc::new(Creates(self.clone()))
    }

    /// Gets of pseudo-random existing pods, 200 each.
    pub fn gets(self: &Arc<Self>) -> Arc<Gets> {
        Arc::new(Gets(self.clone()))
    }

    /// Updates: each worker of a closed loop owns the pods `worker`,
    /// `worker + workers`, … and updates them in turn, so no two requests
    /// race for one pod; 200 each.
    pub fn updates(self: &Arc<Self>) -> Arc<Updates> {
        Arc::new(Updates(self.clone()))
    }
}

pub struct Creates(Arc<Pods>);

impl Workload for Creates {
    fn call(&self, slot: Slot) -> Option<Call> {
        let index = usize::try_from(slot.index)
            .ok()
            .filter(|i| *i < self.0.count)?;
        Some(Call {
            method: Method::POST,
            path: Pods::collection(),
            body: Some(Pods::body(&self.0.name(index), None)),
        })
    }

    fn expected_status(&self) -> u16 {
        201
    }

    fn answered(&self, slot: Slot, reply: &Reply) -> Result<()> {
        self.0.remember(slot.index as usize, reply)
    }
}

/// Custom objects: `widgets.loadgen.example.com`, a namespaced definition
/// whose schema the server prunes, defaults and validates every object by.
pub struct Widgets {
    count: usize,
    width: usize,
}

impl Widgets {
    pub const DEFINITIONS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

    pub fn new(count: usize) -> Arc<Widgets> {
        Arc::new(Widgets {
            count,
            width: count.saturating_sub(1).to_string().len().max(5),
        })
    }

    /// `/apis/loadgen.example.com/v1/namespaces/default/widgets`.
    pub fn collection() -> String {
        format!("/apis/loadgen.example.com/v1/namespaces/{NAMESPACE}/widgets")
    }

    /// The definition: a spec of a bounded integer, an enum with a default,
    /// a patterned string and a list of strings, three CEL validation
    /// rules; `/status`.
    pub fn definition() -> Bytes {
        let definition = serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.loadgen.example.com"},
            "spec": {
                "group": "loadgen.example.com",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{
                    "name": "v1", "served": true, "storage": true,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "required": ["size"],
                          "x-kubernetes-validations": [
                            {"rule": "self.size <= 50 || self.color == 'red'",
                             "message": "a large widget is red"},
                            {"rule": "self.tags.all(t, t.size() <= 10)"},
                            {"rule": "!has(self.owner) || self.owner.matches('^[a-z]+$')"},
                          ],
                          "properties": {
                            "size": {"type": "integer", "minimum": 1, "maximum": 100},
                            "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                            "owner": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 63},
                            "tags": {"type": "array", "maxItems": 16,
                                     "items": {"type": "string", "maxLength": 63}},
                        }},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    }}},
                }],
            },
        });
        Bytes::from(definition.to_string())
    }

    /// Widget `index`: two labels and a spec the schema checks field by
    /// field, about the size of the pods' bodies.
    pub fn body(&self, index: usize) -> Bytes {
        let widget = serde_json::json!({
            "apiVersion": "loadgen.example.com/v1", "kind": "Widget",
            "metadata": {"name": format!("widget-{index:0width$}", width = self.width),
                         "labels": {"app": "bench", "tier": "web"}},
            "spec": {"size": index % 100 + 1, "owner": "bench", "tags": ["a", "b", "c"]}
        });
        Bytes::from(widget.to_string())
    }

    /// Creates of every widget, 201 each.
    pub fn creates(self: &Arc<Self>) -> Arc<WidgetCreates> {
        Arc::new(WidgetCreates(self.clone()))
    }
}

pub struct WidgetCreates(Arc<Widgets>);

impl Workload for WidgetCreates {
    fn call(&self, slot: Slot) -> Option<Call> {
        let index = usize::try_from(slot.index)
            .ok()
            .filter(|i| *i < self.0.count)?;
        Some(Call {
            method: Method::POST,
            path: Widgets::collection(),
            body: Some(self.0.body(index)),
        })
    }

    fn expected_status(&self) -> u16 {
        201
    }
}

/// Creates the widgets' definition and waits until its objects are served
/// (a list answers 200): the time from the create to that.
pub async fn define_widgets(connection: &mut Connection, limit: Duration) -> Result<Duration> {
    let started = Instant::now();
    let reply = connection
        .call(
            Method::POST,
            Widgets::DEFINITIONS,
            Some(Widgets::definition()),
        )
        .await?;
    if reply.status != 201 {
        bail!(
            "creating the widgets' definition: {} {}",
            reply.status,
            reply.text()
        );
    }
    loop {
        let reply = connection
            .call(
                Method::GET,
                &format!("{}?limit=1", Widgets::collection()),
                None,
            )
            .await?;
        if reply.status == 200 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            bail!("widgets were not served within {limit:?} of their definition");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

pub struct Gets(Arc<Pods>);

/// splitmix64: a well-spread pseudo-random number for each index.
fn mix(index: u64) -> u64 {
    let mut z = index.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Workload for Gets {
    fn call(&self, slot: Slot) -> Option<Call> {
        let index = self.0.random(slot.index)?;
        Some(Call {
            method: Method::GET,
            path: format!("{}/{}", Pods::collection(), self.0.name(index)),
            body: None,
        })
    }

    fn expected_status(&self) -> u16 {
        200
    }
}

pub struct Updates(Arc<Pods>);

impl Updates {
    /// The pod a slot updates and the how-manieth update it is.
    fn pod(&self, slot: Slot) -> Option<(usize, u64)> {
        let (worker, workers) = (slot.worker, slot.workers.max(1));
        let owned = self.0.count.checked_sub(worker)?.div_ceil(workers);
        if owned == 0 {
            return None;
        }
        let turn = slot.index / workers as u64;
        let pod = worker + (turn % owned as u64) as usize * workers;
        Some((pod, turn / owned as u64 + 1))
    }
}

impl Workload for Updates {
    fn call(&self, slot: Slot) -> Option<Call> {
        let (index, generation) = self.pod(slot)?;
        let version = self.0.version(index);
        if version.is_empty() {
            return None;
        }
        Some(Call {
            method: Method::PUT,
            path: format!("{}/{}", Pods::collection(), self.0.name(index)),
            body: Some(Pods::body(
                &self.0.name(index),
                Some((generation, &version)),
            )),
        })
    }

    fn expected_status(&self) -> u16 {
        200
    }

    fn answered(&self, slot: Slot, reply: &Reply) -> Result<()> {
        match self.pod(slot) {
            Some((index, _)) => self.0.remember(index, reply),
            None => Ok(()),
        }
    }
}

/// What the lists measured.
#[derive(Debug, Default)]
pub struct ListRun {
    /// From the request to the first byte of the body.
    pub first_byte: Vec<Duration>,
    /// From the request to the last byte.
    pub complete: Vec<Duration>,
    /// The body's size (the last list's).
    pub bytes: usize,
    /// Its items.
    pub items: usize,
}

#[derive(Deserialize)]
struct Items {
    items: Vec<IgnoredAny>,
}

/// `runs` lists of `path`, one after another on `connection`.
pub async fn list(connection: &mut Connection, path: &str, runs: usize) -> Result<ListRun> {
    let mut run = ListRun::default();
    for _ in 0..runs {
        let request = connection.target().request(Method::GET, path, None)?;
        let sent = Instant::now();
        let response = connection.send(request).await?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut first_byte = None;
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.context("reading the list")?;
            if let Ok(data) = frame.into_data()
                && !data.is_empty()
            {
                first_byte.get_or_insert_with(|| sent.elapsed());
                bytes.extend_from_slice(&data);
            }
        }
        let complete = sent.elapsed();
        if status != 200 {
            bail!(
                "GET {path} answered {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
            );
        }
        let items: Items = serde_json::from_slice(&bytes).context("the list is not a list")?;
        run.first_byte.push(first_byte.unwrap_or(complete));
        run.complete.push(complete);
        run.bytes = bytes.len();
        run.items = items.items.len();
    }
    Ok(run)
}

/// How long every watcher may take to see the first (untimed) event.
const WATCH_SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one event may take to reach every watcher; then the run goes
/// on to the next and counts what did not arrive.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// What watch fan-out measured.
#[derive(Debug, Default)]
pub struct WatchRun {
    pub watchers: usize,
    pub events: usize,
    /// The connections the watches shared.
    pub connections: usize,
    /// Per (watcher, event): from the event's create being sent to the
    /// watcher reading it.
    pub latencies: Vec<Duration>,
    /// (watcher, event) pairs delivered; `watchers × events` when every
    /// watcher saw every event.
    pub delivered: usize,
}

impl WatchRun {
    pub fn expected(&self) -> usize {
        self.watchers * self.events
    }
}

/// One event read by one watcher: `None` is the warm-up event.
struct Arrival {
    event: Option<usize>,
    at: Instant,
}

#[derive(Deserialize)]
struct WatchEvent {
    object: Named,
}

#[derive(Deserialize)]
struct Named {
    metadata: Name,
}

#[derive(Deserialize)]
struct Name {
    name: String,
}

/// `watchers` watches of the configmaps this run labels, started together
/// from one revision; then a warm-up event every watcher must see (so every
/// watch is registered), then `events` configmap creates one at a time,
/// each once the previous one reached every watcher (or after
/// [`EVENT_TIMEOUT`]).
///
/// The watches are bounded by the connections they take: over HTTP/2 they
/// are streams, [`Target::streams_per_connection`] per connection; over
/// HTTP/1.1 each needs a connection of its own.
pub async fn watch_fan_out(target: &Target, watchers: usize, events: usize) -> Result<WatchRun> {
    let run_id = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|since| since.as_nanos())
            .unwrap_or_default()
    );
    let selector = format!("loadgen-watch%3D{run_id}");
    let collection = format!("/api/v1/namespaces/{NAMESPACE}/configmaps");
    let mut control = target.connect().await?;
    let reply = control
        .call(
            Method::GET,
            &format!("{collection}?labelSelector={selector}&limit=1"),
            None,
        )
        .await?;
    if reply.status != 200 {
        bail!(
            "listing configmaps answered {}: {}",
            reply.status,
            reply.text()
        );
    }
    let revision = resource_version(&reply)?;
    let timeout_seconds = (WATCH_SETUP_TIMEOUT + EVENT_TIMEOUT * (events as u32 + 1)).as_secs();
    let watch_path = format!(
        "{collection}?watch=1&resourceVersion={revision}&labelSelector={selector}&timeoutSeconds={timeout_seconds}"
    );
    let connections = target.connect_many(watchers).await?;
    let (arrivals, mut arrived) = mpsc::unbounded_channel::<Arrival>();
    let (started, mut starts) = mpsc::unbounded_channel::<Result<()>>();
    let mut readers = Vec::with_capacity(watchers);
    let prefix = format!("loadgen-watch-{run_id}-");
    for mut connection in connections {
        let (arrivals, started, path, prefix) = (
            arrivals.clone(),
            started.clone(),
            watch_path.clone(),
            prefix.clone(),
        );
        readers.push(tokio::spawn(async move {
            let opened = async {
                let request = connection.target().request(Method::GET, &path, None)?;
                let response = connection.send(request).await?;
                if response.status() != 200 {
                    bail!("a watch answered {}", response.status());
                }
                Ok(response.into_body())
            }
            .await;
            match opened {
                Ok(body) => {
                    let _ = started.send(Ok(()));
                    read_events(body, &prefix, events, &arrivals).await;
                }
                Err(err) => {
                    let _ = started.send(Err(err));
                }
            }
            // The connection lives as long as its watch is read.
            drop(connection);
        }));
    }
    drop((arrivals, started));
    let result = fan_out(
        &mut control,
        &collection,
        &prefix,
        &run_id,
        watchers,
        events,
        &mut starts,
        &mut arrived,
    )
    .await;
    for reader in &readers {
        reader.abort();
    }
    let mut run = result?;
    run.connections = target.connections_for(watchers);
    Ok(run)
}

/// The driving half of [`watch_fan_out`], once the watches are sent.
#[allow(clippy::too_many_arguments)]
async fn fan_out(
    control: &mut Connection,
    collection: &str,
    prefix: &str,
    run_id: &str,
    watchers: usize,
    events: usize,
    starts: &mut mpsc::UnboundedReceiver<Result<()>>,
    arrived: &mut mpsc::UnboundedReceiver<Arrival>,
) -> Result<WatchRun> {
    let setup_deadline = tokio::time::Instant::now() + WATCH_SETUP_TIMEOUT;
    for opened in 0..watchers {
        match tokio::time::timeout_at(setup_deadline, starts.recv()).await {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(err))) => return Err(err.context(format!("watch {opened} of {watchers}"))),
            Ok(None) | Err(_) => {
                bail!("only {opened} of {watchers} watches opened within {WATCH_SETUP_TIMEOUT:?}")
            }
        }
    }
    // The warm-up event: every watch is registered once it saw it.
    create_configmap(control, collection, run_id, &format!("{prefix}warmup")).await?;
    let mut tally = Tally {
        warm: 0,
        counts: vec![0; events],
        sent: vec![None; events],
        latencies: Vec::new(),
    };
    while tally.warm < watchers {
        match tokio::time::timeout_at(setup_deadline, arrived.recv()).await {
            Ok(Some(arrival)) => tally.record(arrival),
            Ok(None) | Err(_) => bail!(
                "only {} of {watchers} watchers saw the first event within {WATCH_SETUP_TIMEOUT:?}",
                tally.warm
            ),
        }
    }
    for event in 0..events {
        tally.sent[event] = Some(Instant::now());
        create_configmap(control, collection, run_id, &format!("{prefix}{event}")).await?;
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        while tally.counts[event] < watchers {
            match tokio::time::timeout_at(deadline, arrived.recv()).await {
                Ok(Some(arrival)) => tally.record(arrival),
                // Every reader ended, or this event is late: go on.
                Ok(None) | Err(_) => break,
            }
        }
    }
    // Late arrivals already read still count.
    while let Ok(arrival) = arrived.try_recv() {
        tally.record(arrival);
    }
    Ok(WatchRun {
        watchers,
        events,
        connections: 0,
        delivered: tally.latencies.len(),
        latencies: tally.latencies,
    })
}

/// The arrivals so far.
struct Tally {
    /// Watchers that saw the warm-up event.
    warm: usize,
    /// Per event: the watchers that saw it.
    counts: Vec<usize>,
    /// Per event: when its create was sent.
    sent: Vec<Option<Instant>>,
    latencies: Vec<Duration>,
}

impl Tally {
    fn record(&mut self, arrival: Arrival) {
        match arrival.event {
            None => self.warm += 1,
            Some(event) => {
                if let Some(Some(sent)) = self.sent.get(event) {
                    self.counts[event] += 1;
                    self.latencies
                        .push(arrival.at.saturating_duration_since(*sent));
                }
            }
        }
    }
}

/// Creates the configmap `name` with this run's label.
async fn create_configmap(
    control: &mut Connection,
    collection: &str,
    run_id: &str,
    name: &str,
) -> Result<()> {
    let body = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"loadgen-watch": run_id}}});
    let reply = control
        .call(
            Method::POST,
            collection,
            Some(Bytes::from(body.to_string())),
        )
        .await?;
    if reply.status != 201 {
        bail!(
            "creating configmap {name} answered {}: {}",
            reply.status,
            reply.text()
        );
    }
    Ok(())
}

/// Reads one watch: each line is an event; reports the ones of this run
/// (`prefix` + the event's number, or `warmup`), each once, until it saw
/// all `events` or the stream ends.
async fn read_events(
    mut body: Incoming,
    prefix: &str,
    events: usize,
    arrivals: &mpsc::UnboundedSender<Arrival>,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut seen = vec![false; events];
    let mut warm = false;
    let mut left = events + 1;
    while left > 0 {
        let Some(Ok(frame)) = body.frame().await else {
            return;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let at = Instant::now();
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let Ok(event) = serde_json::from_slice::<WatchEvent>(&line) else {
                continue;
            };
            let Some(suffix) = event.object.metadata.name.strip_prefix(prefix) else {
                continue;
            };
            let event = match suffix {
                "warmup" if !warm => {
                    warm = true;
                    None
                }
                number => match number.parse::<usize>() {
                    Ok(index) if index < events && !seen[index] => {
                        seen[index] = true;
                        Some(index)
                    }
                    _ => continue,
                },
            };
            left = left.saturating_sub(1);
            if arrivals.send(Arrival { event, at }).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_worker_updates_only_its_own_pods() {
        let pods = Pods::new(10);
        let updates = Updates(pods);
        let workers = 3;
        let mut owner = [None; 10];
        for worker in 0..workers {
            for turn in 0..20u64 {
                let slot = Slot {
                    worker,
                    workers,
                    index: worker as u64 + turn * workers as u64,
                };
                let (pod, _) = updates.pod(slot).unwrap();
                assert_eq!(*owner[pod].get_or_insert(worker), worker, "pod {pod}");
            }
        }
        assert!(owner.iter().all(Option::is_some), "every pod is updated");
    }

    #[test]
    fn a_worker_without_pods_stops() {
        let updates = Updates(Pods::new(2));
        let slot = Slot {
            worker: 2,
            workers: 4,
            index: 2,
        };
        assert!(updates.pod(slot).is_none());
    }

    #[test]
    fn pod_names_sort_and_bodies_carry_the_update() {
        let pods = Pods::new(100_000);
        assert_eq!(pods.name(7), "pod-00007");
        assert_eq!(pods.name(99_999), "pod-99999");
        let body = Pods::body("pod-1", Some((3, "42")));
        let pod: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(pod["metadata"]["resourceVersion"], "42");
        assert_eq!(pod["metadata"]["labels"]["loadgen-update"], "3");
    }
}
