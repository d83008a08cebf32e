"""ark's operator: kopf handlers for Backups, Restores, Schedules, storage and snapshot
locations and DeleteBackupRequests, in one namespace (``python -m ark.operator``).

The handlers are thin; the work lives in small modules: ``backups`` (validate, status of a run),
``restores``, ``snapshots``, ``scheduling`` and ``retention``, ``sync``, ``deletion``,
``status`` (throttled progress), ``metrics``, ``settings``. ark's objects and locations are
read, written and opened through ``ark.control``, which the CLI shares.
"""
