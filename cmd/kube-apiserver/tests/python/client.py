"""The calls a Python user makes with the official client (PyPI `kubernetes`),
against the server named by the kubeconfig in argv[1]. Each check raises
with what it saw; the last line printed is `ok`."""

import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config(sys.argv[1])
core = client.CoreV1Api()
apps = client.AppsV1Api()
coordination = client.CoordinationV1Api()
meta = client.V1ObjectMeta


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def status_of(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ApiException as err:
        return err.status
    raise AssertionError(f"{call.__name__} succeeded")


# /version/ (the client asks with the trailing slash).
version = client.VersionApi().get_code()
expect(version.major == "1" and version.minor.startswith("32"), f"version {version}")

ns = "python-client"
core.create_namespace(client.V1Namespace(metadata=meta(name=ns)))
expect(status_of(core.read_namespaced_config_map, "missing", ns) == 404, "a 404")

# A deployment: create, strategic merge patch of a container, scale.
labels = {"app": "web"}
deployment = client.V1Deployment(
    metadata=meta(name="web", labels=labels),
    spec=client.V1DeploymentSpec(
        replicas=1,
        selector=client.V1LabelSelector(match_labels=labels),
        template=client.V1PodTemplateSpec(
            metadata=meta(labels=labels),
            spec=client.V1PodSpec(
                containers=[
                    client.V1Container(name="nginx", image="nginx:1.27"),
                    client.V1Container(name="sidecar", image="busybox:1.36"),
                ]
            ),
        ),
    ),
)
apps.create_namespaced_deployment(ns, deployment)
expect(status_of(apps.create_namespaced_deployment, ns, deployment) == 409, "a 409")
apps.patch_namespaced_deployment(
    "web",
    ns,
    {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.28"}]}}}},
)
containers = apps.read_namespaced_deployment("web", ns).spec.template.spec.containers
expect(
    [(c.name, c.image) for c in containers]
    == [("nginx", "nginx:1.28"), ("sidecar", "busybox:1.36")],
    f"the patch merged by container name: {containers}",
)
apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 3}})
scale = apps.read_namespaced_deployment_scale("web", ns)
expect(scale.spec.replicas == 3, f"scale {scale}")
expect(apps.read_namespaced_deployment("web", ns).spec.replicas == 3, "scaled")

# Label and field selectors, and paging.
for index in range(5):
    parity = "even" if index % 2 == 0 else "odd"
    core.create_namespaced_config_map(
        ns,
        client.V1ConfigMap(
            metadata=meta(name=f"cm-{index}", labels={"parity": parity}),
            data={"index": str(index)},
        ),
    )
even = core.list_namespaced_config_map(ns, label_selector="parity=even")
expect([c.metadata.name for c in even.items] == ["cm-0", "cm-2", "cm-4"], "by label")
named = core.list_namespaced_config_map(ns, field_selector="metadata.name=cm-3")
expect([c.metadata.name for c in named.items] == ["cm-3"], "by field")
names, token = [], None
while True:
    page = core.list_namespaced_config_map(
        ns, label_selector="parity", limit=2, _continue=token
    )
    names += [c.metadata.name for c in page.items]
    token = page.metadata._continue
    if not token:
        break
expect(names == [f"cm-{index}" for index in range(5)], f"pages {names}")

# A watch from a list's revision sees a later create.
revision = core.list_namespaced_config_map(ns).metadata.resource_version
core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=meta(name="watched")))
stream = watch.Watch()
seen = None
for event in stream.stream(
    core.list_namespaced_config_map, ns, resource_version=revision, timeout_seconds=10
):
    if event["object"].metadata.name == "watched":
        seen = event["type"]
        stream.stop()
expect(seen == "ADDED", f"the watch saw {seen}")

# A NodePort service gets a cluster IP and a node port.
service = core.create_namespaced_service(
    ns,
    client.V1Service(
        metadata=meta(name="web"),
        spec=client.V1ServiceSpec(
            type="NodePort", selector=labels, ports=[client.V1ServicePort(port=80)]
        ),
    ),
)
port = service.spec.ports[0]
expect(service.spec.cluster_ip and 30000 <= port.node_port <= 32767, f"service {service.spec}")
expect(port.target_port == 80, f"targetPort defaulted: {port}")

# A lease taken over as leader election does.
lease = coordination.create_namespaced_lease(
    ns,
    client.V1Lease(
        metadata=meta(name="leader"),
        spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15),
    ),
)
lease.spec.holder_identity = "b"
lease.spec.lease_transitions = 1
taken = coordination.replace_namespaced_lease("leader", ns, lease)
expect(taken.spec.holder_identity == "b", f"lease {taken.spec}")
expect(status_of(coordination.replace_namespaced_lease, "leader", ns, lease) == 409, "stale")

core.delete_namespace(ns)
print("ok")
