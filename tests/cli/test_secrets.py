"""Secrets stay secret: a whole cycle — backup, a dry-run restore showing a changed Secret, a
clone — with known secret values, then every log, Event, status, results file and CLI output
is searched for them. The archive itself holds the Secret (as Velero's does); nothing else may."""

from __future__ import annotations

import base64
import gzip
from typing import Any

from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.cli.conftest import Ark
from tests.conftest import S3Server
from tests.operator.conftest import make_store
from tests.operator.harness import Operator, wait_for

API = "/apis/ark.dev/v1/namespaces"
PLAIN = ("s3cr3t-backed-up-value", "s3cr3t-live-value", "tok-0123456789abcdef")


def _forms(values: tuple[str, ...]) -> set[str]:
    """Each value as it may appear: plain, base64 (a Secret's data), and base64 of base64."""
    out = set(values)
    for value in values:
        once = base64.b64encode(value.encode()).decode()
        out |= {once, base64.b64encode(once.encode()).decode()}
    return out


def _events(kube: KubeClient, namespace: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = kube.get(f"/api/v1/namespaces/{namespace}/events")["items"]
    return found


def _stored_text(store: ObjectStore) -> dict[str, str]:
    """Every object in the bucket except the archive (which holds the Secret by design),
    decompressed."""
    texts = {}
    for info in store.list(""):
        if info.key.endswith(".tar.gz") and "/backups/" in f"/{info.key}":
            continue
        data = store.get(info.key)
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        texts[info.key] = data.decode("utf-8", "replace")
    return texts


def test_a_full_cycle_leaks_no_secret_value(
    kube: KubeClient,
    ark: Ark,
    ark_ns: str,
    default_location: str,
    running_operator: Operator,
    app_namespace: str,
    minio: S3Server,
    s3_bucket: str,
) -> None:
    store = make_store(minio, s3_bucket)
    backed_up, live, token = PLAIN
    kube.request(
        "POST",
        f"/api/v1/namespaces/{app_namespace}/secrets",
        body={
            "metadata": {"name": "db", "annotations": {"hint": "see vault"}},
            "stringData": {"password": backed_up, "token": token},
        },
    )
    ark.ok("backup", "create", "sec", "--include-namespaces", app_namespace, "--wait")
    kube.request(
        "PATCH",
        f"/api/v1/namespaces/{app_namespace}/secrets/db",
        body={"stringData": {"password": live}},
        content_type="application/merge-patch+json",
    )
    outputs = [
        ark.ok(
            "restore",
            "create",
            "sec-dry",
            "--from-backup",
            "sec",
            "--dry-run",
            "--existing-resource-policy",
            "update",
            "--wait",
        )
    ]
    clone = f"{app_namespace}-clone"
    outputs.append(
        ark.ok(
            "restore",
            "create",
            "sec-clone",
            "--from-backup",
            "sec",
            "--include-namespaces",
            app_namespace,
            "--namespace-mappings",
            f"{app_namespace}:{clone}",
            "--wait",
        )
    )
    try:
        cloned = kube.get(f"/api/v1/namespaces/{clone}/secrets/db")
        assert base64.b64decode(cloned["data"]["password"]).decode() == backed_up
        for args in (
            ("backup", "describe", "sec"),
            ("backup", "logs", "sec"),
            ("restore", "describe", "sec-dry"),
            ("restore", "describe", "sec-clone"),
            ("restore", "logs", "sec-dry"),
            ("backup", "get", "sec", "-o", "yaml"),
            ("restore", "get", "sec-dry", "-o", "yaml"),
        ):
            outputs.append(ark.ok(*args))
        dry = kube.get(f"{API}/{ark_ns}/restores/sec-dry")["status"]
        assert dry["phase"] == "Completed", dry
        wait_for(lambda: _events(kube, ark_ns), timeout=15, what="events")
        texts = {
            "operator log": running_operator.log_text(),
            "events": repr(_events(kube, ark_ns) + _events(kube, app_namespace)),
            "statuses": repr(
                [
                    kube.get(f"{API}/{ark_ns}/{kind}")["items"]
                    for kind in ("backups", "restores", "deletebackuprequests")
                ]
            ),
            **{f"bucket {k}": v for k, v in _stored_text(store).items()},
            **{f"ark output {i}": r.out + r.err for i, r in enumerate(outputs)},
        }
        assert any("secrets" in t and "db" in t for t in texts.values())  # it was looked at
        for where, text in texts.items():
            for form in _forms(PLAIN):
                assert form not in text, f"a secret value ({form[:6]}...) in the {where}"
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{clone}")
