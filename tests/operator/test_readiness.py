"""Every kind says its health in kstatus conditions: ``Ready`` True once it is what it was
asked to be, ``Reconciling`` while it works, ``Stalled`` when it ended short of Ready — what
``kubectl wait --for=condition=Ready`` and GitOps tools read."""

from __future__ import annotations

from typing import Any

from ark import control
from ark.api.kinds import Kind
from ark.kube import KubeClient
from tests.conftest import NamespaceFactory
from tests.operator.harness import status, wait_for, wait_phase


def _conditions(kube: KubeClient, kind: Kind, ns: str, name: str) -> dict[str, dict[str, Any]]:
    found = status(kube, kind, ns, name).get("conditions") or []
    return {c["type"]: c for c in found}


def _health(kube: KubeClient, kind: Kind, ns: str, name: str) -> tuple[str, str, str]:
    found = _conditions(kube, kind, ns, name)
    ready, reconciling, stalled = (
        str(found.get(t, {}).get("status", "-")) for t in ("Ready", "Reconciling", "Stalled")
    )
    return ready, reconciling, stalled


def _ready(kube: KubeClient, kind: Kind, ns: str, name: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        found = _conditions(kube, kind, ns, name).get("Ready")
        return found if found and found["status"] == "True" else None

    return wait_for(ready, timeout=60, what=f"{kind.kind} {name} Ready")


def test_a_backup_a_restore_a_location_and_a_schedule_become_ready(
    kube: KubeClient, op_namespace: str, default_bsl: str, make_namespace: NamespaceFactory
) -> None:
    app = make_namespace("app")
    kube.request(
        "POST",
        f"/api/v1/namespaces/{app}/configmaps",
        body={"metadata": {"name": "one"}, "data": {"a": "b"}},
    )
    assert _ready(kube, control.BSL, op_namespace, default_bsl)["reason"] == "Available"

    body = {"metadata": {"name": "b1"}, "spec": {"includedNamespaces": [app]}}
    control.create(kube, control.BACKUP, op_namespace, body)
    ready = _ready(kube, control.BACKUP, op_namespace, "b1")
    assert ready["reason"] == "Completed"
    assert _health(kube, control.BACKUP, op_namespace, "b1") == ("True", "False", "False")
    # The conditions ark set before (InStorage, from the record) are kept beside them.
    assert "Ready" in _conditions(kube, control.BACKUP, op_namespace, "b1")

    copy = f"{app}-copy"
    restore = {
        "metadata": {"name": "r1"},
        "spec": {"backupName": "b1", "namespaceMapping": {app: copy}},
    }
    control.create(kube, control.RESTORE, op_namespace, restore)
    assert _ready(kube, control.RESTORE, op_namespace, "r1")["reason"] == "Completed"
    kube.request("DELETE", f"/api/v1/namespaces/{copy}")

    schedule = {"metadata": {"name": "nightly"}, "spec": {"schedule": "0 3 * * *", "template": {}}}
    control.create(kube, control.SCHEDULE, op_namespace, schedule)
    assert _ready(kube, control.SCHEDULE, op_namespace, "nightly")["reason"] == "Enabled"


def test_a_failed_backup_is_stalled_with_the_reason(
    kube: KubeClient, op_namespace: str, default_bsl: str
) -> None:
    body = {"metadata": {"name": "bad"}, "spec": {"storageLocation": "none-such"}}
    control.create(kube, control.BACKUP, op_namespace, body)
    wait_phase(kube, control.BACKUP, op_namespace, "bad", {"FailedValidation"})
    found = _conditions(kube, control.BACKUP, op_namespace, "bad")
    assert found["Ready"]["status"] == "False" and found["Stalled"]["status"] == "True"
    assert found["Ready"]["reason"] == "FailedValidation"
    assert "none-such" in found["Ready"]["message"], found

    request = {"metadata": {"name": "del-missing"}, "spec": {"backupName": "never-was"}}
    control.create(kube, control.DBR, op_namespace, request)
    wait_phase(kube, control.DBR, op_namespace, "del-missing", {"Processed"})
    health = _health(kube, control.DBR, op_namespace, "del-missing")
    errors = status(kube, control.DBR, op_namespace, "del-missing").get("errors")
    assert health == (("False", "False", "True") if errors else ("True", "False", "False"))
