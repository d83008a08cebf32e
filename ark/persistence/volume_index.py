"""The index of one exported volume: which chunk holds each of its non-zero blocks.

Stored gzip'd as ``backups/<backup>/volumes/<pv>.index.json.gz`` (encrypted with the backup)
and written last, after every chunk it names: an index that is there is whole. Format 1::

    {"format": "ark.dev/volume-index", "version": 1,
     "volume": {"name": "pv-data", "sizeBytes": 8589934592, "blockSize": 524288},
     "source": {"provider": "aws", "region": "eu-west-1", "snapshotId": "snap-…",
                "volumeId": "vol-…"},
     "parent": "nightly-1" | null,           the backup whose export this one built on
     "chunks": {"naming": "sha256" | "hmac-sha256", "key": null | "<naming key id>"},
     "blocks": [[blockIndex, chunkName, storedBytes], …],    ascending, zero blocks left out
     "totals": {"blocks", "logicalBytes", "storedBytes", "readBytes", "newChunks", "newBytes"}}

``logicalBytes``: the non-zero blocks' bytes; ``storedBytes``: what the distinct chunks the
index names take in the bucket; ``readBytes``: what this export read from the snapshot (less
than logical when it built on a parent); ``newChunks``/``newBytes``: the chunks this export
stored that were not there (what it added to the bucket).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

FORMAT = "ark.dev/volume-index"
VERSION = 1
MAX_BLOCK_SIZE = 16 << 20

_CHUNK_NAME = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class BlockEntry:
    index: int
    chunk: str
    stored: int
    """The chunk's stored size in bytes."""


@dataclass(frozen=True)
class VolumeSource:
    """What the blocks were read from."""

    provider: str
    region: str
    snapshot_id: str
    volume_id: str | None = None


@dataclass(frozen=True)
class Totals:
    blocks: int = 0
    logical_bytes: int = 0
    stored_bytes: int = 0
    read_bytes: int = 0
    new_chunks: int = 0
    new_bytes: int = 0


@dataclass(frozen=True)
class VolumeIndex:
    volume: str
    """The PersistentVolume's name."""
    size_bytes: int
    block_size: int
    source: VolumeSource
    naming: str
    naming_key: str | None
    blocks: Sequence[BlockEntry]
    totals: Totals = field(default_factory=Totals)
    parent: str | None = None

    def encode(self) -> bytes:
        document = {
            "format": FORMAT,
            "version": VERSION,
            "volume": {
                "name": self.volume,
                "sizeBytes": self.size_bytes,
                "blockSize": self.block_size,
            },
            "source": {
                "provider": self.source.provider,
                "region": self.source.region,
                "snapshotId": self.source.snapshot_id,
                "volumeId": self.source.volume_id,
            },
            "parent": self.parent,
            "chunks": {"naming": self.naming, "key": self.naming_key},
            "blocks": [[b.index, b.chunk, b.stored] for b in self.blocks],
            "totals": {
                "blocks": self.totals.blocks,
                "logicalBytes": self.totals.logical_bytes,
                "storedBytes": self.totals.stored_bytes,
                "readBytes": self.totals.read_bytes,
                "newChunks": self.totals.new_chunks,
                "newBytes": self.totals.new_bytes,
            },
        }
        return orjson.dumps(document)


def totals_of(
    blocks: Iterable[BlockEntry],
    *,
    block_size: int,
    read_bytes: int,
    new_chunks: int,
    new_bytes: int,
) -> Totals:
    entries = list(blocks)
    distinct = {b.chunk: b.stored for b in entries}
    return Totals(
        blocks=len(entries),
        logical_bytes=len(entries) * block_size,
        stored_bytes=sum(distinct.values()),
        read_bytes=read_bytes,
        new_chunks=new_chunks,
        new_bytes=new_bytes,
    )


def _count(value: Any, what: str, *, positive: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < (1 if positive else 0):
        raise ValueError(f"{what} is not a {'positive' if positive else 'non-negative'} integer")
    return value


def _text(value: Any, what: str, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} is not a string")
    return value


def _object(document: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = document.get(name)
    if not isinstance(value, dict):
        raise ValueError(f"{name} is not an object")
    return value


def _blocks(raw: Any, *, size_bytes: int, block_size: int) -> list[BlockEntry]:
    if not isinstance(raw, list):
        raise ValueError("blocks is not a list")
    entries: list[BlockEntry] = []
    last = -1
    for row in raw:
        if not isinstance(row, list) or len(row) != 3:
            raise ValueError(f"block row {row!r:.80} is not [index, chunk, storedBytes]")
        index = _count(row[0], "a block index")
        if index <= last or index * block_size >= size_bytes:
            raise ValueError(f"block {index} is out of order or past the volume's end")
        if not isinstance(row[1], str) or not _CHUNK_NAME.match(row[1]):
            raise ValueError(f"block {index} names no chunk ({row[1]!r:.80})")
        entries.append(BlockEntry(index, row[1], _count(row[2], f"block {index}'s size")))
        last = index
    return entries


def decode(data: bytes) -> VolumeIndex:
    """The index in ``data``; ValueError saying what is wrong with it."""
    document = orjson.loads(data)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"not an ark volume index (format is not {FORMAT!r})")
    if document.get("version") != VERSION:
        raise ValueError(f"version {document.get('version')!r}; this ark reads {VERSION}")
    volume = _object(document, "volume")
    source = _object(document, "source")
    chunks = _object(document, "chunks")
    totals = _object(document, "totals")
    size_bytes = _count(volume.get("sizeBytes"), "volume.sizeBytes", positive=True)
    block_size = _count(volume.get("blockSize"), "volume.blockSize", positive=True)
    if block_size > MAX_BLOCK_SIZE:
        raise ValueError(f"volume.blockSize {block_size} is over {MAX_BLOCK_SIZE}")
    return VolumeIndex(
        volume=str(_text(volume.get("name"), "volume.name")),
        size_bytes=size_bytes,
        block_size=block_size,
        source=VolumeSource(
            provider=str(_text(source.get("provider"), "source.provider")),
            region=str(_text(source.get("region"), "source.region")),
            snapshot_id=str(_text(source.get("snapshotId"), "source.snapshotId")),
            volume_id=_text(source.get("volumeId"), "source.volumeId", optional=True),
        ),
        naming=str(_text(chunks.get("naming"), "chunks.naming")),
        naming_key=_text(chunks.get("key"), "chunks.key", optional=True),
        blocks=_blocks(document.get("blocks"), size_bytes=size_bytes, block_size=block_size),
        totals=Totals(
            **{
                attr: _count(totals.get(name), f"totals.{name}")
                for attr, name in (
                    ("blocks", "blocks"),
                    ("logical_bytes", "logicalBytes"),
                    ("stored_bytes", "storedBytes"),
                    ("read_bytes", "readBytes"),
                    ("new_chunks", "newChunks"),
                    ("new_bytes", "newBytes"),
                )
            }
        ),
        parent=_text(document.get("parent"), "parent", optional=True),
    )
