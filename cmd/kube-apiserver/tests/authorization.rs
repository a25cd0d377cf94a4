//! Who may do what, over HTTP and with the real kubectl, on a server with
//! `--authorization-mode=RBAC`: the default policy, a table of users ×
//! verbs × resources × namespaces with upstream's answers, path tricks that
//! must not change a decision, escalation prevention, the review APIs
//! (`kubectl auth can-i`, `auth whoami`) and impersonation (`--as`).

mod support;

use std::time::Duration;

use serde_json::{Value, json};

use support::{Server, kubectl, ok};

const ALICE: &str = "alice-token";
const BOB: &str = "bob-token";
const CAROL: &str = "carol-token";

async fn rbac_server() -> Server {
    Server::start_with(&["--authorization-mode=RBAC"]).await
}

/// Creates `body` at `path` as the admin, expecting 201.
async fn admin_create(server: &Server, path: &str, body: Value) {
    let (code, reply) = server.post(path, &body).await;
    assert_eq!(code, 201, "POST {path}: {reply}");
}

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Value {
    json!({"verbs": verbs, "apiGroups": groups, "resources": resources})
}

fn subject(kind: &str, name: &str) -> Value {
    match kind {
        "ServiceAccount" => json!({"kind": kind, "name": name, "namespace": "team-a"}),
        _ => json!({"kind": kind, "name": name, "apiGroup": "rbac.authorization.k8s.io"}),
    }
}

fn role_ref(kind: &str, name: &str) -> Value {
    json!({"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name})
}

/// The policy the matrix runs against:
/// - alice may read pods in `team-a` (Role + RoleBinding);
/// - the `dev` group (alice, carol) may read nodes (ClusterRoleBinding);
/// - bob may get the secret `app` in `team-a` only (a ClusterRole with a
///   resource name, bound in one namespace);
/// - carol may do anything to deployments in every namespace, and read
///   `pods/log` in `team-b`.
async fn setup_policy(server: &Server) {
    for namespace in ["team-a", "team-b"] {
        admin_create(
            server,
            "/api/v1/namespaces",
            json!({"metadata": {"name": namespace}}),
        )
        .await;
    }
    let rbac = "/apis/rbac.authorization.k8s.io/v1";
    admin_create(
        server,
        &format!("{rbac}/namespaces/team-a/roles"),
        json!({"metadata": {"name": "pod-reader"}, "rules": [rule(&["get", "list", "watch"], &[""], &["pods"])]}),
    )
    .await;
    admin_create(
        server,
        &format!("{rbac}/namespaces/team-a/rolebindings"),
        json!({"metadata": {"name": "alice-reads-pods"}, "roleRef": role_ref("Role", "pod-reader"), "subjects": [subject("User", "alice")]}),
    )
    .await;
    admin_create(
        server,
        &format!("{rbac}/clusterroles"),
        json!({"metadata": {"name": "node-viewer"}, "rules": [rule(&["get", "list"], &[""], &["nodes"])]}),
    )
    .await;
    admin_create(
        server,
        &format!("{rbac}/clusterrolebindings"),
        json!({"metadata": {"name": "dev-views-nodes"}, "roleRef": role_ref("ClusterRole", "node-viewer"), "subjects": [subject("Group", "dev")]}),
    )
    .await;
    let mut named = rule(&["get"], &[""], &["secrets"]);
    named["resourceNames"] = json!(["app"]);
    admin_create(
        server,
        &format!("{rbac}/clusterroles"),
        json!({"metadata": {"name": "app-secret-reader"}, "rules": [named]}),
    )
    .await;
    admin_create(
        server,
        &format!("{rbac}/namespaces/team-a/rolebindings"),
        json!({"metadata": {"name": "bob-reads-app"}, "roleRef": role_ref("ClusterRole", "app-secret-reader"), "subjects": [subject("User", "bob")]}),
    )
    .await;
    admin_create(
        server,
        &format!("{rbac}/clusterroles"),
        json!({"metadata": {"name": "deployer"}, "rules": [rule(&["*"], &["apps"], &["deployments"])]}),
    )
    .await;
    admin_create(
        server,
        &format!("{rbac}/clusterrolebindings"),
        json!({"metadata": {"name": "carol-deploys"}, "roleRef": role_ref("ClusterRole", "deployer"), "subjects": [subject("User", "carol")]}),
    )
    .await;
    admin_create(
        server,
        &format!("{rbac}/namespaces/team-b/roles"),
        json!({"metadata": {"name": "log-reader"}, "rules": [rule(&["get"], &[""], &["pods/log"])]}),
    )
    .await;
    admin_create(
        server,
        &format!("{rbac}/namespaces/team-b/rolebindings"),
        json!({"metadata": {"name": "carol-reads-logs"}, "roleRef": role_ref("Role", "log-reader"), "subjects": [subject("User", "carol")]}),
    )
    .await;
}

/// (who, method, path, allowed): allowed means "not 403" (a 404 for an
/// object that is not there still proves the request was authorized).
type Case = (Option<&'static str>, &'static str, &'static str, bool);

const MATRIX: &[Case] = &[
    // alice: pods in team-a, read only.
    (Some(ALICE), "GET", "/api/v1/namespaces/team-a/pods", true),
    (
        Some(ALICE),
        "GET",
        "/api/v1/namespaces/team-a/pods/web",
        true,
    ),
    (
        Some(ALICE),
        "GET",
        "/api/v1/namespaces/team-a/pods?watch=true&timeoutSeconds=1",
        true,
    ),
    (
        Some(ALICE),
        "DELETE",
        "/api/v1/namespaces/team-a/pods/web",
        false,
    ),
    (Some(ALICE), "POST", "/api/v1/namespaces/team-a/pods", false),
    (Some(ALICE), "GET", "/api/v1/namespaces/team-b/pods", false),
    (Some(ALICE), "GET", "/api/v1/pods", false),
    (
        Some(ALICE),
        "GET",
        "/api/v1/namespaces/team-a/pods/web/log",
        false,
    ),
    (
        Some(ALICE),
        "GET",
        "/api/v1/namespaces/team-a/configmaps",
        false,
    ),
    // ... and nodes through her group.
    (Some(ALICE), "GET", "/api/v1/nodes", true),
    (Some(ALICE), "DELETE", "/api/v1/nodes/n1", false),
    // bob: one secret by name in team-a.
    (
        Some(BOB),
        "GET",
        "/api/v1/namespaces/team-a/secrets/app",
        true,
    ),
    (
        Some(BOB),
        "GET",
        "/api/v1/namespaces/team-a/secrets/other",
        false,
    ),
    (Some(BOB), "GET", "/api/v1/namespaces/team-a/secrets", false),
    (
        Some(BOB),
        "GET",
        "/api/v1/namespaces/team-b/secrets/app",
        false,
    ),
    (Some(BOB), "GET", "/api/v1/nodes", false),
    // carol: deployments everywhere, logs in team-b, nodes through dev.
    (Some(CAROL), "GET", "/apis/apps/v1/deployments", true),
    (
        Some(CAROL),
        "DELETE",
        "/apis/apps/v1/namespaces/team-a/deployments/x",
        true,
    ),
    (
        Some(CAROL),
        "PUT",
        "/apis/apps/v1/namespaces/team-b/deployments/x/scale",
        false,
    ),
    (
        Some(CAROL),
        "GET",
        "/apis/apps/v1/namespaces/team-a/replicasets",
        false,
    ),
    (
        Some(CAROL),
        "GET",
        "/api/v1/namespaces/team-b/pods/x/log",
        true,
    ),
    (
        Some(CAROL),
        "GET",
        "/api/v1/namespaces/team-b/pods/x",
        false,
    ),
    (Some(CAROL), "GET", "/api/v1/nodes/n1", true),
    // Everyone authenticated: discovery and the public info (bootstrap policy).
    (Some(BOB), "GET", "/api", true),
    (Some(BOB), "GET", "/apis/apps/v1", true),
    (Some(BOB), "GET", "/version", true),
    (Some(BOB), "GET", "/healthz", true),
    (Some(BOB), "GET", "/metrics", false),
    // Anonymous: public info only.
    (None, "GET", "/version", true),
    (None, "GET", "/readyz", true),
    (None, "GET", "/api", false),
    (None, "GET", "/api/v1/namespaces/team-a/pods", false),
    // Path tricks aimed at team-b never reach it.
    (
        Some(ALICE),
        "GET",
        "/api/v1/namespaces/team-a/../team-b/pods",
        false,
    ),
    (
        Some(ALICE),
        "GET",
        "/api/v1/namespaces/team-a%2F..%2Fteam-b/pods",
        false,
    ),
    (
        Some(ALICE),
        "GET",
        "/api/v1/watch/namespaces/team-b/pods",
        false,
    ),
    (
        Some(ALICE),
        "GET",
        "/api/v1/watch/namespaces/team-a/pods?timeoutSeconds=1",
        true,
    ),
    (Some(ALICE), "GET", "/API/v1/namespaces/team-b/pods", false),
    (Some(ALICE), "GET", "/api/v1/namespaces/TEAM-A/pods", false),
    (Some(ALICE), "GET", "//api/v1/namespaces/team-b/pods", false),
];

#[tokio::test]
async fn users_verbs_resources_and_namespaces_decide_like_upstream() {
    let server = rbac_server().await;
    setup_policy(&server).await;
    let mut wrong = Vec::new();
    for (token, method, path, allowed) in MATRIX {
        let (code, body) = server.request_as(*token, method, path, None, &[]).await;
        let was_allowed = code != 403;
        if was_allowed != *allowed {
            wrong.push(format!(
                "{} {method} {path}: {code} {body}",
                token.unwrap_or("anonymous")
            ));
        }
        if code == 403 && !path.starts_with("/API") && *token != Some("") {
            assert_eq!(body["reason"], "Forbidden", "{method} {path}: {body}");
        }
    }
    assert!(
        wrong.is_empty(),
        "decisions unlike upstream:\n{}",
        wrong.join("\n")
    );

    // The 403 says who and what, as upstream's.
    let (code, body) = server
        .request_as(
            Some(ALICE),
            "GET",
            "/api/v1/namespaces/team-b/pods",
            None,
            &[],
        )
        .await;
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"team-b\""
    );
}

#[tokio::test]
async fn a_binding_takes_effect_and_is_withdrawn_at_once() {
    let server = rbac_server().await;
    setup_policy(&server).await;
    let path = "/api/v1/namespaces/team-a/configmaps";
    let (before, _) = server.request_as(Some(BOB), "GET", path, None, &[]).await;
    assert_eq!(before, 403);
    admin_create(
        &server,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings",
        json!({"metadata": {"name": "bob-views"}, "roleRef": role_ref("ClusterRole", "view"), "subjects": [subject("User", "bob")]}),
    )
    .await;
    // The index follows storage by watch: allowed within moments.
    let mut code = 0;
    for _ in 0..100 {
        (code, _) = server.request_as(Some(BOB), "GET", path, None, &[]).await;
        if code == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        code, 200,
        "the aggregated view role lets bob list config maps"
    );
    let (secrets, _) = server
        .request_as(
            Some(BOB),
            "GET",
            "/api/v1/namespaces/team-a/secrets",
            None,
            &[],
        )
        .await;
    assert_eq!(secrets, 403, "view does not show secrets");
    server
        .delete("/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings/bob-views")
        .await;
    for _ in 0..100 {
        (code, _) = server.request_as(Some(BOB), "GET", path, None, &[]).await;
        if code == 403 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(code, 403);
}

#[tokio::test]
async fn escalation_is_refused_without_escalate_or_bind() {
    let server = rbac_server().await;
    setup_policy(&server).await;
    let rbac = "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a";
    // alice may manage roles and bindings in team-a.
    admin_create(
        &server,
        &format!("{rbac}/roles"),
        json!({"metadata": {"name": "rbac-manager"}, "rules": [rule(&["create", "update", "get"], &["rbac.authorization.k8s.io"], &["roles", "rolebindings"])]}),
    )
    .await;
    admin_create(
        &server,
        &format!("{rbac}/rolebindings"),
        json!({"metadata": {"name": "alice-manages"}, "roleRef": role_ref("Role", "rbac-manager"), "subjects": [subject("User", "alice")]}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A role with rules she holds: fine.
    let (code, body) = server
        .request_as(
            Some(ALICE),
            "POST",
            &format!("{rbac}/roles"),
            Some(&json!({"metadata": {"name": "readers"}, "rules": [rule(&["get", "list"], &[""], &["pods"])]})),
            &[],
        )
        .await;
    assert_eq!(code, 201, "{body}");
    // More than she holds: refused with upstream's message.
    let (code, body) = server
        .request_as(
            Some(ALICE),
            "POST",
            &format!("{rbac}/roles"),
            Some(&json!({"metadata": {"name": "deleters"}, "rules": [rule(&["get", "delete"], &[""], &["pods", "secrets"])]})),
            &[],
        )
        .await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "roles.rbac.authorization.k8s.io \"deleters\" is forbidden: user \"alice\" (groups=[\"dev\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n\
         {APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}\n\
         {APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"delete\"]}"
    );
    // Widening an existing role the same way is refused too.
    let (code, _) = server
        .request_as(
            Some(ALICE),
            "PUT",
            &format!("{rbac}/roles/readers"),
            Some(
                &json!({"metadata": {"name": "readers"}, "rules": [rule(&["*"], &["*"], &["*"])]}),
            ),
            &[],
        )
        .await;
    assert_eq!(code, 403);
    // Binding herself to a role she does not hold: refused ...
    let binding = json!({"metadata": {"name": "alice-admin"}, "roleRef": role_ref("ClusterRole", "admin"), "subjects": [subject("User", "alice")]});
    let (code, body) = server
        .request_as(
            Some(ALICE),
            "POST",
            &format!("{rbac}/rolebindings"),
            Some(&binding),
            &[],
        )
        .await;
    assert_eq!(code, 403, "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with(
            "rolebindings.rbac.authorization.k8s.io \"alice-admin\" is forbidden: user \"alice\""
        ),
        "{body}"
    );
    // ... a missing role is a 404 ...
    let missing = json!({"metadata": {"name": "nothing"}, "roleRef": role_ref("Role", "nope"), "subjects": [subject("User", "bob")]});
    let (code, _) = server
        .request_as(
            Some(ALICE),
            "POST",
            &format!("{rbac}/rolebindings"),
            Some(&missing),
            &[],
        )
        .await;
    assert_eq!(code, 404);
    // ... binding a role she holds is fine ...
    let readers = json!({"metadata": {"name": "bob-reads"}, "roleRef": role_ref("Role", "readers"), "subjects": [subject("User", "bob")]});
    let (code, body) = server
        .request_as(
            Some(ALICE),
            "POST",
            &format!("{rbac}/rolebindings"),
            Some(&readers),
            &[],
        )
        .await;
    assert_eq!(code, 201, "{body}");
    // ... and `bind` on the admin role, or `escalate` on roles, lift the limit.
    admin_create(
        &server,
        &format!("{rbac}/roles"),
        json!({"metadata": {"name": "binder"}, "rules": [
            {"verbs": ["bind"], "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "resourceNames": ["admin"]},
            rule(&["escalate"], &["rbac.authorization.k8s.io"], &["roles"]),
        ]}),
    )
    .await;
    admin_create(
        &server,
        &format!("{rbac}/rolebindings"),
        json!({"metadata": {"name": "alice-binds"}, "roleRef": role_ref("Role", "binder"), "subjects": [subject("User", "alice")]}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, body) = server
        .request_as(
            Some(ALICE),
            "POST",
            &format!("{rbac}/rolebindings"),
            Some(&binding),
            &[],
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = server
        .request_as(
            Some(ALICE),
            "POST",
            &format!("{rbac}/roles"),
            Some(&json!({"metadata": {"name": "everything"}, "rules": [rule(&["*"], &["*"], &["*"])]})),
            &[],
        )
        .await;
    assert_eq!(code, 201, "{body}");
}

#[tokio::test]
async fn access_reviews_answer_for_the_caller_and_for_others() {
    let server = rbac_server().await;
    setup_policy(&server).await;
    let review = |resource: Value| json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": resource}});
    let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let (code, body) = server
        .request_as(
            Some(ALICE),
            "POST",
            path,
            Some(&review(
                json!({"verb": "list", "resource": "pods", "namespace": "team-a"}),
            )),
            &[],
        )
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["status"]["allowed"], true);
    assert_eq!(
        body["status"]["reason"],
        "RBAC: allowed by RoleBinding \"alice-reads-pods/team-a\" of Role \"pod-reader\" to User \"alice\""
    );
    let (_, body) = server
        .request_as(
            Some(ALICE),
            "POST",
            path,
            Some(&review(
                json!({"verb": "list", "resource": "pods", "namespace": "team-b"}),
            )),
            &[],
        )
        .await;
    assert_eq!(body["status"]["allowed"], false);
    // Neither attribute set: 422 as upstream.
    let (code, body) = server
        .request_as(Some(ALICE), "POST", path, Some(&json!({"spec": {}})), &[])
        .await;
    assert_eq!(code, 422, "{body}");

    // SubjectAccessReview: the admin asks about bob; bob may not ask.
    let sar = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
        "user": "bob", "resourceAttributes": {"verb": "get", "resource": "secrets", "name": "app", "namespace": "team-a"}}});
    let sar_path = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
    let (code, body) = server.post(sar_path, &sar).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["status"]["allowed"], true);
    let (code, _) = server
        .request_as(Some(BOB), "POST", sar_path, Some(&sar), &[])
        .await;
    assert_eq!(code, 403);
    let (code, body) = server
        .post(
            sar_path,
            &json!({"spec": {"resourceAttributes": {"verb": "get"}}}),
        )
        .await;
    assert_eq!(code, 422, "no user or group: {body}");

    // LocalSubjectAccessReview: the namespace must match.
    let local = |namespace: &str| json!({"spec": {"groups": ["dev"], "resourceAttributes": {"verb": "list", "resource": "nodes", "namespace": namespace}}});
    let local_path = "/apis/authorization.k8s.io/v1/namespaces/team-a/localsubjectaccessreviews";
    let (code, body) = server.post(local_path, &local("team-a")).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["status"]["allowed"], true, "{body}");
    assert_eq!(body["metadata"]["namespace"], "team-a");
    let (code, _) = server.post(local_path, &local("team-b")).await;
    assert_eq!(code, 422);

    // Reviews are created, never read.
    let (code, _) = server.get(path).await;
    assert_eq!(code, 405);
}

#[tokio::test]
async fn kubectl_auth_can_i_whoami_and_as() {
    let server = rbac_server().await;
    setup_policy(&server).await;
    let alice = |args: &[&str]| {
        let mut all = vec!["--token", ALICE];
        all.extend_from_slice(args);
        kubectl(&server, &all)
    };
    let yes = alice(&["auth", "can-i", "list", "pods", "-n", "team-a"]);
    assert_eq!(ok(yes).trim(), "yes");
    let no = alice(&["auth", "can-i", "delete", "pods", "-n", "team-a"]);
    assert!(!no.status.success());
    assert_eq!(String::from_utf8_lossy(&no.stdout).trim(), "no");
    let list = ok(alice(&["auth", "can-i", "--list", "-n", "team-a"]));
    assert!(
        list.lines()
            .any(|line| line.starts_with("pods ") && line.contains("[get list watch]")),
        "{list}"
    );
    assert!(
        list.contains("selfsubjectaccessreviews.authorization.k8s.io"),
        "system:basic-user's rules: {list}"
    );
    let whoami = ok(alice(&["auth", "whoami", "-o", "json"]));
    let whoami: Value = serde_json::from_str(&whoami).expect("whoami JSON");
    assert_eq!(whoami["status"]["userInfo"]["username"], "alice");
    assert_eq!(
        whoami["status"]["userInfo"]["groups"],
        json!(["dev", "system:authenticated"])
    );

    // The admin acting as alice sees what alice sees.
    assert_eq!(
        ok(kubectl(
            &server,
            &[
                "auth",
                "can-i",
                "list",
                "pods",
                "-n",
                "team-a",
                "--as=alice"
            ]
        ))
        .trim(),
        "yes"
    );
    let forbidden = kubectl(&server, &["get", "pods", "-n", "team-b", "--as=alice"]);
    assert!(!forbidden.status.success());
    assert!(
        String::from_utf8_lossy(&forbidden.stderr)
            .contains("User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"team-b\""),
        "{}",
        String::from_utf8_lossy(&forbidden.stderr)
    );
    let whoami = ok(kubectl(
        &server,
        &[
            "auth",
            "whoami",
            "--as=alice",
            "--as-group=ops",
            "-o",
            "json",
        ],
    ));
    let whoami: Value = serde_json::from_str(&whoami).expect("whoami JSON");
    assert_eq!(whoami["status"]["userInfo"]["username"], "alice");
    assert_eq!(
        whoami["status"]["userInfo"]["groups"],
        json!(["ops", "system:authenticated"])
    );
    // alice may not impersonate: 403, never a silent ignore.
    let refused = alice(&["get", "pods", "-n", "team-a", "--as=bob"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[tokio::test]
async fn impersonation_is_authorized_per_user_group_and_service_account() {
    let server = rbac_server().await;
    setup_policy(&server).await;
    // carol may impersonate bob and the group `ops`, nothing else.
    admin_create(
        &server,
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        json!({"metadata": {"name": "impersonate-bob"}, "rules": [
            {"verbs": ["impersonate"], "apiGroups": [""], "resources": ["users"], "resourceNames": ["bob"]},
            {"verbs": ["impersonate"], "apiGroups": [""], "resources": ["groups"], "resourceNames": ["ops"]},
        ]}),
    )
    .await;
    admin_create(
        &server,
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        json!({"metadata": {"name": "carol-impersonates"}, "roleRef": role_ref("ClusterRole", "impersonate-bob"), "subjects": [subject("User", "carol")]}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let secret = "/api/v1/namespaces/team-a/secrets/app";
    let (code, _) = server
        .request_as(
            Some(CAROL),
            "GET",
            secret,
            None,
            &[("Impersonate-User", "bob")],
        )
        .await;
    assert_eq!(
        code, 404,
        "as bob, carol may read the app secret (not there)"
    );
    let (code, _) = server
        .request_as(Some(CAROL), "GET", secret, None, &[])
        .await;
    assert_eq!(code, 403, "as herself she may not");
    let (code, body) = server
        .request_as(
            Some(CAROL),
            "GET",
            secret,
            None,
            &[("Impersonate-User", "alice")],
        )
        .await;
    assert_eq!(code, 403, "{body}");
    let (code, _) = server
        .request_as(
            Some(CAROL),
            "GET",
            secret,
            None,
            &[("Impersonate-User", "bob"), ("Impersonate-Group", "ops")],
        )
        .await;
    assert_ne!(code, 403);
    let (code, body) = server
        .request_as(
            Some(CAROL),
            "GET",
            secret,
            None,
            &[
                ("Impersonate-User", "bob"),
                ("Impersonate-Group", "system:masters"),
            ],
        )
        .await;
    assert_eq!(code, 403, "a group she may not impersonate: {body}");
    let (code, body) = server
        .request_as(
            Some(CAROL),
            "GET",
            secret,
            None,
            &[("Impersonate-User", "system:serviceaccount:team-a:builder")],
        )
        .await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "serviceaccounts \"builder\" is forbidden: User \"carol\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"team-a\""
    );
    let (code, _) = server
        .request_as(
            Some(CAROL),
            "GET",
            secret,
            None,
            &[("Impersonate-Group", "ops")],
        )
        .await;
    assert_eq!(code, 500, "a group without a user, as upstream");
}

#[tokio::test]
async fn default_policy_is_served_aggregated_and_kept_across_restarts() {
    let mut server = rbac_server().await;
    let roles = ok(kubectl(&server, &["get", "clusterroles", "-o", "name"]));
    for name in [
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:discovery",
        "system:basic-user",
        "system:public-info-viewer",
        "system:kube-controller-manager",
        "system:kube-scheduler",
        "system:node",
    ] {
        assert!(
            roles
                .lines()
                .any(|line| line == format!("clusterrole.rbac.authorization.k8s.io/{name}")),
            "{name} missing from {roles}"
        );
    }
    let (_, view) = server
        .get("/apis/rbac.authorization.k8s.io/v1/clusterroles/view")
        .await;
    let rules = view["rules"].as_array().expect("view has aggregated rules");
    assert!(
        rules.iter().any(|r| r["resources"]
            .as_array()
            .is_some_and(|rs| rs.contains(&json!("pods")))),
        "{view}"
    );
    // A role labelled to aggregate into view is added to it.
    admin_create(
        &server,
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        json!({"metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
               "rules": [rule(&["get"], &["example.com"], &["widgets"])]}),
    )
    .await;
    let mut aggregated = false;
    for _ in 0..100 {
        let (_, view) = server
            .get("/apis/rbac.authorization.k8s.io/v1/clusterroles/view")
            .await;
        if view["rules"]
            .as_array()
            .is_some_and(|rules| rules.iter().any(|r| r["resources"] == json!(["widgets"])))
        {
            aggregated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(aggregated, "view did not aggregate widgets-view");

    // A default role the operator changed and marked autoupdate=false is
    // left as it is; one merely changed gets its missing rules back.
    let path = "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:basic-user";
    let (_, mut basic) = server.get(path).await;
    basic["rules"] = json!([]);
    basic["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] =
        json!("false");
    let (code, body) = server.put(path, &basic).await;
    assert_eq!(code, 200, "{body}");
    let discovery = "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:discovery";
    let (_, mut discovery_role) = server.get(discovery).await;
    discovery_role["rules"] = json!([]);
    let (code, body) = server.put(discovery, &discovery_role).await;
    assert_eq!(code, 200, "{body}");
    server.terminate();
    server.spawn().await;
    let (_, basic) = server.get(path).await;
    assert_eq!(basic["rules"], json!([]), "{basic}");
    let (_, discovery_role) = server.get(discovery).await;
    assert!(
        discovery_role["rules"]
            .as_array()
            .is_some_and(|rules| !rules.is_empty()),
        "{discovery_role}"
    );
}

#[tokio::test]
async fn kubectl_creates_roles_and_bindings() {
    let server = rbac_server().await;
    ok(kubectl(&server, &["create", "namespace", "team-a"]));
    ok(kubectl(
        &server,
        &[
            "create",
            "role",
            "pod-reader",
            "--verb=get,list",
            "--resource=pods",
            "-n",
            "team-a",
        ],
    ));
    ok(kubectl(
        &server,
        &[
            "create",
            "rolebinding",
            "reads",
            "--role=pod-reader",
            "--user=alice",
            "--group=dev",
            "--serviceaccount=team-a:builder",
            "-n",
            "team-a",
        ],
    ));
    ok(kubectl(
        &server,
        &[
            "create",
            "clusterrole",
            "node-reader",
            "--verb=get",
            "--resource=nodes",
        ],
    ));
    ok(kubectl(
        &server,
        &[
            "create",
            "clusterrolebinding",
            "reads-nodes",
            "--clusterrole=node-reader",
            "--user=bob",
        ],
    ));
    let wide = ok(kubectl(
        &server,
        &["get", "rolebindings", "-n", "team-a", "-o", "wide"],
    ));
    let header: Vec<&str> = wide
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    );
    assert!(wide.contains("Role/pod-reader"), "{wide}");
    assert!(wide.contains("team-a/builder"), "{wide}");
    let roles = ok(kubectl(&server, &["get", "roles", "-n", "team-a"]));
    assert!(roles.starts_with("NAME"), "{roles}");
    assert!(
        roles.contains("CREATED AT") && roles.contains("pod-reader"),
        "{roles}"
    );
    let described = ok(kubectl(
        &server,
        &["describe", "clusterrolebinding", "reads-nodes"],
    ));
    assert!(
        described.contains("ClusterRole") && described.contains("bob"),
        "{described}"
    );
    // The binding is in force for alice at once.
    let mut answer = String::new();
    for _ in 0..50 {
        answer = String::from_utf8_lossy(
            &kubectl(
                &server,
                &[
                    "auth",
                    "can-i",
                    "list",
                    "pods",
                    "-n",
                    "team-a",
                    "--as=alice",
                ],
            )
            .stdout,
        )
        .trim()
        .to_string();
        if answer == "yes" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answer, "yes");
    // An invalid role reference is refused by validation.
    let bad = kubectl(
        &server,
        &[
            "create",
            "clusterrolebinding",
            "bad",
            "--clusterrole=",
            "--user=bob",
        ],
    );
    assert!(!bad.status.success());
}

#[tokio::test]
async fn kubeadm_node_and_rbac_modes_keep_a_node_to_its_own_pods() {
    const NODE: &str = "node-a-token";
    let server = Server::start_with(&["--authorization-mode=Node,RBAC"]).await;
    for name in ["tls", "other"] {
        admin_create(
            &server,
            "/api/v1/namespaces/default/secrets",
            json!({"metadata": {"name": name}, "stringData": {"k": "v"}}),
        )
        .await;
    }
    for (name, node, secret) in [("on-a", "node-a", "tls"), ("on-b", "node-b", "other")] {
        admin_create(
            &server,
            "/api/v1/namespaces/default/pods",
            json!({"metadata": {"name": name}, "spec": {"nodeName": node,
                "containers": [{"name": "c", "image": "nginx:1.27"}],
                "volumes": [{"name": "s", "secret": {"secretName": secret}}]}}),
        )
        .await;
    }
    for name in ["node-a", "node-b"] {
        admin_create(
            &server,
            "/api/v1/nodes",
            json!({"metadata": {"name": name}}),
        )
        .await;
    }
    // The graph follows the pods by watch: the first answer may lag.
    let mut code = 0;
    for _ in 0..100 {
        (code, _) = server
            .request_as(
                Some(NODE),
                "GET",
                "/api/v1/namespaces/default/secrets/tls",
                None,
                &[],
            )
            .await;
        if code == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(code, 200, "node-a reads the secret its pod mounts");
    let cases: &[(&str, &str, u16)] = &[
        ("GET", "/api/v1/namespaces/default/secrets/other", 403),
        ("GET", "/api/v1/namespaces/default/secrets", 403),
        ("DELETE", "/api/v1/namespaces/default/secrets/tls", 403),
        ("GET", "/api/v1/namespaces/default/pods/on-a", 200),
        ("GET", "/api/v1/namespaces/default/pods/on-b", 403),
        ("GET", "/api/v1/nodes/node-a", 200),
        ("GET", "/api/v1/nodes/node-b", 403),
        ("GET", "/apis/apps/v1/namespaces/default/deployments", 403),
        ("GET", "/api/v1/namespaces/default/configmaps", 403),
    ];
    for (method, path, expected) in cases {
        let (code, body) = server.request_as(Some(NODE), method, path, None, &[]).await;
        assert_eq!(code, *expected, "{method} {path}: {body}");
    }
    // RBAC still answers for everyone else in the same chain.
    let (code, _) = server
        .request_as(
            Some(ALICE),
            "GET",
            "/api/v1/namespaces/default/secrets/tls",
            None,
            &[],
        )
        .await;
    assert_eq!(code, 403);
    let (code, _) = server
        .request_as(Some(ALICE), "GET", "/api", None, &[])
        .await;
    assert_eq!(code, 200, "system:discovery through RBAC");
}
