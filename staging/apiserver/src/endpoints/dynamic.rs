//! The resources served beside the fixed ones that come and go while the
//! server runs (custom resources, as upstream's `crdHandler` serves them):
//! routing looks here after the fixed table, discovery rebuilds its
//! documents when the set's generation moves.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::registry::RestStorage;
use crate::registry::strategy::ResourceInfo;

/// Group, version and plural name.
type Key = (String, String, String);

/// The set of resources added at run time; cheap to read (one lock, a
/// clone of an `Arc`), rebuilt on every change.
#[derive(Default)]
pub struct DynamicResources {
    current: RwLock<Arc<Snapshot>>,
}

/// The set as one change left it.
#[derive(Default)]
pub struct Snapshot {
    /// Moves on every change; discovery rebuilds when it differs.
    pub generation: u64,
    stores: BTreeMap<Key, Arc<dyn RestStorage>>,
}

impl Snapshot {
    /// What every resource of the set is, in group/version/plural order.
    pub fn infos(&self) -> Vec<ResourceInfo> {
        self.stores
            .values()
            .map(|store| store.info().clone())
            .collect()
    }

    /// Every store of the set.
    pub fn stores(&self) -> impl Iterator<Item = &Arc<dyn RestStorage>> {
        self.stores.values()
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<dyn RestStorage>> {
        self.stores
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
    }
}

impl DynamicResources {
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces every resource whose key `owns` accepts with `stores` (one
    /// custom resource definition's versions), in one change.
    pub fn replace(
        &self,
        owns: impl Fn(&str, &str, &str) -> bool,
        stores: Vec<Arc<dyn RestStorage>>,
    ) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut next: BTreeMap<Key, Arc<dyn RestStorage>> = current
            .stores
            .iter()
            .filter(|((group, version, plural), _)| !owns(group, version, plural))
            .map(|(key, store)| (key.clone(), Arc::clone(store)))
            .collect();
        for store in stores {
            let info = store.info();
            next.insert(
                (
                    info.group.to_string(),
                    info.version.to_string(),
                    info.plural.to_string(),
                ),
                store,
            );
        }
        *current = Arc::new(Snapshot {
            generation: current.generation + 1,
            stores: next,
        });
    }
}
