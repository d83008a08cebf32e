"""Resource modifiers in a real restore: a clone whose Deployment gets more replicas (JSON
Patch), whose claim gets another storage class (merge patch) and whose container another image
(strategic merge), each item saying which rules changed it; a rule that does not fit fails its
item only; the dry run shows the modified objects' diffs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ark.api import RestorePhase
from ark.kube import KubeClient
from ark.restore import modifiers
from ark.storage import ObjectStore
from tests.support import restores
from tests.support.restores import config_map, outcome

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {"name": "app", "image": "registry.a.example/web:1"},
                    {"name": "proxy", "image": "registry.a.example/proxy:1"},
                ]
            },
        },
    },
}
CLAIM = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {"name": "data"},
    "spec": {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "cloud-a-ssd",
        "resources": {"requests": {"storage": "1Gi"}},
    },
}


def rules(namespace: str) -> str:
    return f"""
version: v1
resourceModifierRules:
- conditions:
    groupResource: deployments.apps
    namespaces: [{namespace}]
  patches:
  - {{operation: replace, path: /spec/replicas, value: "3"}}
- conditions:
    groupResource: persistentvolumeclaims
    matches: [{{path: /spec/storageClassName, value: cloud-a-ssd}}]
  mergePatches:
  - patchData: |
      spec:
        storageClassName: cloud-b-ssd
- conditions:
    groupResource: "*.apps"
    resourceNameRegex: "^web$"
    labelSelector: {{matchLabels: {{app: web}}}}
  strategicPatches:
  - patchData: |
      {{"spec": {{"template": {{"spec": {{"containers": [
        {{"name": "app", "image": "registry.b.example/web:1"}}]}}}}}}}}
- conditions:
    groupResource: configmaps
  patches:
  - {{operation: test, path: /data/mode, value: never}}
  - {{operation: replace, path: /data/mode, value: changed}}
- conditions:
    groupResource: configmaps
    resourceNameRegex: "^strict$"
  patches:
  - {{operation: remove, path: /data/missing}}
- conditions:
    groupResource: deployments.apps
    namespaces: [elsewhere]
  patches:
  - {{operation: replace, path: /spec/replicas, value: 9}}
"""


def _backed_up(kube: KubeClient, store: ObjectStore, namespace: str) -> str:
    restores.create(kube, DEPLOYMENT, namespace=namespace)
    restores.create(kube, CLAIM, namespace=namespace)
    restores.create(kube, config_map("settings", {"mode": "fast"}), namespace=namespace)
    restores.create(kube, config_map("strict", {"mode": "fast"}), namespace=namespace)
    return restores.back_up(kube, store, namespace)


def test_a_clone_is_modified_by_the_rules_and_says_which(
    kube: KubeClient,
    namespace: str,
    fs_store: ObjectStore,
    fresh_namespace: Callable[[str], str],
) -> None:
    backup = _backed_up(kube, fs_store, namespace)
    clone = fresh_namespace("mod")

    result = restores.run_restore(
        kube,
        fs_store,
        backup,
        namespace_mapping={namespace: clone},
        modifiers=modifiers.parse(rules(namespace)),
    )

    assert result.phase is RestorePhase.PARTIALLY_FAILED, result.issues
    web = kube.get(f"/apis/apps/v1/namespaces/{clone}/deployments/web")
    assert web["spec"]["replicas"] == 3
    assert [c["image"] for c in web["spec"]["template"]["spec"]["containers"]] == [
        "registry.b.example/web:1",
        "registry.a.example/proxy:1",
    ]
    assert outcome(result, "deployments.apps", "web").modified_by == (0, 2)
    claim = kube.get(f"/api/v1/namespaces/{clone}/persistentvolumeclaims/data")
    assert claim["spec"]["storageClassName"] == "cloud-b-ssd"
    assert outcome(result, "persistentvolumeclaims", "data").modified_by == (1,)
    # A failed test: no change, no error.
    settings = outcome(result, "configmaps", "settings")
    assert (settings.outcome, settings.modified_by) == ("created", ())
    assert kube.get(f"/api/v1/namespaces/{clone}/configmaps/settings")["data"] == {"mode": "fast"}
    # A patch that does not fit: that item fails, naming the rule, and is not written.
    strict = outcome(result, "configmaps", "strict")
    assert strict.outcome == "failed"
    assert strict.message == ("resource modifier rule 4 (patches): /data/missing does not exist")
    assert restores.get(kube, f"/api/v1/namespaces/{clone}/configmaps/strict") is None
    assert [e.message for e in result.issues.errors] == [f"cannot restore: {strict.message}"]
    # The original is untouched.
    original = kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert original["spec"]["replicas"] == 1
    assert outcome(result, "deployments.apps", "web").to_json()["modifiedBy"] == [0, 2]


def test_the_dry_run_shows_what_the_rules_change(
    kube: KubeClient, namespace: str, fs_store: ObjectStore
) -> None:
    backup = _backed_up(kube, fs_store, namespace)
    result = restores.run_restore(
        kube,
        fs_store,
        backup,
        dry_run=True,
        existing_resource_policy="update",
        modifiers=modifiers.parse(rules(namespace)),
    )
    web = outcome(result, "deployments.apps", "web")
    assert web.outcome == "would-update" and web.modified_by == (0, 2)
    assert "spec.replicas: 1 -> 3" in web.diff
    assert any("registry.b.example/web:1" in line for line in web.diff), web.diff
    assert outcome(result, "configmaps", "settings").outcome == "would-skip-exists"
    live: dict[str, Any] = kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert live["spec"]["replicas"] == 1
