//! Creates and updates: system metadata, admission, generateName, the
//! strategy's allocation, defaults and validation, and the update's one
//! read-modify-write through storage's `guaranteed_update`.

use super::*;

impl<S: Strategy> Store<S> {
    /// Fills what the server owns on a new object.
    pub(super) fn fill_system_fields(&self, obj: &mut S::Object) {
        let tracks_generation = self.strategy.tracks_generation();
        let meta = obj.metadata_mut();
        meta.uid = Some(uuid::Uuid::new_v4().to_string());
        meta.creation_timestamp = Some(now());
        meta.resource_version = None;
        meta.deletion_timestamp = None;
        meta.deletion_grace_period_seconds = None;
        meta.generation = tracks_generation.then_some(1);
        meta.self_link = None;
    }

    pub(super) fn check_namespace(
        &self,
        obj: &mut S::Object,
        namespace: Option<&str>,
    ) -> Result<(), Status> {
        let meta = obj.metadata_mut();
        if !self.info().namespaced {
            meta.namespace = None;
            return Ok(());
        }
        match (namespace, meta.namespace.as_deref()) {
            (Some(url), Some(body)) if !body.is_empty() && body != url => Err(Status::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            )),
            (url, _) => {
                meta.namespace = url.map(str::to_string);
                Ok(())
            }
        }
    }

    pub(super) async fn admit(
        &self,
        operation: Operation,
        namespace: Option<&str>,
        name: &str,
        subresource: Subresource,
        dry_run: bool,
    ) -> Result<(), Status> {
        let info = self.info();
        self.admission
            .validate(&Attributes {
                operation,
                group: info.group,
                resource: info.plural,
                subresource: match subresource {
                    Subresource::Status => Some("status"),
                    Subresource::Scale => Some("scale"),
                    Subresource::Main | Subresource::System => None,
                },
                namespace: if info.namespaced { namespace } else { None },
                name,
                dry_run,
            })
            .await
    }

    /// Creates a typed object (for bootstrap and controllers).
    pub async fn create_object(
        &self,
        namespace: Option<&str>,
        obj: S::Object,
        dry_run: bool,
    ) -> Result<S::Object, Status> {
        Ok(self
            .create_object_as(namespace, obj, dry_run, None)
            .await?
            .object)
    }

    /// Creates a typed object; `manager` (a request's field manager) gets
    /// the `Update` entry of `metadata.managedFields`, `None` keeps the
    /// object's own entries.
    pub(super) async fn create_object_as(
        &self,
        namespace: Option<&str>,
        mut obj: S::Object,
        dry_run: bool,
        manager: Option<&str>,
    ) -> Result<Created<S::Object>, Status> {
        self.check_namespace(&mut obj, namespace)?;
        let namespace = obj.metadata().namespace.clone();
        let generate_name = obj.metadata().generate_name.clone().filter(|_| {
            obj.metadata()
                .name
                .as_deref()
                .unwrap_or_default()
                .is_empty()
        });
        let Some(base) = generate_name else {
            return self
                .create_once(namespace.as_deref(), obj, dry_run, true, manager)
                .await;
        };
        let mut last_error = None;
        for _ in 0..GENERATE_NAME_ATTEMPTS {
            let mut candidate = obj.clone();
            candidate.metadata_mut().name = Some(format!("{base}{}", random_suffix()));
            match self
                .create_once(namespace.as_deref(), candidate, dry_run, true, manager)
                .await
            {
                Err(status) if status.reason == "AlreadyExists" => last_error = Some(status),
                other => return other,
            }
        }
        Err(last_error.unwrap_or_else(|| Status::internal_error("no name could be generated")))
    }

    /// Creates an object the server itself owns (the `kubernetes`
    /// endpoints may point at a loopback address, which clients may not
    /// write): strategy defaults apply, validation does not.
    pub async fn create_system_object(
        &self,
        namespace: Option<&str>,
        mut obj: S::Object,
    ) -> Result<S::Object, Status> {
        self.check_namespace(&mut obj, namespace)?;
        Ok(self
            .create_once(namespace, obj, false, false, None)
            .await?
            .object)
    }

    pub(super) async fn create_once(
        &self,
        namespace: Option<&str>,
        mut obj: S::Object,
        dry_run: bool,
        validate: bool,
        manager: Option<&str>,
    ) -> Result<Created<S::Object>, Status> {
        let name = obj.metadata().name.clone().unwrap_or_default();
        self.admit(
            Operation::Create,
            namespace,
            &name,
            Subresource::Main,
            dry_run,
        )
        .await?;
        self.fill_system_fields(&mut obj);
        // Upstream's order: allocation (BeginCreate) first, so validation
        // sees allocated values; a refused object gives them back.
        let finish = self.strategy.begin_create(&mut obj, dry_run).await?;
        self.strategy.prepare_for_create(&mut obj);
        if let Some(manager) = manager
            && let Err(status) =
                managed_fields::stamp_update(self.field_manager(), None, &mut obj, manager, None)
        {
            finish_with(finish, false).await;
            return Err(status);
        }
        let errors = if validate {
            let work = cpu_work::reserve_now(self.strategy.validation_is_heavy());
            work.run(|| self.strategy.validate(&obj))
        } else {
            Vec::new()
        };
        if !errors.is_empty() {
            finish_with(finish, false).await;
            return Err(self.invalid(&name, &errors));
        }
        if validate
            && let Err(status) = self.strategy.authorize_write(
                crate::endpoints::request::user().as_deref(),
                &obj,
                None,
            )
        {
            finish_with(finish, false).await;
            return Err(status);
        }
        if dry_run {
            finish_with(finish, true).await;
            return Ok(Created {
                object: obj,
                stored: None,
            });
        }
        let result = async {
            let value = self.encode_for_storage(&mut obj)?;
            let kv = self
                .storage
                .create(&self.key(namespace, &name), value)
                .await
                .map_err(|err| self.storage_error(err, &name))?;
            // What was stored is `obj` (JSON round-trips the API types), so
            // it is not decoded again: only the revision is new.
            obj.metadata_mut().resource_version = Some(kv.mod_revision.to_string());
            Ok(Created {
                object: obj,
                stored: Some(kv),
            })
        }
        .await;
        finish_after_write(finish, &result).await;
        result
    }

    /// Applies `change` to the stored object under optimistic concurrency,
    /// rereading on conflict, with the strategy's update semantics. `change`
    /// gets the current object and returns the desired one (or a Status).
    pub async fn update_object<F>(
        &self,
        namespace: Option<&str>,
        name: &str,
        subresource: Subresource,
        dry_run: bool,
        change: F,
    ) -> Result<S::Object, Status>
    where
        F: FnMut(&S::Object) -> Result<S::Object, Status> + Send,
    {
        let key = self.key(namespace, name);
        let path = self.update_path(subresource)?;
        self.admit(Operation::Update, namespace, name, subresource, dry_run)
            .await?;
        let mut attempt = UpdateAttempt {
            store: self,
            path,
            change,
            namespace,
            name,
            key: &key,
            dry_run,
            allocation: None,
            decided: None,
            user: crate::endpoints::request::user(),
        };
        let outcome = guaranteed_update_with(&*self.storage, &key, false, &mut attempt)
            .await
            .map_err(|err| self.update_error(err, name));
        // The last attempt's allocation is kept only if its write was
        // committed.
        finish_after_write(attempt.allocation.take(), &outcome).await;
        let decided = attempt.decided;
        match outcome? {
            Outcome::Written(kv) => self.decode_stored(&kv),
            Outcome::Deleted { .. } => {
                let gone = decided.ok_or_else(|| undecided(name))?;
                self.strategy.after_delete(&gone).await;
                Ok(gone)
            }
            Outcome::Unchanged(_) => decided.ok_or_else(|| undecided(name)),
        }
    }

    /// The strategy an update through `subresource` runs: 404 for a
    /// subresource the kind does not have.
    fn update_path(&self, subresource: Subresource) -> Result<UpdatePath<'_, S>, Status> {
        Ok(match subresource {
            Subresource::Main | Subresource::Scale => UpdatePath::Main(&*self.strategy),
            Subresource::Status => UpdatePath::Status(
                &*self.strategy,
                self.strategy.status().ok_or_else(Status::not_found_path)?,
            ),
            Subresource::System => UpdatePath::System,
        })
    }

    /// Keeps what a client may not change on update: uid, creation time,
    /// generation, deletion fields.
    pub(super) fn carry_system_fields(
        &self,
        new: &mut S::Object,
        old: &S::Object,
        namespace: Option<&str>,
    ) {
        let old_meta: &ObjectMeta = old.metadata();
        let meta = new.metadata_mut();
        if meta.uid.as_deref().unwrap_or_default().is_empty() {
            meta.uid = old_meta.uid.clone();
        }
        meta.creation_timestamp = old_meta.creation_timestamp.clone();
        meta.generation = old_meta.generation;
        meta.deletion_timestamp = old_meta.deletion_timestamp.clone();
        meta.deletion_grace_period_seconds = old_meta.deletion_grace_period_seconds;
        meta.resource_version = old_meta.resource_version.clone();
        meta.self_link = None;
        if self.info().namespaced {
            meta.namespace = namespace.map(str::to_string);
        }
    }
}

/// Attempts at a unique name for `generateName` before giving up
/// (upstream's RetryGenerateName).
const GENERATE_NAME_ATTEMPTS: usize = 8;

/// The characters of a generated name suffix (no vowels, no look-alikes).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Five characters for `generateName`.
fn random_suffix() -> String {
    let random = uuid::Uuid::new_v4();
    random.as_bytes()[..5]
        .iter()
        .map(|b| NAME_ALPHABET[usize::from(*b) % NAME_ALPHABET.len()] as char)
        .collect()
}

async fn finish_with(finish: Option<FinishFunc>, success: bool) {
    if let Some(finish) = finish {
        finish(success).await;
    }
}

/// Tells an allocation how its object's write ended: kept when it was
/// committed, given back when the store refused it. A server-side error
/// (a timeout, an unreachable etcd) leaves the write's fate unknown: the
/// object may be committed, so what it took is not given back here (the
/// kind's repair loop releases what no stored object holds) and can never
/// be handed out twice.
async fn finish_after_write<T>(finish: Option<FinishFunc>, result: &Result<T, Status>) {
    match result {
        Ok(_) => finish_with(finish, true).await,
        Err(status) if status.code >= 500 => drop(finish),
        Err(_) => finish_with(finish, false).await,
    }
}

/// One attempt of an update inside storage's read-modify-write loop: the
/// client's change, the store's system fields, the strategy's allocation,
/// defaults and validation. The previous attempt's allocation is given back
/// first; the last one's is settled by [`finish_after_write`].
struct UpdateAttempt<'a, S: Strategy, F> {
    store: &'a Store<S>,
    path: UpdatePath<'a, S>,
    change: F,
    namespace: Option<&'a str>,
    name: &'a str,
    key: &'a str,
    dry_run: bool,
    allocation: Option<FinishFunc>,
    decided: Option<S::Object>,
    /// The requesting user (none for the server's own writes).
    user: Option<Arc<UserInfo>>,
}

impl<S, F> TryUpdate for UpdateAttempt<'_, S, F>
where
    S: Strategy,
    F: FnMut(&S::Object) -> Result<S::Object, Status> + Send,
{
    type Error = Status;

    async fn try_update(&mut self, current: Option<&KeyValue>) -> Result<Decision, Status> {
        finish_with(self.allocation.take(), false).await;
        let store = self.store;
        let current = current
            .ok_or_else(|| store.storage_error(StorageError::not_found(self.key), self.name))?;
        let old = store.decode_stored(current)?;
        let mut new = (self.change)(&old)?;
        store.carry_system_fields(&mut new, &old, self.namespace);
        // Allocation first (upstream's BeginUpdate), then defaults and
        // validation.
        self.allocation = self.path.begin_update(&mut new, &old, self.dry_run).await?;
        self.path.prepare(&mut new, &old);
        if store.strategy.tracks_generation() && store.strategy.spec_changed(&new, &old) {
            let generation = old.metadata().generation.unwrap_or(0);
            new.metadata_mut().generation = Some(generation + 1);
        }
        let heavy = matches!(&self.path, UpdatePath::Main(s) | UpdatePath::Status(s, _) if s.validation_is_heavy());
        let work = cpu_work::reserve_now(heavy);
        let errors = work.run(|| self.path.validate(&new, &old));
        if !errors.is_empty() {
            return Err(store.invalid(self.name, &errors));
        }
        if let UpdatePath::Main(strategy) = &self.path {
            strategy.authorize_write(self.user.as_deref(), &new, Some(&old))?;
        }
        let decision = if new == old || self.dry_run {
            Decision::Keep
        } else if store.ready_to_delete(&new) {
            // The last finalizer of an object being deleted is gone: the
            // object goes with it.
            Decision::Delete
        } else {
            Decision::Write(store.encode_for_storage(&mut new)?)
        };
        self.decided = Some(new);
        Ok(decision)
    }
}

/// What an update through one path runs around the store's own rules
/// (system fields, generation, the write): the kind's strategy for the
/// main resource and `/scale` (upstream's ScaleREST updates through it),
/// its status strategy for `/status`, nothing for the server's own
/// controllers. Chosen once per request by [`Store::update_path`].
enum UpdatePath<'a, S: Strategy> {
    /// Allocation, defaults and validation of the kind.
    Main(&'a S),
    /// The status strategy's rule, then the kind's validation.
    Status(&'a S, &'a dyn StatusStrategy<S::Object>),
    /// No hooks and no validation (an in-process controller's change).
    System,
}

impl<S: Strategy> UpdatePath<'_, S> {
    /// Takes what the update needs from shared pools (upstream's
    /// BeginUpdate); only the main resource allocates.
    async fn begin_update(
        &self,
        new: &mut S::Object,
        old: &S::Object,
        dry_run: bool,
    ) -> Result<Option<FinishFunc>, Status> {
        match self {
            UpdatePath::Main(strategy) => strategy.begin_update(new, old, dry_run).await,
            UpdatePath::Status(..) | UpdatePath::System => Ok(None),
        }
    }

    /// Defaults, and what this path may not change taken from `old`.
    fn prepare(&self, new: &mut S::Object, old: &S::Object) {
        match self {
            UpdatePath::Main(strategy) => strategy.prepare_for_update(new, old),
            UpdatePath::Status(_, status) => status.prepare_for_status_update(new, old),
            UpdatePath::System => {}
        }
    }

    fn validate(&self, new: &S::Object, old: &S::Object) -> ErrorList {
        match self {
            UpdatePath::Main(strategy) | UpdatePath::Status(strategy, _) => {
                strategy.validate_update(new, old)
            }
            UpdatePath::System => ErrorList::new(),
        }
    }
}

/// A created object, and what was stored for it (`None` for a dry run):
/// the bytes the create's answer is made of.
pub(super) struct Created<O> {
    pub object: O,
    pub stored: Option<KeyValue>,
}
