//! The audit policy (`audit.k8s.io/v1` `Policy`): ordered rules, the first
//! that matches a request gives its level; no match means `None`.

use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::authentication::UserInfo;
use crate::request_info::RequestInfo;

/// The stage this server records events at.
const RESPONSE_COMPLETE: &str = "ResponseComplete";

/// How much of a request is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Default)]
pub enum Level {
    #[default]
    None,
    Metadata,
    Request,
    RequestResponse,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
    #[serde(default)]
    pub omit_stages: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    pub level: Level,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub user_groups: Vec<String>,
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default)]
    pub resources: Vec<GroupResources>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
    #[serde(default)]
    pub omit_stages: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct GroupResources {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
}

impl Policy {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --audit-policy-file {}", path.display()))?;
        Self::parse(&text)
            .with_context(|| format!("parsing --audit-policy-file {}", path.display()))
    }

    /// Parses a YAML (or JSON) policy document.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let policy: Policy = serde_yaml_ng::from_str(text)?;
        if !policy.kind.is_empty() && policy.kind != "Policy" {
            bail!("kind {:?} is not Policy", policy.kind);
        }
        if !policy.api_version.is_empty() && !policy.api_version.starts_with("audit.k8s.io/") {
            bail!("apiVersion {:?} is not audit.k8s.io", policy.api_version);
        }
        if policy.rules.is_empty() {
            bail!("the policy has no rules");
        }
        Ok(policy)
    }

    /// The level of the first rule matching the request; `None` also when
    /// the `ResponseComplete` stage (the one this server writes) is omitted.
    pub fn level_for(&self, user: &UserInfo, request: &RequestInfo) -> Level {
        let Some(rule) = self.rules.iter().find(|rule| rule.matches(user, request)) else {
            return Level::None;
        };
        let omitted = |stages: &[String]| stages.iter().any(|s| s == RESPONSE_COMPLETE);
        if omitted(&self.omit_stages) || omitted(&rule.omit_stages) {
            return Level::None;
        }
        rule.level
    }
}

impl PolicyRule {
    fn matches(&self, user: &UserInfo, request: &RequestInfo) -> bool {
        if !self.users.is_empty() && !self.users.contains(&user.name) {
            return false;
        }
        if !self.user_groups.is_empty() && !self.user_groups.iter().any(|g| user.groups.contains(g))
        {
            return false;
        }
        if !self.verbs.is_empty() && !self.verbs.contains(&request.verb) {
            return false;
        }
        if request.is_resource_request {
            if !self.non_resource_urls.is_empty()
                && self.resources.is_empty()
                && self.namespaces.is_empty()
            {
                return false;
            }
            if !self.namespaces.is_empty() && !self.namespaces.contains(&request.namespace) {
                return false;
            }
            if !self.resources.is_empty() && !self.resources.iter().any(|gr| gr.matches(request)) {
                return false;
            }
            true
        } else {
            if !self.resources.is_empty() || !self.namespaces.is_empty() {
                return false;
            }
            self.non_resource_urls.is_empty()
                || self
                    .non_resource_urls
                    .iter()
                    .any(|pattern| match pattern.strip_suffix('*') {
                        Some(prefix) => request.path.starts_with(prefix),
                        None => *pattern == request.path,
                    })
        }
    }
}

impl GroupResources {
    fn matches(&self, request: &RequestInfo) -> bool {
        if self.group != request.api_group {
            return false;
        }
        let full = if request.subresource.is_empty() {
            request.resource.clone()
        } else {
            format!("{}/{}", request.resource, request.subresource)
        };
        let resource_ok = self.resources.is_empty()
            || self.resources.iter().any(|r| {
                *r == full
                    || *r == "*"
                    || *r == format!("{}/*", request.resource)
                    || (*r == format!("*/{}", request.subresource)
                        && !request.subresource.is_empty())
            });
        let name_ok = self.resource_names.is_empty() || self.resource_names.contains(&request.name);
        resource_ok && name_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    const POLICY: &str = r#"
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["pods"]
  - level: Request
    users: ["alice"]
  - level: RequestResponse
    users: ["quiet"]
    omitStages: ["ResponseComplete"]
  - level: Metadata
"#;

    #[test]
    fn first_matching_rule_wins() {
        let policy = Policy::parse(POLICY).unwrap();
        let anyone = UserInfo {
            name: "bob".into(),
            ..UserInfo::default()
        };
        let alice = UserInfo {
            name: "alice".into(),
            ..UserInfo::default()
        };
        let get = |path: &str| RequestInfo::new(&Method::GET, path, None);
        assert_eq!(policy.level_for(&anyone, &get("/healthz")), Level::None);
        assert_eq!(policy.level_for(&anyone, &get("/readyz/ping")), Level::None);
        assert_eq!(
            policy.level_for(&anyone, &get("/api/v1/namespaces/a/pods")),
            Level::RequestResponse
        );
        assert_eq!(policy.level_for(&alice, &get("/version")), Level::Request);
        assert_eq!(policy.level_for(&anyone, &get("/version")), Level::Metadata);
        let quiet = UserInfo {
            name: "quiet".into(),
            ..UserInfo::default()
        };
        assert_eq!(policy.level_for(&quiet, &get("/version")), Level::None);
    }

    #[test]
    fn rejects_bad_documents() {
        assert!(Policy::parse("kind: Pod\nrules: [{level: None}]").is_err());
        assert!(Policy::parse("rules: [{level: Everything}]").is_err());
        assert!(Policy::parse("rules: []").is_err());
    }
}
