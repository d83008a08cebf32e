"""Cluster-wide grants follow a clone: a ClusterRoleBinding whose subjects are in a mapped
namespace is carried over as a binding of the clone's own, and the original's binding stays as
it is. The real API server's authorizer (SubjectAccessReview) says who may do what."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
import pytest

from ark import restore
from ark.api import LabelSelector, RestorePhase, RestoreSpec
from ark.kube import KubeClient
from ark.restore.grants import CLONED_FROM, CLUSTER_ROLE_BINDINGS, RESTORE_LABEL, clone_name
from ark.storage import ObjectStore
from tests.conftest import Cluster
from tests.support import restores
from tests.support.restores import outcome

RBAC = "/apis/rbac.authorization.k8s.io/v1"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
GROUP = "grants.ark.test"


@dataclass(frozen=True)
class Granted:
    """A namespace whose ServiceAccount ``app`` is granted, with User ``user``, a ClusterRole
    by ClusterRoleBinding ``binding``; backed up as ``backup``."""

    namespace: str
    binding: str
    user: str
    resource: str
    """The ClusterRole's own resource (no other binding in the cluster grants it)."""
    backup: str

    @property
    def path(self) -> str:
        return f"{RBAC}/clusterrolebindings/{self.binding}"

    def clone_path(self, *targets: str) -> str:
        return f"{RBAC}/clusterrolebindings/{clone_name(self.binding, targets)}"


def _remove(kube: KubeClient, prefix: str) -> None:
    """The test's ClusterRole and every ClusterRoleBinding named after its own."""
    for item in kube.get(f"{RBAC}/clusterrolebindings")["items"]:
        if item["metadata"]["name"].startswith(prefix):
            restores.delete(kube, f"{RBAC}/clusterrolebindings/{item['metadata']['name']}")
    restores.delete(kube, f"{RBAC}/clusterroles/{prefix}")


@pytest.fixture
def grant(kube: KubeClient, namespace: str, fs_store: ObjectStore) -> Iterator[Granted]:
    tag = uuid.uuid4().hex[:8]
    name, labels = f"grants-{tag}", {"ark.test/grants": tag}
    resource = f"things-{tag}"
    rules = [
        {"apiGroups": [GROUP], "resources": [resource], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]},
    ]
    meta = {"name": name, "labels": labels}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta}
    restores.create(kube, {**role, "rules": rules})
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {**meta, "name": "app"}}
    restores.create(kube, sa, namespace=namespace)
    user = f"alice-{tag}"
    restores.create(
        kube,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": meta,
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [
                {"kind": "ServiceAccount", "namespace": namespace, "name": "app"},
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user},
            ],
        },
    )
    backup = restores.back_up(
        kube,
        fs_store,
        namespace,
        include_cluster_resources=True,
        label_selector=LabelSelector(match_labels=labels),
    )
    yield Granted(namespace, name, user, resource, backup)
    _remove(kube, name)


def _can(kube: KubeClient, user: str, *, verb: str, resource: str, group: str = "") -> bool:
    """What the API server's authorizer says (a ServiceAccount user is
    ``system:serviceaccount:<namespace>:<name>``)."""
    groups = ["system:authenticated"]
    if user.startswith("system:serviceaccount:"):
        groups += ["system:serviceaccounts", f"system:serviceaccounts:{user.split(':')[2]}"]
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "groups": groups,
            "resourceAttributes": {"verb": verb, "group": group, "resource": resource},
        },
    }
    reply = orjson.loads(kube.request("POST", ACCESS_REVIEWS, body=review))
    return bool(reply["status"].get("allowed"))


def _sa(namespace: str, name: str = "app") -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def _may_use(kube: KubeClient, user: str, grant: Granted) -> bool:
    """Whether ``user`` may list the ClusterRole's resource and nodes (the RBAC authorizer
    sees a new binding a moment after it is written: waited for)."""

    def allowed() -> bool:
        return _can(kube, user, verb="list", resource=grant.resource, group=GROUP) and _can(
            kube, user, verb="list", resource="nodes"
        )

    try:
        restores.wait_for(f"{user} allowed", allowed, timeout=10)
    except AssertionError:
        return False
    return True


def _said(clone: str, binding: str, *, original: str = "the original is left untouched") -> str:
    return (
        f"carried over as ClusterRoleBinding {clone_name(binding, [clone])} for the clone's "
        f"subjects (ServiceAccount {clone}/app); {original}"
    )


# -- a clone beside its original ----------------------------------------------------------
def test_a_clone_beside_its_original_gets_the_grant_in_a_binding_of_its_own(
    kube: KubeClient, grant: Granted, fs_store: ObjectStore, fresh_namespace: Callable[[str], str]
) -> None:
    clone, name = fresh_namespace("clone"), restores.unique("r")
    original = kube.get(grant.path)
    assert not _can(kube, _sa(clone), verb="list", resource=grant.resource, group=GROUP)

    result = restores.run_restore(
        kube, fs_store, grant.backup, name=name, namespace_mapping={grant.namespace: clone}
    )

    assert result.phase is RestorePhase.COMPLETED, result.issues
    said = outcome(result, CLUSTER_ROLE_BINDINGS, grant.binding)
    assert (said.outcome, said.message) == ("created", _said(clone, grant.binding))
    carried = kube.get(grant.clone_path(clone))
    assert carried["roleRef"] == original["roleRef"]
    assert carried["subjects"] == [{"kind": "ServiceAccount", "namespace": clone, "name": "app"}]
    assert carried["metadata"]["labels"][RESTORE_LABEL] == name
    assert carried["metadata"]["annotations"][CLONED_FROM] == grant.binding
    assert kube.get(grant.path) == original  # not even its resourceVersion
    assert _may_use(kube, _sa(clone), grant)
    assert _may_use(kube, _sa(grant.namespace), grant)
    assert _may_use(kube, grant.user, grant)
    assert not _can(kube, _sa(clone, "default"), verb="list", resource=grant.resource, group=GROUP)


def test_running_the_clone_again_leaves_both_bindings_as_they_are(
    kube: KubeClient, grant: Granted, fs_store: ObjectStore, fresh_namespace: Callable[[str], str]
) -> None:
    clone, name = fresh_namespace("clone"), restores.unique("r")
    mapping = {grant.namespace: clone}
    restores.run_restore(kube, fs_store, grant.backup, name=name, namespace_mapping=mapping)
    original, carried = kube.get(grant.path), kube.get(grant.clone_path(clone))

    again = restores.run_restore(kube, fs_store, grant.backup, name=name, namespace_mapping=mapping)

    assert again.phase is RestorePhase.COMPLETED, again.issues
    said = outcome(again, CLUSTER_ROLE_BINDINGS, grant.binding)
    assert (said.outcome, said.message) == (
        "skipped-exists",
        f"{_said(clone, grant.binding)}; already exists",
    )
    assert kube.get(grant.clone_path(clone)) == carried
    assert kube.get(grant.path) == original


def test_the_original_keeps_its_live_subjects_under_the_update_policy(
    kube: KubeClient, grant: Granted, fs_store: ObjectStore, fresh_namespace: Callable[[str], str]
) -> None:
    clone = fresh_namespace("clone")
    bob = {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}
    subjects = [*kube.get(grant.path)["subjects"], bob]  # changed since the backup
    original = restores.merge_patch(kube, grant.path, {"subjects": subjects})

    result = restores.run_restore(
        kube,
        fs_store,
        grant.backup,
        namespace_mapping={grant.namespace: clone},
        existing_resource_policy="update",
    )

    assert result.phase is RestorePhase.COMPLETED, result.issues
    assert kube.get(grant.path) == original
    carried = kube.get(grant.clone_path(clone))
    assert carried["subjects"] == [{"kind": "ServiceAccount", "namespace": clone, "name": "app"}]


def test_a_dry_run_says_the_same_and_writes_nothing(
    kube: KubeClient, grant: Granted, fs_store: ObjectStore, fresh_namespace: Callable[[str], str]
) -> None:
    clone = fresh_namespace("clone")
    original = kube.get(grant.path)

    result = restores.run_restore(
        kube, fs_store, grant.backup, namespace_mapping={grant.namespace: clone}, dry_run=True
    )

    assert result.phase is RestorePhase.COMPLETED, result.issues
    said = outcome(result, CLUSTER_ROLE_BINDINGS, grant.binding)
    assert (said.outcome, said.message) == ("would-create", _said(clone, grant.binding))
    assert restores.get(kube, grant.clone_path(clone)) is None
    assert kube.get(grant.path) == original


def test_without_a_mapping_the_binding_is_restored_as_before(
    kube: KubeClient, grant: Granted, fs_store: ObjectStore
) -> None:
    original, name = kube.get(grant.path), restores.unique("r")

    result = restores.run_restore(kube, fs_store, grant.backup, name=name)

    assert result.phase is RestorePhase.COMPLETED, result.issues
    said = outcome(result, CLUSTER_ROLE_BINDINGS, grant.binding)
    assert (said.outcome, said.message) == ("skipped-exists", "already exists")
    assert kube.get(grant.path) == original
    labelled = kube.get(
        f"{RBAC}/clusterrolebindings", query={"labelSelector": f"{RESTORE_LABEL}={name}"}
    )
    assert labelled["items"] == []


# -- a clone into another cluster ---------------------------------------------------------
def test_a_clone_into_another_cluster_gets_the_clones_binding_only(
    second_cluster: Cluster, grant: Granted, fs_store: ObjectStore
) -> None:
    clone = restores.unique("clone")
    with KubeClient.load(kubeconfig=second_cluster.kubeconfig) as other:
        try:
            result = restore.run(
                other,
                fs_store,
                name=restores.unique("r"),
                backup_name=grant.backup,
                spec=RestoreSpec(
                    backup_name=grant.backup, namespace_mapping={grant.namespace: clone}
                ),
            )

            assert result.phase is RestorePhase.COMPLETED, result.issues
            said = outcome(result, CLUSTER_ROLE_BINDINGS, grant.binding)
            absent = "the original is not in this cluster and a clone does not create it"
            assert (said.outcome, said.message) == (
                "created",
                _said(clone, grant.binding, original=absent),
            )
            [warning] = [w for w in result.issues.warnings if w.name == grant.binding]
            assert f"User {grant.user}" in warning.message
            assert restores.get(other, grant.path) is None
            assert _may_use(other, _sa(clone), grant)
            assert not _can(other, grant.user, verb="list", resource=grant.resource, group=GROUP)
        finally:
            restores.delete(other, f"/api/v1/namespaces/{clone}")
            _remove(other, grant.binding)
