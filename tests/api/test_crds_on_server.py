"""ark's CRDs on a real API server: established, accepting the examples unchanged, showing columns,
and keeping spec and status apart."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from ark.api import ALL_KINDS, GROUP, OBJECT_MODELS, VERSION
from ark.api.kinds import BY_KIND
from tests.conftest import Cluster
from tests.support.localenv import ROOT

EXAMPLES = sorted((ROOT / "deploy" / "examples").glob("*.yaml"))


def _create(cluster: Cluster, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
    plural = BY_KIND[obj["kind"]].plural
    body = copy.deepcopy(obj)
    body["metadata"]["namespace"] = namespace
    created: Any = cluster.custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, body
    )
    return dict(created)


def _subset(part: Any, whole: Any) -> bool:
    if isinstance(part, dict) and isinstance(whole, dict):
        return all(k in whole and _subset(v, whole[k]) for k, v in part.items())
    return bool(part == whole)


def test_all_crds_are_established(cluster: Cluster, ark_crds: list[str]) -> None:
    assert sorted(ark_crds) == sorted(k.crd_name for k in ALL_KINDS)
    for name in ark_crds:
        crd = cluster.apiext.read_custom_resource_definition(name)
        assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: Path(p).stem)
def test_example_is_accepted_and_round_trips_through_the_model(
    cluster: Cluster, ark_crds: list[str], namespace: str, path: Path
) -> None:
    example = yaml.safe_load(path.read_text())
    model = OBJECT_MODELS[example["kind"]]
    model.from_wire(example)  # the example is valid for the models too
    live = _create(cluster, namespace, example)
    assert _subset(example["spec"], live["spec"])  # the server only adds defaults
    assert model.from_wire(live).to_wire() == live


def test_every_kind_has_an_example() -> None:
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in EXAMPLES}
    assert kinds == {k.kind for k in ALL_KINDS}


def test_server_applies_defaults_from_the_models(
    cluster: Cluster, ark_crds: list[str], namespace: str
) -> None:
    live = _create(
        cluster,
        namespace,
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Backup",
            "metadata": {"name": "defaults"},
            "spec": {},
        },
    )
    assert live["spec"]["ttl"] == "720h"
    assert live["spec"]["includeObjectsBeingDeleted"] is False


def test_printer_columns_show_phase_items_errors_expiry(
    cluster: Cluster, ark_crds: list[str], namespace: str
) -> None:
    example = yaml.safe_load((ROOT / "deploy/examples/backup.yaml").read_text())
    _create(cluster, namespace, example)
    # What `kubectl get backups` asks for: a server-side Table.
    response = cluster.api.call_api(
        *cluster.api.param_serialize(
            "GET",
            f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/backups",
            header_params={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
            auth_settings=["BearerToken"],
        )
    )
    response.read()
    table = json.loads(response.data or b"{}")
    columns = [c["name"] for c in table["columnDefinitions"]]
    assert columns[:1] == ["Name"]
    for wanted in ("Phase", "Items", "Errors", "Warnings", "Expires", "Age"):
        assert wanted in columns
    assert [r["cells"][0] for r in table["rows"]] == [example["metadata"]["name"]]


def test_status_subresource_and_spec_are_independent(
    cluster: Cluster, ark_crds: list[str], namespace: str
) -> None:
    example = yaml.safe_load((ROOT / "deploy/examples/backup.yaml").read_text())
    live = _create(cluster, namespace, example)
    name = live["metadata"]["name"]

    # A status write cannot change spec...
    body = copy.deepcopy(live)
    body["spec"]["ttl"] = "1h"
    body["status"] = {"phase": "InProgress", "progress": {"totalItems": 10, "itemsBackedUp": 3}}
    after: Any = cluster.custom.replace_namespaced_custom_object_status(
        GROUP, VERSION, namespace, "backups", name, body
    )
    assert after["status"]["phase"] == "InProgress"
    assert after["status"]["progress"] == {"totalItems": 10, "itemsBackedUp": 3}
    assert after["spec"]["ttl"] == "720h"

    # ...and a spec write cannot change status.
    body = copy.deepcopy(after)
    body["spec"]["ttl"] = "2h"
    body["status"] = {"phase": "Completed"}
    after2: Any = cluster.custom.replace_namespaced_custom_object(
        GROUP, VERSION, namespace, "backups", name, body
    )
    assert after2["spec"]["ttl"] == "2h"
    assert after2["status"]["phase"] == "InProgress"


def test_status_keeps_every_field_ark_writes(
    cluster: Cluster, ark_crds: list[str], namespace: str
) -> None:
    example = yaml.safe_load((ROOT / "deploy/examples/backup.yaml").read_text())
    live = _create(cluster, namespace, example)
    status = {
        "phase": "WaitingForSnapshots",
        "storageLocation": "default",
        "startTimestamp": "2026-11-25T08:00:00Z",
        "expiration": "2026-12-25T08:00:00Z",
        "progress": {"totalItems": 5, "itemsBackedUp": 5, "currentResource": "pods"},
        "warnings": 1,
        "errors": 0,
        "volumeSnapshots": [
            {
                "persistentVolume": "pv-1",
                "provider": "aws",
                "volumeId": "vol-1",
                "snapshotId": "snap-1",
                "phase": "InProgress",
            }
        ],
        "snapshotSkewSeconds": 0.25,
        "attempt": 1,
        "kopf": {"progress": {"handler": {"retries": 1}}},
    }
    after: Any = cluster.custom.replace_namespaced_custom_object_status(
        GROUP, VERSION, namespace, "backups", live["metadata"]["name"], {**live, "status": status}
    )
    assert after["status"] == status  # nothing pruned


@pytest.mark.parametrize(
    "kind",
    [k.kind for k in ALL_KINDS],
)
def test_unknown_phase_in_status_is_rejected(
    cluster: Cluster, ark_crds: list[str], namespace: str, kind: str
) -> None:
    example = next(
        yaml.safe_load(p.read_text())
        for p in EXAMPLES
        if yaml.safe_load(p.read_text())["kind"] == kind
    )
    live = _create(cluster, namespace, example)
    with pytest.raises(client.ApiException) as err:
        cluster.custom.replace_namespaced_custom_object_status(
            GROUP,
            VERSION,
            namespace,
            BY_KIND[kind].plural,
            live["metadata"]["name"],
            {**live, "status": {"phase": "Exploded"}},
        )
    assert err.value.status == 422
    assert "status.phase" in str(err.value.body)
