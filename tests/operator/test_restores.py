"""Restores through the operator: a clone under a new namespace name, a schedule's newest
backup, validation, and deletion of the backup taking its restores along."""

from __future__ import annotations

from typing import Any

from ark import archive, control, persistence
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import NamespaceFactory
from tests.operator.bulk import create_configmaps
from tests.operator.harness import Operator, wait_event, wait_gone, wait_phase

BACKUP, RESTORE, DBR = control.BACKUP, control.RESTORE, control.DBR


def configmap_names(kube: KubeClient, namespace: str) -> set[str]:
    items = kube.get(f"/api/v1/namespaces/{namespace}/configmaps")["items"]
    return {i["metadata"]["name"] for i in items if i["metadata"]["name"].startswith("bulk-")}


def test_restore_clones_a_namespace_and_goes_with_its_backup(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    store: ObjectStore,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    create_configmaps(kube, app, 5)
    control.create(
        kube,
        BACKUP,
        op_namespace,
        {"metadata": {"name": "src"}, "spec": {"includedNamespaces": [app]}},
    )
    wait_phase(kube, BACKUP, op_namespace, "src", {"Completed"})
    clone = f"{app}-clone"
    control.create(
        kube,
        RESTORE,
        op_namespace,
        {
            "metadata": {"name": "r1"},
            "spec": {"backupName": "src", "namespaceMapping": {app: clone}},
        },
    )
    try:
        st = wait_phase(
            kube,
            RESTORE,
            op_namespace,
            "r1",
            {"Completed", "PartiallyFailed", "Failed"},
            timeout=120,
        )["status"]
        assert st["phase"] == "Completed", st
        assert st["backupName"] == "src" and st["attempt"] == 1
        assert st["progress"]["itemsRestored"] >= 5
        assert configmap_names(kube, clone) == configmap_names(kube, app)
        keys = persistence.RestoreKeys(archive.restore_name("r1"))
        assert store.exists(keys.results)
        wait_event(kube, op_namespace, "r1", "Started", "Completed")
        assert "ark_restore_success_total 1.0" in operator.metrics()
        # Deleting the backup takes the restore's results and the Restore along.
        control.create(
            kube,
            DBR,
            op_namespace,
            {"metadata": {"name": "del-src"}, "spec": {"backupName": "src"}},
        )
        wait_phase(kube, DBR, op_namespace, "del-src", {"Processed"})
        wait_gone(kube, RESTORE, op_namespace, "r1")
        assert list(store.list("")) == []
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{clone}")


def test_restore_by_schedule_takes_its_newest_completed_backup(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    create_configmaps(kube, app, 1)
    for name in ("daily-20260101000000", "daily-20260102000000"):
        control.create(
            kube,
            BACKUP,
            op_namespace,
            {
                "metadata": {"name": name, "labels": {control.SCHEDULE_LABEL: "daily"}},
                "spec": {"includedNamespaces": [app]},
            },
        )
        wait_phase(kube, BACKUP, op_namespace, name, {"Completed"})
    target = f"{app}-latest"
    control.create(
        kube,
        RESTORE,
        op_namespace,
        {
            "metadata": {"name": "latest"},
            "spec": {"scheduleName": "daily", "namespaceMapping": {app: target}},
        },
    )
    try:
        st = wait_phase(
            kube,
            RESTORE,
            op_namespace,
            "latest",
            {"Completed", "PartiallyFailed", "Failed"},
            timeout=120,
        )["status"]
        assert st["phase"] == "Completed", st
        assert st["backupName"] == "daily-20260102000000"
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{target}")


def test_restore_of_an_unknown_backup_fails_validation(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
) -> None:
    control.create(
        kube,
        RESTORE,
        op_namespace,
        {"metadata": {"name": "nothing"}, "spec": {"backupName": "absent"}},
    )
    st = wait_phase(kube, RESTORE, op_namespace, "nothing", {"FailedValidation"})["status"]
    assert st["validationErrors"] == [f"backup {op_namespace}/absent not found"]
    control.create(
        kube,
        RESTORE,
        op_namespace,
        {"metadata": {"name": "nosched"}, "spec": {"scheduleName": "never"}},
    )
    st = wait_phase(kube, RESTORE, op_namespace, "nosched", {"FailedValidation"})["status"]
    assert "schedule never has no Completed backup" in st["validationErrors"][0]


def modifier_config_map(name: str, rules: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"rules.yaml": rules},
    }


GOOD_RULES = """
version: v1
resourceModifierRules:
- conditions:
    groupResource: configmaps
    resourceNameRegex: "^bulk-0000[01]$"
  mergePatches:
  - patchData: '{"metadata": {"labels": {"cloned": "yes"}}, "data": {"index": null}}'
"""
BAD_RULES = """
version: v1
resourceModifierRules:
- conditions: {groupResource: configmaps}
  mergePatches: [{patchData: '{}'}]
- conditions: {groupResource: configmaps}
  patches: [{operation: rename, path: /data/x}]
"""


def test_resource_modifiers_from_a_configmap_apply_and_bad_rules_fail_validation(
    kube: KubeClient,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    make_namespace: NamespaceFactory,
) -> None:
    app = make_namespace("app")
    create_configmaps(kube, app, 3)
    configmaps = f"/api/v1/namespaces/{op_namespace}/configmaps"
    kube.request("POST", configmaps, body=modifier_config_map("bad-rules", BAD_RULES))
    kube.request("POST", configmaps, body=modifier_config_map("good-rules", GOOD_RULES))
    control.create(
        kube,
        BACKUP,
        op_namespace,
        {"metadata": {"name": "mods"}, "spec": {"includedNamespaces": [app]}},
    )
    wait_phase(kube, BACKUP, op_namespace, "mods", {"Completed"})
    clone = f"{app}-mod"
    for name, rules in (("bad", "bad-rules"), ("absent", "no-such-rules"), ("good", "good-rules")):
        control.create(
            kube,
            RESTORE,
            op_namespace,
            {
                "metadata": {"name": f"mods-{name}"},
                "spec": {
                    "backupName": "mods",
                    "namespaceMapping": {app: clone},
                    "resourceModifier": {"kind": "ConfigMap", "name": rules},
                },
            },
        )
    try:
        st = wait_phase(kube, RESTORE, op_namespace, "mods-bad", {"FailedValidation"})["status"]
        assert st["validationErrors"] == [
            f"resourceModifier: configmap {op_namespace}/bad-rules key rules.yaml: resource "
            "modifier rule 1: patches.0: unsupported operation 'rename' (one of add, copy, "
            "move, remove, replace, test)"
        ]
        st = wait_phase(kube, RESTORE, op_namespace, "mods-absent", {"FailedValidation"})["status"]
        assert st["validationErrors"] == [
            f"resourceModifier: configmap {op_namespace}/no-such-rules not found"
        ]
        st = wait_phase(
            kube,
            RESTORE,
            op_namespace,
            "mods-good",
            {"Completed", "PartiallyFailed", "Failed"},
            timeout=120,
        )["status"]
        assert st["phase"] == "Completed", st
        for i in range(3):
            cm = kube.get(f"/api/v1/namespaces/{clone}/configmaps/bulk-{i:05d}")
            modified = i < 2
            assert (cm["metadata"]["labels"].get("cloned") == "yes") is modified
            assert ("index" not in cm["data"]) is modified
    finally:
        kube.request("DELETE", f"/api/v1/namespaces/{clone}")
