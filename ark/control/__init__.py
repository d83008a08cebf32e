"""ark's control layer: its own custom resources and locations, under both faces (the CLI
and the operator), which import this and not each other.

    from ark import control

    backup = control.get(client, control.BACKUP, namespace, "nightly-1")
    bsl = control.resolve_bsl(client, namespace, None)  # the default location
    store = control.open_bsl(client, namespace, bsl)

Objects: create, get, list, patch (the object or its status) and delete ark's custom resources
in one namespace, the labels and annotations ark sets on them, and what its status holds
besides phases (times, conditions). Locations: a BackupStorageLocation parsed, resolved,
opened as an ``ObjectStore`` and validated; a VolumeSnapshotLocation opened as a
``VolumeSnapshotter`` and validated. Every call blocks.
"""

from __future__ import annotations

from ark.control._locations import (
    LocationError,
    LocationNotFound,
    StorageLocation,
    bsl_keyring,
    get_bsl,
    get_vsl,
    locking_problem,
    open_bsl,
    open_vsl,
    open_vsl_block_target,
    open_vsl_blocks,
    open_vsl_snapshotter,
    parse_bsl,
    resolve_bsl,
    validate_bsl,
    validate_vsl,
)
from ark.control._resources import (
    BACKUP,
    BSL,
    DBR,
    LOCATION_LABEL,
    RESTORE,
    SCHEDULE,
    SCHEDULE_LABEL,
    SYNCED_ANNOTATION,
    VSL,
    Obj,
    create,
    delete,
    get,
    list_objects,
    patch,
    patch_status,
    path,
)
from ark.control._status import condition, parse_time, set_condition, timestamp

__all__ = [
    "BACKUP",
    "BSL",
    "DBR",
    "LOCATION_LABEL",
    "RESTORE",
    "SCHEDULE",
    "SCHEDULE_LABEL",
    "SYNCED_ANNOTATION",
    "VSL",
    "LocationError",
    "LocationNotFound",
    "Obj",
    "StorageLocation",
    "bsl_keyring",
    "condition",
    "create",
    "delete",
    "get",
    "get_bsl",
    "get_vsl",
    "list_objects",
    "locking_problem",
    "open_bsl",
    "open_vsl",
    "open_vsl_block_target",
    "open_vsl_blocks",
    "open_vsl_snapshotter",
    "parse_bsl",
    "parse_time",
    "patch",
    "patch_status",
    "path",
    "resolve_bsl",
    "set_condition",
    "timestamp",
    "validate_bsl",
    "validate_vsl",
]
