"""Opening a stored backup for a restore: its record, its manifest, its spooled, checked items.

Everything that could be hostile is checked here, before the restore writes anything: ark's
manifest against the record (missing, another backup's, altered: refused), the tar entries
(by the archive reader), and whether each object's kind matches its folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ark import archive, persistence
from ark.kube.discovery import Discovery
from ark.restore.plan import Candidate
from ark.restore.refs import CRDS, ItemKey, intrinsic_skip, reads_body, references
from ark.storage import ObjectNotFound


class BackupUnavailable(Exception):
    """The backup cannot be restored: missing, incomplete, or failed its checks."""


@dataclass
class OpenBackup:
    name: str
    document: dict[str, Any]
    index: archive.ArchiveIndex
    verified: bool
    crd_kinds: dict[str, str] = field(default_factory=dict)
    """Resource dir of each CRD in the backup -> its kind."""
    crd_of: dict[str, str] = field(default_factory=dict)
    """Resource dir served by a CRD in the backup -> the CRD's name."""


@contextlib.contextmanager
def open_backup(
    store: persistence.BackupStore,
    name: str,
    *,
    spool_dir: Path,
    limits: archive.Limits | None = None,
) -> Iterator[OpenBackup]:
    try:
        document = store.record(name)
    except ObjectNotFound as exc:
        raise BackupUnavailable(
            f"backup {name} not found in {store.location.provider} bucket "
            f"{store.location.bucket!r} (no {exc.key}; incomplete or never written)"
        ) from None
    phase = (document.get("status") or {}).get("phase")
    if phase not in (None, "Completed", "PartiallyFailed"):
        raise BackupUnavailable(f"backup {name} is {phase}, not restorable")
    try:
        stored = store.checked_manifest(name, document)
    except (persistence.ManifestMismatch, persistence.EncryptionError) as exc:
        raise BackupUnavailable(
            f"backup {name} rejected, nothing restored: {exc.reason}: {exc}"
        ) from exc
    # In a function of its own: this generator's frame lives as long as the restore, and
    # the manifest's item table (about 150 bytes an item) and the archive's read buffer
    # (1 MiB) did their work once the spool is checked.
    index = _spool(store, name, stored, spool_dir=spool_dir, limits=limits)
    del stored
    with index:
        yield with_index(
            OpenBackup(name=name, document=document, index=index, verified=index.verified), index
        )


def _spool(
    store: persistence.BackupStore,
    name: str,
    stored: persistence.StoredManifest | None,
    *,
    spool_dir: Path,
    limits: archive.Limits | None,
) -> archive.ArchiveIndex:
    manifest = None if stored is None else stored.manifest
    try:
        with store.open_archive(name) as src:
            return archive.spool(
                src, spool_dir=spool_dir, manifest=manifest, limits=limits or archive.Limits()
            )
    except archive.InvalidArchive as exc:
        raise BackupUnavailable(f"backup {name} rejected, nothing restored: {exc}") from exc
    except persistence.EncryptionError as exc:
        raise BackupUnavailable(
            f"backup {name} rejected, nothing restored: {exc.reason}: {exc}"
        ) from exc


def with_index(opened: OpenBackup, index: archive.ArchiveIndex) -> OpenBackup:
    """``opened`` with ``index`` as its items (a point in time's replay), the CRDs it holds
    read from it."""
    crd_kinds: dict[str, str] = {}
    crd_of: dict[str, str] = {}
    for item in index.of_resource(CRDS):
        crd = index.load(item)
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        resource_dir = f"{names.get('plural')}.{spec.get('group')}"
        crd_kinds[resource_dir] = str(names.get("kind"))
        crd_of[resource_dir] = item.name
    return OpenBackup(
        name=opened.name,
        document=opened.document,
        index=index,
        verified=opened.verified,
        crd_kinds=crd_kinds,
        crd_of=crd_of,
    )


def check_kinds(opened: OpenBackup, discovery: Discovery) -> list[str]:
    """Folders whose objects are of another kind than the folder holds: hostile, restore none.

    Returns the resource dirs that neither the target cluster nor a CRD in the backup knows
    (their items cannot be restored; the caller reports them)."""
    unknown: set[str] = set()
    expected: dict[str, str] = {}
    for resource_dir, kind in opened.index.kinds():
        if resource_dir not in expected:
            served = discovery.by_qualified(resource_dir)
            known = served.kind if served is not None else opened.crd_kinds.get(resource_dir)
            if known is None:
                unknown.add(resource_dir)
                continue
            expected[resource_dir] = known
        if kind != expected[resource_dir]:
            item = next(i for i in opened.index.of_resource(resource_dir) if i.kind == kind)
            raise BackupUnavailable(
                f"backup {opened.name} rejected, nothing restored: {item.path} holds a "
                f"{kind}, but {resource_dir} holds {expected[resource_dir]} objects"
            )
    return sorted(unknown)


def candidates(opened: OpenBackup) -> Iterator[Candidate]:
    """One planning record per item; the bodies a kind's rules need are read from the spool
    and dropped (for the others the index's name, namespace and labels are the object)."""
    kind_dirs: dict[str, str] = {}
    for kind_dir, kind in opened.index.kinds():
        kind_dirs.setdefault(kind, kind_dir)
    for item in opened.index:
        if reads_body(item.resource_dir):
            obj = opened.index.load(item)
        else:
            meta = {"name": item.name, "namespace": item.namespace, "labels": item.labels}
            obj = {"metadata": meta}
        ns = item.namespace or ""
        owners: list[ItemKey] = []
        controller: ItemKey | None = None
        for ref in item.owners:
            resource_dir = kind_dirs.get(ref.kind)
            if resource_dir is None:
                continue
            owner_ns = (
                ns if opened.index.get(resource_dir, item.namespace, ref.name) is not None else ""
            )
            key = (resource_dir, owner_ns, ref.name)
            owners.append(key)
            if ref.controller:
                controller = key
        yield Candidate(
            key=(item.resource_dir, ns, item.name),
            kind=item.kind,
            labels=item.label_pairs,
            controller=controller,
            owners=tuple(owners),
            refs=tuple(dict.fromkeys(references(item.resource_dir, obj, crd_of=opened.crd_of))),
            skip=intrinsic_skip(item.resource_dir, obj),
        )


def kinds_by_dir(opened: OpenBackup) -> Mapping[str, str]:
    out: dict[str, str] = {}
    for resource_dir, kind in opened.index.kinds():
        out.setdefault(resource_dir, kind)
    return out
