//! Service-account tokens end to end, on a server with
//! `--authorization-mode=RBAC`: `serviceaccounts/token` (over HTTP and as
//! `kubectl create token`), requests made with the tokens, `TokenReview`,
//! issuer discovery, and the tokens that must be refused with 401 (expired,
//! another audience, issuer or key, a deleted service account or pod).

mod support;

use std::time::Duration;

use serde_json::{Value, json};

use controlplane::serviceaccount::SigningKey;
use controlplane::serviceaccount::claims::{Binding, Claims, Ref};
use controlplane::serviceaccount::jwt;
use support::{Server, kubectl};

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// A server whose tokens live at most two hours.
async fn server() -> Server {
    Server::start_with(&[
        "--authorization-mode=RBAC",
        "--service-account-max-token-expiration=2h",
    ])
    .await
}

/// Creates namespace `ns` and service account `name` in it; its UID.
async fn service_account(server: &Server, ns: &str, name: &str) -> String {
    let (code, reply) = server
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await;
    assert!(code == 201 || code == 409, "namespace {ns}: {reply}");
    let (code, reply) = server
        .post(
            &format!("/api/v1/namespaces/{ns}/serviceaccounts"),
            &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}),
        )
        .await;
    assert_eq!(code, 201, "service account: {reply}");
    reply["metadata"]["uid"].as_str().expect("uid").to_string()
}

/// `POST .../serviceaccounts/<name>/token` as the admin.
async fn token_request(
    server: &Server,
    ns: &str,
    name: &str,
    spec: Value,
) -> (u16, Value, Vec<String>) {
    server
        .request(
            "POST",
            &format!("/api/v1/namespaces/{ns}/serviceaccounts/{name}/token"),
            Some(&json!({
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": spec,
            })),
        )
        .await
}

async fn issue(server: &Server, ns: &str, name: &str, spec: Value) -> String {
    let (code, reply, _) = token_request(server, ns, name, spec).await;
    assert_eq!(code, 201, "{reply}");
    reply["status"]["token"]
        .as_str()
        .expect("token")
        .to_string()
}

/// Who the server takes the bearer of `token` to be (401 as `None`).
async fn whoami(server: &Server, token: &str) -> Option<Value> {
    let (code, reply) = server
        .request_as(
            Some(token),
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            Some(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})),
            &[],
        )
        .await;
    match code {
        201 => Some(reply["status"]["userInfo"].clone()),
        401 => {
            assert_eq!(reply["reason"], "Unauthorized", "{reply}");
            None
        }
        other => panic!("whoami: {other} {reply}"),
    }
}

/// Polls until the token is refused (a delete reaches the token check
/// through a watch).
async fn refused_soon(server: &Server, token: &str) -> bool {
    for _ in 0..100 {
        if whoami(server, token).await.is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The server's signing key: the generated serving key in its cert dir.
fn signing_key(server: &Server) -> SigningKey {
    SigningKey::load(&server.dir.path().join("apiserver.key")).expect("the server's key")
}

#[tokio::test]
async fn a_requested_token_authenticates_as_its_service_account() {
    let server = server().await;
    let uid = service_account(&server, "ci", "builder").await;
    let (code, reply, warnings) = token_request(&server, "ci", "builder", json!({})).await;
    assert_eq!(code, 201, "{reply}");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(reply["kind"], "TokenRequest");
    assert_eq!(reply["metadata"]["name"], "builder");
    assert_eq!(reply["metadata"]["namespace"], "ci");
    assert_eq!(reply["spec"]["audiences"], json!([ISSUER]));
    assert_eq!(reply["spec"]["expirationSeconds"], 3600);
    let token = reply["status"]["token"].as_str().expect("token");
    let header: Value =
        serde_json::from_slice(&base64_url(token.split('.').next().expect("header")))
            .expect("JSON header");
    assert_eq!(header["alg"], "ES256", "the generated serving key is P-256");

    let user = whoami(&server, token).await.expect("authenticated");
    assert_eq!(user["username"], "system:serviceaccount:ci:builder");
    assert_eq!(user["uid"], uid.as_str());
    assert_eq!(
        user["groups"],
        json!([
            "system:serviceaccounts",
            "system:serviceaccounts:ci",
            "system:authenticated"
        ])
    );
    assert!(
        user["extra"]["authentication.kubernetes.io/credential-id"][0]
            .as_str()
            .is_some_and(|id| id.starts_with("JTI=")),
        "{user}"
    );

    // RBAC applies to it like to any user.
    let pods = "/api/v1/namespaces/ci/pods";
    let (code, reply) = server.request_as(Some(token), "GET", pods, None, &[]).await;
    assert_eq!(code, 403, "{reply}");
    assert_eq!(
        reply["message"],
        "pods is forbidden: User \"system:serviceaccount:ci:builder\" cannot list resource \"pods\" in API group \"\" in the namespace \"ci\""
    );
    let (code, reply) = server
        .post(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/ci/rolebindings",
            &json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "builder-view"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "ServiceAccount", "name": "builder", "namespace": "ci"}],
            }),
        )
        .await;
    assert_eq!(code, 201, "{reply}");
    let mut allowed = false;
    for _ in 0..100 {
        let (code, _) = server.request_as(Some(token), "GET", pods, None, &[]).await;
        if code == 200 {
            allowed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(allowed, "the binding never took effect");

    // Issuer discovery: readable by service accounts, and naming the key.
    let (code, config) = server
        .request_as(
            Some(token),
            "GET",
            "/.well-known/openid-configuration",
            None,
            &[],
        )
        .await;
    assert_eq!(code, 200, "{config}");
    assert_eq!(config["issuer"], ISSUER);
    assert_eq!(config["response_types_supported"], json!(["id_token"]));
    assert_eq!(config["subject_types_supported"], json!(["public"]));
    assert_eq!(
        config["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let jwks_uri = config["jwks_uri"].as_str().expect("jwks_uri");
    assert!(
        jwks_uri.starts_with("https://")
            && jwks_uri.ends_with(&format!(":{}/openid/v1/jwks", server.port)),
        "{jwks_uri}"
    );
    let response = server
        .send_with(
            "GET",
            "/openid/v1/jwks",
            None,
            "application/json",
            Some(token),
            &[],
        )
        .await
        .expect("jwks");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    let (_, jwks) = server
        .request_as(Some(token), "GET", "/openid/v1/jwks", None, &[])
        .await;
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["use"], &key["kty"], &key["crv"], &key["alg"]),
        (
            &json!("sig"),
            &json!("EC"),
            &json!("P-256"),
            &json!("ES256")
        )
    );
    assert_eq!(key["kid"], header["kid"]);
}

fn base64_url(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .expect("base64url")
}

#[tokio::test]
async fn token_requests_are_validated_bound_and_clamped() {
    let server = server().await;
    service_account(&server, "ci", "builder").await;
    service_account(&server, "ci", "other").await;

    let (code, reply, _) = server
        .request(
            "POST",
            "/api/v1/namespaces/ci/serviceaccounts/builder/token",
            Some(&json!({
                "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "metadata": {"name": "other"}, "spec": {},
            })),
        )
        .await;
    assert_eq!(code, 422, "{reply}");
    assert_eq!(
        reply["message"],
        "TokenRequest.authentication.k8s.io \"builder\" is invalid: metadata.name: Invalid value: \"other\": must match the service account name if specified"
    );
    let (code, reply, _) = token_request(&server, "ci", "missing", json!({})).await;
    assert_eq!(
        (code, reply["message"].as_str()),
        (404, Some("serviceaccounts \"missing\" not found"))
    );
    let (code, reply, _) =
        token_request(&server, "ci", "builder", json!({"expirationSeconds": 599})).await;
    assert_eq!(code, 422, "{reply}");
    assert_eq!(
        reply["message"],
        "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"
    );
    // Longer than --service-account-max-token-expiration: shortened, with a warning.
    let (code, reply, warnings) = token_request(
        &server,
        "ci",
        "builder",
        json!({"expirationSeconds": 3 * 3600}),
    )
    .await;
    assert_eq!(code, 201, "{reply}");
    assert_eq!(reply["spec"]["expirationSeconds"], 7200);
    assert_eq!(
        warnings,
        ["299 - \"requested expiration of 10800 seconds shortened to 7200 seconds\""]
    );
    let token = reply["status"]["token"].as_str().expect("token");
    let claims: Value =
        serde_json::from_slice(&base64_url(token.split('.').nth(1).expect("payload")))
            .expect("claims");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        7200
    );

    // Bound to a pod: it must run as the service account.
    let (code, pod) = server
        .post(
            "/api/v1/namespaces/ci/pods",
            &json!({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "job"},
                "spec": {"serviceAccountName": "builder", "containers": [{"name": "c", "image": "busybox"}]},
            }),
        )
        .await;
    assert_eq!(code, 201, "{pod}");
    let pod_ref = |uid: &str| json!({"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "job", "uid": uid}});
    let (code, reply, _) = token_request(&server, "ci", "other", pod_ref("")).await;
    assert_eq!(
        (code, reply["message"].as_str()),
        (
            400,
            Some(
                "cannot bind token for serviceaccount \"other\" to pod running with different serviceaccount name."
            )
        )
    );
    let (code, reply, _) = token_request(&server, "ci", "builder", pod_ref("not-its-uid")).await;
    assert_eq!(code, 409, "{reply}");
    assert_eq!(
        reply["message"],
        "Operation cannot be fulfilled on Pod \"job\": the UID in the bound object reference (not-its-uid) does not match the UID in record. The object might have been deleted and then recreated"
    );
    let (code, reply, _) = token_request(
        &server,
        "ci",
        "builder",
        json!({"boundObjectRef": {"apiVersion": "v1", "kind": "ConfigMap", "name": "x"}}),
    )
    .await;
    assert_eq!(
        (code, reply["message"].as_str()),
        (
            400,
            Some("cannot bind token to object of type /v1, Kind=ConfigMap")
        )
    );
    let pod_uid = pod["metadata"]["uid"].as_str().expect("uid");
    let bound = issue(&server, "ci", "builder", pod_ref(pod_uid)).await;
    let user = whoami(&server, &bound).await.expect("authenticated");
    assert_eq!(
        user["extra"]["authentication.kubernetes.io/pod-name"],
        json!(["job"])
    );
    assert_eq!(
        user["extra"]["authentication.kubernetes.io/pod-uid"],
        json!([pod_uid])
    );
    // The pod goes, and its token with it.
    let (code, _) = server
        .request_as(
            Some(support::TOKEN),
            "DELETE",
            "/api/v1/namespaces/ci/pods/job?gracePeriodSeconds=0",
            None,
            &[],
        )
        .await;
    assert_eq!(code, 200);
    assert!(
        refused_soon(&server, &bound).await,
        "the deleted pod's token is accepted"
    );

    // Discovery lists the subresource.
    let (_, core) = server.get("/api/v1").await;
    let token_resource = core["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["name"] == "serviceaccounts/token")
        .expect("serviceaccounts/token in discovery")
        .clone();
    assert_eq!(
        (
            &token_resource["group"],
            &token_resource["version"],
            &token_resource["kind"],
            &token_resource["verbs"]
        ),
        (
            &json!("authentication.k8s.io"),
            &json!("v1"),
            &json!("TokenRequest"),
            &json!(["create"])
        )
    );
}

#[tokio::test]
async fn refused_tokens_get_401() {
    let server = server().await;
    let uid = service_account(&server, "ci", "builder").await;
    let key = signing_key(&server);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let binding = Binding {
        namespace: "ci".into(),
        service_account: Ref {
            name: "builder".into(),
            uid: uid.clone(),
        },
        ..Binding::default()
    };
    let mint = |claims: &Claims, key: &SigningKey| jwt::sign(key, claims).expect("signed");
    let good = Claims::new(
        ISSUER,
        binding.clone(),
        vec![ISSUER.into()],
        now,
        3600,
        None,
    );
    assert!(
        whoami(&server, &mint(&good, &key)).await.is_some(),
        "a well-made token is accepted"
    );

    let mut expired = good.clone();
    expired.iat = now - 7200;
    expired.nbf = now - 7200;
    expired.exp = now - 120;
    let mut other_audience = good.clone();
    other_audience.aud = vec!["vault".into()];
    let mut other_issuer = good.clone();
    other_issuer.iss = "https://issuer.example".into();
    let mut not_yet = good.clone();
    not_yet.nbf = now + 600;
    let mut replaced = good.clone();
    replaced.kubernetes.serviceaccount.uid = "an-older-uid".into();
    let other_key = SigningKey::from_pem(
        rcgen::KeyPair::generate()
            .expect("a key")
            .serialize_pem()
            .as_bytes(),
    )
    .expect("P-256 key");
    let mut tampered = mint(&good, &key);
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    for (case, token) in [
        ("expired", mint(&expired, &key)),
        ("another audience", mint(&other_audience, &key)),
        ("another issuer", mint(&other_issuer, &key)),
        ("not yet valid", mint(&not_yet, &key)),
        ("a replaced service account", mint(&replaced, &key)),
        ("another key", mint(&good, &other_key)),
        ("a tampered signature", tampered),
        ("not a JWT", "garbage.token.here".to_string()),
    ] {
        assert!(whoami(&server, &token).await.is_none(), "{case}: accepted");
        let (code, _) = server
            .request_as(Some(&token), "GET", "/api/v1/namespaces/ci/pods", None, &[])
            .await;
        assert_eq!(code, 401, "{case}");
    }

    // A token for another audience, asked for properly, is good only there.
    let vault = issue(&server, "ci", "builder", json!({"audiences": ["vault"]})).await;
    assert!(whoami(&server, &vault).await.is_none());

    // The service account goes, and its tokens with it.
    let token = issue(&server, "ci", "builder", json!({})).await;
    assert!(whoami(&server, &token).await.is_some());
    let (code, reply) = server
        .delete("/api/v1/namespaces/ci/serviceaccounts/builder")
        .await;
    assert_eq!(code, 200, "{reply}");
    assert!(
        refused_soon(&server, &token).await,
        "the deleted service account's token is accepted"
    );
}

#[tokio::test]
async fn token_review_reports_what_a_token_proves() {
    let server = server().await;
    service_account(&server, "ci", "builder").await;
    let token = issue(&server, "ci", "builder", json!({})).await;
    let review = |token: &str, audiences: Value| {
        json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token, "audiences": audiences},
        })
    };
    let path = "/apis/authentication.k8s.io/v1/tokenreviews";
    let (code, reply) = server.post(path, &review(&token, Value::Null)).await;
    assert_eq!(code, 201, "{reply}");
    let status = &reply["status"];
    assert_eq!(status["authenticated"], true, "{reply}");
    assert_eq!(
        status["user"]["username"],
        "system:serviceaccount:ci:builder"
    );
    assert_eq!(status["audiences"], json!([ISSUER]));
    // The static token file's tokens are reviewed too.
    let (_, reply) = server
        .post(path, &review(support::TOKEN, Value::Null))
        .await;
    assert_eq!(reply["status"]["user"]["username"], "admin", "{reply}");

    let (_, reply) = server.post(path, &review(&token, json!(["vault"]))).await;
    assert_eq!(reply["status"]["authenticated"], false, "{reply}");
    assert_eq!(
        reply["status"]["error"],
        format!("token audiences [\"{ISSUER}\"] is invalid for the target audiences [\"vault\"]")
    );
    let (_, reply) = server.post(path, &review("nobody's", Value::Null)).await;
    assert_eq!(reply["status"]["authenticated"], false);
    assert_eq!(reply["status"]["error"], "invalid bearer token");
    let (code, reply) = server.post(path, &review("", Value::Null)).await;
    assert_eq!(
        (code, reply["message"].as_str()),
        (
            400,
            Some("token is required for TokenReview in authentication")
        )
    );
    // Only those allowed to review tokens may.
    let (code, _) = server
        .request_as(
            Some(&token),
            "POST",
            path,
            Some(&review(&token, Value::Null)),
            &[],
        )
        .await;
    assert_eq!(code, 403);
}

#[tokio::test]
async fn kubectl_create_token_and_use_it() {
    let server = server().await;
    service_account(&server, "ci", "builder").await;
    let output = kubectl(
        &server,
        &["create", "token", "builder", "-n", "ci", "--duration=20m"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let output = kubectl(
        &server,
        &[
            "auth",
            "whoami",
            "--token",
            &token,
            "-o",
            "jsonpath={.status.userInfo.username}",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "system:serviceaccount:ci:builder",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = kubectl(
        &server,
        &["create", "token", "builder", "-n", "ci", "--duration=5m"],
    );
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("may not specify a duration less than 10 minutes"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = kubectl(&server, &["create", "token", "nobody", "-n", "ci"]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("serviceaccounts \"nobody\" not found"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
