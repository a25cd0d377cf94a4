//! Field paths and sets of them (`sigs.k8s.io/structured-merge-diff/fieldpath`):
//! the path elements (`.field`, `[key=value]`, `[=value]`, `[index]`), the
//! set of paths a manager owns as a tree, and its `FieldsV1` JSON encoding
//! (`{"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{}}}}}`).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// One step of a path. The derived order (fields, then keys, then values,
/// then indexes) is upstream's `PathElement.Compare`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A struct field or map key: `f:name`.
    Field(String),
    /// An item of an associative list, by its key fields (sorted by name;
    /// each value as JSON text): `k:{"name":"c"}`.
    Key(Vec<(String, String)>),
    /// An item of a set list, by its value (JSON text): `v:"x"`.
    Value(String),
    /// An item of a list by position (lists without keys): `i:0`.
    Index(usize),
}

impl PathElement {
    /// The `FieldsV1` key of this element.
    fn encode(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let body: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{}:{value}", Value::String(name.clone())))
                    .collect();
                format!("k:{{{}}}", body.join(","))
            }
            PathElement::Value(value) => format!("v:{value}"),
            PathElement::Index(index) => format!("i:{index}"),
        }
    }

    /// Reads a `FieldsV1` key (other than `.`).
    fn decode(key: &str) -> Result<Self, String> {
        let (kind, rest) = key
            .split_once(':')
            .ok_or_else(|| format!("unknown path element type in {key:?}"))?;
        match kind {
            "f" => Ok(PathElement::Field(rest.to_string())),
            "k" => {
                let fields: Map<String, Value> = serde_json::from_str(rest)
                    .map_err(|err| format!("parsing key {rest:?}: {err}"))?;
                Ok(PathElement::Key(
                    fields
                        .iter()
                        .map(|(name, value)| (name.clone(), value.to_string()))
                        .collect::<BTreeMap<_, _>>()
                        .into_iter()
                        .collect(),
                ))
            }
            "v" => {
                let value: Value = serde_json::from_str(rest)
                    .map_err(|err| format!("parsing value {rest:?}: {err}"))?;
                Ok(PathElement::Value(value.to_string()))
            }
            "i" => rest
                .parse()
                .map(PathElement::Index)
                .map_err(|err| format!("parsing index {rest:?}: {err}")),
            other => Err(format!("unknown path element type {other:?} in {key:?}")),
        }
    }
}

impl fmt::Display for PathElement {
    /// Upstream's `PathElement.String`: `.image`, `[name="c"]`, `[="x"]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let body: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect();
                write!(f, "[{}]", body.join(","))
            }
            PathElement::Value(value) => write!(f, "[={value}]"),
            PathElement::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// A path from the object's root.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    pub fn child(&self, element: PathElement) -> Path {
        let mut elements = self.0.clone();
        elements.push(element);
        Path(elements)
    }

    /// A path of struct fields, e.g. `Path::fields(&["spec", "replicas"])`.
    pub fn fields(names: &[&str]) -> Path {
        Path(
            names
                .iter()
                .map(|name| PathElement::Field((*name).to_string()))
                .collect(),
        )
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in &self.0 {
            write!(f, "{element}")?;
        }
        Ok(())
    }
}

/// A set of paths, as a tree: a node is a member when its own path is in the
/// set; its children hold the longer paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    pub fn new() -> Self {
        FieldSet::default()
    }

    /// No path at all.
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    pub fn insert(&mut self, path: &Path) {
        let mut node = self;
        for element in &path.0 {
            node = node.children.entry(element.clone()).or_default();
        }
        node.member = true;
    }

    pub fn contains(&self, path: &Path) -> bool {
        self.node(path).is_some_and(|node| node.member)
    }

    /// Whether the set holds `path` or any path below it.
    pub fn has_prefix(&self, path: &Path) -> bool {
        self.node(path).is_some_and(|node| !node.is_empty())
    }

    fn node(&self, path: &Path) -> Option<&FieldSet> {
        let mut node = self;
        for element in &path.0 {
            node = node.children.get(element)?;
        }
        Some(node)
    }

    /// Whether this node's own path is in the set.
    pub(crate) fn is_member(&self) -> bool {
        self.member
    }

    pub(crate) fn children(&self) -> impl Iterator<Item = (&PathElement, &FieldSet)> {
        self.children.iter()
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut result = self.clone();
        result.union_in(other);
        result
    }

    /// Adds every path of `other` to this set, in place.
    pub fn union_in(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (element, child) in &other.children {
            self.children
                .entry(element.clone())
                .or_default()
                .union_in(child);
        }
    }

    /// The paths of `self` that are not in `other` (path by path, not
    /// subtrees).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut result = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (element, child) in &self.children {
            let remaining = match other.children.get(element) {
                Some(other_child) => child.difference(other_child),
                None => child.clone(),
            };
            if !remaining.is_empty() {
                result.children.insert(element.clone(), remaining);
            }
        }
        result
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut result = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (element, child) in &self.children {
            if let Some(other_child) = other.children.get(element) {
                let common = child.intersection(other_child);
                if !common.is_empty() {
                    result.children.insert(element.clone(), common);
                }
            }
        }
        result
    }

    /// The set without `path` and every path below it.
    pub fn without_subtree(&self, path: &Path) -> FieldSet {
        let mut result = self.clone();
        result.remove_subtree(path);
        result.prune();
        result
    }

    /// The set without `path` itself (paths below it stay).
    pub fn without_path(&self, path: &Path) -> FieldSet {
        let mut result = self.clone();
        result.remove_path(path);
        result.prune();
        result
    }

    /// Removes `path` and every path below it, in place; parents left
    /// empty stay until [`FieldSet::prune`] (one pass after several
    /// removals instead of a copy and a pass each).
    pub fn remove_subtree(&mut self, path: &Path) {
        let Some((last, parents)) = path.0.split_last() else {
            *self = FieldSet::new();
            return;
        };
        if let Some(node) = self.node_mut(parents) {
            node.children.remove(last);
        }
    }

    /// Removes `path` itself (paths below it stay), in place; see
    /// [`FieldSet::remove_subtree`] for pruning.
    pub fn remove_path(&mut self, path: &Path) {
        if let Some(node) = self.node_mut(&path.0) {
            node.member = false;
        }
    }

    fn node_mut(&mut self, elements: &[PathElement]) -> Option<&mut FieldSet> {
        let mut node = self;
        for element in elements {
            node = node.children.get_mut(element)?;
        }
        Some(node)
    }

    /// Drops the nodes that hold no path (left by the removals above).
    pub fn prune(&mut self) {
        for child in self.children.values_mut() {
            child.prune();
        }
        self.children.retain(|_, child| !child.is_empty());
    }

    /// Every path in upstream's `Set.Iterate` order: at each level the
    /// members first, then the paths below each child.
    pub fn paths(&self) -> Vec<Path> {
        let mut paths = Vec::new();
        self.collect_paths(&Path::default(), &mut paths);
        paths
    }

    fn collect_paths(&self, prefix: &Path, paths: &mut Vec<Path>) {
        for (element, child) in &self.children {
            if child.member {
                paths.push(prefix.child(element.clone()));
            }
        }
        for (element, child) in &self.children {
            if !child.children.is_empty() {
                child.collect_paths(&prefix.child(element.clone()), paths);
            }
        }
    }

    /// The `FieldsV1` JSON of the set.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.encode_children(false))
    }

    fn encode_children(&self, include_self: bool) -> Map<String, Value> {
        let mut object = Map::new();
        if include_self && self.member && !self.children.is_empty() {
            object.insert(".".to_string(), Value::Object(Map::new()));
        }
        for (element, child) in &self.children {
            if child.is_empty() {
                continue;
            }
            object.insert(element.encode(), Value::Object(child.encode_children(true)));
        }
        object
    }

    /// Reads `FieldsV1` JSON (upstream's `Set.FromJSON`).
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        let object = value
            .as_object()
            .ok_or_else(|| "expected an object".to_string())?;
        let mut set = FieldSet::new();
        for (key, child) in object {
            if key == "." {
                set.member = true;
                continue;
            }
            let element = PathElement::decode(key)?;
            let child_object = child
                .as_object()
                .ok_or_else(|| format!("expected an object for {key:?}"))?;
            let child_set = if child_object.is_empty() {
                FieldSet {
                    member: true,
                    children: BTreeMap::new(),
                }
            } else {
                FieldSet::from_fields_v1(child)?
            };
            set.children.insert(element, child_set);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(name: &str, value: &str) -> PathElement {
        PathElement::Key(vec![(name.to_string(), format!("{value:?}"))])
    }

    #[test]
    fn fields_v1_marks_members_with_children_by_dot() {
        let mut set = FieldSet::new();
        let containers = Path::fields(&["spec", "containers"]);
        let item = containers.child(key("name", "c"));
        set.insert(&item);
        set.insert(&item.child(PathElement::Field("image".into())));
        set.insert(&Path::fields(&["metadata", "labels", "app"]));
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}}}}
            })
        );
    }

    #[test]
    fn fields_v1_round_trips_every_element_kind() {
        let encoded = json!({
            "f:metadata": {"f:finalizers": {".": {}, "v:\"a\"": {}}},
            "f:spec": {
                "f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}}},
                "f:args": {"i:0": {}}
            }
        });
        let set = FieldSet::from_fields_v1(&encoded).unwrap();
        assert!(set.contains(&Path::fields(&["metadata", "finalizers"])));
        assert!(set.contains(&Path(vec![
            PathElement::Field("metadata".into()),
            PathElement::Field("finalizers".into()),
            PathElement::Value("\"a\"".into()),
        ])));
        assert_eq!(set.to_fields_v1(), encoded);
        assert!(FieldSet::from_fields_v1(&json!({"x:y": {}})).is_err());
    }

    #[test]
    fn set_algebra_works_path_by_path() {
        let mut a = FieldSet::new();
        a.insert(&Path::fields(&["spec", "replicas"]));
        a.insert(&Path::fields(&["spec", "paused"]));
        let mut b = FieldSet::new();
        b.insert(&Path::fields(&["spec", "replicas"]));
        b.insert(&Path::fields(&["spec"]));
        assert_eq!(
            a.intersection(&b).paths(),
            vec![Path::fields(&["spec", "replicas"])]
        );
        assert_eq!(
            a.difference(&b).paths(),
            vec![Path::fields(&["spec", "paused"])]
        );
        assert_eq!(a.union(&b).paths().len(), 3);
        assert!(a.without_subtree(&Path::fields(&["spec"])).is_empty());
        assert!(
            b.without_path(&Path::fields(&["spec"]))
                .contains(&Path::fields(&["spec", "replicas"]))
        );
    }

    #[test]
    fn paths_print_as_upstream() {
        let path = Path::fields(&["spec", "containers"])
            .child(key("name", "c"))
            .child(PathElement::Field("image".into()));
        assert_eq!(path.to_string(), ".spec.containers[name=\"c\"].image");
        let value = Path::fields(&["finalizers"]).child(PathElement::Value("\"x\"".into()));
        assert_eq!(value.to_string(), ".finalizers[=\"x\"]");
    }
}
