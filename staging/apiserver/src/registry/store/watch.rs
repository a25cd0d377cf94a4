//! Watches: the initial state, storage events through the selectors,
//! bookmarks and the timeout.

use super::*;

impl<S: Strategy> Store<S> {
    pub(super) async fn start_watch(
        &self,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<WatchLines, Status> {
        self.check_field_selector(opts)?;
        let prefix = self.collection_prefix(namespace);
        let requested = parse_resource_version(opts.resource_version.as_deref())?
            .filter(|rv| *rv != Revision::ZERO);
        let send_initial = opts.send_initial_events.unwrap_or(requested.is_none());
        let (initial, start) = if send_initial {
            let list = self
                .storage
                .list(&prefix, StorageListOptions::default())
                .await
                .map_err(|err| self.storage_error(err, ""))?;
            let mut objects = Vec::new();
            for kv in &list.items {
                let obj = self.decode_stored(kv)?;
                if self.matches(&obj, opts) {
                    objects.push(obj);
                }
            }
            (objects, list.revision)
        } else {
            (Vec::new(), Revision::ZERO)
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
        let from = match (send_initial, requested) {
            (true, _) => start,
            (false, Some(revision)) => revision,
            (false, None) => self
                .storage
                .current_revision()
                .await
                .map_err(|err| self.storage_error(err, ""))?,
        };
        let source = self
            .storage
            .watch(
                &prefix,
                WatchOptions {
                    revision: Some(from),
                    recursive: true,
                },
            )
            .await;
        let watcher = Watcher {
            strategy: self.strategy.clone(),
            opts: opts.clone(),
            tx,
            last_revision: start,
            table_headers_sent: std::sync::atomic::AtomicBool::new(false),
        };
        tokio::spawn(watcher.run(initial, source));
        Ok(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|line| (line, rx))
        })
        .boxed())
    }
}

/// The task behind one watch: initial state, then storage events through
/// the selectors, bookmarks, and the timeout. It ends when the client goes
/// away (the channel closes).
struct Watcher<S: Strategy> {
    strategy: Arc<S>,
    opts: ListOptions,
    tx: tokio::sync::mpsc::Sender<Bytes>,
    last_revision: Revision,
    /// Whether a watch asked as Table has sent its column definitions (in
    /// its first event only, as upstream).
    table_headers_sent: std::sync::atomic::AtomicBool,
}

impl<S: Strategy> Watcher<S> {
    fn decode(&self, kv: &KeyValue, revision: Revision) -> Option<S::Object> {
        let mut obj: S::Object = self.strategy.decode_stored(&kv.value).ok()?;
        obj.metadata_mut().resource_version = Some(revision.to_string());
        Some(obj)
    }

    fn matches(&self, obj: &S::Object) -> bool {
        matches_selectors(self.strategy.as_ref(), obj, &self.opts)
    }

    async fn send(&self, kind: &str, object: &impl Serialize) -> bool {
        #[derive(Serialize)]
        struct Event<'a, T> {
            #[serde(rename = "type")]
            kind: &'a str,
            object: &'a T,
        }
        match serde_json::to_vec(&Event { kind, object }) {
            Ok(line) => self.tx.send(Bytes::from(line)).await.is_ok(),
            Err(_) => false,
        }
    }

    /// Sends an object event: the object itself, or as a one-row Table
    /// when the watch asked for Tables (column definitions in the first
    /// only). An object that cannot be printed is sent as itself, as
    /// upstream does.
    async fn send_object(&self, kind: &str, obj: &S::Object) -> bool {
        let Output::Table(table) = self.opts.output else {
            return self.send(kind, obj).await;
        };
        let with_headers = !self
            .table_headers_sent
            .swap(true, std::sync::atomic::Ordering::Relaxed);
        match crate::registry::table::table_of(
            self.strategy.as_ref(),
            std::slice::from_ref(obj),
            &table,
            obj.metadata().resource_version.as_deref(),
            None,
            with_headers,
        ) {
            Ok(table) => self.send(kind, &table).await,
            Err(_) => self.send(kind, obj).await,
        }
    }

    async fn send_bookmark(&self, initial_events_end: bool) -> bool {
        let mut annotations = serde_json::Map::new();
        if initial_events_end {
            annotations.insert("k8s.io/initial-events-end".into(), "true".into());
        }
        let mut metadata = serde_json::json!({ "resourceVersion": self.last_revision.to_string() });
        if !annotations.is_empty() {
            metadata["annotations"] = serde_json::Value::Object(annotations);
        }
        let object = serde_json::json!({
            "kind": self.strategy.names().kind,
            "apiVersion": self.strategy.names().api_version(),
            "metadata": metadata,
        });
        self.send("BOOKMARK", &object).await
    }

    async fn run(
        mut self,
        initial: Vec<S::Object>,
        source: Result<apiserver_storage::WatchStream, StorageError>,
    ) {
        for obj in &initial {
            if !self.send_object("ADDED", obj).await {
                return;
            }
        }
        if self.opts.send_initial_events == Some(true)
            && self.opts.allow_watch_bookmarks
            && !self.send_bookmark(true).await
        {
            return;
        }
        let mut source = match source {
            Ok(source) => source,
            Err(err) => {
                let _ = self.send("ERROR", &expired_status(err)).await;
                return;
            }
        };
        // A timeout past what the clock can represent is no deadline at all.
        let deadline = self
            .opts
            .timeout
            .and_then(|t| tokio::time::Instant::now().checked_add(t));
        let mut next_bookmark = next_bookmark_at(deadline);
        loop {
            let timeout = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            let bookmark = async {
                match next_bookmark {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = timeout => return,
                _ = self.tx.closed() => return,
                _ = bookmark => {
                    if self.opts.allow_watch_bookmarks && !self.send_bookmark(false).await {
                        return;
                    }
                    next_bookmark = next_bookmark_at(deadline)
                        .filter(|at| Some(*at) != next_bookmark);
                }
                event = source.next() => {
                    let Some(event) = event else { return };
                    let event = match event {
                        Ok(event) => event,
                        Err(err) => {
                            let _ = self.send("ERROR", &expired_status(err)).await;
                            return;
                        }
                    };
                    let revision = event.revision();
                    self.last_revision = self.last_revision.max(revision);
                    if let WatchEvent::Progress(_) = event {
                        // Only the next bookmark tells.
                        continue;
                    }
                    if !self.deliver(&event, revision).await {
                        return;
                    }
                }
            }
        }
    }

    /// Sends one storage event as the client sees it through its
    /// selectors: entering the selection is ADDED, leaving it DELETED.
    async fn deliver(&self, event: &WatchEvent, revision: Revision) -> bool {
        if let Some(line) = self.unfiltered_line(event, revision) {
            return self.tx.send(line).await.is_ok();
        }
        let current = event
            .current()
            .and_then(|kv| self.decode(kv, revision))
            .filter(|obj| self.matches(obj));
        let previous = event
            .previous()
            .and_then(|kv| self.decode(kv, revision))
            .filter(|obj| self.matches(obj));
        match (event, current, previous) {
            (WatchEvent::Modified { .. }, Some(obj), Some(_)) => {
                self.send_object("MODIFIED", &obj).await
            }
            (WatchEvent::Added(_) | WatchEvent::Modified { .. }, Some(obj), None) => {
                self.send_object("ADDED", &obj).await
            }
            (WatchEvent::Modified { .. } | WatchEvent::Deleted { .. }, None, Some(obj)) => {
                self.send_object("DELETED", &obj).await
            }
            _ => true,
        }
    }

    /// The event line of a watch without selectors that wants objects:
    /// the stored bytes with the revision, not decoded and encoded again
    /// (`None` for other watches and bytes of another shape).
    fn unfiltered_line(&self, event: &WatchEvent, revision: Revision) -> Option<Bytes> {
        let opts = &self.opts;
        if opts.selects()
            || !matches!(opts.output, Output::Object)
            || !self.strategy.answers_stored_bytes()
        {
            return None;
        }
        let (kind, kv) = match event {
            WatchEvent::Added(kv) => ("ADDED", kv),
            WatchEvent::Modified { current, .. } => ("MODIFIED", current),
            WatchEvent::Deleted { previous, .. } => ("DELETED", previous),
            WatchEvent::Progress(_) => return None,
        };
        let mut line = format!(r#"{{"type":"{kind}","object":"#).into_bytes();
        if !stored_json::append_with_resource_version(&kv.value, revision, &mut line) {
            return None;
        }
        line.push(b'}');
        Some(Bytes::from(line))
    }
}

/// How often a watch that allows bookmarks gets one when nothing else
/// happens (upstream: about a minute, and just before the watch times out).
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

/// The next bookmark: a minute from now, or two seconds before the watch
/// ends if that is sooner (so a client resumes from a fresh revision).
fn next_bookmark_at(deadline: Option<tokio::time::Instant>) -> Option<tokio::time::Instant> {
    let now = tokio::time::Instant::now();
    let regular = now + BOOKMARK_INTERVAL;
    match deadline.map(|d| d.checked_sub(Duration::from_secs(2)).unwrap_or(d)) {
        Some(before_end) if before_end > now && before_end < regular => Some(before_end),
        _ => Some(regular),
    }
}

fn expired_status(err: StorageError) -> Status {
    match err {
        StorageError::Expired { .. } => Status::expired(err.to_string()),
        other => Status::internal_error(other.to_string()),
    }
}
