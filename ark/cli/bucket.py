"""Reading what a run left in object storage (results, logs, the archive), with the storage
location's own credentials — which the user must be allowed to read."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import orjson

from ark import control, persistence
from ark.api import kinds
from ark.cli import common, context
from ark.cli.context import CliError, Obj
from ark.kube import KubeError
from ark.storage import ObjectNotFound, StoreError

T = TypeVar("T")


class Unreadable(CliError):
    """The bucket cannot be read from here; the message says why."""


def location_name(obj: Obj) -> str | None:
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    name = status.get("storageLocation") or spec.get("storageLocation")
    return None if name is None else str(name)


def open_for(location: str | None) -> persistence.BackupStore:
    """The store of a BackupStorageLocation (the default one when ``location`` is None)."""
    s = context.settings()
    try:
        bsl = control.resolve_bsl(s.client(), s.namespace, location)
        return persistence.BackupStore(
            control.open_bsl(s.client(), s.namespace, bsl),
            keyring=control.bsl_keyring(s.client(), s.namespace, bsl),
        )
    except control.LocationError as exc:
        message = str(exc)
        if "forbidden" in message or "cannot read credential Secret" in message:
            message += " (you need read access to the location's credential Secret)"
        raise Unreadable(message) from None
    except KubeError as exc:
        raise common.explain(exc) from None


def restore_location(restore: Obj) -> str | None:
    """A restore's results live in the location of the backup it restored."""
    backup_name = (restore.get("status") or {}).get("backupName") or (
        restore.get("spec") or {}
    ).get("backupName")
    if not backup_name:
        raise Unreadable("the restore has not chosen a backup yet")
    backup = common.find(kinds.BACKUP, str(backup_name))
    if backup is None:
        raise Unreadable(f'backup "{backup_name}" of this restore no longer exists')
    return location_name(backup)


def read(reader: Callable[[], T], *, what: str, missing: str = "") -> T:
    """What ``reader`` reads from the bucket; Unreadable, saying why, when it cannot."""
    try:
        return reader()
    except ObjectNotFound as exc:
        raise Unreadable(f"{what} not found in the bucket ({exc.key}){missing}") from None
    except StoreError as exc:
        raise Unreadable(f"cannot read {what}: {exc}") from None


def backup_results(backup: Obj) -> Any:
    store = open_for(location_name(backup))
    name = backup["metadata"]["name"]
    return read(lambda: store.backup_results(name), what="the backup's results file")


def restore_results(restore: Obj) -> Any:
    store = open_for(restore_location(restore))
    name = restore["metadata"]["name"]
    return read(lambda: store.restore_results(name), what="the restore's results file")


def log_lines(reader: Callable[[], bytes], *, what: str) -> Iterator[str]:
    """The run log, one readable line per record: ``time level message``."""
    data = read(reader, what=what, missing="; has the run finished?")
    for raw in io.BytesIO(data):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            yield raw.decode("utf-8", "replace").rstrip("\n")
            continue
        level = str(record.get("level", "")).upper()
        yield f"{record.get('time', '')} {level:7} {record.get('msg', '')}"
