"""Opening a storage location's backups with its encryption keys."""

from __future__ import annotations

from ark import control, persistence
from ark.kube import KubeClient


def open_store(
    client: KubeClient, namespace: str, bsl: control.StorageLocation
) -> persistence.BackupStore:
    """The location's backups, encrypted and decrypted with its keys (``spec.encryption``).
    LocationError when the location cannot be opened; a key that cannot be opened fails only
    what needs it, naming it."""
    return persistence.BackupStore(
        control.open_bsl(client, namespace, bsl),
        keyring=control.bsl_keyring(client, namespace, bsl),
    )


def current_key_problems(store: persistence.BackupStore) -> list[str]:
    """Why a backup cannot be encrypted with the location's current key (its Secret missing,
    its material or provider unusable); empty when it can, or the location does not encrypt."""
    ring = store.keyring
    if ring is None or ring.current is None or ring.current not in ring.broken:
        return []
    return [
        f"{ring.where}: current encryption key {ring.current!r} cannot be used: "
        f"{ring.broken[ring.current]}"
    ]
