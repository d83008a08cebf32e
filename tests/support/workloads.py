"""A realistic application namespace, created on the real API server through ark's own client.

Deployments, a StatefulSet with a volumeClaimTemplate, Services (ClusterIP, headless, NodePort),
Secrets (with non-ASCII data), ConfigMaps, RBAC (Role, RoleBinding to a ClusterRole), a CRD with
custom resources, a CronJob, a NetworkPolicy, an HPA, an Ingress, a PV bound to a PVC, and a
StorageClass.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable
from typing import Any

import orjson
import yaml

from ark.kube import KubeApiError, KubeClient, discover
from ark.kube.discovery import Discovery

CRD_GROUP = "shop.ark.test"
CRD_NAME = f"widgets.{CRD_GROUP}"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def crd_manifest() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": CRD_GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wdg"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer"},
                                        "color": {"type": "string"},
                                    },
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


def app_manifests(namespace: str, *, suffix: str) -> list[dict[str, Any]]:
    """The namespaced objects (and the PV/StorageClass, named with ``suffix``)."""
    text = f"""
apiVersion: v1
kind: ServiceAccount
metadata: {{name: shop-app, labels: {{app: shop}}}}
imagePullSecrets: [{{name: registry-creds}}]
---
apiVersion: v1
kind: Secret
metadata: {{name: registry-creds}}
type: kubernetes.io/dockerconfigjson
data: {{.dockerconfigjson: {_b64('{"auths": {}}')}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: db-creds, labels: {{app: shop, tier: db}}}}
type: Opaque
data: {{password: {_b64("pässwörd-✓")}, user: {_b64("shop")}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, labels: {{app: shop, tier: web}}}}
data: {{mode: production, greeting: "grüß dich"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: skip-me, labels: {{velero.io/exclude-from-backup: "true"}}}}
data: {{note: must not be backed up}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: config-reader}}
rules: [{{apiGroups: [""], resources: [configmaps], verbs: [get, list]}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: app-reads-config}}
subjects: [{{kind: ServiceAccount, name: shop-app, namespace: {namespace}}}]
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: config-reader}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: app-views}}
subjects: [{{kind: ServiceAccount, name: shop-app, namespace: {namespace}}}]
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: shop-viewer-{suffix}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, labels: {{app: shop, tier: web}}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: shop, tier: web}}}}
  template:
    metadata: {{labels: {{app: shop, tier: web}}}}
    spec:
      serviceAccountName: shop-app
      containers:
      - name: web
        image: registry.example.com/shop/web:1.4.2
        envFrom: [{{configMapRef: {{name: settings}}}}]
        env: [{{name: DB_PASSWORD, valueFrom: {{secretKeyRef: {{name: db-creds, key: password}}}}}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db, labels: {{app: shop, tier: db}}}}
spec:
  serviceName: db
  replicas: 1
  selector: {{matchLabels: {{app: shop, tier: db}}}}
  template:
    metadata: {{labels: {{app: shop, tier: db}}}}
    spec:
      containers:
      - name: db
        image: registry.example.com/shop/db:15
        volumeMounts: [{{name: data, mountPath: /var/lib/db}}]
  volumeClaimTemplates:
  - metadata: {{name: data}}
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: shop-fast-{suffix}
      resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, labels: {{app: shop}}}}
spec:
  selector: {{app: shop, tier: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: db, labels: {{app: shop}}}}
spec:
  clusterIP: None
  selector: {{app: shop, tier: db}}
  ports: [{{port: 5432}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web-public, labels: {{app: shop}}}}
spec:
  type: NodePort
  selector: {{app: shop, tier: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: uploads, labels: {{app: shop}}}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: shop-fast-{suffix}
  volumeName: shop-uploads-{suffix}
  resources: {{requests: {{storage: 2Gi}}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: nightly-report, labels: {{app: shop}}}}
spec:
  schedule: "0 2 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{{name: report, image: registry.example.com/shop/report:2}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: db-only-from-web}}
spec:
  podSelector: {{matchLabels: {{tier: db}}}}
  ingress: [{{from: [{{podSelector: {{matchLabels: {{tier: web}}}}}}]}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: web}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  minReplicas: 2
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: shop}}
spec:
  rules:
  - host: shop.example.com
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}
---
apiVersion: {CRD_GROUP}/v1
kind: Widget
metadata: {{name: blue, labels: {{app: shop}}}}
spec: {{size: 3, color: blue}}
---
apiVersion: {CRD_GROUP}/v1
kind: Widget
metadata: {{name: green}}
spec: {{size: 5, color: green}}
"""
    return [d for d in yaml.safe_load_all(text) if d]


def cluster_manifests(namespace: str, *, suffix: str) -> list[dict[str, Any]]:
    """Cluster-scoped objects the namespace depends on."""
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": f"shop-fast-{suffix}"},
            "provisioner": "example.com/fast",
            "volumeBindingMode": "WaitForFirstConsumer",
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"shop-uploads-{suffix}", "labels": {"app": "shop"}},
            "spec": {
                "capacity": {"storage": "2Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": f"shop-fast-{suffix}",
                "persistentVolumeReclaimPolicy": "Retain",
                "claimRef": {"namespace": namespace, "name": "uploads"},
                "hostPath": {"path": f"/tmp/shop-{suffix}"},
            },
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": f"shop-viewer-{suffix}"},
            "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["get"]}],
        },
    ]


def resolve(discovery: Discovery, obj: dict[str, Any]) -> Any:
    api_version = obj["apiVersion"]
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    res = discovery.by_group_kind(group, obj["kind"])
    if res is None:
        raise LookupError(f"{api_version} {obj['kind']} is not served")
    return res


def create_all(
    client: KubeClient, objs: Iterable[dict[str, Any]], *, namespace: str | None
) -> None:
    discovery = discover(client)
    for obj in objs:
        res = resolve(discovery, obj)
        ns = namespace if res.namespaced else None
        body = {**obj, "metadata": {**obj["metadata"], **({"namespace": ns} if ns else {})}}
        try:
            client.request("POST", res.path(namespace=ns), body=body)
        except KubeApiError as exc:
            if not exc.already_exists:
                raise


def ensure_crd(client: KubeClient, *, timeout: float = 30) -> None:
    create_all(client, [crd_manifest()], namespace=None)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = client.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD_NAME}")
        conditions = (crd.get("status") or {}).get("conditions") or []
        if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
            # discovery must serve the new group too
            try:
                client.get(f"/apis/{CRD_GROUP}/v1")
                return
            except KubeApiError:
                pass
        time.sleep(0.2)
    raise AssertionError(f"CRD {CRD_NAME} not established after {timeout}s")


def deploy_shop(client: KubeClient, namespace: str) -> list[dict[str, Any]]:
    """Create the realistic set in ``namespace``; returns the manifests created."""
    suffix = namespace
    ensure_crd(client)
    cluster = cluster_manifests(namespace, suffix=suffix)
    create_all(client, cluster, namespace=None)
    app = app_manifests(namespace, suffix=suffix)
    create_all(client, app, namespace=namespace)
    wait_claim_bound(client, namespace, "uploads")
    return cluster + app


def wait_claim_bound(client: KubeClient, namespace: str, name: str, *, timeout: float = 60) -> None:
    """Until the pre-bound claim is Bound: the volume binder gets to it on its own schedule, and
    a test comparing resourceVersions before and after must not see that write."""
    deadline = time.monotonic() + timeout
    path = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}"
    while (get_json(client, path).get("status") or {}).get("phase") != "Bound":
        if time.monotonic() > deadline:
            raise AssertionError(f"claim {namespace}/{name} not Bound after {timeout:.0f}s")
        time.sleep(0.2)


def claim_statefulset(*, storage_class: str, size: str) -> dict[str, Any]:
    """StatefulSet ``db``: two replicas, each with a claim ``data-db-N`` of ``storage_class``
    from its volumeClaimTemplate (pods never run: there is no kubelet)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "podManagementPolicy": "Parallel",  # no kubelet: pods never become Ready
            "replicas": 2,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {
                    "containers": [
                        {
                            "name": "db",
                            "image": "postgres:16",
                            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": storage_class,
                        "resources": {"requests": {"storage": size}},
                    },
                }
            ],
        },
    }


def get_json(client: KubeClient, path: str) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(client.request("GET", path))
    return data
