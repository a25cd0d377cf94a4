//! The definitions controller (upstream's naming, establishing and
//! finalizing controllers and the `crdHandler`'s serving, in one loop):
//! a watch on the stored definitions; each change serves the definition's
//! served versions (routing, discovery) at once and sets its
//! `NamesAccepted` and `Established` conditions; a deleted definition is
//! `Terminating`, refusing creates, while its objects are deleted, then
//! its cleanup finalizer goes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionCondition, CustomResourceDefinitionStatus,
    CustomResourceDefinitionVersion,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use apimachinery::patch::PatchSchema;
use apimachinery::validation::field::Path;
use apiserver::endpoints::dynamic::DynamicResources;
use apiserver::endpoints::openapi::DynamicOpenApi;
use apiserver::registry::RestStorage;
use apiserver::registry::rest::{DeleteOptions, ListOptions, PropagationPolicy, Subresource};
use apiserver::registry::store::Store;
use apiserver::registry::strategy::ResourceNames;
use apiserver::registry::table::current_time;
use apiserver_storage::{KeyValue, Revision, Storage};

use super::columns::Columns;
use super::selectable::SelectableFields;
use super::strategy::{CustomResourceStrategy, ScalePaths};
use super::{intern, intern_list, openapi, schema};
use crate::controller::work_queue::WorkQueue;
use crate::informer::{self, Handler};
use crate::registry::apiextensions::custom_resource_definition::{
    CLEANUP_FINALIZER, CUSTOM_RESOURCE_DEFINITION_PREFIX, CustomResourceDefinitionStrategy,
};

/// How often a deleted definition whose objects are still being deleted
/// (their finalizers) looks again.
const OBJECTS_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// A deleted definition's objects are not all gone yet.
#[derive(Debug)]
struct ObjectsRemain(String);

impl std::fmt::Display for ObjectsRemain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "waiting for the custom objects under {} to be deleted",
            self.0
        )
    }
}

impl std::error::Error for ObjectsRemain {}

/// Makes the store of one served version over the shared storage and
/// admission chain.
pub type StoreMaker = Arc<dyn Fn(CustomResourceStrategy) -> Arc<dyn RestStorage> + Send + Sync>;

pub struct DefinitionsController {
    pub storage: Arc<dyn Storage>,
    pub definitions: Arc<Store<CustomResourceDefinitionStrategy>>,
    pub dynamic: Arc<DynamicResources>,
    pub make_store: StoreMaker,
    /// The OpenAPI v3 documents of the custom group-versions.
    pub openapi: Arc<DynamicOpenApi>,
    /// Each served definition's group, plural and the generation served.
    served: Mutex<HashMap<String, Served>>,
    /// Each served definition, for the documents of its group-versions.
    definitions_served: Mutex<BTreeMap<String, CustomResourceDefinition>>,
}

#[derive(Clone, PartialEq)]
struct Served {
    group: String,
    plural: String,
    generation: i64,
    terminating: bool,
}

impl DefinitionsController {
    pub fn new(
        storage: Arc<dyn Storage>,
        definitions: Arc<Store<CustomResourceDefinitionStrategy>>,
        dynamic: Arc<DynamicResources>,
        make_store: StoreMaker,
        openapi: Arc<DynamicOpenApi>,
    ) -> Self {
        DefinitionsController {
            storage,
            definitions,
            dynamic,
            make_store,
            openapi,
            served: Mutex::new(HashMap::new()),
            definitions_served: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records `crd` as served (or, with `None`, no longer served) and
    /// rebuilds the OpenAPI documents of the group-versions it had or has.
    fn publish_openapi(&self, name: &str, crd: Option<&CustomResourceDefinition>) {
        let mut all = self
            .definitions_served
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut touched: BTreeSet<(String, String)> = BTreeSet::new();
        let mut note = |crd: &CustomResourceDefinition| {
            for version in &crd.spec.versions {
                touched.insert((crd.spec.group.clone(), version.name.clone()));
            }
        };
        if let Some(old) = all.remove(name) {
            note(&old);
        }
        if let Some(crd) = crd {
            note(crd);
            all.insert(name.to_string(), crd.clone());
        }
        for (group, version) in touched {
            let serving: Vec<&CustomResourceDefinition> = all
                .values()
                .filter(|crd| {
                    crd.spec.group == group
                        && crd
                            .spec
                            .versions
                            .iter()
                            .any(|v| v.served && v.name == version)
                })
                .collect();
            let key = format!("apis/{group}/{version}");
            if serving.is_empty() {
                self.openapi.set(&key, None);
            } else {
                let document = openapi::group_version_document(&group, &version, &serving);
                self.openapi.set(&key, Some(&document));
            }
        }
    }

    /// Serves the stored definitions and follows their changes until the
    /// task is aborted.
    pub async fn run(self: Arc<Self>) {
        let queue = WorkQueue::new();
        let _informer = informer::spawn(
            self.storage.clone(),
            CUSTOM_RESOURCE_DEFINITION_PREFIX,
            Arc::new(Queue {
                names: queue.clone(),
                known: Mutex::new(HashSet::new()),
            }),
        );
        loop {
            let name = queue.next().await;
            match self.reconcile(&name).await {
                Ok(()) => queue.done(&name, true),
                Err(err) if err.is::<ObjectsRemain>() => {
                    tracing::debug!(definition = %name, "custom resource definition: {err}");
                    queue.done_after(&name, OBJECTS_POLL_INTERVAL);
                }
                Err(err) => {
                    tracing::warn!(definition = %name, "custom resource definition: {err}");
                    queue.done(&name, false);
                }
            }
        }
    }

    /// Brings serving and status in line with the stored definition
    /// `name`. `Err` asks to be called again.
    pub async fn reconcile(&self, name: &str) -> anyhow::Result<()> {
        let key = format!("{CUSTOM_RESOURCE_DEFINITION_PREFIX}{name}");
        let crd = match self.storage.get(&key).await {
            Ok(kv) => serde_json::from_slice::<CustomResourceDefinition>(&kv.value)?,
            Err(err) if err.is_not_found() => {
                self.stop_serving(name);
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        };
        let conflict = self.name_conflict(name, &crd);
        if conflict.is_some() {
            // Names another definition of the group holds: not served.
            self.stop_serving(name);
        } else {
            // A definition being deleted is still served, its creates
            // refused, until its objects are gone.
            self.serve(name, &crd);
        }
        self.update_status(name, &crd, conflict.as_ref()).await?;
        if crd.metadata.deletion_timestamp.is_some() {
            return self.finalize(name, &crd).await;
        }
        Ok(())
    }

    /// The first of `crd`'s names another served definition of its group
    /// already uses, as upstream's naming controller reports it: the
    /// condition's reason and message.
    fn name_conflict(
        &self,
        name: &str,
        crd: &CustomResourceDefinition,
    ) -> Option<(String, String)> {
        let all = self
            .definitions_served
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut resources: HashSet<&str> = HashSet::new();
        let mut kinds: HashSet<&str> = HashSet::new();
        for (other_name, other) in all.iter() {
            if other_name == name || other.spec.group != crd.spec.group {
                continue;
            }
            let names = &other.spec.names;
            resources.insert(&names.plural);
            resources.extend(names.singular.as_deref());
            resources.extend(names.short_names.iter().flatten().map(String::as_str));
            kinds.insert(&names.kind);
            kinds.extend(names.list_kind.as_deref());
        }
        let names = &crd.spec.names;
        let in_use = |reason: &str, value: &str| {
            Some((reason.to_string(), format!("{value:?} is already in use")))
        };
        if resources.contains(names.plural.as_str()) {
            return in_use("PluralConflict", &names.plural);
        }
        if let Some(singular) = names.singular.as_deref().filter(|s| resources.contains(s)) {
            return in_use("SingularConflict", singular);
        }
        if let Some(short) = names
            .short_names
            .iter()
            .flatten()
            .find(|s| resources.contains(s.as_str()))
        {
            return in_use("ShortNamesConflict", short);
        }
        if kinds.contains(names.kind.as_str()) {
            return in_use("KindConflict", &names.kind);
        }
        if let Some(list_kind) = names.list_kind.as_deref().filter(|k| kinds.contains(k)) {
            return in_use("ListKindConflict", list_kind);
        }
        None
    }

    /// Routes and discovery for each served version of `crd`; nothing is
    /// rebuilt when the generation served is the stored one.
    fn serve(&self, name: &str, crd: &CustomResourceDefinition) {
        let served = Served {
            group: crd.spec.group.clone(),
            plural: crd.spec.names.plural.clone(),
            generation: crd.metadata.generation.unwrap_or_default(),
            terminating: crd.metadata.deletion_timestamp.is_some(),
        };
        let mut all = self.served.lock().unwrap_or_else(|e| e.into_inner());
        if all.get(name) == Some(&served) {
            return;
        }
        let stores = crd
            .spec
            .versions
            .iter()
            .filter(|version| version.served)
            .filter_map(|version| strategy_of(crd, version))
            .map(|strategy| (self.make_store)(strategy))
            .collect();
        let (group, plural) = (served.group.clone(), served.plural.clone());
        self.dynamic
            .replace(|g, _, p| g == group && p == plural, stores);
        all.insert(name.to_string(), served);
        drop(all);
        self.publish_openapi(name, Some(crd));
    }

    fn stop_serving(&self, name: &str) {
        let gone = self
            .served
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        if let Some(Served { group, plural, .. }) = gone {
            self.dynamic
                .replace(|g, _, p| g == group && p == plural, Vec::new());
            self.publish_openapi(name, None);
        }
    }

    /// Sets `acceptedNames`, `storedVersions` and the `NamesAccepted` and
    /// `Established` conditions, when they differ from the stored ones.
    async fn update_status(
        &self,
        name: &str,
        crd: &CustomResourceDefinition,
        conflict: Option<&(String, String)>,
    ) -> anyhow::Result<()> {
        if status_of(crd, crd.status.as_ref(), conflict) == crd.status {
            return Ok(());
        }
        self.definitions
            .update_object(None, name, Subresource::System, false, |current| {
                let mut next = current.clone();
                next.status = status_of(current, current.status.as_ref(), conflict);
                Ok(next)
            })
            .await
            .map_err(|status| anyhow::anyhow!(status.message))?;
        Ok(())
    }

    /// A deleted definition: its objects are deleted (their own finalizers
    /// honoured), then it is no longer served and its finalizer goes.
    async fn finalize(&self, name: &str, crd: &CustomResourceDefinition) -> anyhow::Result<()> {
        if !crd
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == CLEANUP_FINALIZER)
        {
            self.stop_serving(name);
            return Ok(());
        }
        let store = crd
            .spec
            .versions
            .iter()
            .find(|version| version.storage)
            .and_then(|version| strategy_of(crd, version))
            .map(|strategy| (self.make_store)(strategy));
        if let Some(store) = store {
            let delete = DeleteOptions {
                propagation_policy: Some(PropagationPolicy::Background),
                ..DeleteOptions::default()
            };
            store
                .delete_collection(None, &ListOptions::default(), &delete)
                .await
                .map_err(|status| anyhow::anyhow!(status.message))?;
        }
        let prefix = format!("/registry/{}/{}/", crd.spec.group, crd.spec.names.plural);
        let left = self
            .storage
            .list(
                &prefix,
                apiserver_storage::ListOptions {
                    limit: Some(std::num::NonZeroUsize::MIN),
                    ..Default::default()
                },
            )
            .await?;
        if !left.items.is_empty() {
            return Err(ObjectsRemain(prefix).into());
        }
        self.stop_serving(name);
        self.definitions
            .update_object(None, name, Subresource::System, false, |current| {
                let mut next = current.clone();
                if let Some(finalizers) = next.metadata.finalizers.as_mut() {
                    finalizers.retain(|f| f != CLEANUP_FINALIZER);
                }
                Ok(next)
            })
            .await
            .map_err(|status| anyhow::anyhow!(status.message))?;
        Ok(())
    }
}

/// The strategy of one version of `crd`; `None` when its schema does not
/// compile (the definition's validation refuses that, so only for data
/// written by something else).
pub fn strategy_of(
    crd: &CustomResourceDefinition,
    version: &CustomResourceDefinitionVersion,
) -> Option<CustomResourceStrategy> {
    let spec = &crd.spec;
    let props = version.schema.as_ref()?.open_api_v3_schema.as_ref()?;
    let schema = schema::compile_served(props, &Path::new("openAPIV3Schema")).ok()?;
    let patch_schema = PatchSchema::structural(&serde_json::to_value(props).ok()?);
    let subresources = version.subresources.as_ref();
    let names = &spec.names;
    Some(CustomResourceStrategy {
        names: ResourceNames {
            group: intern(&spec.group),
            version: intern(&version.name),
            kind: intern(&names.kind),
            plural: intern(&names.plural),
            singular: intern(
                names
                    .singular
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .unwrap_or(&names.kind.to_lowercase()),
            ),
            namespaced: spec.scope == "Namespaced",
            short_names: intern_list(names.short_names.as_deref().unwrap_or_default()),
            categories: intern_list(names.categories.as_deref().unwrap_or_default()),
        },
        key_prefix: format!("/registry/{}/{}/", spec.group, names.plural),
        list_kind: names
            .list_kind
            .clone()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| format!("{}List", names.kind)),
        schema: Arc::new(schema),
        patch_schema,
        selectable: SelectableFields::of(version.selectable_fields.as_deref().unwrap_or_default()),
        columns: Columns::of(
            version
                .additional_printer_columns
                .as_deref()
                .unwrap_or_default(),
        ),
        has_status: subresources.is_some_and(|s| s.status.is_some()),
        scale: subresources
            .and_then(|s| s.scale.as_ref())
            .and_then(ScalePaths::of),
        storage_api_version: (spec.versions.len() > 1)
            .then(|| spec.versions.iter().find(|v| v.storage))
            .flatten()
            .map(|storage| format!("{}/{}", spec.group, storage.name)),
        terminating: crd.metadata.deletion_timestamp.is_some(),
    })
}

/// The status the controller gives `crd`: its names accepted and
/// established (or, with a name `conflict`, neither, the accepted names
/// left as they were), `Terminating` once deleted, its storage version
/// among the stored ones. A condition keeps its transition time while its
/// status stays.
fn status_of(
    crd: &CustomResourceDefinition,
    current: Option<&CustomResourceDefinitionStatus>,
    conflict: Option<&(String, String)>,
) -> Option<CustomResourceDefinitionStatus> {
    let mut stored_versions = current
        .and_then(|status| status.stored_versions.clone())
        .unwrap_or_default();
    for version in crd.spec.versions.iter().filter(|v| v.storage) {
        if !stored_versions.contains(&version.name) {
            stored_versions.push(version.name.clone());
        }
    }
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        let previous = current
            .and_then(|status| status.conditions.as_ref())
            .and_then(|conditions| conditions.iter().find(|c| c.type_ == kind))
            .filter(|c| c.status == status);
        CustomResourceDefinitionCondition {
            type_: kind.to_string(),
            status: status.to_string(),
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            last_transition_time: previous
                .and_then(|c| c.last_transition_time.clone())
                .or_else(|| Some(Time(current_time()))),
        }
    };
    if let Some((reason, message)) = conflict {
        return Some(CustomResourceDefinitionStatus {
            accepted_names: current.and_then(|status| status.accepted_names.clone()),
            conditions: Some(vec![
                condition("NamesAccepted", "False", reason, message),
                condition(
                    "Established",
                    "False",
                    "NotAccepted",
                    "not all names are accepted",
                ),
            ]),
            stored_versions: Some(stored_versions),
        });
    }
    let mut conditions = vec![
        condition("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
        condition(
            "Established",
            "True",
            "InitialNamesAccepted",
            "the initial names have been accepted",
        ),
    ];
    if crd.metadata.deletion_timestamp.is_some() {
        conditions.push(condition(
            "Terminating",
            "True",
            "InstanceDeletionInProgress",
            "CustomResource deletion is in progress",
        ));
    }
    Some(CustomResourceDefinitionStatus {
        accepted_names: Some(crd.spec.names.clone()),
        conditions: Some(conditions),
        stored_versions: Some(stored_versions),
    })
}

/// Turns the watch on definitions into the names to reconcile.
struct Queue {
    names: Arc<WorkQueue<String>>,
    known: Mutex<HashSet<String>>,
}

impl Queue {
    fn name_of(kv: &KeyValue) -> Option<String> {
        kv.key
            .strip_prefix(CUSTOM_RESOURCE_DEFINITION_PREFIX)
            .map(str::to_string)
    }
}

impl Handler for Queue {
    fn replace(&self, items: &[KeyValue], _revision: Revision) {
        let names: HashSet<String> = items.iter().filter_map(Self::name_of).collect();
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        for name in known.union(&names) {
            self.names.add(name.clone());
        }
        *known = names;
    }

    fn apply(&self, kv: &KeyValue) {
        if let Some(name) = Self::name_of(kv) {
            self.known
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name.clone());
            self.names.add(name);
        }
    }

    fn remove(&self, previous: &KeyValue) {
        if let Some(name) = Self::name_of(previous) {
            self.known
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&name);
            self.names.add(name);
        }
    }

    fn stale(&self) {}
}
