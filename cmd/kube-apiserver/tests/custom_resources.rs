//! CustomResourceDefinitions and their custom resources, with the real
//! kubectl and over HTTP: a definition applied is served at once
//! (discovery, routes), objects are defaulted, pruned and validated by its
//! schema, printed with its columns, scaled and given status through its
//! subresources, and deleted with their definition.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use support::{Server, failed, file, kubectl, ok};

const WIDGETS: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wg]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    selectableFields:
    - jsonPath: .spec.color
    - jsonPath: .spec.size
    additionalPrinterColumns:
    - name: Size
      type: integer
      jsonPath: .spec.size
    - name: Color
      type: string
      jsonPath: .spec.color
    - name: Ready
      type: string
      jsonPath: .status.conditions[?(@.type=="Ready")].status
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the widget is.
            x-kubernetes-validations:
            - rule: "!has(self.replicas) || self.replicas <= self.size * 2"
              message: replicas may be at most twice the size
            required: [size]
            properties:
              size: {type: integer, minimum: 1, maximum: 10, description: How big the widget is.}
              color:
                type: string
                enum: [red, blue]
                default: red
                x-kubernetes-validations:
                - {rule: "self == oldSelf || oldSelf == 'red'", message: a blue widget stays blue}
              replicas: {type: integer}
              parts:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    count: {type: integer}
          status:
            type: object
            properties:
              replicas: {type: integer}
              conditions:
                type: array
                items:
                  type: object
                  properties:
                    type: {type: string}
                    status: {type: string}
"#;

/// The definition of `widgets.example.com` applied, and established.
fn apply_widgets(server: &Server) {
    let crd = file(server, "widgets-crd.yaml", WIDGETS);
    ok(kubectl(server, &["apply", "-f", crd.to_str().unwrap()]));
    ok(kubectl(
        server,
        &[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.com",
            "--timeout=30s",
        ],
    ));
}

#[tokio::test]
async fn kubectl_applies_a_definition_then_its_objects() {
    let server = Server::start().await;
    let started = Instant::now();
    apply_widgets(&server);
    eprintln!(
        "definition applied and established in {:?}",
        started.elapsed()
    );

    let resources = ok(kubectl(
        &server,
        &["api-resources", "--api-group=example.com"],
    ));
    assert!(
        resources.contains("widgets") && resources.contains("wg") && resources.contains("Widget"),
        "{resources}"
    );
    let crds = ok(kubectl(&server, &["get", "crds"]));
    assert!(crds.contains("widgets.example.com"), "{crds}");
    // The OpenAPI v3 document of example.com/v1, at once.
    let explained = ok(kubectl(&server, &["explain", "widgets.spec"]));
    assert!(
        explained.contains("KIND:       Widget")
            && explained.contains("What the widget is.")
            && explained.contains("size\t<integer> -required-")
            && explained.contains("How big the widget is."),
        "{explained}"
    );

    let widget = file(
        &server,
        "widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: small\n  labels: {size: small}\nspec:\n  size: 2\n",
    );
    ok(kubectl(&server, &["apply", "-f", widget.to_str().unwrap()]));
    // Defaulted from the schema.
    let color = ok(kubectl(
        &server,
        &["get", "wg", "small", "-o", "jsonpath={.spec.color}"],
    ));
    assert_eq!(color, "red");

    // A field the schema does not declare: a warning, and pruned.
    let extra = file(
        &server,
        "extra.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: large\nspec:\n  size: 9\n  color: blue\n  bogus: 1\n",
    );
    let output = kubectl(
        &server,
        &["apply", "--validate=warn", "-f", extra.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    ok(output);
    assert!(stderr.contains(r#"unknown field "spec.bogus""#), "{stderr}");
    let large = ok(kubectl(&server, &["get", "widget", "large", "-o", "json"]));
    let large: Value = serde_json::from_str(&large).unwrap();
    assert_eq!(large["spec"], json!({"size": 9, "color": "blue"}));

    // Strict validation (kubectl's default) refuses it.
    let strict = file(
        &server,
        "strict.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: strict\nspec:\n  size: 1\n  bogus: 1\n",
    );
    let stderr = failed(kubectl(&server, &["apply", "-f", strict.to_str().unwrap()]));
    assert!(stderr.contains(r#"unknown field "spec.bogus""#), "{stderr}");

    // The schema's rules, with kube-openapi's messages.
    let bad = file(
        &server,
        "bad.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: bad\nspec:\n  size: 11\n  color: green\n",
    );
    let stderr = failed(kubectl(&server, &["apply", "-f", bad.to_str().unwrap()]));
    assert!(
        stderr.contains(
            "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10"
        ) && stderr
            .contains(r#"spec.color: Unsupported value: "green": supported values: "red", "blue""#),
        "{stderr}"
    );

    // The printer columns.
    let table = ok(kubectl(&server, &["get", "widgets"]));
    let header = table.lines().next().unwrap_or_default();
    for column in ["NAME", "SIZE", "COLOR", "READY"] {
        assert!(header.contains(column), "{table}");
    }
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("small") && line.contains(" 2 ") && line.contains("red")),
        "{table}"
    );
    let selected = ok(kubectl(
        &server,
        &["get", "widgets", "-l", "size=small", "-o", "name"],
    ));
    assert_eq!(selected.trim(), "widget.example.com/small");
    // selectableFields: a field selector on the definition's fields.
    for (selector, expected) in [
        ("spec.color=blue", "widget.example.com/large"),
        ("spec.color!=blue", "widget.example.com/small"),
        ("spec.size=2", "widget.example.com/small"),
        ("spec.size=2,spec.color=blue", ""),
    ] {
        let selected = ok(kubectl(
            &server,
            &["get", "widgets", "--field-selector", selector, "-o", "name"],
        ));
        assert_eq!(selected.trim(), expected, "{selector}");
    }
    let stderr = failed(kubectl(
        &server,
        &["get", "widgets", "--field-selector", "spec.replicas=1"],
    ));
    assert!(
        stderr.contains("field label not supported: spec.replicas"),
        "{stderr}"
    );
    let all = ok(kubectl(&server, &["get", "all", "-o", "name"]));
    assert!(all.contains("widget.example.com/small"), "{all}");

    // Patches: merge and JSON; strategic merge is refused as upstream does.
    ok(kubectl(
        &server,
        &[
            "patch",
            "widget",
            "small",
            "--type=merge",
            "-p",
            r#"{"spec":{"size":3}}"#,
        ],
    ));
    ok(kubectl(
        &server,
        &[
            "patch",
            "widget",
            "small",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/color","value":"blue"}]"#,
        ],
    ));
    let spec = ok(kubectl(
        &server,
        &[
            "get",
            "widget",
            "small",
            "-o",
            "jsonpath={.spec.size} {.spec.color} {.metadata.generation}",
        ],
    ));
    assert_eq!(spec, "3 blue 3");
    let stderr = failed(kubectl(
        &server,
        &["patch", "widget", "small", "-p", r#"{"spec":{"size":4}}"#],
    ));
    assert!(
        stderr.contains("UnsupportedMediaType") || stderr.contains("unknown format"),
        "{stderr}"
    );

    // `/scale` through kubectl scale.
    ok(kubectl(
        &server,
        &["scale", "widget", "small", "--replicas=4"],
    ));
    let replicas = ok(kubectl(
        &server,
        &["get", "widget", "small", "-o", "jsonpath={.spec.replicas}"],
    ));
    assert_eq!(replicas, "4");

    // Server-side apply, by two managers: `parts` is a list-map keyed by
    // name, so each owns its own item (an atomic list would conflict).
    let applied = file(
        &server,
        "applied.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: applied\nspec:\n  size: 5\n  parts:\n  - {name: a, count: 1}\n",
    );
    ok(kubectl(
        &server,
        &["apply", "--server-side", "-f", applied.to_str().unwrap()],
    ));
    let size = ok(kubectl(
        &server,
        &["get", "widget", "applied", "-o", "jsonpath={.spec.size}"],
    ));
    assert_eq!(size, "5");
    let other = file(
        &server,
        "applied-by-other.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: applied\nspec:\n  size: 5\n  parts:\n  - {name: b, count: 2}\n",
    );
    ok(kubectl(
        &server,
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "-f",
            other.to_str().unwrap(),
        ],
    ));
    let parts = ok(kubectl(
        &server,
        &[
            "get",
            "widget",
            "applied",
            "-o",
            "jsonpath={range .spec.parts[*]}{.name}={.count} {end}",
        ],
    ));
    assert_eq!(parts.trim(), "a=1 b=2");
    // Taking a part over from its owner is a conflict.
    let taken = file(
        &server,
        "applied-taken.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: applied\nspec:\n  size: 5\n  parts:\n  - {name: a, count: 9}\n",
    );
    let stderr = failed(kubectl(
        &server,
        &[
            "apply",
            "--server-side",
            "--field-manager=other",
            "-f",
            taken.to_str().unwrap(),
        ],
    ));
    assert!(stderr.contains("conflict"), "{stderr}");
    assert!(
        stderr.contains(r#".spec.parts[name="a"].count"#),
        "{stderr}"
    );

    ok(kubectl(&server, &["delete", "widget", "applied"]));
    let stderr = failed(kubectl(&server, &["get", "widget", "applied"]));
    assert!(
        stderr.contains(r#"widgets.example.com "applied" not found"#),
        "{stderr}"
    );

    // Deleting the definition deletes its objects, then it is no longer served.
    ok(kubectl(
        &server,
        &["delete", "crd", "widgets.example.com", "--timeout=30s"],
    ));
    let stderr = failed(kubectl(&server, &["get", "widgets"]));
    // (kubectl's discovery cache may still name the resource: then the
    // server's 404 is what it prints.)
    assert!(
        stderr.contains("the server doesn't have a resource type \"widgets\"")
            || stderr.contains("the server could not find the requested resource"),
        "{stderr}"
    );
    apply_widgets(&server);
    let left = ok(kubectl(&server, &["get", "widgets", "-o", "name"]));
    assert_eq!(left.trim(), "", "objects outlived their definition: {left}");
}

#[tokio::test]
async fn validation_rules_refuse_objects_and_costly_definitions() {
    let server = Server::start().await;
    apply_widgets(&server);
    let widget = |name: &str, spec: &str| {
        let manifest = format!(
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {name}\nspec: {spec}\n"
        );
        let path = file(&server, &format!("{name}.yaml"), &manifest);
        kubectl(&server, &["apply", "-f", path.to_str().unwrap()])
    };
    // A rule on spec: an object's error omits the value, as upstream's.
    let stderr = failed(widget("crowded", "{size: 1, replicas: 3}"));
    assert!(
        stderr.contains(r#"The Widget "crowded" is invalid: spec: Invalid value: replicas may be at most twice the size"#),
        "{stderr}"
    );
    ok(widget("roomy", "{size: 2, replicas: 4, color: blue}"));
    // A transition rule: an update compares with the stored object.
    let stderr = failed(kubectl(
        &server,
        &[
            "patch",
            "widget",
            "roomy",
            "--type=merge",
            "-p",
            r#"{"spec":{"color":"red"}}"#,
        ],
    ));
    assert!(
        stderr.contains(r#"spec.color: Invalid value: "red": a blue widget stays blue"#),
        "{stderr}"
    );
    // Every write path runs the rules: /scale too.
    let stderr = failed(kubectl(
        &server,
        &["scale", "widget", "roomy", "--replicas=5"],
    ));
    assert!(
        stderr.contains("replicas may be at most twice the size"),
        "{stderr}"
    );
    ok(kubectl(
        &server,
        &["scale", "widget", "roomy", "--replicas=3"],
    ));

    // A definition is refused when a rule does not compile, or could cost
    // more than upstream's limits allow.
    let broken = WIDGETS
        .replace("widgets.example.com", "gadgets.example.com")
        .replace("plural: widgets", "plural: gadgets")
        .replace("singular: widget", "singular: gadget")
        .replace("kind: Widget", "kind: Gadget")
        .replace("shortNames: [wg]", "shortNames: [gd]");
    let costly = broken.replace(
        r#"rule: "!has(self.replicas) || self.replicas <= self.size * 2""#,
        "rule: self.parts.all(a, self.parts.all(b, a.name != b.name || a == b))",
    );
    let path = file(&server, "costly.yaml", &costly);
    let stderr = failed(kubectl(&server, &["apply", "-f", path.to_str().unwrap()]));
    assert!(
        stderr.contains("spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x")
            || stderr.contains("spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x"),
        "{stderr}"
    );
    let misspelt = broken.replace(
        r#"rule: "!has(self.replicas) || self.replicas <= self.size * 2""#,
        "rule: self.replica <= 3",
    );
    let path = file(&server, "misspelt.yaml", &misspelt);
    let stderr = failed(kubectl(&server, &["apply", "-f", path.to_str().unwrap()]));
    assert!(
        stderr.contains("compilation failed: ERROR: <input>:1:5: undefined field 'replica'"),
        "{stderr}"
    );
    // Bounded lists of bounded names make the same rule affordable.
    let bounded = costly
        .replace(
            "x-kubernetes-list-map-keys: [name]",
            "x-kubernetes-list-map-keys: [name]\n                maxItems: 16",
        )
        .replace(
            "name: {type: string}",
            "name: {type: string, maxLength: 63}",
        );
    let path = file(&server, "bounded.yaml", &bounded);
    ok(kubectl(&server, &["apply", "-f", path.to_str().unwrap()]));
}

#[tokio::test]
async fn custom_resources_over_http() {
    let server = Server::start().await;
    let started = Instant::now();
    let crd: Value = serde_yaml_ng::from_str(WIDGETS).unwrap();
    let (code, created) = server
        .post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &crd,
        )
        .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        created["metadata"]["finalizers"],
        json!(["customresourcecleanup.apiextensions.k8s.io"])
    );
    // Served as soon as the controller has seen it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, _) = server
            .get("/apis/example.com/v1/namespaces/default/widgets")
            .await;
        if code == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "widgets were never served");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("definition created to served in {:?}", started.elapsed());
    // The controller serves the definition, then writes its conditions.
    let definition = loop {
        let (_, definition) = server
            .get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
            .await;
        let types: Vec<String> = definition["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["type"].as_str().map(str::to_string))
            .collect();
        if types == ["NamesAccepted", "Established"] {
            break definition;
        }
        assert!(Instant::now() < deadline, "{definition}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(definition["status"]["acceptedNames"]["kind"], "Widget");
    assert_eq!(definition["status"]["storedVersions"], json!(["v1"]));

    let (_, group) = server.get("/apis/example.com/v1").await;
    let names: Vec<&str> = group["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["widgets", "widgets/status", "widgets/scale"],
        "{group}"
    );

    let widgets = "/apis/example.com/v1/namespaces/default/widgets";
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w"}, "spec": {"size": 1}, "status": {"replicas": 7}});
    let (code, created) = server.post(widgets, &widget).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(
        created.get("status").is_none(),
        "status is set through /status: {created}"
    );

    // The wrong kind, and a body without one.
    let mut wrong = widget.clone();
    wrong["kind"] = json!("Gadget");
    wrong["metadata"]["name"] = json!("g");
    let (code, status) = server.post(widgets, &wrong).await;
    assert_eq!(code, 422, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("kind: Invalid value: \"Gadget\": must be Widget"),
        "{status}"
    );

    // /status changes the status alone; the main resource never does.
    let mut update = created.clone();
    update["status"] = json!({"replicas": 2, "conditions": [{"type": "Ready", "status": "True"}]});
    update["spec"]["size"] = json!(5);
    let (code, after) = server.put(&format!("{widgets}/w/status"), &update).await;
    assert_eq!(code, 200, "{after}");
    assert_eq!(after["status"]["replicas"], 2);
    assert_eq!(after["spec"]["size"], 1);
    assert_eq!(after["metadata"]["generation"], 1);
    let (_, scale) = server.get(&format!("{widgets}/w/scale")).await;
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["status"]["replicas"], 2);

    // A watch sees the next change.
    let mut watch = server
        .watch(&format!(
            "{widgets}?watch=true&resourceVersion={}",
            after["metadata"]["resourceVersion"].as_str().unwrap()
        ))
        .await;
    let mut changed = after.clone();
    changed["spec"]["size"] = json!(6);
    let (code, changed) = server.put(&format!("{widgets}/w"), &changed).await;
    assert_eq!(code, 200, "{changed}");
    assert_eq!(changed["metadata"]["generation"], 2);
    let event = watch.next().await;
    assert_eq!(event["type"], "MODIFIED");
    assert_eq!(event["object"]["spec"]["size"], 6);
    assert_eq!(event["object"]["kind"], "Widget");

    // A list carries the list kind.
    let (_, list) = server.get(widgets).await;
    assert_eq!(list["kind"], "WidgetList");
    assert_eq!(list["apiVersion"], "example.com/v1");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));

    // A namespace's deletion deletes its custom objects too.
    let (code, _) = server
        .post(
            "/api/v1/namespaces",
            &json!({"metadata": {"name": "doomed"}}),
        )
        .await;
    assert_eq!(code, 201);
    let doomed = "/apis/example.com/v1/namespaces/doomed/widgets";
    let mut inside = widget.clone();
    inside["metadata"] = json!({"name": "inside"});
    let (code, _) = server.post(doomed, &inside).await;
    assert_eq!(code, 201);
    let (code, _) = server.delete("/api/v1/namespaces/doomed").await;
    assert_eq!(code, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.get("/api/v1/namespaces/doomed").await.0 != 404 {
        assert!(Instant::now() < deadline, "the namespace was never deleted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, _) = server.get(&format!("{doomed}/inside")).await;
    assert_eq!(code, 404);

    // A definition whose kind another of the group holds: not accepted,
    // not served.
    let mut clash = crd.clone();
    clash["metadata"]["name"] = json!("others.example.com");
    clash["spec"]["names"] = json!({"plural": "others", "singular": "other", "kind": "Widget"});
    let (code, created) = server
        .post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &clash,
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let conditions = loop {
        let (_, other) = server
            .get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/others.example.com")
            .await;
        if let Some(conditions) = other["status"]["conditions"].as_array() {
            break conditions.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no conditions on the clashing definition"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(conditions[0]["type"], "NamesAccepted");
    assert_eq!(conditions[0]["status"], "False");
    assert_eq!(conditions[0]["reason"], "KindConflict");
    assert_eq!(conditions[0]["message"], "\"Widget\" is already in use");
    assert_eq!(conditions[1]["status"], "False");
    let (code, _) = server
        .get("/apis/example.com/v1/namespaces/default/others")
        .await;
    assert_eq!(code, 404);

    // A definition the validation refuses.
    let mut bad = crd.clone();
    bad["metadata"]["name"] = json!("gadgets.example.com");
    let (code, status) = server
        .post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &bad,
        )
        .await;
    assert_eq!(code, 422, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains(r#"must be spec.names.plural+"."+spec.group"#),
        "{status}"
    );

    // Deleting the definition while an object's finalizer holds it: it is
    // Terminating, still served, and refuses creates, until the object
    // goes; then it goes.
    let mut held = widget.clone();
    held["metadata"] = json!({"name": "held", "finalizers": ["example.com/hold"]});
    let (code, created) = server.post(widgets, &held).await;
    assert_eq!(code, 201, "{created}");
    let definition = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com";
    let (code, _) = server.delete(definition).await;
    assert_eq!(code, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let terminating = loop {
        let (_, crd) = server.get(definition).await;
        let found = crd["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Terminating")
            .cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "never Terminating: {crd}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(terminating["status"], "True");
    assert_eq!(terminating["reason"], "InstanceDeletionInProgress");
    let mut late = widget.clone();
    late["metadata"] = json!({"name": "late"});
    let (code, status) = server.post(widgets, &late).await;
    assert_eq!(code, 405, "{status}");
    assert_eq!(
        status["message"],
        r#"create is not supported on resources of kind "widgets.example.com""#
    );
    let (code, held_now) = server.get(&format!("{widgets}/held")).await;
    assert_eq!(code, 200, "{held_now}");
    let mut release = held_now.clone();
    release["metadata"]["finalizers"] = json!([]);
    let (code, _) = server.put(&format!("{widgets}/held"), &release).await;
    assert_eq!(code, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.get(definition).await.0 != 404 {
        assert!(
            Instant::now() < deadline,
            "the definition was never deleted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn several_versions_read_through_each_other_and_cluster_scope() {
    let server = Server::start().await;
    let schema = json!({"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}});
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"plural": "gadgets", "kind": "Gadget", "listKind": "GadgetCollection"},
            "versions": [
                {"name": "v1beta1", "served": true, "storage": false, "schema": schema},
                {"name": "v1", "served": true, "storage": true, "schema": schema},
            ],
        },
    });
    let (code, created) = server
        .post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &crd,
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.get("/apis/example.com/v1beta1/gadgets").await.0 != 200 {
        assert!(Instant::now() < deadline, "gadgets were never served");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let gadget = json!({"apiVersion": "example.com/v1beta1", "kind": "Gadget",
        "metadata": {"name": "g"}, "spec": {"anything": {"goes": [1, 2]}}});
    let (code, created) = server
        .post("/apis/example.com/v1beta1/gadgets", &gadget)
        .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["apiVersion"], "example.com/v1beta1");
    assert_eq!(created["spec"]["anything"]["goes"], json!([1, 2]));

    let (code, read) = server.get("/apis/example.com/v1/gadgets/g").await;
    assert_eq!(code, 200, "{read}");
    assert_eq!(read["apiVersion"], "example.com/v1");
    let (_, list) = server.get("/apis/example.com/v1beta1/gadgets").await;
    assert_eq!(list["kind"], "GadgetCollection");
    assert_eq!(list["items"][0]["apiVersion"], "example.com/v1beta1");
    let (_, list) = server.get("/apis/example.com/v1/gadgets").await;
    assert_eq!(list["items"][0]["apiVersion"], "example.com/v1");

    // Cluster-scoped: no namespaced path.
    let (code, _) = server
        .get("/apis/example.com/v1/namespaces/default/gadgets/g")
        .await;
    assert_eq!(code, 404);

    // Both versions in discovery; the preferred one is the first served.
    let (_, group) = server.get("/apis/example.com").await;
    let versions: Vec<&str> = group["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert_eq!(versions.len(), 2, "{group}");
    assert!(
        versions.contains(&"v1") && versions.contains(&"v1beta1"),
        "{group}"
    );
}
