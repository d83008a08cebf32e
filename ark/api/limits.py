"""Limits on what ark's resources and flags accept, stated once.

The CRD schemas (through the models and ``kinds``), the pydantic models and the CLI all read
them from here, so the API server, the operator and ``ark`` never disagree on what is valid.
"""

from __future__ import annotations

import datetime as dt
import re

NAME_MAX = 253
"""An object name (a DNS-1123 subdomain), as Kubernetes allows."""

DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
"""An object name's shape (with ``fullmatch``)."""

LABEL_VALUE_MAX = 63
"""A label value. A Schedule's and a BackupStorageLocation's names become label values on the
Backups they make or sync (``ark.dev/schedule-name``, ``ark.dev/storage-location``)."""

MAX_DURATION_TEXT = "2562047h"
MAX_DURATION = dt.timedelta(hours=2562047)
"""The longest duration: the whole hours of Go's ``time.Duration`` (int64 nanoseconds, about
292 years), so a duration this accepts never overflows a time, in Go or here."""

CLUSTER_UID_PATTERN = r"^[0-9A-Za-z][-0-9A-Za-z]{0,62}$"
"""A cluster's uid (its kube-system namespace's: a UUID), as ``pointInTimeCluster`` and the
change log folder it names take it."""

FILTER_ITEMS_MAX = 512
"""Namespaces or resources in one include/exclude list (a backup's, a restore's, a hook's)."""
SELECTORS_MAX = 64
"""``orLabelSelectors``, and the requirements of one selector."""
NAMESPACE_MAPPINGS_MAX = 64
"""Namespaces one restore maps (``namespaceMapping``), so a restore test's namespaces too."""
HOOKS_MAX = 32
"""Pre or post hooks of one hook spec."""
HOOK_SPECS_MAX = 64
"""Hook specs of one backup; also the VolumeSnapshotLocations one backup names."""
KEYS_MAX = 32
"""Encryption keys one BackupStorageLocation lists."""
