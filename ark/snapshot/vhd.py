"""The footer of a fixed VHD: what Azure needs after a disk's bytes to take them as a disk.

A managed disk is uploaded as a fixed-size VHD: the raw bytes, then a 512-byte footer
(Microsoft's Virtual Hard Disk Image Format Specification: big-endian fields, the disk
geometry computed from its size, a one's-complement checksum of the other bytes).
"""

from __future__ import annotations

import struct
import time
import uuid

FOOTER_BYTES = 512
_COOKIE = b"conectix"
_FIXED = 2
_VHD_EPOCH = 946684800  # 2000-01-01T00:00:00Z, where VHD timestamps count from
_FORMAT = ">8sIIQI4sI4sQQHBBII16sB"
_CHECKSUM_AT = 64


def geometry(size_bytes: int) -> tuple[int, int, int]:
    """(cylinders, heads, sectors per track) of a disk of ``size_bytes``, the spec's way."""
    sectors = min(size_bytes // 512, 65535 * 16 * 255)
    if sectors >= 65535 * 16 * 63:
        per_track, heads = 255, 16
        cylinder_heads = sectors // per_track
    else:
        per_track = 17
        cylinder_heads = sectors // per_track
        heads = max(4, (cylinder_heads + 1023) // 1024)
        if cylinder_heads >= heads * 1024 or heads > 16:
            per_track, heads = 31, 16
            cylinder_heads = sectors // per_track
        if cylinder_heads >= heads * 1024:
            per_track, heads = 63, 16
            cylinder_heads = sectors // per_track
    return cylinder_heads // heads, heads, per_track


def checksum(footer: bytes) -> int:
    """The one's complement of the sum of the footer's bytes, its checksum field left out."""
    total = sum(footer[:_CHECKSUM_AT]) + sum(footer[_CHECKSUM_AT + 4 :])
    return ~total & 0xFFFFFFFF


def footer(size_bytes: int, *, unique_id: bytes | None = None) -> bytes:
    """The footer of a fixed VHD holding ``size_bytes`` (a multiple of 512)."""
    if size_bytes <= 0 or size_bytes % 512:
        raise ValueError(f"a VHD holds a whole number of 512-byte sectors, not {size_bytes} bytes")
    cylinders, heads, per_track = geometry(size_bytes)
    fields = struct.pack(
        _FORMAT,
        _COOKIE,
        2,  # features: reserved bit, always set
        0x00010000,  # format version 1.0
        0xFFFFFFFFFFFFFFFF,  # data offset: none (fixed disk)
        int(time.time()) - _VHD_EPOCH,
        b"ark ",  # creator application
        0x00010000,
        b"Wi2k",  # creator host OS (Azure's tools write Windows)
        size_bytes,
        size_bytes,
        cylinders,
        heads,
        per_track,
        _FIXED,
        0,  # checksum, filled in below
        unique_id or uuid.uuid4().bytes,
        0,  # saved state
    )
    raw = bytearray(fields.ljust(FOOTER_BYTES, b"\0"))
    struct.pack_into(">I", raw, _CHECKSUM_AT, checksum(bytes(raw)))
    return bytes(raw)


def parse_size(raw: bytes) -> int:
    """The disk size a fixed VHD footer states; ValueError naming what is wrong."""
    if len(raw) != FOOTER_BYTES:
        raise ValueError(f"a VHD footer has {FOOTER_BYTES} bytes, not {len(raw)}")
    cookie, *_rest = struct.unpack_from(_FORMAT, raw)
    (stored,) = struct.unpack_from(">I", raw, _CHECKSUM_AT)
    if cookie != _COOKIE:
        raise ValueError(f"no VHD footer: cookie {cookie!r}, not {_COOKIE!r}")
    if stored != checksum(raw):
        raise ValueError(f"VHD footer checksum {stored:#010x}, computed {checksum(raw):#010x}")
    fields = struct.unpack_from(_FORMAT, raw)
    if fields[13] != _FIXED:
        raise ValueError(f"disk type {fields[13]}, not a fixed VHD ({_FIXED})")
    return int(fields[9])
