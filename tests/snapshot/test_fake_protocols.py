"""The local ARM and GCE servers answer like the services: status codes, headers, error bodies."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1

from hack.fakes import azure_compute, gce_compute
from tests.snapshot import clouds

API = "api-version=2026-03-02"
AUTH = {"Authorization": f"Bearer {clouds.AZURE_TOKEN}"}
GROUP = f"/subscriptions/{clouds.AZURE_SUBSCRIPTION}/resourceGroups/ark-disks"
COMPUTE = f"{GROUP}/providers/Microsoft.Compute"
GCE = f"/compute/v1/projects/{clouds.GCP_PROJECT}"


def call(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback http only
        url, data=data, method=method, headers=headers or {}
    )
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback
            status, head, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, head, raw = err.code, dict(err.headers), err.read()
    return status, head, json.loads(raw) if raw else None


@pytest.fixture
def arm(azure_fake: tuple[azure_compute.AzureCompute, str]) -> str:
    return azure_fake[1]


@pytest.fixture
def gce(gce_fake: tuple[gce_compute.GceCompute, str]) -> str:
    return gce_fake[1]


def _empty_disk(name: str, *, location: str = "eastus") -> dict[str, Any]:
    return {
        "location": location,
        "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 4},
    }


def test_arm_requires_a_token_and_an_api_version(arm: str) -> None:
    status, _, body = call("GET", f"{arm}{COMPUTE}/disks/x?{API}")
    assert (status, body["error"]["code"]) == (401, "AuthenticationFailed")
    status, _, body = call("GET", f"{arm}{COMPUTE}/disks/x", headers=AUTH)
    assert (status, body["error"]["code"]) == (400, "MissingApiVersionParameter")


def test_arm_put_is_accepted_with_202_and_finishes_through_the_async_operation(arm: str) -> None:
    url = f"{arm}{COMPUTE}/disks/d-{uuid.uuid4().hex[:6]}?{API}"
    status, head, body = call("PUT", url, _empty_disk("d"), AUTH)
    assert status == 202
    assert body["properties"]["provisioningState"] == "Creating"
    operation = head["Azure-AsyncOperation"]
    assert "/providers/Microsoft.Compute/locations/eastus/DiskOperations/" in operation
    assert head["Location"].startswith(operation)
    statuses = [call("GET", operation, headers=AUTH)[2]["status"] for _ in range(2)]
    assert statuses == ["InProgress", "Succeeded"]
    assert call("GET", url, headers=AUTH)[2]["properties"]["provisioningState"] == "Succeeded"


def test_arm_errors_use_arms_codes(arm: str) -> None:
    name = f"d-{uuid.uuid4().hex[:6]}"
    no_location = {"properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 4}}
    cases = [
        ("PUT", f"{COMPUTE}/disks/{name}", no_location, 400, "LocationRequired"),
        ("PUT", f"{COMPUTE}/disks/{name}", {"location": "eastus"}, 400, "InvalidParameter"),
        ("GET", f"{COMPUTE}/snapshots/{name}", None, 404, "ResourceNotFound"),
        (
            "GET",
            f"/subscriptions/{clouds.AZURE_SUBSCRIPTION}/resourceGroups/nope/providers/"
            f"Microsoft.Compute/disks/{name}",
            None,
            404,
            "ResourceGroupNotFound",
        ),
        (
            "GET",
            "/subscriptions/not-a-guid/resourceGroups/g/providers/Microsoft.Compute/disks/d",
            None,
            400,
            "InvalidSubscriptionId",
        ),
    ]
    for method, path, body, want_status, want_code in cases:
        status, _, answer = call(method, f"{arm}{path}?{API}", body, AUTH)
        assert (status, answer["error"]["code"]) == (want_status, want_code), path
        assert answer["error"]["message"]


def test_arm_delete_of_a_missing_resource_is_204(arm: str) -> None:
    status, _, body = call("DELETE", f"{arm}{COMPUTE}/snapshots/never-made?{API}", None, AUTH)
    assert (status, body) == (204, None)


def test_arm_refuses_a_disk_from_a_snapshot_still_copying(arm: str) -> None:
    disk = f"{COMPUTE}/disks/src-{uuid.uuid4().hex[:6]}"
    call("PUT", f"{arm}{disk}?{API}", _empty_disk("src"), AUTH)
    snap = f"{COMPUTE}/snapshots/s-{uuid.uuid4().hex[:6]}"
    copy = {"createOption": "Copy", "sourceResourceId": disk}
    body = {"location": "eastus", "properties": {"creationData": copy, "incremental": True}}
    assert call("PUT", f"{arm}{snap}?{API}", body, AUTH)[0] == 202
    restore = {
        "location": "eastus",
        "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": snap}},
    }
    status, _, answer = call("PUT", f"{arm}{COMPUTE}/disks/r-1?{API}", restore, AUTH)
    assert (status, answer["error"]["code"]) == (409, "OperationNotAllowed")


def test_gce_mutations_answer_operations_that_finish(gce: str) -> None:
    name = f"d-{uuid.uuid4().hex[:6]}"
    status, _, op = call("POST", f"{gce}{GCE}/zones/us-central1-a/disks", {"name": name})
    assert status == 200
    assert (op["kind"], op["status"], op["operationType"]) == (
        "compute#operation",
        "RUNNING",
        "insert",
    )
    assert op["targetLink"].endswith(f"/zones/us-central1-a/disks/{name}")
    op_path = op["selfLink"].split("/compute/v1/", 1)[1]
    assert op_path.startswith(f"projects/{clouds.GCP_PROJECT}/zones/us-central1-a/operations/")
    assert call("GET", f"{gce}/compute/v1/{op_path}")[2]["status"] == "DONE"
    disk = call("GET", f"{gce}{GCE}/zones/us-central1-a/disks/{name}")[2]
    assert (disk["status"], disk["sizeGb"]) == ("READY", "10")  # int64 as a JSON string


def test_gce_errors_use_googles_format(gce: str) -> None:
    disks = f"{gce}{GCE}/zones/us-central1-a/disks"
    cases = [
        ("POST", disks, {"sizeGb": "10"}, 400, "required"),
        ("POST", disks, {"name": "Bad_Name"}, 400, "invalid"),
        ("POST", disks, {"name": "ok", "labels": {"Team": "x"}}, 400, "invalid"),
        ("GET", f"{disks}/missing", None, 404, "notFound"),
        ("DELETE", f"{gce}{GCE}/global/snapshots/missing", None, 404, "notFound"),
        (
            "GET",
            f"{gce}/compute/v1/projects/other/zones/us-central1-a/disks/x",
            None,
            404,
            "notFound",
        ),
        ("PUT", f"{disks}/x", {"name": "x"}, 405, "badRequest"),
    ]
    for method, url, body, want_status, want_reason in cases:
        status, _, answer = call(method, url, body)
        error = answer["error"]
        assert (status, error["code"], error["errors"][0]["reason"]) == (
            want_status,
            want_status,
            want_reason,
        ), url
        assert error["message"] == error["errors"][0]["message"]


def test_gce_refuses_a_disk_from_a_snapshot_not_ready(gce: str) -> None:
    disk = f"d-{uuid.uuid4().hex[:6]}"
    call("POST", f"{gce}{GCE}/zones/us-central1-a/disks", {"name": disk})
    call("GET", f"{gce}{GCE}/zones/us-central1-a/disks/{disk}")
    snap = f"s-{uuid.uuid4().hex[:6]}"
    url = f"{gce}{GCE}/zones/us-central1-a/disks/{disk}/createSnapshot"
    assert call("POST", url, {"name": snap})[2]["operationType"] == "createSnapshot"
    restore = {"name": "r-" + snap, "sourceSnapshot": f"global/snapshots/{snap}"}
    status, _, answer = call("POST", f"{gce}{GCE}/zones/us-east1-b/disks", restore)
    assert (status, answer["error"]["errors"][0]["reason"]) == (400, "resourceNotReady")


def _labelled_disk(gce: str, where: str, labels: dict[str, str]) -> str:
    name = f"d-{uuid.uuid4().hex[:6]}"
    body: dict[str, Any] = {"name": name, "labels": labels}
    if where.startswith("regions/"):
        zones = ["us-central1-a", "us-central1-b"]
        body["replicaZones"] = [f"projects/{clouds.GCP_PROJECT}/zones/{z}" for z in zones]
    assert call("POST", f"{gce}{GCE}/{where}/disks", body)[0] == 200
    return f"{where}/disks/{name}"


def test_gce_aggregated_list_filters_on_labels_across_zones_and_regions(gce: str) -> None:
    run = uuid.uuid4().hex[:8]
    zonal = _labelled_disk(gce, "zones/us-central1-a", {"run": run, "pv": "a"})
    regional = _labelled_disk(gce, "regions/us-central1", {"run": run, "pv": "b"})
    _labelled_disk(gce, "zones/us-east1-b", {"run": "other", "pv": "a"})
    url = f"{gce}{GCE}/aggregated/disks"
    status, _, answer = call("GET", f"{url}?filter=" + urllib.parse.quote(f'labels.run = "{run}"'))
    assert (status, answer["kind"]) == (200, "compute#diskAggregatedList")
    found = {
        scope: [d["selfLink"].split(f"{clouds.GCP_PROJECT}/", 1)[1] for d in listed["disks"]]
        for scope, listed in answer["items"].items()
    }
    assert found == {"zones/us-central1-a": [zonal], "regions/us-central1": [regional]}
    both = urllib.parse.quote(f'(labels.run = "{run}") AND (labels.pv = "b")')
    answer = call("GET", f"{url}?filter={both}")[2]
    assert list(answer["items"]) == ["regions/us-central1"]


def test_gce_lists_page_with_next_page_token(gce: str) -> None:
    run = uuid.uuid4().hex[:8]
    made = sorted(_labelled_disk(gce, "zones/us-central1-c", {"run": run}) for _ in range(3))
    url = f"{gce}{GCE}/zones/us-central1-c/disks?maxResults=2&filter=labels.run%3D{run}"
    first = call("GET", url)[2]
    assert len(first["items"]) == 2 and first["nextPageToken"]
    second = call("GET", f"{url}&pageToken={urllib.parse.quote(first['nextPageToken'])}")[2]
    assert "nextPageToken" not in second
    listed = [d["name"] for d in first["items"] + second["items"]]
    assert listed == [m.rsplit("/", 1)[1] for m in made]


def test_gce_refuses_a_filter_it_does_not_understand_as_google_does(gce: str) -> None:
    for unknown in ('(labels.a = "x") OR (labels.b = "y")', "name eq disk-.*", "labels.a != x"):
        url = f"{gce}{GCE}/global/snapshots?filter={urllib.parse.quote(unknown)}"
        status, _, answer = call("GET", url)
        error = answer["error"]
        assert (status, error["code"], error["errors"][0]["reason"]) == (400, 400, "invalid")
        assert "filter" in error["message"]


def test_arm_lists_a_subscriptions_disks_in_every_group(arm: str) -> None:
    name = f"d-{uuid.uuid4().hex[:6]}"
    status, _, _ = call("PUT", f"{arm}{COMPUTE}/disks/{name}?{API}", _empty_disk(name), AUTH)
    assert status in (200, 201, 202)
    url = f"{arm}/subscriptions/{clouds.AZURE_SUBSCRIPTION}/providers/Microsoft.Compute/disks"
    status, _, answer = call("GET", f"{url}?{API}", headers=AUTH)
    assert status == 200
    assert any(d["name"] == name for d in answer["value"])
    assert call("GET", f"{url}?{API}")[0] == 401  # still ARM: a token is required


def test_gce_pages_and_aggregates_as_the_real_client_reads_them(gce: str) -> None:
    run = uuid.uuid4().hex[:8]
    made = {_labelled_disk(gce, where, {"run": run}) for where in ("zones/us-central1-a",) * 3}
    made.add(_labelled_disk(gce, "regions/us-central1", {"run": run}))
    sdk = compute_v1.DisksClient(
        credentials=AnonymousCredentials(),
        transport="rest",
        client_options=ClientOptions(api_endpoint=gce),
    )
    request = compute_v1.AggregatedListDisksRequest(
        project=clouds.GCP_PROJECT, filter=f'labels.run = "{run}"', max_results=1
    )
    pages = sdk.aggregated_list(request=request)
    found = {
        f"{scope}/disks/{disk.name}" for scope, listed in pages for disk in listed.disks
    }  # the pager followed every nextPageToken
    assert found == made
