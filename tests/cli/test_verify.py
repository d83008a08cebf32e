"""``ark backup verify``: a backup the operator wrote verifies (exit 0, condition Verified
True with the counts); after its manifest is altered in the bucket, verify exits 1 naming
ManifestAltered, and the condition says so too."""

from __future__ import annotations

from ark import control
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.cli.conftest import Ark
from tests.operator.conftest import PREFIX
from tests.support import tampering


def _verified(kube: KubeClient, namespace: str, name: str) -> dict[str, str]:
    backup = control.get(kube, control.BACKUP, namespace, name)
    assert backup is not None
    conditions = backup["status"].get("conditions") or []
    return next(c for c in conditions if c["type"] == "Verified")


def test_verify_passes_then_names_an_altered_manifest(
    ark: Ark,
    kube: KubeClient,
    ark_ns: str,
    default_location: str,
    app_namespace: str,
    s3_store: ObjectStore,
) -> None:
    ark.ok("backup", "create", "v1", "--include-namespaces", app_namespace, "--wait")

    passed = ark("backup", "verify", "v1", "--processes", "4")

    assert passed.code == 0, passed.out + passed.err
    assert "backup v1 verified" in passed.out
    condition = _verified(kube, ark_ns, "v1")
    assert condition["status"] == "True" and condition["reason"] == "Verified"
    backup = control.get(kube, control.BACKUP, ark_ns, "v1")
    assert backup is not None
    verification = backup["status"]["verification"]
    assert verification["verified"] is True
    assert verification["items"] == verification["checksummed"] >= 9
    assert len(backup["status"]["manifestDigest"]) == 64

    too_many = ark("backup", "verify", "v1", "--processes", "5")
    assert too_many.code == 2 and "--processes" in too_many.err

    assert s3_store.location.prefix == PREFIX  # the bucket and prefix the location writes to
    tampering.alter_manifest(s3_store, "v1")
    failed = ark("backup", "verify", "v1")

    assert failed.code == 1
    assert "ManifestAltered" in failed.out
    assert "failed verification: ManifestAltered" in failed.err
    condition = _verified(kube, ark_ns, "v1")
    assert condition["status"] == "False" and condition["reason"] == "ManifestAltered"
