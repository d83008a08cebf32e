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
