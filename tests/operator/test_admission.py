"""deploy/'s ValidatingAdmissionPolicy on the real API server, with two users: only a member of
the trusted group restores into protected namespaces or asks for exec hooks."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config

from ark.api.types import GROUP, VERSION
from ark.kube import KubeClient, discover
from tests.conftest import Cluster
from tests.operator.harness import wait_for
from tests.operator.manifests import load
from tests.support import workloads

TRUSTED_GROUP = "ark-test-restorers"
ADMISSION_KINDS = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}

Create = Callable[[str, dict[str, Any]], None]
"""Create (server-side dry run) an ark object of a plural as one user; raises on refusal."""


@pytest.fixture
def guarded(kube: KubeClient, op_namespace: str) -> Iterator[str]:
    """deploy/base's admission policy trusting TRUSTED_GROUP (its variable patched, as an
    overlay would), bound to ``op_namespace`` alone so other tests are untouched, and a Role
    that lets the users alice and bob create ark's objects there."""
    discovery = discover(kube)
    suffix = f"-{uuid.uuid4().hex[:6]}"
    applied = []
    for obj in load(namespace=op_namespace):
        if obj["kind"] not in ADMISSION_KINDS:
            continue
        obj["metadata"]["name"] += suffix
        if obj["kind"] == "ValidatingAdmissionPolicy":
            for variable in obj["spec"]["variables"]:
                if variable["name"] == "trustedGroups":
                    variable["expression"] = f"['{TRUSTED_GROUP}', 'someone-else']"
        else:
            obj["spec"]["policyName"] += suffix
            obj["spec"]["matchResources"] = {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": op_namespace}}
            }
        res = workloads.resolve(discovery, obj)
        kube.request("POST", res.path(namespace=obj["metadata"].get("namespace")), body=obj)
        applied.append((res, obj))
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    kube.request(
        "POST",
        f"{rbac}/namespaces/{op_namespace}/roles",
        body={
            "metadata": {"name": "ark-users"},
            "rules": [
                {
                    "apiGroups": [GROUP],
                    "resources": ["restores", "backups", "schedules"],
                    "verbs": ["create"],
                }
            ],
        },
    )
    kube.request(
        "POST",
        f"{rbac}/namespaces/{op_namespace}/rolebindings",
        body={
            "metadata": {"name": "ark-users"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "ark-users",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": n}
                for n in ("alice", "bob")
            ],
        },
    )
    yield op_namespace
    for res, obj in applied:
        kube.request("DELETE", res.path(name=obj["metadata"]["name"]))


def _as(cluster: Cluster, namespace: str, user: str, group: str | None) -> Iterator[Create]:
    api = config.new_client_from_config(config_file=cluster.kubeconfig)
    api.default_headers["Impersonate-User"] = user
    if group:
        api.default_headers["Impersonate-Group"] = group
    custom = client.CustomObjectsApi(api)

    def create(plural: str, body: dict[str, Any]) -> None:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "metadata": {"name": "t"}, **body}
        custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, body, dry_run="All"
        )

    yield create
    api.close()


@pytest.fixture
def alice(cluster: Cluster, guarded: str) -> Iterator[Create]:
    yield from _as(cluster, guarded, "alice", TRUSTED_GROUP)


@pytest.fixture
def bob(cluster: Cluster, guarded: str) -> Iterator[Create]:
    yield from _as(cluster, guarded, "bob", None)


def _refused(create: Create, plural: str, spec: dict[str, Any]) -> str:
    with pytest.raises(client.ApiException) as err:
        create(plural, {"kind": plural.title().rstrip("s"), "spec": spec})
    assert err.value.status == 403, err.value.body
    return str(err.value.body)


def _allowed(create: Create, plural: str, spec: dict[str, Any]) -> None:
    create(plural, {"kind": plural.title().rstrip("s"), "spec": spec})


HOOKS = {
    "resources": [
        {"name": "freeze", "pre": [{"exec": {"command": ["/bin/sync"], "container": "db"}}]}
    ]
}


def test_only_the_trusted_group_restores_into_protected_namespaces_or_uses_hooks(
    kube: KubeClient, guarded: str, alice: Create, bob: Create
) -> None:
    ark_namespace = guarded
    into_kube_system = {"backupName": "b", "namespaceMapping": {"shop": "kube-system"}}

    def in_force() -> bool:
        try:
            bob("restores", {"kind": "Restore", "spec": into_kube_system})
        except client.ApiException as exc:
            return exc.status == 403 and "ark-restore-guard" in str(exc.body)
        return False

    wait_for(in_force, timeout=30, what="the admission policy in force")

    refused: dict[str, dict[str, Any]] = {
        "a mapping onto kube-system": into_kube_system,
        "ark's own namespace": {"backupName": "b", "includedNamespaces": [ark_namespace]},
        "a whole-backup restore": {"backupName": "b"},
        "a pattern": {"backupName": "b", "includedNamespaces": ["kube-*"]},
        # The backup may hold kube-system too: a mapping alone restores everything in it.
        "a mapping alone": {"backupName": "b", "namespaceMapping": {"shop": "shop-staging"}},
    }
    for what, spec in refused.items():
        message = _refused(bob, "restores", spec)
        assert TRUSTED_GROUP in message and "kube-system" in message, (what, message)
        _allowed(alice, "restores", spec)

    allowed: dict[str, dict[str, Any]] = {
        "a named namespace": {"backupName": "b", "includedNamespaces": ["shop"]},
        "a clone": {
            "backupName": "b",
            "includedNamespaces": ["shop"],
            "namespaceMapping": {"shop": "shop-staging"},
        },
        "kube-system mapped away": {
            "backupName": "b",
            "includedNamespaces": ["kube-system"],
            "namespaceMapping": {"kube-system": "old-system"},
        },
        "everything but the protected": {
            "backupName": "b",
            "excludedNamespaces": ["kube-system", "kube-public", "kube-node-lease", ark_namespace],
        },
    }
    for spec in allowed.values():
        _allowed(bob, "restores", spec)

    message = _refused(bob, "backups", {"includedNamespaces": ["shop"], "hooks": HOOKS})
    assert "exec hooks" in message
    _refused(bob, "schedules", {"schedule": "@daily", "template": {"hooks": HOOKS}})
    _allowed(bob, "backups", {"includedNamespaces": ["shop"]})
    _allowed(alice, "backups", {"includedNamespaces": ["shop"], "hooks": HOOKS})
    _allowed(alice, "schedules", {"schedule": "@daily", "template": {"hooks": HOOKS}})
    # An administrator (system:masters) is trusted too.
    kube.request(
        "POST",
        f"/apis/{GROUP}/{VERSION}/namespaces/{ark_namespace}/restores",
        body={
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Restore",
            "metadata": {"name": "t"},
            "spec": into_kube_system,
        },
        query={"dryRun": "All"},
    )
