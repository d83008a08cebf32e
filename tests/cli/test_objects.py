"""get, describe and create of ark's objects, without an operator: what the CLI writes and how
it shows what is there."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import orjson
import yaml

from ark import archive, control, persistence
from ark.kube import KubeClient
from tests.cli.conftest import ANSI, Ark
from tests.conftest import Cluster, S3Server
from tests.operator.conftest import bsl_body, create_secret


def finished_backup(kube: KubeClient, namespace: str, name: str) -> None:
    control.create(
        kube,
        control.BACKUP,
        namespace,
        {"metadata": {"name": name}, "spec": {"includedNamespaces": ["shop"], "ttl": "24h"}},
    )
    control.patch_status(
        kube,
        control.BACKUP,
        namespace,
        name,
        {
            "phase": "PartiallyFailed",
            "storageLocation": "default",
            "startTimestamp": "2026-01-01T00:00:00Z",
            "completionTimestamp": "2026-01-01T00:00:12Z",
            "expiration": "2026-01-02T00:00:00Z",
            "progress": {"totalItems": 10, "itemsBackedUp": 9},
            "errors": 1,
            "warnings": 2,
            "volumeSnapshotsAttempted": 2,
            "volumeSnapshotsCompleted": 1,
            "snapshotSkewSeconds": 0.25,
            "volumeSnapshots": [
                {
                    "persistentVolume": "pv-1",
                    "persistentVolumeClaim": "shop/data",
                    "location": "ebs-east",
                    "provider": "aws",
                    "volumeId": "vol-1",
                    "snapshotId": "snap-1",
                    "phase": "Completed",
                },
                {
                    "persistentVolume": "pv-2",
                    "provider": "gcp",
                    "volumeId": "disk-2",
                    "snapshotId": "snap-2",
                    "phase": "Failed",
                    "message": "quota exceeded",
                },
            ],
            "hookStatus": {"hooksAttempted": 4, "hooksFailed": 1},
        },
    )


def test_create_writes_the_spec_the_flags_say(ark: Ark, kube: KubeClient, ark_ns: str) -> None:
    result = ark.ok(
        "backup", "create", "b1",
        "--include-namespaces", "shop,shop-*",
        "--exclude-resources", "events",
        "--include-cluster-resources", "false",
        "--selector", "app=web,tier!=db,env in (a,b),!legacy",
        "--snapshot-volumes", "true",
        "--ttl", "24h",
        "--storage-location", "loc",
        "--volume-snapshot-locations", "v1,v2",
    )  # fmt: skip
    assert 'Backup "b1" submitted' in result.out
    spec = control.get(kube, control.BACKUP, ark_ns, "b1")["spec"]  # type: ignore[index]
    assert spec["includedNamespaces"] == ["shop", "shop-*"]
    assert spec["excludedResources"] == ["events"]
    assert spec["includeClusterResources"] is False
    assert spec["labelSelector"] == {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "NotIn", "values": ["db"]},
            {"key": "env", "operator": "In", "values": ["a", "b"]},
            {"key": "legacy", "operator": "DoesNotExist"},
        ],
    }
    assert spec["snapshotVolumes"] is True
    assert spec["ttl"] == "24h"
    assert spec["storageLocation"] == "loc"
    assert spec["volumeSnapshotLocations"] == ["v1", "v2"]


def test_create_with_output_prints_and_does_not_create(
    ark: Ark, kube: KubeClient, ark_ns: str
) -> None:
    out = ark.ok("restore", "create", "r1", "--from-backup", "b1",
                 "--namespace-mappings", "shop:shop-2", "--dry-run",
                 "--resource-modifier-configmap", "clone-rules", "-o", "yaml").out  # fmt: skip
    obj = yaml.safe_load(out)
    assert obj["kind"] == "Restore"
    assert obj["spec"] == {
        "backupName": "b1",
        "namespaceMapping": {"shop": "shop-2"},
        "resourceModifier": {"kind": "ConfigMap", "name": "clone-rules"},
        "dryRun": True,
    }
    assert control.get(kube, control.RESTORE, ark_ns, "r1") is None
    doc = json.loads(ark.ok("backup", "create", "b9", "--ttl", "1h", "-o", "json").out)
    assert doc["spec"]["ttl"] == "1h"
    assert control.get(kube, control.BACKUP, ark_ns, "b9") is None


def test_point_in_time_flags_write_the_spec_or_are_refused_naming_the_flag(ark: Ark) -> None:
    schedule = yaml.safe_load(
        ark.ok("schedule", "create", "s1", "--schedule", "@daily", "--include-namespaces", "shop",
               "--change-log", "--change-log-flush-seconds", "5", "-o", "yaml").out
    )  # fmt: skip
    assert schedule["spec"]["changeLog"] == {"enabled": True, "flushSeconds": 5}
    tested = yaml.safe_load(
        ark.ok("schedule", "create", "s1", "--schedule", "@daily", "--include-namespaces", "shop",
               "--restore-test", "--restore-test-keep-failed", "-o", "yaml").out
    )  # fmt: skip
    assert tested["spec"]["restoreTest"] == {"enabled": True, "keepFailed": True}
    untested = yaml.safe_load(
        ark.ok("schedule", "create", "s1", "--schedule", "@daily", "--include-namespaces", "shop",
               "--restore-test", "--restore-test-no-volumes", "-o", "yaml").out
    )  # fmt: skip
    assert untested["spec"]["restoreTest"] == {"enabled": True, "volumes": False}
    restore = yaml.safe_load(
        ark.ok("restore", "create", "r1", "--from-schedule", "s1",
               "--at", "2026-12-03T10:42:00Z", "-o", "yaml").out
    )  # fmt: skip
    assert restore["spec"] == {"scheduleName": "s1", "pointInTime": "2026-12-03T10:42:00Z"}
    uid = "5d0c2b8e-0d7c-4c3e-9f5a-0b1f6c9a1e01"
    theirs = yaml.safe_load(
        ark.ok("restore", "create", "r1", "--from-schedule", "s1",
               "--at", "2026-12-03T10:42:00Z", "--from-cluster", uid, "-o", "yaml").out
    )  # fmt: skip
    assert theirs["spec"]["pointInTimeCluster"] == uid
    refused = {
        ("schedule", "create", "s2", "--schedule", "@daily", "--change-log-flush-seconds", "5"):
            "--change-log-flush-seconds: needs --change-log",
        ("schedule", "create", "s2", "--schedule", "@daily", "--change-log",
         "--change-log-flush-seconds", "0"): "--change-log-flush-seconds",
        ("schedule", "create", "s2", "--schedule", "@daily", "--restore-test-keep-failed"):
            "--restore-test-keep-failed: needs --restore-test",
        ("schedule", "create", "s2", "--schedule", "@daily", "--restore-test-no-volumes"):
            "--restore-test-no-volumes: needs --restore-test",
        ("restore", "create", "--from-backup", "b1", "--at", "2026-12-03T10:42:00Z"): "--at",
        ("restore", "create", "--from-schedule", "s1", "--at", "2026-12-03T10:42:00"):
            "needs a time zone",
        ("restore", "create", "--from-schedule", "s1", "--from-cluster", uid):
            "--from-cluster: pointInTimeCluster goes with pointInTime",
        ("restore", "create", "--from-schedule", "s1", "--at", "2026-12-03T10:42:00Z",
         "--from-cluster", "a/b"): "--from-cluster",
    }  # fmt: skip
    for args, reason in refused.items():
        result = ark(*args)
        assert result.code == 2 and reason in result.err, (args, result)


def test_get_table_yaml_and_json(ark: Ark, kube: KubeClient, ark_ns: str) -> None:
    finished_backup(kube, ark_ns, "b1")
    table = ark.ok("backup", "get").out
    assert ANSI not in table
    header, row = table.splitlines()[:2]
    assert header.split()[:5] == ["NAME", "PHASE", "ITEMS", "ERRORS", "WARNINGS"]
    assert row.split()[:5] == ["b1", "PartiallyFailed", "9", "1", "2"]
    one = yaml.safe_load(ark.ok("backup", "get", "b1", "-o", "yaml").out)
    assert one["metadata"]["name"] == "b1" and "managedFields" not in one["metadata"]
    many = json.loads(ark.ok("backup", "get", "-o", "json").out)
    assert [o["metadata"]["name"] for o in many["items"]] == ["b1"]


def test_describe_shows_status_timings_snapshots_and_why_results_are_missing(
    ark: Ark, kube: KubeClient, ark_ns: str
) -> None:
    finished_backup(kube, ark_ns, "b1")
    out = ark.ok("backup", "describe", "b1").out
    assert "Phase:" in out and "PartiallyFailed" in out
    assert "9 of 10" in out
    assert "Included namespaces: shop" in out
    assert "Duration:" in out and "12s" in out
    snapshots = section(out, "Volume snapshots")
    assert "  Attempted: 2" in snapshots and "  Completed: 1" in snapshots
    assert "  Skew:      0.250s (first to last snapshot start)" in snapshots
    assert snapshots[snapshots.index("  pv-1:") :][:6] == [
        "  pv-1:",
        "    Claim:       shop/data",
        "    Snapshot ID: snap-1",
        "    Volume ID:   vol-1",
        "    Location:    ebs-east (aws)",
        "    Phase:       Completed",
    ]
    assert "    Location:    (gcp)" in snapshots and "    Phase:       Failed" in snapshots
    assert "    Message:     quota exceeded" in snapshots
    assert section(out, "Hooks")[:2] == ["  Attempted: 4", "  Failed:    1"]
    # no BackupStorageLocation "default" here: the results cannot be read, and describe says so
    assert "not shown: BackupStorageLocation" in out
    assert "default not found" in out


def section(out: str, title: str) -> list[str]:
    """The indented lines under a heading of ``describe``."""
    lines = out.splitlines()
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return lines[start:end]


def test_describe_says_none_without_snapshots_or_hooks(
    ark: Ark, kube: KubeClient, ark_ns: str
) -> None:
    control.create(kube, control.BACKUP, ark_ns, {"metadata": {"name": "old"}, "spec": {}})
    control.patch_status(kube, control.BACKUP, ark_ns, "old", {"phase": "InProgress", "attempt": 1})
    out = ark.ok("backup", "describe", "old").out
    assert section(out, "Volume snapshots") == ["  none"]
    assert section(out, "Hooks") == ["  none"]


def test_restore_describe_shows_what_became_of_the_volumes(
    ark: Ark, kube: KubeClient, ark_ns: str, minio: S3Server, s3_bucket: str
) -> None:
    create_secret(kube, ark_ns, minio)
    control.create(kube, control.BSL, ark_ns, bsl_body("default", s3_bucket, minio))
    finished_backup(kube, ark_ns, "b1")
    for name in ("r1", "r2"):
        control.create(
            kube,
            control.RESTORE,
            ark_ns,
            {
                "metadata": {"name": name},
                "spec": {
                    "backupName": "b1",
                    "resourceModifier": {"kind": "ConfigMap", "name": "clone-rules"},
                },
            },
        )
        control.patch_status(
            kube, control.RESTORE, ark_ns, name, {"phase": "Completed", "backupName": "b1"}
        )
    store = control.open_bsl(kube, ark_ns, control.resolve_bsl(kube, ark_ns, "default"))
    outcomes = [
        {"resource": "persistentvolumes", "name": "pv-1", "outcome": "created"},
        {
            "resource": "persistentvolumes",
            "name": "pv-2",
            "outcome": "failed",
            "message": "cannot create a volume from its snapshot: quota",
        },
        {
            "resource": "configmaps",
            "namespace": "shop",
            "name": "cm",
            "outcome": "created",
            "modifiedBy": [0, 2],
        },
    ]
    for name, items in (("r1", outcomes), ("r2", outcomes[2:])):
        document = {"summary": {"counts": {"created": 2}}, "outcomes": items}
        key = persistence.RestoreKeys(archive.restore_name(name)).results
        store.put(key, gzip.compress(orjson.dumps(document)))
    described = ark.ok("restore", "describe", "r1").out
    assert "Resource modifiers:" in described and "clone-rules" in described
    assert "created            configmaps shop/cm (resource modifier rules 0, 2)" in described
    volumes = section(described, "Persistent volumes")
    assert volumes == [
        "  pv-1: created",
        "  pv-2: failed: cannot create a volume from its snapshot: quota",
    ]
    assert section(ark.ok("restore", "describe", "r2").out, "Persistent volumes") == ["  none"]


def test_schedule_lifecycle(ark: Ark, kube: KubeClient, ark_ns: str) -> None:
    ark.ok("schedule", "create", "nightly", "--schedule", "0 3 * * *",
           "--include-namespaces", "shop", "--keep-daily", "7", "--ttl", "48h")  # fmt: skip
    spec = control.get(kube, control.SCHEDULE, ark_ns, "nightly")["spec"]  # type: ignore[index]
    assert spec["schedule"] == "0 3 * * *"
    assert spec["template"]["includedNamespaces"] == ["shop"]
    assert spec["template"]["ttl"] == "48h"
    assert spec["retention"] == {"keepDaily": 7}
    ark.ok("schedule", "pause", "nightly")
    assert ark.ok("schedule", "get").lines[1].split()[:4] == ["nightly", "0", "3", "*"]
    assert "Paused:" in ark.ok("schedule", "describe", "nightly").out
    obj = control.get(kube, control.SCHEDULE, ark_ns, "nightly")
    assert obj is not None and obj["spec"]["paused"] is True
    ark.ok("schedule", "unpause", "nightly")
    obj = control.get(kube, control.SCHEDULE, ark_ns, "nightly")
    assert obj is not None and obj["spec"]["paused"] is False
    from_schedule = yaml.safe_load(
        ark.ok("backup", "create", "--from-schedule", "nightly", "-o", "yaml").out
    )
    assert from_schedule["metadata"]["labels"] == {"ark.dev/schedule-name": "nightly"}
    assert from_schedule["spec"]["includedNamespaces"] == ["shop"]
    ark.ok("schedule", "delete", "nightly", "--confirm")
    assert control.get(kube, control.SCHEDULE, ark_ns, "nightly") is None


def test_locations(ark: Ark, kube: KubeClient, ark_ns: str) -> None:
    ark.ok("backup-location", "create", "one", "--provider", "aws", "--bucket", "b1",
           "--prefix", "p", "--config", "region=us-east-1,s3ForcePathStyle=true",
           "--credential", "creds=cloud", "--default")  # fmt: skip
    ark.ok("backup-location", "create", "two", "--provider", "fs", "--bucket", "/srv/backups")
    bad = ark("backup-location", "create", "three", "--provider", "fs", "--bucket", "relative")
    assert bad.code == 2 and "absolute directory" in bad.err
    one = control.get(kube, control.BSL, ark_ns, "one")
    assert one is not None
    assert one["spec"]["credential"] == {"name": "creds", "key": "cloud"}
    assert one["spec"]["config"] == {"region": "us-east-1", "s3ForcePathStyle": "true"}
    ark.ok("backup-location", "set-default", "two")
    defaults = {
        o["metadata"]["name"]: o["spec"]["default"]
        for o in control.list_objects(kube, control.BSL, ark_ns)
    }
    assert defaults == {"one": False, "two": True}
    rows = [line.split()[0] for line in ark.ok("backup-location", "get").lines[1:]]
    assert rows == ["one", "two"]
    ark.ok("snapshot-location", "create", "ebs", "--provider", "aws", "--config", "region=x")
    assert ark.ok("snapshot-location", "get").lines[1].split()[:3] == ["ebs", "aws", "x"]


def test_a_location_with_an_object_lock_and_encryption_from_flags(
    ark: Ark, kube: KubeClient, ark_ns: str
) -> None:
    ark.ok("backup-location", "create", "locked", "--provider", "aws", "--bucket", "b1",
           "--object-lock-mode", "Compliance", "--object-lock-days", "30",
           "--encryption-secret", "ark-backup-keys=k1")  # fmt: skip
    ark.ok("backup-location", "create", "kms", "--provider", "aws", "--bucket", "b2",
           "--encryption-provider", "aws-kms", "--encryption-key-id", "kms-2027",
           "--encryption-config", "keyId=arn:kms:x,region=eu-west-1")  # fmt: skip
    locked = control.get(kube, control.BSL, ark_ns, "locked")
    kms = control.get(kube, control.BSL, ark_ns, "kms")
    assert locked is not None and kms is not None
    assert locked["spec"]["objectLock"] == {"mode": "Compliance", "days": 30}
    assert locked["spec"]["encryption"] == {
        "current": "k1",
        "keys": [
            {"id": "k1", "provider": "secret", "secret": {"name": "ark-backup-keys", "key": "k1"}}
        ],
    }
    assert kms["spec"]["encryption"] == {
        "current": "kms-2027",
        "keys": [{"id": "kms-2027", "provider": "aws-kms",
                  "config": {"keyId": "arn:kms:x", "region": "eu-west-1"}}],
    }  # fmt: skip
    refused = {
        ("--object-lock-mode", "Governance"): "--object-lock-days: needed with --object-lock-mode",
        ("--object-lock-days", "0"): "--object-lock-days",
        ("--encryption-provider", "aws-kms"): "--encryption-key-id: needed with",
        ("--encryption-key-id", "k1"): "--encryption-secret: needed",
        ("--encryption-secret", "nokey"): "--encryption-secret: 'nokey' is not SECRET=KEY",
    }
    for flags, message in refused.items():
        bad = ark("backup-location", "create", "bad", "--provider", "aws", "--bucket", "b", *flags)
        assert bad.code == 2 and message in bad.err, (flags, bad.err)
    assert control.get(kube, control.BSL, ark_ns, "bad") is None


def test_location_describe_and_delete(ark: Ark, kube: KubeClient, ark_ns: str) -> None:
    ark.ok("backup-location", "create", "one", "--provider", "aws", "--bucket", "b1",
           "--credential", "creds=cloud", "--object-lock-mode", "Governance",
           "--object-lock-days", "2", "--encryption-secret", "keys=k1")  # fmt: skip
    ark.ok("backup-location", "create", "two", "--provider", "fs", "--bucket", "/srv/b")
    for name, spec, labels in (
        ("mine", {"storageLocation": "one"}, {}),
        ("synced", {}, {control.LOCATION_LABEL: "one"}),
        ("other", {"storageLocation": "two"}, {}),
    ):
        body = {"metadata": {"name": name, "labels": labels}, "spec": spec}
        control.create(kube, control.BACKUP, ark_ns, body)
        control.patch_status(kube, control.BACKUP, ark_ns, name, {"phase": "Completed"})
    page = ark.ok("backup-location", "describe", "one").out
    for text in ("Provider:", "aws", "Secret creds, key cloud", "Governance, 2 days",
                 "keys k1 (secret) current", "Backups:", "ReadWrite"):  # fmt: skip
        assert text in page, (text, page)
    control.patch_status(kube, control.BACKUP, ark_ns, "mine", {"phase": "InProgress"})
    refused = ark("backup-location", "delete", "one", "--confirm")
    assert refused.code == 1 and "backups not finished: mine" in refused.err
    assert control.get(kube, control.BSL, ark_ns, "one") is not None
    control.patch_status(kube, control.BACKUP, ark_ns, "mine", {"phase": "Completed"})
    assert ark("backup-location", "delete", "one").code == 2  # no terminal, no --confirm
    done = ark.ok("backup-location", "delete", "one", "--confirm").out
    assert "with 2 Backup object(s); their data stays in the bucket" in done
    assert control.get(kube, control.BSL, ark_ns, "one") is None
    left = sorted(b["metadata"]["name"] for b in control.list_objects(kube, control.BACKUP, ark_ns))
    assert left == ["other"]

    ark.ok("snapshot-location", "create", "ebs", "--provider", "aws", "--config", "region=x")
    assert "region" in ark.ok("snapshot-location", "describe", "ebs").out
    assert "its snapshots stay" in ark.ok("snapshot-location", "delete", "ebs", "--confirm").out
    assert control.get(kube, control.VSL, ark_ns, "ebs") is None


def test_restore_delete_waits_for_the_restore_to_finish(
    ark: Ark, kube: KubeClient, ark_ns: str
) -> None:
    control.create(kube, control.RESTORE, ark_ns, {"metadata": {"name": "r1"},
                   "spec": {"backupName": "b1"}})  # fmt: skip
    control.patch_status(kube, control.RESTORE, ark_ns, "r1", {"phase": "InProgress"})
    refused = ark("restore", "delete", "r1", "--confirm")
    assert refused.code == 1 and "is InProgress" in refused.err
    control.patch_status(kube, control.RESTORE, ark_ns, "r1", {"phase": "Completed"})
    assert 'Restore "r1" deleted.' in ark.ok("restore", "delete", "r1", "--confirm").out
    assert control.get(kube, control.RESTORE, ark_ns, "r1") is None


def test_delete_with_confirm_creates_a_delete_request(
    ark: Ark, kube: KubeClient, ark_ns: str
) -> None:
    finished_backup(kube, ark_ns, "b1")
    ark.ok("backup", "delete", "b1", "--confirm")
    requests = control.list_objects(kube, control.DBR, ark_ns)
    assert [r["spec"]["backupName"] for r in requests] == ["b1"]


def restricted_kubeconfig(kube: KubeClient, cluster: Cluster, namespace: str, path: Path) -> str:
    """A kubeconfig for a ServiceAccount that may read ark's objects but not Secrets."""
    sa = f"/api/v1/namespaces/{namespace}/serviceaccounts"
    kube.request("POST", sa, body={"metadata": {"name": "viewer"}})
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}"
    kube.request(
        "POST",
        f"{rbac}/roles",
        body={
            "metadata": {"name": "ark-viewer"},
            "rules": [{"apiGroups": ["ark.dev"], "resources": ["*"], "verbs": ["get", "list"]}],
        },
    )
    kube.request(
        "POST",
        f"{rbac}/rolebindings",
        body={
            "metadata": {"name": "ark-viewer"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "ark-viewer",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": namespace}],
        },
    )
    token = json.loads(
        kube.request("POST", f"{sa}/viewer/token", body={"spec": {"expirationSeconds": 3600}})
    )["status"]["token"]
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    config["users"] = [{"name": "viewer", "user": {"token": token}}]
    config["contexts"][0]["context"]["user"] = "viewer"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_a_user_who_cannot_read_the_credential_secret_is_told_so(
    ark: Ark, kube: KubeClient, cluster: Cluster, ark_ns: str, tmp_path: Path
) -> None:
    finished_backup(kube, ark_ns, "b1")
    control.create(
        kube,
        control.BSL,
        ark_ns,
        {
            "metadata": {"name": "default"},
            "spec": {
                "provider": "aws",
                "objectStorage": {"bucket": "somewhere"},
                "credential": {"name": "creds", "key": "cloud"},
            },
        },
    )
    ark.kubeconfig = restricted_kubeconfig(kube, cluster, ark_ns, tmp_path / "viewer.kubeconfig")
    out = ark.ok("backup", "describe", "b1").out
    assert "PartiallyFailed" in out
    assert "not shown:" in out and "forbidden" in out
    assert "read access to the location's credential Secret" in out
    logs = ark("backup", "logs", "b1")
    assert logs.code == 1 and len(logs.err_lines) == 1
    assert "credential Secret" in logs.err_lines[0]
    denied = ark("backup", "create", "b2")
    assert denied.code == 1 and len(denied.err_lines) == 1 and "forbidden" in denied.err


def test_a_locked_backup_is_described_with_its_lock_and_not_deleted(
    ark: Ark, kube: KubeClient, ark_ns: str
) -> None:
    finished_backup(kube, ark_ns, "b1")
    until = control.timestamp(dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
    lock = {"mode": "Compliance", "until": until}
    control.patch_status(kube, control.BACKUP, ark_ns, "b1", {"objectLock": lock})
    out = ark.ok("backup", "describe", "b1").out
    assert f"Object lock:      Compliance until {until} (in 2d)" in out
    result = ark("backup", "delete", "b1", "--confirm")
    assert result.code == 1
    assert f"under Compliance object lock until {until}" in result.err
    assert control.list_objects(kube, control.DBR, ark_ns) == []


def test_a_verified_backup_is_described_with_its_verification_and_problems(
    ark: Ark, kube: KubeClient, ark_ns: str
) -> None:
    finished_backup(kube, ark_ns, "b1")
    at = control.timestamp(dt.datetime.now(dt.UTC))
    digest = "ab" * 32
    control.patch_status(
        kube,
        control.BACKUP,
        ark_ns,
        "b1",
        {
            "manifestDigest": digest,
            "verification": {
                "time": at,
                "verified": False,
                "items": 12,
                "checksummed": 11,
                "problems": ["ChecksumMismatch: configmaps/app/settings.json: sha256 differs"],
            },
        },
    )
    out = ark.ok("backup", "describe", "b1").out
    assert f"Manifest SHA-256: {digest}" in out
    assert f"Verified:         NO (1 problem), at {at} (12 items, 11 checksummed)" in out
    assert "ChecksumMismatch: configmaps/app/settings.json: sha256 differs" in out
