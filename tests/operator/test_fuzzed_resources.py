"""ark's custom resources with a fuzzed field, created on the real API server with the operator
running: the server refuses the object naming a field, or the operator takes it to a phase it
leaves New for (FailedValidation with the reason, or the run itself) — never stuck in New,
never retried forever.

Each example starts from a valid object (the ones in deploy/examples, pointed at this test's
location, or for locations at nothing reachable) and replaces one or two values anywhere in
its spec. The seed is fixed; regressions
are pinned with ``@example``.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, seed, settings
from hypothesis import strategies as st
from kubernetes import client

from ark import control
from ark.api.kinds import BY_KIND
from ark.kube import KubeClient
from tests.conftest import Cluster
from tests.operator.harness import wait_phase

BASES: dict[str, dict[str, Any]] = {
    "Backup": {
        "includedNamespaces": ["fuzz-app"],
        "excludedResources": ["events"],
        "labelSelector": {"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]},
        "snapshotVolumes": False,
        "ttl": "720h",
        "hooks": {
            "resources": [
                {
                    "name": "h",
                    "includedNamespaces": ["fuzz-app"],
                    "pre": [{"exec": {"command": ["true"], "timeout": "30s"}}],
                }
            ]
        },
    },
    "Schedule": {
        "schedule": "0 3 * * *",
        "template": {"includedNamespaces": ["fuzz-app"], "ttl": "2160h"},
        "retention": {"keepDaily": 7},
        "restoreTest": {"enabled": True, "keepFailed": False},
    },
    "Restore": {
        "backupName": "none-such",
        "includedNamespaces": ["fuzz-app"],
        "namespaceMapping": {"fuzz-app": "fuzz-copy"},
        "existingResourcePolicy": "update",
        "storageClassMapping": {"gp2": "gp3"},
    },
    "Restore/point-in-time": {
        "scheduleName": "none-such",
        "pointInTime": "2026-12-03T10:42:00Z",
        "pointInTimeCluster": "2f1c1a52-0d7e-4a55-9b1e-2f0f3c8a7d11",
        "namespaceMapping": {"fuzz-app": "fuzz-copy"},
    },
    "DeleteBackupRequest": {"backupName": "none-such"},
    # never a default location (no key is added), never a reachable bucket (port 9: discard)
    "BackupStorageLocation": {
        "provider": "aws",
        "objectStorage": {"bucket": "fuzz-bucket", "prefix": "fuzz"},
        "config": {
            "region": "us-east-1",
            "s3Url": "http://127.0.0.1:9",
            "s3ForcePathStyle": "true",
        },
        "accessMode": "ReadOnly",
        "backupSyncPeriod": "1m",
    },
    "BackupStorageLocation/azure": {
        "provider": "azure",
        "objectStorage": {"bucket": "fuzz-container"},
        "config": {"storageAccount": "fuzz", "storageAccountURI": "http://127.0.0.1:9/fuzz"},
        "accessMode": "ReadOnly",
    },
    "BackupStorageLocation/gcp": {
        "provider": "gcp",
        "objectStorage": {"bucket": "fuzz-bucket"},
        "config": {"storeEndpoint": "http://127.0.0.1:9", "anonymous": "true"},
        "accessMode": "ReadOnly",
    },
    "VolumeSnapshotLocation": {
        "provider": "aws",
        "config": {"region": "us-east-1", "ec2Url": "http://127.0.0.1:9"},
    },
    "VolumeSnapshotLocation/azure": {
        "provider": "azure",
        "config": {
            "subscriptionId": "6f1c1a52-0d7e-4a55-9b1e-2f0f3c8a7d11",
            "resourceGroup": "fuzz",
            "region": "eastus",
            "armEndpoint": "http://127.0.0.1:9",
        },
    },
    "VolumeSnapshotLocation/gcp": {
        "provider": "gcp",
        "config": {"project": "fuzz", "computeUrl": "http://127.0.0.1:9", "imageBucket": "b"},
    },
}
"""A base spec per kind (``Kind/variant`` for a second one)."""
DONE = {
    "Backup": {"Completed", "PartiallyFailed", "Failed", "FailedValidation"},
    "Schedule": {"Enabled", "FailedValidation"},
    "Restore": {"Completed", "PartiallyFailed", "Failed", "FailedValidation"},
    "DeleteBackupRequest": {"Processed"},
    "BackupStorageLocation": {"Available", "Unavailable"},
    "VolumeSnapshotLocation": {"Available", "Unavailable"},
}
STRINGS = st.one_of(
    st.sampled_from(
        ["", " ", "0", "-1", "*", "a" * 64, "a" * 254, "99999999999h", "2562048h", "1h",
         "0.000001ns", "Bad Name", "ünï", "k in (a)", "a=b", "fuzz-app", "kube-system", "update",
         "@every 0s", "@yearly", "* * * * * * *", "61 * * * *", "0 0 30 2 *", "In", "Exists"]
    ),
    st.text(max_size=20),
)  # fmt: skip
NUMBERS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([0, -1, 2**31, 10**18, 1.5]),
)
SCALARS = st.one_of(STRINGS, NUMBERS, st.sampled_from([True, False, None]))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=4,
)


def _paths(node: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out: list[tuple[str | int, ...]] = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _set(spec: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    node: Any = spec
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _like(value: Any) -> st.SearchStrategy[Any]:
    """Mostly a value of the same JSON type (so the schema lets it through to the operator),
    sometimes anything."""
    if isinstance(value, bool):
        same: st.SearchStrategy[Any] = st.booleans()
    elif isinstance(value, int):
        same = NUMBERS
    elif isinstance(value, str):
        same = STRINGS
    elif isinstance(value, list):
        same = st.lists(STRINGS, max_size=4)
    else:
        same = st.dictionaries(STRINGS, STRINGS, max_size=3)
    return st.one_of(same, same, same, VALUES)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(sorted(BASES)))
    spec = copy.deepcopy(BASES[kind])
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        paths = _paths(spec)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        node: Any = spec
        for part in path:
            node = node[part]
        _set(spec, path, draw(_like(node)))
    return kind, spec


@pytest.fixture
def fuzz_ready(cluster: Cluster, default_bsl: str, make_namespace: Any) -> str:
    try:
        cluster.core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name="fuzz-app"))
        )
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    return default_bsl


COUNTER = iter(range(1_000_000))


@seed(20261204)
@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutated())
@example(("Backup", {**BASES["Backup"], "ttl": "99999999999h"}))
@example(("Schedule", {**BASES["Schedule"], "schedule": "61 * * * *"}))
@example(("Restore/point-in-time", BASES["Restore/point-in-time"]))
@example(  # botocore refused the region: the location was retried forever, never Unavailable
    (
        "BackupStorageLocation",
        {
            **BASES["BackupStorageLocation"],
            "config": {"region": "0", "s3Url": "http://127.0.0.1:9"},
        },
    )
)
@example(("VolumeSnapshotLocation", {"provider": "aws", "config": {"region": "0"}}))
@example(("BackupStorageLocation/azure", BASES["BackupStorageLocation/azure"]))  # token over http
@example(  # the GCS SDK refuses the bucket's name
    (
        "BackupStorageLocation/gcp",
        {**BASES["BackupStorageLocation/gcp"], "objectStorage": {"bucket": " "}},
    )
)
@example(("Restore/point-in-time", {**BASES["Restore/point-in-time"], "pointInTimeCluster": "ü"}))
def test_a_fuzzed_resource_is_refused_or_leaves_new(
    cluster: Cluster,
    kube: KubeClient,
    op_namespace: str,
    fuzz_ready: str,
    case: tuple[str, dict[str, Any]],
) -> None:
    base, spec = case
    kind_name = base.split("/")[0]
    kind = BY_KIND[kind_name]
    name = f"fuzz-{next(COUNTER)}"
    body = {"apiVersion": kind.api_version, "kind": kind_name, "metadata": {"name": name}}
    body["spec"] = spec
    try:
        cluster.custom.create_namespaced_custom_object(
            kind.api_version.split("/")[0],
            "v1",
            op_namespace,
            kind.plural,
            body,
            field_validation="Strict",
        )
    except client.ApiException as exc:
        assert exc.status in (400, 422), exc.body
        assert "spec" in str(exc.body), exc.body
        event(f"{kind_name}: refused by the API server")
        return
    except ValueError:
        return  # the client refuses to send it (e.g. a float that JSON cannot carry)
    try:
        done = wait_phase(kube, kind, op_namespace, name, DONE[kind_name], timeout=60)
        event(f"{kind_name}: {done['status']['phase']}")
        if done["status"]["phase"] == "FailedValidation":
            assert done["status"].get("validationErrors"), done["status"]
    finally:
        control.delete(kube, kind, op_namespace, name)
