"""Invalid custom resources are refused by the API server itself, naming the field — and the
pydantic models refuse the same objects, so the operator and the CRDs agree."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from pydantic import ValidationError

from ark.api import GROUP, OBJECT_MODELS, VERSION, limits
from ark.api.kinds import BY_KIND
from tests.conftest import Cluster

BSL_SPEC = {"provider": "aws", "objectStorage": {"bucket": "b"}}
KEY_REF = {"name": "ark-backup-keys", "key": "k1"}
SCHEDULE_SPEC = {"schedule": "0 3 * * *", "template": {}}

# (case id, kind, spec, text the server's message must contain)
INVALID: list[tuple[str, str, dict[str, Any], str]] = [
    ("ttl-not-a-duration", "Backup", {"ttl": "30 days"}, "spec.ttl"),
    ("ttl-negative", "Backup", {"ttl": "-1h"}, "spec.ttl"),
    ("ttl-unit-unknown", "Backup", {"ttl": "3d"}, "spec.ttl"),
    ("ttl-longer-than-go-allows", "Backup", {"ttl": "2562048h"}, "spec.ttl"),
    ("ttl-overflowing-a-time", "Backup", {"ttl": "99999999999h"}, "spec.ttl"),
    (
        "hook-timeout-too-long",
        "Backup",
        {
            "hooks": {
                "resources": [
                    {"name": "h", "pre": [{"exec": {"command": ["true"], "timeout": "9999999h"}}]}
                ]
            }
        },
        "timeout",
    ),
    (
        "schedule-ttl-too-long",
        "Schedule",
        {**SCHEDULE_SPEC, "template": {"ttl": "3000000h"}},
        "spec.template.ttl",
    ),
    (
        "namespace-glob-with-space",
        "Backup",
        {"includedNamespaces": ["bad name"]},
        "spec.includedNamespaces[0]",
    ),
    (
        "both-selectors",
        "Backup",
        {
            "labelSelector": {"matchLabels": {"a": "b"}},
            "orLabelSelectors": [{"matchLabels": {"c": "d"}}],
        },
        "spec.orLabelSelectors",
    ),
    (
        "selector-operator-unknown",
        "Backup",
        {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "Like"}]}},
        "spec.labelSelector.matchExpressions[0].operator",
    ),
    (
        "selector-in-without-values",
        "Backup",
        {"labelSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
        "spec.labelSelector.matchExpressions[0].values",
    ),
    ("unknown-field", "Backup", {"includeNamespaces": ["typo"]}, "includeNamespaces"),
    (
        "restore-both-backup-and-schedule",
        "Restore",
        {"backupName": "a", "scheduleName": "b"},
        "spec.backupName",
    ),
    (
        "restore-neither-backup-nor-schedule",
        "Restore",
        {"includedNamespaces": ["a"]},
        "spec.backupName",
    ),
    (
        "restore-policy-unknown",
        "Restore",
        {"backupName": "a", "existingResourcePolicy": "overwrite"},
        "spec.existingResourcePolicy",
    ),
    (
        "restore-mapping-of-excluded-namespace",
        "Restore",
        {"backupName": "a", "namespaceMapping": {"shop": "shop2"}, "excludedNamespaces": ["shop"]},
        "spec.namespaceMapping",
    ),
    (
        "restore-mapping-two-onto-one",
        "Restore",
        {"backupName": "a", "namespaceMapping": {"shop": "both", "db": "both", "x": "y"}},
        "namespaceMapping maps two namespaces onto one",
    ),
    (
        "restore-mapping-to-invalid-name",
        "Restore",
        {"backupName": "a", "namespaceMapping": {"shop": "Shop_2"}},
        "spec.namespaceMapping",
    ),
    (
        "restore-mapping-from-invalid-name",
        "Restore",
        {"backupName": "a", "namespaceMapping": {"Shop_1": "shop"}},
        "spec.namespaceMapping",
    ),
    (
        "restore-timeout-not-a-duration",
        "Restore",
        {"backupName": "a", "itemOperationTimeout": "4 hours"},
        "spec.itemOperationTimeout",
    ),
    (
        "restore-modifier-not-a-configmap",
        "Restore",
        {"backupName": "a", "resourceModifier": {"kind": "Secret", "name": "rules"}},
        "spec.resourceModifier.kind",
    ),
    (
        "restore-modifier-without-name",
        "Restore",
        {"backupName": "a", "resourceModifier": {"kind": "ConfigMap"}},
        "spec.resourceModifier.name",
    ),
    (
        "schedule-cron-words",
        "Schedule",
        {**SCHEDULE_SPEC, "schedule": "every day"},
        "spec.schedule",
    ),
    (
        "schedule-cron-four-fields",
        "Schedule",
        {**SCHEDULE_SPEC, "schedule": "0 3 * *"},
        "spec.schedule",
    ),
    ("schedule-without-template", "Schedule", {"schedule": "@daily"}, "spec.template"),
    (
        "schedule-template-bad-ttl",
        "Schedule",
        {**SCHEDULE_SPEC, "template": {"ttl": "-5m"}},
        "spec.template.ttl",
    ),
    (
        "schedule-retention-zero",
        "Schedule",
        {**SCHEDULE_SPEC, "retention": {"keepDaily": 0}},
        "spec.retention.keepDaily",
    ),
    (
        "bsl-provider-shape",
        "BackupStorageLocation",
        {**BSL_SPEC, "provider": "AWS S3!"},
        "spec.provider",
    ),
    (
        "bsl-without-bucket",
        "BackupStorageLocation",
        {"provider": "aws", "objectStorage": {}},
        "spec.objectStorage.bucket",
    ),
    (
        "bsl-access-mode-unknown",
        "BackupStorageLocation",
        {**BSL_SPEC, "accessMode": "WriteOnly"},
        "spec.accessMode",
    ),
    (
        "bsl-fs-relative-directory",
        "BackupStorageLocation",
        {"provider": "fs", "objectStorage": {"bucket": "relative/dir"}},
        "spec.objectStorage.bucket",
    ),
    (
        "bsl-prefix-leading-slash",
        "BackupStorageLocation",
        {**BSL_SPEC, "objectStorage": {"bucket": "b", "prefix": "/abs"}},
        "spec.objectStorage.prefix",
    ),
    (
        "bsl-encryption-current-not-listed",
        "BackupStorageLocation",
        {**BSL_SPEC, "encryption": {"current": "k2", "keys": [{"id": "k1", "secret": KEY_REF}]}},
        "spec.encryption.current",
    ),
    (
        "bsl-encryption-key-listed-twice",
        "BackupStorageLocation",
        {
            **BSL_SPEC,
            "encryption": {
                "current": "k1",
                "keys": [{"id": "k1", "secret": KEY_REF}, {"id": "k1", "secret": KEY_REF}],
            },
        },
        "spec.encryption.keys",
    ),
    (
        "bsl-encryption-secret-key-without-secret",
        "BackupStorageLocation",
        {**BSL_SPEC, "encryption": {"current": "k1", "keys": [{"id": "k1"}]}},
        "spec.encryption.keys[0]",
    ),
    (
        "bsl-encryption-key-id-with-slash",
        "BackupStorageLocation",
        {**BSL_SPEC, "encryption": {"current": "a/b", "keys": [{"id": "a/b", "secret": KEY_REF}]}},
        "spec.encryption",
    ),
    (
        "point-in-time-cluster-without-point-in-time",
        "Restore",
        {"scheduleName": "s", "pointInTimeCluster": "5d0c2b8e-0d7c-4c3e-9f5a-0b1f6c9a1e01"},
        "pointInTimeCluster",
    ),
    (
        "point-in-time-cluster-not-a-uid",
        "Restore",
        {"scheduleName": "s", "pointInTime": "2026-12-03T10:42:00Z", "pointInTimeCluster": "a/b"},
        "spec.pointInTimeCluster",
    ),
    (
        "too-many-included-namespaces",
        "Backup",
        {"includedNamespaces": [f"ns-{i}" for i in range(limits.FILTER_ITEMS_MAX + 1)]},
        "spec.includedNamespaces",
    ),
    (
        "too-many-namespace-mappings",
        "Restore",
        {
            "backupName": "b",
            "namespaceMapping": {
                f"a-{i}": f"b-{i}" for i in range(limits.NAMESPACE_MAPPINGS_MAX + 1)
            },
        },
        "spec.namespaceMapping",
    ),
    (
        "too-many-or-label-selectors",
        "Backup",
        {
            "orLabelSelectors": [
                {"matchLabels": {"app": f"a{i}"}} for i in range(limits.SELECTORS_MAX + 1)
            ]
        },
        "spec.orLabelSelectors",
    ),
    ("vsl-empty-provider", "VolumeSnapshotLocation", {"provider": ""}, "spec.provider"),
    ("dbr-without-backup-name", "DeleteBackupRequest", {}, "spec.backupName"),
]


@pytest.mark.parametrize(
    ("kind", "spec", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_api_server_rejects_and_names_the_field(
    cluster: Cluster,
    ark_crds: list[str],
    namespace: str,
    kind: str,
    spec: dict[str, Any],
    field: str,
) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": "invalid"},
        "spec": spec,
    }
    with pytest.raises(client.ApiException) as err:
        # Strict field validation, as `kubectl apply` does by default.
        cluster.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, BY_KIND[kind].plural, body, field_validation="Strict"
        )
    assert err.value.status in (400, 422), err.value.body
    assert field in str(err.value.body), err.value.body


@pytest.mark.parametrize(("kind", "spec"), [c[1:3] for c in INVALID], ids=[c[0] for c in INVALID])
def test_models_reject_the_same_objects(kind: str, spec: dict[str, Any]) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "metadata": {"name": "x"},
        "spec": spec,
    }
    with pytest.raises(ValidationError):
        OBJECT_MODELS[kind].from_wire(body)


def test_there_are_at_least_fifteen_cases() -> None:
    assert len(INVALID) >= 15


# Names that become label values (a Schedule's on its backups, a location's on synced ones).
LONG_NAMES = [("Schedule", SCHEDULE_SPEC), ("BackupStorageLocation", BSL_SPEC)]


@pytest.mark.parametrize(("kind", "spec"), LONG_NAMES, ids=[k for k, _ in LONG_NAMES])
def test_names_that_become_label_values_are_held_to_63_characters(
    cluster: Cluster, ark_crds: list[str], namespace: str, kind: str, spec: dict[str, Any]
) -> None:
    plural = BY_KIND[kind].plural
    for name, accepted in (("a" * 63, True), ("a" * 64, False)):
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}}
        body["spec"] = spec
        if accepted:
            cluster.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)
            assert BY_KIND[kind].check_name(name) is None
            continue
        with pytest.raises(client.ApiException) as err:
            cluster.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)
        assert err.value.status == 422, err.value.body
        assert f"a {kind} name may be at most 63 characters" in str(err.value.body)
        assert "at most 63 characters" in str(BY_KIND[kind].check_name(name))
