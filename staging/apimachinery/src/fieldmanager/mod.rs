//! Server-side apply and managed fields (`k8s.io/apimachinery/pkg/util/managedfields`
//! over `sigs.k8s.io/structured-merge-diff/v4`): the field paths and sets a
//! manager owns and their `FieldsV1` encoding ([`fieldpath`]), objects
//! walked with their kind's structure ([`typed`]: field sets, comparison,
//! merge, removal), and the [`FieldManager`] that keeps
//! `metadata.managedFields` on every write and merges applied
//! configurations, detecting conflicts between managers.

pub mod fieldpath;
mod manager;
mod typed;

pub use fieldpath::{FieldSet, Path, PathElement};
pub use manager::{Applied, ApplyError, Conflicts, FieldManager, Operation};
