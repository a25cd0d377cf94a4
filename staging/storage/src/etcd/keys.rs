//! Where the registry's keys live in etcd. The registry names every key
//! under `/registry` (upstream's default `--etcd-prefix`, and the embedded
//! store's layout); the etcd backend re-roots them under the configured
//! prefix, as upstream's etcd3 store joins `--etcd-prefix` with the
//! resource's path. With the default prefix the mapping is the identity.

use crate::{Result, StorageError};

/// The root every registry key is named under.
pub const REGISTRY_ROOT: &str = "/registry";

/// The mapping between registry keys and etcd keys for one `--etcd-prefix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeySpace {
    /// The prefix without trailing slashes (`/registry`, `/kube`, or empty).
    root: String,
}

impl KeySpace {
    pub(crate) fn new(prefix: &str) -> Self {
        KeySpace {
            root: prefix.trim_end_matches('/').to_owned(),
        }
    }

    /// The etcd key of a registry key.
    pub(crate) fn physical(&self, key: &str) -> Result<String> {
        let rest = key.strip_prefix(REGISTRY_ROOT).ok_or_else(|| {
            StorageError::internal(
                "naming an etcd key",
                format!("key {key:?} is not under {REGISTRY_ROOT}"),
            )
        })?;
        Ok(format!("{}{rest}", self.root))
    }

    /// The registry key of an etcd key read under this prefix.
    pub(crate) fn logical(&self, key: &[u8]) -> String {
        let key = String::from_utf8_lossy(key);
        let rest = key.strip_prefix(self.root.as_str()).unwrap_or(&key);
        format!("{REGISTRY_ROOT}{rest}")
    }

    /// The etcd key of this prefix's health probe (upstream: `<prefix>/health`).
    pub(crate) fn health_key(&self) -> String {
        format!("{}/health", self.root)
    }
}

/// The first key after every key starting with `prefix` (etcd's range end
/// for a prefix): the prefix with its last byte below 0xff incremented, or
/// `\0` (the whole key space) when there is none.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_prefix_is_the_identity() {
        let keys = KeySpace::new("/registry");
        let key = "/registry/pods/default/nginx";
        assert_eq!(keys.physical(key).unwrap(), key);
        assert_eq!(keys.logical(key.as_bytes()), key);
        assert_eq!(keys.health_key(), "/registry/health");
    }

    #[test]
    fn another_prefix_re_roots_every_key_and_back() {
        for prefix in ["/kube", "/kube/", "/a/b//"] {
            let keys = KeySpace::new(prefix);
            let root = prefix.trim_end_matches('/');
            let physical = keys.physical("/registry/pods/ns/p").unwrap();
            assert_eq!(physical, format!("{root}/pods/ns/p"));
            assert_eq!(keys.logical(physical.as_bytes()), "/registry/pods/ns/p");
        }
        let bare = KeySpace::new("/");
        assert_eq!(bare.physical("/registry/pods/").unwrap(), "/pods/");
    }

    #[test]
    fn a_key_outside_the_registry_is_refused() {
        let err = KeySpace::new("/kube").physical("/elsewhere/x").unwrap_err();
        assert!(err.to_string().contains("not under /registry"), "{err}");
    }

    #[test]
    fn prefix_end_covers_exactly_the_prefix() {
        assert_eq!(prefix_end(b"/registry/pods/"), b"/registry/pods0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
    }
}
