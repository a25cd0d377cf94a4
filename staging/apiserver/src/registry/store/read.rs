//! Reads: one object, lists with selectors and paging, and the
//! resourceVersion semantics of both.

use super::*;

impl<S: Strategy> Store<S> {
    /// One object, typed (for controllers in the same process).
    pub async fn get_object(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<S::Object, Status> {
        let kv = self
            .storage
            .get(&self.key(namespace, name))
            .await
            .map_err(|err| self.storage_error(err, name))?;
        self.decode_stored(&kv)
    }

    /// Every object of a namespace (or all), typed, at one revision.
    pub async fn list_objects(
        &self,
        namespace: Option<&str>,
    ) -> Result<(Vec<S::Object>, Revision), Status> {
        let list = self
            .storage
            .list(
                &self.collection_prefix(namespace),
                StorageListOptions::default(),
            )
            .await
            .map_err(|err| self.storage_error(err, ""))?;
        let items = list
            .items
            .iter()
            .map(|kv| self.decode_stored(kv))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((items, list.revision))
    }

    /// Waits until the store has seen `resourceVersion` (a read "not older
    /// than" it), or answers 504 as upstream does for a revision from the
    /// future.
    pub(super) async fn require_revision(
        &self,
        resource_version: Option<&str>,
    ) -> Result<(), Status> {
        let Some(wanted) = parse_resource_version(resource_version)? else {
            return Ok(());
        };
        if wanted == Revision::ZERO {
            return Ok(());
        }
        for _ in 0..30 {
            let current = self
                .storage
                .current_revision()
                .await
                .map_err(|err| self.storage_error(err, ""))?;
            if current >= wanted {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let current = self.storage.current_revision().await.unwrap_or_default();
        Err(self.storage_error(
            StorageError::TooLargeRevision {
                requested: wanted,
                current,
            },
            "",
        ))
    }

    pub(super) fn matches(&self, obj: &S::Object, opts: &ListOptions) -> bool {
        matches_selectors(self.strategy.as_ref(), obj, opts)
    }

    /// Refuses selectors on fields this kind cannot select by (400
    /// `field label not supported: ...`).
    pub(super) fn check_field_selector(&self, opts: &ListOptions) -> Result<(), Status> {
        let mut supported = vec!["metadata.name", "metadata.namespace"];
        supported.extend_from_slice(self.strategy.selectable_field_names());
        opts.field_selector
            .check_supported(&supported)
            .map_err(Status::bad_request)
    }

    /// One page of matching objects: the items, the revision they were read
    /// at, and the continue token when more may follow.
    pub(super) async fn list_matching(
        &self,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<(Vec<S::Object>, Revision, Option<String>), Status> {
        self.check_field_selector(opts)?;
        let prefix = self.collection_prefix(namespace);
        let mut revision = None;
        if opts.continue_token.is_none() {
            match opts.resource_version_match {
                Some(ResourceVersionMatch::Exact) => {
                    revision = parse_resource_version(opts.resource_version.as_deref())?;
                }
                _ => {
                    self.require_revision(opts.resource_version.as_deref())
                        .await?
                }
            }
        }
        let mut items = Vec::new();
        let mut continue_token = opts.continue_token.clone();
        loop {
            let wanted = opts.limit.map(|limit| limit.get() - items.len());
            let page = self
                .storage
                .list(
                    &prefix,
                    StorageListOptions {
                        limit: wanted.and_then(std::num::NonZeroUsize::new),
                        continue_token: continue_token.take(),
                        revision,
                    },
                )
                .await
                .map_err(|err| self.storage_error(err, ""))?;
            revision = Some(page.revision);
            let heavy = cpu_work::reserve(page.items.len() >= cpu_work::HEAVY_ITEMS).await;
            let last_key = heavy.run(|| {
                let mut last_key = None;
                for kv in &page.items {
                    let obj = self.decode_stored(kv)?;
                    if self.matches(&obj, opts) {
                        items.push(obj);
                    }
                    last_key = Some(kv.key.as_str());
                    if opts.limit.is_some_and(|limit| items.len() >= limit.get()) {
                        break;
                    }
                }
                Ok::<_, Status>(last_key)
            })?;
            let full = opts.limit.is_some_and(|limit| items.len() >= limit.get());
            let stopped_early =
                last_key.is_some_and(|key| page.items.last().is_some_and(|last| last.key != key));
            match (full, stopped_early, page.continue_token) {
                (true, true, _) => {
                    let key = last_key.unwrap_or_default();
                    let token = ContinueToken::after(key, page.revision)
                        .encode(&prefix)
                        .map_err(|err| self.storage_error(err, ""))?;
                    return Ok((items, page.revision, Some(token)));
                }
                (true, false, token) => return Ok((items, page.revision, token)),
                (false, _, Some(token)) => continue_token = Some(token),
                (false, _, None) => return Ok((items, page.revision, None)),
            }
        }
    }

    pub(super) fn list_body(
        &self,
        items: &[S::Object],
        revision: Revision,
        continue_token: Option<&str>,
    ) -> Result<Bytes, Status> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ListMeta<'a> {
            resource_version: String,
            #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
            continue_token: Option<&'a str>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct List<'a, T> {
            kind: &'static str,
            api_version: &'static str,
            metadata: ListMeta<'a>,
            items: &'a [T],
        }
        Self::encode_reply(&List {
            kind: <S::Object as k8s_openapi::ListableResource>::LIST_KIND,
            api_version: <S::Object as k8s_openapi::Resource>::API_VERSION,
            metadata: ListMeta {
                resource_version: revision.to_string(),
                continue_token,
            },
            items,
        })
    }
}
