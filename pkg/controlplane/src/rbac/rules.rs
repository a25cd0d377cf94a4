//! Policy rules (upstream's `rbacv1helpers` matchers and
//! `pkg/registry/rbac/validation`'s comparator): whether a rule allows a
//! request, whether one set of rules covers another, and the compact text
//! a refused grant names.

use std::collections::BTreeSet;

use k8s_openapi::api::rbac::v1::PolicyRule;

use apimachinery::validation::go_string::quote;
use apiserver::authorization::Attributes;

/// `*`: every verb, group, resource or URL.
const ALL: &str = "*";

/// An optional list of a rule or subject, empty when unset.
pub(crate) fn list(field: &Option<Vec<String>>) -> &[String] {
    field.as_deref().unwrap_or_default()
}

fn has(set: &[String], wanted: &str) -> bool {
    set.iter().any(|item| item == wanted)
}

/// `RuleAllows`: the verb, group, resource (with subresource) and name of a
/// resource request, or the verb and path of a non-resource one.
pub fn rule_allows(attributes: &Attributes<'_>, rule: &PolicyRule) -> bool {
    let verb_matches = has(&rule.verbs, ALL) || has(&rule.verbs, attributes.verb);
    if !verb_matches {
        return false;
    }
    if attributes.resource_request {
        let groups = list(&rule.api_groups);
        let group_matches = has(groups, ALL) || has(groups, attributes.api_group);
        group_matches
            && resource_matches(rule, attributes.resource, attributes.subresource)
            && resource_name_matches(rule, attributes.name)
    } else {
        list(&rule.non_resource_urls)
            .iter()
            .any(|url| non_resource_url_covers(url, attributes.path))
    }
}

/// `ResourceMatches`: `*`, the exact `resource[/subresource]`, or
/// `*/subresource` for a subresource of any resource.
fn resource_matches(rule: &PolicyRule, resource: &str, subresource: &str) -> bool {
    list(&rule.resources).iter().any(|candidate| {
        if candidate == ALL {
            return true;
        }
        if subresource.is_empty() {
            return candidate == resource;
        }
        candidate
            .strip_prefix(resource)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| rest == subresource)
            || candidate
                .strip_prefix("*/")
                .is_some_and(|rest| rest == subresource)
    })
}

/// `ResourceNameMatches`: no names in the rule means every name.
fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    let names = list(&rule.resource_names);
    names.is_empty() || has(names, name)
}

/// A rule URL covers a path when equal, or when it ends in `*` and the
/// path starts with what precedes the `*`.
fn non_resource_url_covers(owner: &str, path: &str) -> bool {
    owner == path
        || owner
            .strip_suffix(ALL)
            .is_some_and(|prefix| path.starts_with(prefix.trim_end_matches('*')))
}

/// `Covers`: the parts of `servant` (broken down to one verb, group,
/// resource and name, or one verb and URL) that no rule of `owner` covers.
/// Empty: `owner` may grant `servant`.
pub fn uncovered(owner: &[PolicyRule], servant: &[PolicyRule]) -> Vec<PolicyRule> {
    servant
        .iter()
        .flat_map(break_down)
        .filter(|part| !owner.iter().any(|rule| rule_covers(rule, part)))
        .collect()
}

/// `breakdownRule`.
fn break_down(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |value: &String| Some(vec![value.clone()]);
    let mut parts = Vec::new();
    for group in list(&rule.api_groups) {
        for resource in list(&rule.resources) {
            for verb in &rule.verbs {
                let names = list(&rule.resource_names);
                let names: Vec<Option<&String>> = if names.is_empty() {
                    vec![None]
                } else {
                    names.iter().map(Some).collect()
                };
                for name in names {
                    parts.push(PolicyRule {
                        api_groups: one(group),
                        resources: one(resource),
                        verbs: vec![verb.clone()],
                        resource_names: name.and_then(one),
                        non_resource_urls: None,
                    });
                }
            }
        }
    }
    for url in list(&rule.non_resource_urls) {
        for verb in &rule.verbs {
            parts.push(PolicyRule {
                non_resource_urls: one(url),
                verbs: vec![verb.clone()],
                ..PolicyRule::default()
            });
        }
    }
    parts
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|item| has(set, item))
}

/// `ruleCovers`: `part` has at most one verb, group, resource, name or URL.
fn rule_covers(owner: &PolicyRule, part: &PolicyRule) -> bool {
    let covers = |owned: &[String], wanted: &[String]| has(owned, ALL) || has_all(owned, wanted);
    let owner_names = list(&owner.resource_names);
    let names_match = owner_names.is_empty()
        || (!list(&part.resource_names).is_empty()
            && has_all(owner_names, list(&part.resource_names)));
    covers(&owner.verbs, &part.verbs)
        && covers(list(&owner.api_groups), list(&part.api_groups))
        && covers(list(&owner.resources), list(&part.resources))
        && names_match
        && list(&part.non_resource_urls).iter().all(|url| {
            list(&owner.non_resource_urls)
                .iter()
                .any(|owned| non_resource_url_covers(owned, url))
        })
}

/// `CompactRules`: rules of one group and one resource without names are
/// merged into one rule with all their verbs, in order.
pub fn compact(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut out: Vec<PolicyRule> = Vec::new();
    let simple = |rule: &PolicyRule| {
        list(&rule.api_groups).len() == 1
            && list(&rule.resources).len() == 1
            && list(&rule.resource_names).is_empty()
            && list(&rule.non_resource_urls).is_empty()
    };
    for rule in rules {
        if simple(&rule)
            && let Some(merged) = out.iter_mut().find(|seen| {
                simple(seen)
                    && seen.api_groups == rule.api_groups
                    && seen.resources == rule.resources
            })
        {
            for verb in rule.verbs {
                if !has(&merged.verbs, &verb) {
                    merged.verbs.push(verb);
                }
            }
            continue;
        }
        out.push(rule);
    }
    out
}

/// `CompactString`: `{APIGroups:["apps"], Resources:["deployments"], Verbs:["get" "list"]}`,
/// fields present only when non-empty.
pub fn compact_string(rule: &PolicyRule) -> String {
    let quoted = |items: &[String]| {
        items
            .iter()
            .map(|item| quote(item))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut fields = Vec::new();
    for (name, items) in [
        ("APIGroups", list(&rule.api_groups)),
        ("Resources", list(&rule.resources)),
        ("ResourceNames", list(&rule.resource_names)),
        ("NonResourceURLs", list(&rule.non_resource_urls)),
        ("Verbs", rule.verbs.as_slice()),
    ] {
        if !items.is_empty() {
            fields.push(format!("{name}:[{}]", quoted(items)));
        }
    }
    format!("{{{}}}", fields.join(", "))
}

/// The missing rules of a refused grant, compacted, one per line, sorted
/// (the text upstream's `ConfirmNoEscalation` prints).
pub fn describe_missing(missing: Vec<PolicyRule>) -> String {
    compact(missing)
        .iter()
        .map(compact_string)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use apiserver::authentication::UserInfo;

    fn strings(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: strings(groups),
            resources: strings(resources),
            ..PolicyRule::default()
        }
    }

    fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            non_resource_urls: strings(urls),
            ..PolicyRule::default()
        }
    }

    fn resource<'a>(
        user: &'a UserInfo,
        verb: &'a str,
        group: &'a str,
        resource: &'a str,
        subresource: &'a str,
        name: &'a str,
    ) -> Attributes<'a> {
        Attributes {
            user,
            verb,
            resource_request: true,
            api_group: group,
            api_version: "v1",
            resource,
            subresource,
            namespace: "ns",
            name,
            path: "",
        }
    }

    #[test]
    fn resource_rules_match_like_upstream() {
        let user = UserInfo::default();
        let pods = rule(&["get", "list"], &[""], &["pods"]);
        assert!(rule_allows(
            &resource(&user, "get", "", "pods", "", "a"),
            &pods
        ));
        assert!(!rule_allows(
            &resource(&user, "delete", "", "pods", "", "a"),
            &pods
        ));
        assert!(!rule_allows(
            &resource(&user, "get", "apps", "pods", "", "a"),
            &pods
        ));
        // A subresource needs its own entry.
        assert!(!rule_allows(
            &resource(&user, "get", "", "pods", "log", "a"),
            &pods
        ));
        let logs = rule(&["get"], &[""], &["pods/log"]);
        assert!(rule_allows(
            &resource(&user, "get", "", "pods", "log", "a"),
            &logs
        ));
        assert!(!rule_allows(
            &resource(&user, "get", "", "pods", "", "a"),
            &logs
        ));
        let any_status = rule(&["update"], &["*"], &["*/status"]);
        assert!(rule_allows(
            &resource(&user, "update", "apps", "deployments", "status", ""),
            &any_status
        ));
        assert!(!rule_allows(
            &resource(&user, "update", "apps", "deployments", "scale", ""),
            &any_status
        ));
        let everything = rule(&["*"], &["*"], &["*"]);
        assert!(rule_allows(
            &resource(
                &user,
                "escalate",
                "rbac.authorization.k8s.io",
                "roles",
                "",
                "x"
            ),
            &everything
        ));
        let mut named = rule(&["get"], &[""], &["configmaps"]);
        named.resource_names = strings(&["cfg"]);
        assert!(rule_allows(
            &resource(&user, "get", "", "configmaps", "", "cfg"),
            &named
        ));
        assert!(!rule_allows(
            &resource(&user, "get", "", "configmaps", "", "other"),
            &named
        ));
        // A list has no name: a named rule does not allow it.
        assert!(!rule_allows(
            &resource(&user, "get", "", "configmaps", "", ""),
            &named
        ));
    }

    #[test]
    fn non_resource_rules_match_paths_and_prefixes() {
        let user = UserInfo::default();
        let attrs = |verb, path| Attributes {
            user: &user,
            verb,
            resource_request: false,
            api_group: "",
            api_version: "",
            resource: "",
            subresource: "",
            namespace: "",
            name: "",
            path,
        };
        let health = url_rule(&["get"], &["/healthz", "/apis/*"]);
        assert!(rule_allows(&attrs("get", "/healthz"), &health));
        assert!(!rule_allows(&attrs("get", "/healthz/etcd"), &health));
        assert!(rule_allows(&attrs("get", "/apis/apps/v1"), &health));
        assert!(!rule_allows(&attrs("post", "/healthz"), &health));
        // A resource rule never allows a path.
        assert!(!rule_allows(
            &attrs("get", "/api"),
            &rule(&["*"], &["*"], &["*"])
        ));
    }

    #[test]
    fn coverage_breaks_rules_down() {
        let owner = vec![
            rule(&["get", "list"], &[""], &["pods", "services"]),
            url_rule(&["get"], &["/metrics*"]),
        ];
        assert!(uncovered(&owner, &[rule(&["get"], &[""], &["pods"])]).is_empty());
        assert!(uncovered(&owner, &[url_rule(&["get"], &["/metrics/slis"])]).is_empty());
        let missing = uncovered(
            &owner,
            &[rule(&["get", "create", "delete"], &["", "apps"], &["pods"])],
        );
        assert_eq!(missing.len(), 5, "{missing:?}");
        assert_eq!(
            describe_missing(missing),
            "{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"create\" \"delete\"]}\n\
             {APIGroups:[\"apps\"], Resources:[\"pods\"], Verbs:[\"get\" \"create\" \"delete\"]}"
        );
        // A named owner rule covers only those names, never all.
        let mut named = rule(&["get"], &[""], &["secrets"]);
        named.resource_names = strings(&["a"]);
        assert!(!uncovered(&[named.clone()], &[rule(&["get"], &[""], &["secrets"])]).is_empty());
        let mut wanted = rule(&["get"], &[""], &["secrets"]);
        wanted.resource_names = strings(&["a"]);
        assert!(uncovered(&[named], &[wanted]).is_empty());
        // Wildcards cover everything of their field.
        assert!(
            uncovered(
                &[rule(&["*"], &["*"], &["*"])],
                &[rule(&["escalate"], &["x"], &["y"])]
            )
            .is_empty()
        );
    }
}
