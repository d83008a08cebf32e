"""A backup whose archive escapes, smuggles, lies or is damaged fails the restore (phase Failed,
the entry and the cause named) before a single object reaches the cluster — even objects that
came before the bad entry in the archive."""

from __future__ import annotations

import dataclasses
import io
import tarfile
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import pytest

from ark import archive, persistence
from ark.api import RestorePhase
from ark.archive import layout
from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.archive.crafting import VERSION_ENTRY, Raw, k8s_object, tar_bytes
from tests.support import restores

CLUSTER_ROLES = "clusterroles.rbac.authorization.k8s.io"


@dataclass(frozen=True)
class Crafted:
    tar: bytes
    entry: str
    cause: str
    manifest: archive.Manifest | None = None
    limits: archive.Limits | None = None


def _cm_path(ns: str, name: str, resource_dir: str = "configmaps") -> str:
    return f"resources/{resource_dir}/namespaces/{ns}/{name}.json"


def _good(ns: str) -> list[tuple[str, bytes]]:
    """A namespace, a ConfigMap in it and a ClusterRole: what a restore would create."""
    namespace = k8s_object("Namespace", ns)
    del namespace["data"]
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"reader-{ns}"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    }
    return [
        VERSION_ENTRY,
        (f"resources/namespaces/cluster/{ns}.json", orjson.dumps(namespace)),
        (_cm_path(ns, "a"), orjson.dumps(k8s_object("ConfigMap", "a", ns))),
        (f"resources/{CLUSTER_ROLES}/cluster/reader-{ns}.json", orjson.dumps(role)),
    ]


def _with(
    ns: str, bad: Raw | tuple[str, bytes], cause: str, *, limits: archive.Limits | None = None
) -> Crafted:
    name = bad.name if isinstance(bad, Raw) else bad[0]
    return Crafted(tar_bytes([*_good(ns), bad]), name, cause, limits=limits)


def _written(ns: str) -> tuple[bytes, archive.Manifest]:
    """A well-formed ark archive (with its manifest) of the good objects and some padding."""
    sink = io.BytesIO()
    with archive.ArchiveWriter(sink, backup_name="crafted", compress_level=1) as writer:
        for path, data in _good(ns)[1:]:
            loc = layout.parse_item_path(path)
            resource, group = layout.split_resource_dir(loc.resource_dir)
            obj = orjson.loads(data)
            writer.add_item(
                resource=resource,
                group=group,
                version=obj["apiVersion"].rpartition("/")[2],
                kind=obj["kind"],
                namespace=loc.namespace,
                name=loc.name,
                data=data,
            )
        for i in range(50):
            obj = k8s_object("ConfigMap", f"pad-{i}", ns)
            obj["data"] = {"pad": f"{i}" * 2000}
            writer.add_item(
                resource="configmaps",
                group="",
                version="v1",
                kind="ConfigMap",
                namespace=ns,
                name=f"pad-{i}",
                data=orjson.dumps(obj),
            )
    return sink.getvalue(), writer.manifest


def _checksum_mismatch(ns: str) -> Crafted:
    data, manifest = _written(ns)
    items = list(manifest.items)
    at = next(i for i, item in enumerate(items) if item.path == _cm_path(ns, "pad-7"))
    items[at] = items[at]._replace(sha256="0" * 64)
    tampered = dataclasses.replace(manifest, items=tuple(items))
    return Crafted(data, _cm_path(ns, "pad-7"), "checksum mismatch", manifest=tampered)


def _truncated(ns: str) -> Crafted:
    data, manifest = _written(ns)
    cut = data[: len(data) * 2 // 3]
    return Crafted(cut, "", "truncated", manifest=manifest)


def _cm(ns: str, name: str) -> bytes:
    return orjson.dumps(k8s_object("ConfigMap", name, ns))


CASES: dict[str, Callable[[str], Crafted]] = {
    "path-traversal": lambda ns: _with(
        ns, (f"resources/configmaps/namespaces/{ns}/../../../../x.json", b"{}"), "path traversal"
    ),
    "absolute-path": lambda ns: _with(ns, ("/etc/passwd", b"root:x:0:0"), "absolute path"),
    "symlink": lambda ns: _with(
        ns, Raw(_cm_path(ns, "b"), type=tarfile.SYMTYPE, linkname="/etc/passwd"), "symlink"
    ),
    "hardlink": lambda ns: _with(
        ns, Raw(_cm_path(ns, "b"), type=tarfile.LNKTYPE, linkname="metadata/version"), "hardlink"
    ),
    "outside-the-roots": lambda ns: _with(
        ns, ("velero-backup.json", b"{}"), "outside resources/ and metadata/"
    ),
    "oversized-item": lambda ns: _with(
        ns,
        (_cm_path(ns, "big"), orjson.dumps(k8s_object("ConfigMap", "big", ns, x="y" * 5000))),
        "(limit 4096)",
        limits=archive.Limits(max_item_bytes=4096),
    ),
    "invalid-json": lambda ns: _with(ns, (_cm_path(ns, "b"), b'{"apiVersion": "v1",'), "JSON"),
    "kind-not-its-folder": lambda ns: _with(
        ns, (_cm_path(ns, "b", "secrets"), _cm(ns, "b")), "holds a ConfigMap, but secrets holds"
    ),
    "group-not-its-folder": lambda ns: _with(
        ns,
        (
            _cm_path(ns, "b", "roles.rbac.authorization.k8s.io"),
            _cm(ns, "b"),
        ),
        "holds a v1 ConfigMap, not an object of group 'rbac.authorization.k8s.io'",
    ),
    "name-not-its-path": lambda ns: _with(
        ns, (_cm_path(ns, "b"), _cm(ns, "other")), "holds an object named 'other', not 'b'"
    ),
    "namespace-not-its-path": lambda ns: _with(
        ns,
        (_cm_path(ns, "b"), _cm("kube-system", "b")),
        f"holds an object of namespace 'kube-system', not namespace '{ns}'",
    ),
    "checksum-mismatch": _checksum_mismatch,
    "truncated-gzip": _truncated,
}


def _put_backup(store: ObjectStore, name: str, crafted: Crafted) -> None:
    keys = persistence.BackupKeys(archive.backup_name(name))
    document = {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": name, "namespace": "velero"},
        "spec": {},
        "status": {"phase": "Completed"},
    }
    store.put(keys.metadata, orjson.dumps(document))
    store.put(keys.contents, crafted.tar)
    if crafted.manifest is not None:
        store.put(keys.manifest, archive.encode_manifest(crafted.manifest))


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_hostile_backup_fails_and_writes_nothing(
    case: str,
    kube: KubeClient,
    fs_store: ObjectStore,
    fresh_namespace: Callable[[str], str],
) -> None:
    ns = fresh_namespace("hostile")
    crafted = CASES[case](ns)
    _put_backup(fs_store, "crafted", crafted)

    result = restores.run_restore(
        kube, fs_store, "crafted", limits=crafted.limits, include_cluster_resources=True
    )

    assert result.phase is RestorePhase.FAILED
    assert result.failure_reason is not None
    assert "nothing restored" in result.failure_reason
    assert crafted.entry in result.failure_reason
    assert crafted.cause in result.failure_reason
    assert list(result.outcomes) == []
    assert restores.get(kube, f"/api/v1/namespaces/{ns}") is None
    role = f"/apis/rbac.authorization.k8s.io/v1/clusterroles/reader-{ns}"
    assert restores.get(kube, role) is None


def test_the_same_archive_without_the_bad_entry_restores(
    kube: KubeClient, fs_store: ObjectStore, fresh_namespace: Callable[[str], str]
) -> None:
    """The control case: the good entries alone are restorable, so the failures above are the
    bad entries' doing."""
    ns = fresh_namespace("hostile")
    _put_backup(fs_store, "crafted", Crafted(tar_bytes(_good(ns)), "", ""))
    role = f"/apis/rbac.authorization.k8s.io/v1/clusterroles/reader-{ns}"
    try:
        result = restores.run_restore(kube, fs_store, "crafted", include_cluster_resources=True)
        assert result.phase is RestorePhase.COMPLETED, (result.failure_reason, result.issues)
        assert kube.get(f"/api/v1/namespaces/{ns}/configmaps/a")["data"] == {"k": "v"}
        assert kube.get(role)["metadata"]["name"] == f"reader-{ns}"
    finally:
        restores.delete(kube, role)
