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
        let kv = self.get_stored(namespace, name).await?;
        self.decode_stored(&kv)
    }

    /// One object as stored.
    pub(super) async fn get_stored(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<KeyValue, Status> {
        self.storage
            .get(&self.key(namespace, name))
            .await
            .map_err(|err| self.storage_error(err, name))
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

    /// The objects of a namespace (or all) that `opts` selects, one page
    /// of them when it has a limit, with the list's revision and the next
    /// page's `continue` token. Objects are decoded only where a selector
    /// needs them, or all of them with `decode_all`; the others stay the
    /// stored bytes, which [`Store::list_body`] answers without decoding.
    pub(super) async fn list_matching(
        &self,
        namespace: Option<&str>,
        opts: &ListOptions,
        decode_all: bool,
    ) -> Result<(Vec<Listed<S::Object>>, Revision, Option<String>), Status> {
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
        let selects = opts.selects();
        let full = |items: &Vec<Listed<S::Object>>| {
            opts.limit.is_some_and(|limit| items.len() >= limit.get())
        };
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
            let page_len = page.items.len();
            let heavy =
                cpu_work::reserve((decode_all || selects) && page_len >= cpu_work::HEAVY_ITEMS)
                    .await;
            let mut consumed = 0;
            heavy.run(|| {
                for kv in page.items {
                    consumed += 1;
                    if !(decode_all || selects) {
                        items.push(Listed { kv, object: None });
                    } else {
                        let obj = self.decode_stored(&kv)?;
                        if self.matches(&obj, opts) {
                            let object = decode_all.then_some(obj);
                            items.push(Listed { kv, object });
                        }
                    }
                    if full(&items) {
                        break;
                    }
                }
                Ok::<_, Status>(())
            })?;
            // The page stops early only right after the item that filled
            // the limit: the next page starts after that item.
            match (full(&items), consumed < page_len, page.continue_token) {
                (true, true, _) => {
                    let key = items.last().map(|item| item.kv.key.as_str());
                    let token = ContinueToken::after(key.unwrap_or_default(), page.revision)
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

    /// The typed objects of a list (decoding those not decoded yet).
    pub(super) fn list_objects_of(
        &self,
        items: Vec<Listed<S::Object>>,
    ) -> Result<Vec<S::Object>, Status> {
        items
            .into_iter()
            .map(|item| match item.object {
                Some(object) => Ok(object),
                None => self.decode_stored(&item.kv),
            })
            .collect()
    }

    /// A list the client set no limit on, read from storage a page of
    /// [`Store::list_page_items`] at a time at one revision (the first
    /// page's, carried by the continue tokens). A list that fits in one page
    /// is answered whole; a longer one is answered in chunks, each page read
    /// and encoded when the client has taken the one before, so the server
    /// holds one page of a 100,000-object list, not all of it twice (the
    /// items and their answer).
    pub(super) async fn list_in_pages(
        self: Arc<Self>,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Reply, Status> {
        let mut page_opts = ListOptions {
            limit: Some(self.list_page_items),
            ..opts.clone()
        };
        let (items, revision, next) = self.list_matching(namespace, &page_opts, false).await?;
        let heavy = cpu_work::reserve(items.len() >= cpu_work::HEAVY_ITEMS).await;
        let Some(next) = next else {
            return Ok(Reply::ok(
                heavy.run(|| self.list_body(items, revision, None))?,
            ));
        };
        let first = heavy.run(|| {
            let mut out = self.list_head(revision, None, items_len(&items))?;
            self.append_items(items, true, &mut out)?;
            Ok::<_, Status>(Bytes::from(out))
        })?;
        drop(heavy);
        page_opts.continue_token = Some(next);
        let namespace = namespace.map(str::to_owned);
        let rest = futures_util::stream::try_unfold(Some(page_opts), move |state| {
            let store = Arc::clone(&self);
            let namespace = namespace.clone();
            async move {
                let Some(mut page_opts) = state else {
                    return Ok(None);
                };
                let (items, _, next) = store
                    .list_matching(namespace.as_deref(), &page_opts, false)
                    .await?;
                let heavy = cpu_work::reserve(items.len() >= cpu_work::HEAVY_ITEMS).await;
                let chunk = heavy.run(|| {
                    let mut out = Vec::with_capacity(items_len(&items) + 2);
                    store.append_items(items, false, &mut out)?;
                    if next.is_none() {
                        out.extend_from_slice(LIST_TAIL);
                    }
                    Ok::<_, Status>(Bytes::from(out))
                })?;
                let state = next.map(|token| {
                    page_opts.continue_token = Some(token);
                    page_opts
                });
                Ok(Some((chunk, state)))
            }
        });
        let chunks = futures_util::stream::once(std::future::ready(Ok(first))).chain(rest);
        Ok(Reply::ok(ReplyBody::Chunks(chunks.boxed())))
    }

    /// The list answer for `items`: each one's stored bytes with its
    /// revision, not decoded and encoded again. The answer is sized once
    /// (no doubling copies of a large list) and each item is dropped once
    /// written.
    pub(super) fn list_body(
        &self,
        items: Vec<Listed<S::Object>>,
        revision: Revision,
        continue_token: Option<&str>,
    ) -> Result<Bytes, Status> {
        let mut out = self.list_head(revision, continue_token, items_len(&items))?;
        self.append_items(items, true, &mut out)?;
        out.extend_from_slice(LIST_TAIL);
        Ok(Bytes::from(out))
    }

    /// Appends `items` to a list answer, comma-separated (and after a comma
    /// unless they are the `first` of the list), each dropped once written.
    fn append_items(
        &self,
        items: Vec<Listed<S::Object>>,
        first: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), Status> {
        for (index, item) in items.into_iter().enumerate() {
            if index > 0 || !first {
                out.push(b',');
            }
            let raw = self.strategy.answers_stored_bytes();
            if !raw
                || !stored_json::append_with_resource_version(
                    &item.kv.value,
                    item.kv.mod_revision,
                    out,
                )
            {
                let object = self.decode_stored(&item.kv)?;
                serde_json::to_writer(&mut *out, &object).map_err(encoding_error)?;
            }
        }
        Ok(())
    }

    /// The list answer for typed objects (those a collection delete
    /// removed).
    pub(super) fn list_body_of_objects(
        &self,
        items: &[S::Object],
        revision: Revision,
    ) -> Result<Bytes, Status> {
        let mut out = self.list_head(revision, None, 0)?;
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, item).map_err(encoding_error)?;
        }
        out.extend_from_slice(LIST_TAIL);
        Ok(Bytes::from(out))
    }

    /// `{"kind":...,"apiVersion":...,"metadata":{...},"items":[`, with room
    /// for `items_len` more bytes; [`LIST_TAIL`] closes it after the items.
    fn list_head(
        &self,
        revision: Revision,
        continue_token: Option<&str>,
        items_len: usize,
    ) -> Result<Vec<u8>, Status> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct ListMeta<'a> {
            resource_version: String,
            #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
            continue_token: Option<&'a str>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Head<'a> {
            kind: &'a str,
            api_version: &'a str,
            metadata: ListMeta<'a>,
        }
        let api_version = self.info().api_version();
        let mut out = serde_json::to_vec(&Head {
            kind: self.strategy.list_kind(),
            api_version: &api_version,
            metadata: ListMeta {
                resource_version: revision.to_string(),
                continue_token,
            },
        })
        .map_err(encoding_error)?;
        out.reserve(items_len + 16);
        // The head's closing brace comes after the items.
        out.pop();
        out.extend_from_slice(br#","items":["#);
        Ok(out)
    }
}

/// What closes a list answer after its items.
const LIST_TAIL: &[u8] = b"]}";

/// About the bytes `items` take in a list answer: each one's stored bytes,
/// `"resourceVersion":"<revision>",` and a comma.
fn items_len<O>(items: &[Listed<O>]) -> usize {
    items.iter().map(|item| item.kv.value.len() + 45).sum()
}

/// One object of a list: as stored, and typed when it was decoded.
pub(super) struct Listed<O> {
    pub kv: KeyValue,
    pub object: Option<O>,
}

fn encoding_error(err: serde_json::Error) -> Status {
    Status::internal_error(format!("encoding: {err}"))
}
