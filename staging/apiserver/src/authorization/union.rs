//! The authorizer chain and the built-in members that need no data:
//! upstream's `union`, the privileged-group authorizer, AlwaysAllow and
//! AlwaysDeny.

use std::sync::Arc;

use super::{Attributes, Authorizer, NonResourceRule, ResourceRule, Rules, Verdict};
use crate::authentication::{PRIVILEGED_GROUP, UserInfo};

/// Authorizers asked in order (`union.New`): the first Allow or Deny
/// answers; when all have no opinion, their reasons are joined.
#[derive(Clone, Default)]
pub struct Union {
    members: Vec<Arc<dyn Authorizer>>,
}

impl Union {
    pub fn new(members: Vec<Arc<dyn Authorizer>>) -> Self {
        Union { members }
    }
}

impl std::fmt::Debug for Union {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Union")
            .field("members", &self.members.len())
            .finish()
    }
}

impl Authorizer for Union {
    fn authorize(&self, attributes: &Attributes<'_>) -> Verdict {
        let mut reasons = Vec::new();
        for member in &self.members {
            let verdict = member.authorize(attributes);
            if verdict.decision != super::Decision::NoOpinion {
                return verdict;
            }
            if !verdict.reason.is_empty() {
                reasons.push(verdict.reason);
            }
        }
        Verdict::no_opinion(reasons.join("\n"))
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        let mut all = Rules::default();
        for member in &self.members {
            let rules = member.rules_for(user, namespace);
            all.resource_rules.extend(rules.resource_rules);
            all.non_resource_rules.extend(rules.non_resource_rules);
            all.incomplete |= rules.incomplete;
            all.errors.extend(rules.errors);
        }
        all
    }
}

/// Members of these groups may do everything, whatever the modes say
/// (upstream puts `system:masters` first in every chain).
#[derive(Debug, Clone)]
pub struct PrivilegedGroups(pub Vec<String>);

impl Default for PrivilegedGroups {
    fn default() -> Self {
        PrivilegedGroups(vec![PRIVILEGED_GROUP.to_string()])
    }
}

impl Authorizer for PrivilegedGroups {
    fn authorize(&self, attributes: &Attributes<'_>) -> Verdict {
        if attributes
            .user
            .groups
            .iter()
            .any(|group| self.0.contains(group))
        {
            Verdict::allow("")
        } else {
            Verdict::no_opinion("")
        }
    }

    /// Upstream's privileged-group authorizer lists no rules: a
    /// `system:masters` user's rules come from its bindings.
    fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> Rules {
        Rules::default()
    }
}

/// `--authorization-mode=AlwaysAllow`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysAllow;

impl Authorizer for AlwaysAllow {
    fn authorize(&self, _attributes: &Attributes<'_>) -> Verdict {
        Verdict::allow("")
    }

    fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> Rules {
        let all = || vec!["*".to_string()];
        Rules {
            resource_rules: vec![ResourceRule {
                verbs: all(),
                api_groups: all(),
                resources: all(),
                resource_names: Vec::new(),
            }],
            non_resource_rules: vec![NonResourceRule {
                verbs: all(),
                non_resource_urls: all(),
            }],
            incomplete: false,
            errors: Vec::new(),
        }
    }
}

/// `--authorization-mode=AlwaysDeny`.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysDeny;

impl Authorizer for AlwaysDeny {
    fn authorize(&self, _attributes: &Attributes<'_>) -> Verdict {
        Verdict::deny("Everything is forbidden.")
    }

    fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> Rules {
        Rules::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization::Decision;
    use crate::request_info::RequestInfo;
    use http::Method;

    /// Says `verdict` to everything, and lists one rule named after it.
    struct Fixed(Verdict);

    impl Authorizer for Fixed {
        fn authorize(&self, _: &Attributes<'_>) -> Verdict {
            self.0.clone()
        }
        fn rules_for(&self, _: &UserInfo, _: &str) -> Rules {
            Rules {
                non_resource_rules: vec![NonResourceRule {
                    verbs: vec![self.0.reason.clone()],
                    non_resource_urls: vec![],
                }],
                incomplete: true,
                ..Rules::default()
            }
        }
    }

    fn chain(members: Vec<Verdict>) -> Union {
        let mut all: Vec<Arc<dyn Authorizer>> = vec![Arc::new(PrivilegedGroups::default())];
        all.extend(
            members
                .into_iter()
                .map(|v| Arc::new(Fixed(v)) as Arc<dyn Authorizer>),
        );
        Union::new(all)
    }

    fn decide(union: &Union, groups: &[&str]) -> Verdict {
        let user = UserInfo {
            name: "alice".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..UserInfo::default()
        };
        let info = RequestInfo::new(&Method::GET, "/api/v1/namespaces/a/pods", None);
        union.authorize(&Attributes::of_request(&user, &info))
    }

    #[test]
    fn first_decision_wins_and_no_opinions_pass_on() {
        let union = chain(vec![
            Verdict::no_opinion("first has none"),
            Verdict::deny("second denies"),
            Verdict::allow("third allows"),
        ]);
        assert_eq!(decide(&union, &[]), Verdict::deny("second denies"));
        let union = chain(vec![
            Verdict::no_opinion("a"),
            Verdict::allow("b"),
            Verdict::deny("c"),
        ]);
        assert_eq!(decide(&union, &[]), Verdict::allow("b"));
        let union = chain(vec![Verdict::no_opinion("a"), Verdict::no_opinion("b")]);
        assert_eq!(decide(&union, &[]), Verdict::no_opinion("a\nb"));
    }

    #[test]
    fn masters_are_allowed_before_any_mode() {
        let union = Union::new(vec![
            Arc::new(PrivilegedGroups::default()),
            Arc::new(AlwaysDeny),
        ]);
        assert_eq!(
            decide(&union, &[PRIVILEGED_GROUP]).decision,
            Decision::Allow
        );
        assert_eq!(
            decide(&union, &["system:authenticated"]),
            Verdict::deny("Everything is forbidden.")
        );
    }

    #[test]
    fn rules_are_gathered_from_every_member() {
        let union = chain(vec![Verdict::no_opinion("x"), Verdict::deny("y")]);
        let rules = union.rules_for(&UserInfo::default(), "a");
        let verbs: Vec<_> = rules
            .non_resource_rules
            .iter()
            .map(|r| r.verbs[0].as_str())
            .collect();
        assert_eq!(verbs, ["x", "y"]);
        assert!(rules.incomplete);
        let allow = AlwaysAllow.rules_for(&UserInfo::default(), "");
        assert_eq!(allow.resource_rules[0].resources, ["*"]);
        assert!(
            AlwaysDeny
                .rules_for(&UserInfo::default(), "")
                .resource_rules
                .is_empty()
        );
    }
}
