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
