"""Errors raised by volume snapshotters. Messages name the volume or snapshot and the cause."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class SnapshotError(Exception):
    """Base class of volume-snapshot errors."""


class SnapshotConfigError(SnapshotError):
    """A VolumeSnapshotLocation's provider, config key or credentials are invalid."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"invalid volume snapshot configuration {setting!r}: {reason}")
        self.setting = setting


class UnknownProvider(SnapshotConfigError):
    def __init__(self, provider: str, known: Iterable[str]) -> None:
        names = ", ".join(sorted(known)) or "none installed"
        super().__init__("provider", f"no volume snapshotter named {provider!r} (known: {names})")
        self.provider = provider


class VolumeNotFound(SnapshotError):
    def __init__(self, volume: str, where: str, *, pv: str = "") -> None:
        of_pv = f" (PersistentVolume {pv})" if pv else ""
        super().__init__(f"volume {volume}{of_pv}: not found in {where}")
        self.volume = volume


class SnapshotNotFound(SnapshotError):
    def __init__(self, snapshot: str, where: str) -> None:
        super().__init__(f"snapshot {snapshot}: not found in {where}")
        self.snapshot = snapshot


class InvalidVolume(SnapshotError):
    """A PersistentVolume names a volume of this provider in a form that cannot be parsed."""

    def __init__(self, pv: str, reason: str) -> None:
        super().__init__(f"PersistentVolume {pv}: {reason}")
        self.pv = pv


class OperationFailed(SnapshotError):
    """The cloud refused or failed an operation; ``code`` is the cloud's error code."""

    def __init__(self, action: str, subject: str, cause: str, *, code: str = "") -> None:
        super().__init__(f"{subject}: cannot {action}: {cause}")
        self.action = action
        self.subject = subject
        self.code = code


class AccessDenied(OperationFailed):
    """The credentials were refused or lack a permission."""


class NoSnapshotClass(SnapshotError):
    """No (or no single) VolumeSnapshotClass is chosen for a CSI volume's driver."""

    def __init__(self, pv: str, reason: str) -> None:
        super().__init__(f"PersistentVolume {pv}: {reason}")
        self.pv = pv


class NotOwned(SnapshotError):
    """A snapshot was to be deleted for a backup whose marks it does not carry, or a volume for
    a restore whose marks it does not carry (``what="volume"``, every mark asked): it is left."""

    def __init__(
        self,
        snapshot: str,
        owner: Mapping[str, str],
        found: Mapping[str, str],
        *,
        what: str = "snapshot",
        every: bool = False,
    ) -> None:
        wanted = (" and " if every else " or ").join(f"{k}={v}" for k, v in owner.items())
        has = ", ".join(f"{k}={v}" for k, v in sorted(found.items())[:8]) or "no tags"
        super().__init__(f"{what} {snapshot}: not deleted: it is not tagged {wanted} ({has})")
        self.snapshot = snapshot
