"""Storage and snapshot locations: from the custom resources to stores and snapshotters.

A location's credential Secret lives in ark's namespace, next to the location; its keys are
decoded here and handed to the provider, never logged. Opening a location loads no cloud SDK:
the provider's plugin loads its own when a store or snapshotter is opened. Errors name the
location and the cause.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ark import crypto, snapshot
from ark.api import kinds
from ark.api.locations import AccessMode, BackupStorageLocationSpec, VolumeSnapshotLocationSpec
from ark.control import _resources
from ark.kube import KubeApiError, KubeClient, object_path
from ark.snapshot.blocks import BlockAccess, BlockTarget
from ark.snapshot.errors import SnapshotError
from ark.snapshot.interface import VolumeSnapshotter
from ark.storage import ObjectStore, RetentionUnsupported, StoreError, StoreLocation, open_store


class LocationError(Exception):
    """A location cannot be used; the message says which and why."""


class LocationNotFound(LocationError):
    """No location of that name (in this cluster)."""


@dataclass(frozen=True)
class StorageLocation:
    """A BackupStorageLocation, parsed, with its name."""

    name: str
    spec: BackupStorageLocationSpec
    phase: str | None
    message: str | None = None
    """Why it is Unavailable, from its status."""

    @property
    def read_only(self) -> bool:
        return self.spec.access_mode == AccessMode.READ_ONLY


def parse_bsl(obj: dict[str, Any]) -> StorageLocation:
    name = obj["metadata"]["name"]
    if (too_long := kinds.BACKUP_STORAGE_LOCATION.check_name(name)) is not None:
        raise LocationError(f"BackupStorageLocation {name}: {too_long}")
    try:
        spec = BackupStorageLocationSpec.model_validate(obj.get("spec") or {})
    except ValueError as exc:
        raise LocationError(f"BackupStorageLocation {name}: invalid spec: {exc}") from None
    status = obj.get("status") or {}
    return StorageLocation(
        name=name, spec=spec, phase=status.get("phase"), message=status.get("message")
    )


def _secret_data(client: KubeClient, namespace: str, name: str) -> dict[str, str]:
    """The decoded keys of a Secret. Values are never logged."""
    secret = client.get(
        object_path(group="", version="v1", plural="secrets", namespace=namespace, name=name)
    )
    return {
        key: base64.b64decode(value).decode("utf-8", "replace")
        for key, value in (secret.get("data") or {}).items()
    }


def _credentials(client: KubeClient, namespace: str, what: str, ref: Any | None) -> dict[str, str]:
    if ref is None:
        return {}
    try:
        data = _secret_data(client, namespace, ref.name)
    except KubeApiError as exc:
        if exc.not_found:
            raise LocationError(
                f"{what}: credential Secret {namespace}/{ref.name} not found"
            ) from None
        raise LocationError(
            f"{what}: cannot read credential Secret {namespace}/{ref.name}: {exc.message}"
        ) from None
    if ref.key not in data:
        raise LocationError(
            f"{what}: credential Secret {namespace}/{ref.name} has no key {ref.key!r} "
            f"(keys: {', '.join(sorted(data)) or 'none'})"
        )
    # Velero's convention: the named key holds the provider's credentials file ("cloud").
    return (
        {**data, "cloud": data[ref.key]} if ref.key != "cloud" and "\n" in data[ref.key] else data
    )


def _store_location(client: KubeClient, namespace: str, bsl: StorageLocation) -> StoreLocation:
    spec = bsl.spec
    return StoreLocation(
        provider=spec.provider,
        bucket=spec.object_storage.bucket,
        prefix=spec.object_storage.prefix or "",
        config=dict(spec.config or {}),
        credentials=_credentials(
            client, namespace, f"BackupStorageLocation {bsl.name}", spec.credential
        ),
    )


def open_bsl(client: KubeClient, namespace: str, bsl: StorageLocation) -> ObjectStore:
    try:
        return open_store(_store_location(client, namespace, bsl))
    except StoreError as exc:
        raise LocationError(f"BackupStorageLocation {bsl.name}: {exc}") from None


def _secret_bytes(client: KubeClient, namespace: str, name: str, key: str) -> bytes:
    """One key of a Secret, as bytes (key material is binary). Never logged."""
    try:
        secret = client.get(
            object_path(group="", version="v1", plural="secrets", namespace=namespace, name=name)
        )
    except KubeApiError as exc:
        if exc.not_found:
            raise ValueError(f"Secret {namespace}/{name} not found") from None
        raise ValueError(f"cannot read Secret {namespace}/{name}: {exc.message}") from None
    data = secret.get("data") or {}
    if key not in data:
        keys = ", ".join(sorted(data)) or "none"
        raise ValueError(f"Secret {namespace}/{name} has no key {key!r} (keys: {keys})")
    return base64.b64decode(data[key])


def bsl_keyring(client: KubeClient, namespace: str, bsl: StorageLocation) -> crypto.Keyring:
    """The location's encryption keys (``spec.encryption``); a keyring without keys when it
    has none. A key that cannot be opened (its Secret missing, bad material, no such
    provider) is kept as broken with the reason: using it fails, naming it; the others work."""
    where = f"BackupStorageLocation {bsl.name}"
    spec = bsl.spec.encryption
    if spec is None:
        return crypto.Keyring({}, current=None, where=where)
    keys: dict[str, crypto.KeyEncryptionKey] = {}
    broken: dict[str, str] = {}
    for ref in spec.keys:
        try:
            material = (
                None
                if ref.secret is None
                else _secret_bytes(client, namespace, ref.secret.name, ref.secret.key)
            )
            source = crypto.KeySource(
                ref.id, provider=ref.provider, config=dict(ref.config or {}), secret=material
            )
            keys[ref.id] = crypto.open_key(source)
        except ValueError as exc:
            broken[ref.id] = str(exc)
    return crypto.Keyring(keys, current=spec.current, where=where, broken=broken)


def get_bsl(client: KubeClient, namespace: str, name: str) -> StorageLocation:
    obj = _resources.get(client, _resources.BSL, namespace, name)
    if obj is None:
        raise LocationNotFound(f"BackupStorageLocation {namespace}/{name} not found")
    return parse_bsl(obj)


def resolve_bsl(client: KubeClient, namespace: str, name: str | None) -> StorageLocation:
    """The location named, else the one default location."""
    if name:
        return get_bsl(client, namespace, name)
    defaults = [
        parse_bsl(o)
        for o in _resources.list_objects(client, _resources.BSL, namespace)
        if (o.get("spec") or {}).get("default")
    ]
    if not defaults:
        raise LocationError(
            f"no storageLocation named and no default BackupStorageLocation in {namespace}"
        )
    if len(defaults) > 1:
        names = ", ".join(sorted(d.name for d in defaults))
        raise LocationError(f"several default BackupStorageLocations in {namespace}: {names}")
    return defaults[0]


def locking_problem(store: ObjectStore, bsl: StorageLocation) -> str | None:
    """Why backups cannot be written under the location's ``objectLock`` (its bucket cannot
    lock objects), or None: no lock asked, a ReadOnly location, or a bucket that can."""
    lock = bsl.spec.object_lock
    if lock is None or bsl.read_only:
        return None
    try:
        store.check_locking()
    except RetentionUnsupported as exc:
        days = f"{lock.days} day{'s' if lock.days != 1 else ''}"
        return (
            f"BackupStorageLocation {bsl.name} asks for objectLock ({lock.mode}, {days}), but "
            f"its bucket cannot lock objects: {exc}"
        )
    return None


def validate_bsl(client: KubeClient, namespace: str, obj: dict[str, Any]) -> str | None:
    """None when the location is usable, else why not (the store is contacted)."""
    try:
        bsl = parse_bsl(obj)
        store = open_bsl(client, namespace, bsl)
        store.check()
        if (problem := locking_problem(store, bsl)) is not None:
            return problem
        ring = bsl_keyring(client, namespace, bsl)
        if ring.current is not None and ring.current in ring.broken:
            return f"{ring.where}: encryption key {ring.current!r}: {ring.broken[ring.current]}"
    except LocationError as exc:
        return str(exc)
    except StoreError as exc:
        return f"BackupStorageLocation {obj['metadata']['name']}: {exc}"
    return None


def validate_vsl(client: KubeClient, namespace: str, obj: dict[str, Any]) -> str | None:
    """None when the snapshot provider is installed and accepts the config, else why not."""
    what = f"VolumeSnapshotLocation {obj['metadata']['name']}"
    try:
        spec = VolumeSnapshotLocationSpec.model_validate(obj.get("spec") or {})
    except ValueError as exc:
        return f"{what}: invalid spec: {exc}"
    if spec.provider not in snapshot.providers():
        known = ", ".join(snapshot.providers()) or "none"
        return f"{what}: no volume snapshotter named {spec.provider!r} (installed: {known})"
    try:
        open_vsl(client, namespace, obj)
    except LocationError as exc:
        return str(exc)
    return None


def _vsl_settings(
    client: KubeClient, namespace: str, obj: dict[str, Any]
) -> tuple[str, VolumeSnapshotLocationSpec, dict[str, str], dict[str, str]]:
    """A VolumeSnapshotLocation's name, spec, config and decoded credentials."""
    name = obj["metadata"]["name"]
    spec = VolumeSnapshotLocationSpec.model_validate(obj.get("spec") or {})
    config = dict(spec.config or {})
    credentials = _credentials(client, namespace, f"VolumeSnapshotLocation {name}", spec.credential)
    return name, spec, config, credentials


def open_vsl(client: KubeClient, namespace: str, obj: dict[str, Any]) -> VolumeSnapshotter:
    """The snapshotter a VolumeSnapshotLocation object describes (its provider, region, config
    and credential Secret); LocationError names the location and the cause."""
    name, spec, config, credentials = _vsl_settings(client, namespace, obj)
    try:
        return snapshot.open_snapshotter(
            spec.provider,
            region=config.get("region", ""),
            config=config,
            credentials=credentials,
            kube=client,
        )
    except SnapshotError as exc:
        raise LocationError(f"VolumeSnapshotLocation {name}: {exc}") from None


def open_vsl_blocks(client: KubeClient, namespace: str, obj: dict[str, Any]) -> BlockAccess:
    """Block access to a VolumeSnapshotLocation's snapshots (a volume export reads them, an
    import writes them); LocationError names the location and why it has none (gcp: GCE has
    no API to read a snapshot's blocks)."""
    name, spec, config, credentials = _vsl_settings(client, namespace, obj)
    try:
        return snapshot.open_blocks(
            spec.provider, region=config.get("region", ""), config=config, credentials=credentials
        )
    except SnapshotError as exc:
        raise LocationError(f"VolumeSnapshotLocation {name}: {exc}") from None


def open_vsl_block_target(client: KubeClient, namespace: str, obj: dict[str, Any]) -> BlockTarget:
    """Where a restore imports exported volumes into a VolumeSnapshotLocation (GCE: through
    images); LocationError names the location and why it has none."""
    name, spec, config, credentials = _vsl_settings(client, namespace, obj)
    try:
        return snapshot.open_block_target(
            spec.provider, region=config.get("region", ""), config=config, credentials=credentials
        )
    except SnapshotError as exc:
        raise LocationError(f"VolumeSnapshotLocation {name}: {exc}") from None


def get_vsl(client: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    """The VolumeSnapshotLocation object named; LocationNotFound when there is none."""
    obj = _resources.get(client, _resources.VSL, namespace, name)
    if obj is None:
        raise LocationNotFound(f"VolumeSnapshotLocation {namespace}/{name} not found")
    return obj


def open_vsl_snapshotter(client: KubeClient, namespace: str, name: str) -> VolumeSnapshotter:
    return open_vsl(client, namespace, get_vsl(client, namespace, name))
