"""How much of each file kept next to a backup or a restore a read accepts.

A file is untrusted input (another cluster or tool may have written it, or an attacker with
write access to the bucket): no read holds more than its limit in memory. ``stored`` bounds
the bytes read from the bucket; ``decompressed`` bounds what a gzip file inflates to, and is
enforced while inflating, so a gzip bomb stops at the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class FileLimit:
    stored: int
    decompressed: int | None = None
    """None for a file that is not gzip."""


@dataclass(frozen=True)
class Limits:
    record: FileLimit = FileLimit(stored=4 * MiB)
    """velero-backup.json: one Backup object (spec, status and ark's annotations)."""
    results: FileLimit = FileLimit(stored=64 * MiB, decompressed=64 * MiB)
    """Results: a few hundred bytes per warning or error, per-item outcomes of a restore."""
    log: FileLimit = FileLimit(stored=64 * MiB, decompressed=64 * MiB)
    """A run's log: lines about the run, never one per item."""
    snapshots: FileLimit = FileLimit(stored=16 * MiB, decompressed=16 * MiB)
    """Volume snapshot records: under 1 KiB per volume."""
    resource_list: FileLimit = FileLimit(stored=1 * GiB, decompressed=2 * GiB)
    """Velero's resource list: a name per item."""
    manifest: FileLimit = FileLimit(stored=1 * GiB, decompressed=2 * GiB)
    """ark's manifest: a row (path, size, sha256) per item, about 13 MB of gzip at 100,000
    items; parsed whole, so the limit is generous but finite."""
    volume_index: FileLimit = FileLimit(stored=512 * MiB, decompressed=1 * GiB)
    """An exported volume's index: a row (block, chunk name, stored size) of about 80 bytes per
    non-zero block, so 1 GiB holds some 13 million blocks (6.5 TiB of data in 512 KiB blocks)."""
    chunk: FileLimit = FileLimit(stored=17 * MiB, decompressed=16 * MiB)
    """The most any chunk may take, stored and inflated; a read bounds a chunk tighter, by the
    block size its index names."""
    naming_key: FileLimit = FileLimit(stored=64 * 1024)
    """A location's wrapped chunk-naming key: a few hundred bytes."""
    changelog_segment: FileLimit = FileLimit(stored=64 * MiB, decompressed=64 * MiB)
    """One segment of a change log: the writer closes a segment past a few MiB of JSON
    (``changelog.SEGMENT_BYTES``), so at most that plus one object (etcd keeps objects under
    1.5 MiB)."""


DEFAULT = Limits()
