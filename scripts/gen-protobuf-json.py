#!/usr/bin/env python3
"""Generates staging/apiserver/src/endpoints/protobuf/mapping.rs: for every
k8s-pb message reachable from the kinds the apiserver serves, the code that
writes it as the Kubernetes JSON the JSON path receives.

Field numbers and Rust names come from the k8s-pb crate's source; JSON names
and the Go emptiness rules (pointer fields keep zero values, `omitempty`
value fields drop them, `,inline` fields merge into the parent) come from the
Go types of k8s.io/api and k8s.io/apimachinery at the release kubectl uses,
matched by field number.

usage: gen-protobuf-json.py K8S_PB_SRC API APIMACHINERY NEWER_API NEWER_APIMACHINERY > mapping.rs
(API, APIMACHINERY: checkouts at the kubectl release, v0.32.x; NEWER_*: at the
Kubernetes release k8s-pb was generated from, for fields v0.32 lacks.)

The header of mapping.rs records the sources: the k8s-pb version is read from
K8S_PB_SRC/Cargo.toml; what each Go checkout is at (a tag and commit, say
"v0.32.13 (commit 67a30ffc...)") comes from the optional environment variables
API_REF, APIMACHINERY_REF, NEWER_API_REF and NEWER_APIMACHINERY_REF. Without
any of them the header names no sources.
"""
import os
import re
import sys

K8S_PB, API, APIMACHINERY, NEWER_API, NEWER_APIMACHINERY = sys.argv[1:6]

# (k8s-pb module, Go source files) of the packages the kinds reach.
PACKAGES = {
    "api::core::v1": [f"{API}/core/v1/types.go"],
    "api::apps::v1": [f"{API}/apps/v1/types.go"],
    "api::autoscaling::v1": [f"{API}/autoscaling/v1/types.go"],
    "api::rbac::v1": [f"{API}/rbac/v1/types.go"],
    "api::authorization::v1": [f"{API}/authorization/v1/types.go"],
    "api::authentication::v1": [f"{API}/authentication/v1/types.go"],
    "api::policy::v1": [f"{API}/policy/v1/types.go"],
    "api::batch::v1": [f"{API}/batch/v1/types.go"],
    "apimachinery::pkg::apis::meta::v1": [f"{APIMACHINERY}/pkg/apis/meta/v1/types.go"],
    "apimachinery::pkg::runtime": [f"{APIMACHINERY}/pkg/runtime/types.go"],
    "apimachinery::pkg::util::intstr": [],
    "apimachinery::pkg::api::resource": [],
}
ROOTS = [("api::core::v1", k) for k in [
    "Namespace", "Pod", "Service", "Endpoints", "ReplicationController", "ConfigMap",
    "Secret", "Event", "ServiceAccount", "Node", "ResourceQuota"]] + \
    [("api::apps::v1", k) for k in ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"]] + \
    [("api::autoscaling::v1", "Scale")] + \
    [("api::rbac::v1", k) for k in ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"]] + \
    [("api::authorization::v1", k) for k in [
        "SelfSubjectAccessReview", "SubjectAccessReview", "LocalSubjectAccessReview",
        "SelfSubjectRulesReview"]] + \
    [("api::authentication::v1", k) for k in ["SelfSubjectReview", "TokenReview", "TokenRequest"]] + \
    [("api::policy::v1", k) for k in ["PodDisruptionBudget", "Eviction"]] + \
    [("api::batch::v1", k) for k in ["Job", "CronJob"]]
# Messages with their own JSON form, written by hand in protobuf.rs.
SPECIAL = {
    ("apimachinery::pkg::apis::meta::v1", "Time"),
    ("apimachinery::pkg::apis::meta::v1", "MicroTime"),
    ("apimachinery::pkg::apis::meta::v1", "Duration"),
    ("apimachinery::pkg::apis::meta::v1", "FieldsV1"),
    ("apimachinery::pkg::runtime", "RawExtension"),
    ("apimachinery::pkg::util::intstr", "IntOrString"),
    ("apimachinery::pkg::api::resource", "Quantity"),
    # Go's `type ExtraValue []string`: a JSON array, not an object.
    ("api::authorization::v1", "ExtraValue"),
    ("api::authentication::v1", "ExtraValue"),
}


def rust_messages(module):
    path = f"{K8S_PB}/src/{module.replace('::', '/')}/mod.rs"
    text = open(path).read()
    messages = {}
    for m in re.finditer(r"pub struct (\w+) \{(.*?)\n\}", text, re.S):
        fields = []
        body = "\n".join(l for l in m.group(2).splitlines() if not l.strip().startswith("///"))
        for f in re.finditer(r"#\[prost\(([^\]]*)\)\]\s*pub (r#)?(\w+):\s*(.*?),\s*(?=#\[prost|$)", body, re.S):
            # rustfmt splits long generic types over lines, leaving a trailing comma inside the `<>`.
            ty = re.sub(r"\s+", "", f.group(4)).rstrip(",").replace(",>", ">")
            attr, ident = f.group(1), (f.group(2) or "") + f.group(3)
            tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
            fields.append((attr, ident, ty, tag))
        messages[m.group(1)] = fields
    return messages


def go_structs(files):
    structs = {}
    for path in files:
        text = open(path).read()
        for m in re.finditer(r"^type (\w+) struct \{\n(.*?)^\}", text, re.S | re.M):
            fields = {}
            for line in m.group(2).splitlines():
                line = line.strip()
                if line.startswith("//") or "`" not in line:
                    continue
                decl, tags = line.split("`")[0].split(), line.split("`")[1]
                pb = re.search(r'protobuf:"\w+,(\d+),', tags)
                js = re.search(r'json:"([^"]*)"', tags)
                if not pb or not js:
                    continue
                json_name, *opts = js.group(1).split(",")
                go_type = decl[-1]
                fields[int(pb.group(1))] = {
                    "json": json_name,
                    "inline": "inline" in opts,
                    "keep_zero": go_type.startswith("*") or not ("omitempty" in opts or "omitzero" in opts),
                }
            structs[m.group(1)] = fields
    return structs


def resolve(module, ty):
    """The (module, message) a Rust field type names, or None for scalars."""
    inner = re.sub(r"^(::core::option::Option|::prost::alloc::vec::Vec|::prost::alloc::boxed::Box)<(.*)>$", r"\2", ty)
    inner = re.sub(r"^::prost::alloc::collections::BTreeMap<[^,]*, ?(.*)>$", r"\1", inner)
    inner = re.sub(r"^(::prost::alloc::vec::Vec|::prost::alloc::boxed::Box)<(.*)>$", r"\2", inner)
    if inner.startswith("::") or inner in ("bool", "i32", "i64", "u32", "u64", "f32", "f64"):
        return None
    parts = inner.split("::")
    base = module.split("::")
    while parts[0] == "super":
        parts.pop(0)
        base.pop()
    return ("::".join(base + parts[:-1]), parts[-1])


def camel(ident):
    head, *rest = ident.lstrip("r#").split("_")
    return head + "".join(p.capitalize() for p in rest)


rust = {mod: rust_messages(mod) for mod in PACKAGES}


def go_lookup(module, name):
    """The Go fields of a message (k8s-pb spells acronyms as words: HttpGetAction
    for HTTPGetAction); a field the release lacks comes from the newer sources."""
    merged = {}
    for structs in (go_newer[module], go[module]):
        for go_name, fields in structs.items():
            if go_name.lower() == name.lower():
                merged.update(fields)
    return merged

go = {mod: go_structs(files) for mod, files in PACKAGES.items()}
go_newer = {mod: go_structs([f.replace(API, NEWER_API).replace(APIMACHINERY, NEWER_APIMACHINERY) for f in files]) for mod, files in PACKAGES.items()}

order, seen, queue = [], set(), list(ROOTS)
while queue:
    key = queue.pop(0)
    if key in seen or key in SPECIAL:
        continue
    seen.add(key)
    order.append(key)
    module, name = key
    for attr, ident, ty, tag in rust[module][name]:
        target = resolve(module, ty)
        if target and not attr.startswith("btree_map = \"string, string") and "bytes" not in attr:
            queue.append(target)

out = []
out.append("//! Generated by scripts/gen-protobuf-json.py from the k8s-pb crate and the Go")
out.append("//! types of k8s.io/api and k8s.io/apimachinery: do not edit by hand. For each")
out.append("//! message the served kinds reach, its Kubernetes JSON form.")
pb_version = re.search(r'^version = "([^"]*)"', open(f"{K8S_PB}/Cargo.toml").read(), re.M).group(1)
refs = [(label, os.environ.get(var)) for label, var in [
    ("k8s.io/api", "API_REF"), ("k8s.io/apimachinery", "APIMACHINERY_REF"),
    ("newer k8s.io/api", "NEWER_API_REF"), ("newer k8s.io/apimachinery", "NEWER_APIMACHINERY_REF")]]
if any(ref for _, ref in refs):
    out.append("//!")
    out.append("//! Generated from:")
    out.append(f"//! - k8s-pb {pb_version}")
    out.extend(f"//! - {label} {ref or '(not recorded)'}" for label, ref in refs)
out.append("")
out.append("use serde_json::{Map, Value};")
out.append("")
USE_LINE = len(out)
out.append("")
out.append("")
warnings = []
for module, name in sorted(order):
    go_fields = go_lookup(module, name)
    if not go_fields:
        warnings.append(f"no Go struct for {module}::{name}")
    out.append(f"impl KubeJson for k8s_pb::{module}::{name} {{")
    fields = rust[module][name]
    out.append("    fn kube_json(&self) -> Result<Value, BodyError> {")
    out.append("        let mut object = Map::new();")
    for attr, ident, ty, tag in sorted(fields, key=lambda f: f[3]):
        info = go_fields.get(tag)
        if info is None:
            warnings.append(f"{module}::{name}.{ident} (tag {tag}) has no Go field; guessing its JSON name")
            info = {"json": camel(ident), "inline": False, "keep_zero": False}
        json_name, field = info["json"], f"&self.{ident}"
        zero = "Zero::Keep" if info["keep_zero"] else "Zero::Omit"
        kind = attr if attr.startswith("btree_map") else attr.split(",")[0].strip()
        if info["inline"]:
            out.append(f"        inline(&mut object, {field})?;")
        elif kind.startswith("btree_map"):
            value_kind = re.search(r'"string, (\w+)', kind).group(1)
            helper = {"string": "string_map", "bytes": "bytes_map", "message": "message_map"}[value_kind]
            q = "?" if helper == "message_map" else ""
            out.append(f'        {helper}(&mut object, "{json_name}", {field}){q};')
        elif kind == "message":
            helper = "message_list" if "repeated" in attr else "message"
            out.append(f'        {helper}(&mut object, "{json_name}", {field})?;')
        elif kind.startswith("bytes"):
            out.append(f'        bytes(&mut object, "{json_name}", {field});')
        elif "repeated" in attr:
            out.append(f'        scalar_list(&mut object, "{json_name}", {field});')
        else:
            out.append(f'        scalar(&mut object, "{json_name}", {field}, {zero});')
    out.append("        Ok(Value::Object(object))")
    out.append("    }")
    out.append("}")
    out.append("")
helpers = ["bytes", "bytes_map", "inline", "message", "message_list", "message_map", "scalar", "scalar_list", "string_map"]
used = [h for h in helpers if any(line.strip().startswith(h + "(") for line in out)]
out[USE_LINE] = "use super::{" + ", ".join(["BodyError", "KubeJson", "Zero"] + used) + "};"
print("\n".join(out))
for w in warnings:
    print("warning:", w, file=sys.stderr)
