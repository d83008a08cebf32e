"""ark's operator: kopf handlers for Backups, Restores, Schedules, storage and snapshot
locations and DeleteBackupRequests, in one namespace (``python -m ark.operator``).

The handlers are thin; the work lives in small modules: ``backups`` (validate, status of a run),
``scheduling`` and ``retention``, ``locations`` and ``sync``, ``deletion``, ``status`` (throttled
progress), ``metrics``, ``settings``.
"""
