//! Patches: JSON Patch (RFC 6902), JSON merge patch (RFC 7386) and strategic
//! merge patch (`k8s.io/apimachinery/pkg/util/strategicpatch`), as pure
//! functions over `serde_json::Value`, plus the list patch metadata table of
//! the built-in kinds (also used for the OpenAPI `x-kubernetes-*` extensions).
//!
//! Status codes: [`PatchError::status_code`] gives what upstream's PATCH
//! handler answers (400 malformed patch, 413 too many JSON patch operations,
//! 422 a JSON patch that does not apply, e.g. a failing `test`; 500 for the
//! strategic merge patch errors upstream leaves untyped).

mod error;
mod field_meta;
mod json_patch;
mod merge_patch;
mod schema;
mod strategic;

pub use error::PatchError;
pub use field_meta::{FieldPatchMeta, ListType, PatchStrategy, field_patch_meta};
pub use json_patch::{DEFAULT_MAX_COPY_BYTES, MAX_JSON_PATCH_OPERATIONS, json_patch};
pub use merge_patch::{merge_patch, merge_patch_bytes};
pub use schema::PatchSchema;
pub(crate) use schema::SchemaCursor;
pub use strategic::strategic_merge_patch;
