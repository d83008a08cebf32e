"""Building archives for tests: good ones through ArchiveWriter, bad ones by hand with tarfile."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ark import archive

FIXTURES = Path(os.environ.get("ARK_FIXTURES", "/work/shared/fixtures"))
VELERO_BACKUP = FIXTURES / "velero-1.18.3" / "backups" / "guestbook-20261124"
VERSION_ENTRY = ("metadata/version", b"1.1.0\n")


def k8s_object(
    kind: str, name: str, namespace: str | None = None, *, api_version: str = "v1", **meta: Any
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, **meta}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "data": {"k": "v"}}


def config_map(name: str, namespace: str = "web", *, pad: int = 0, **meta: Any) -> bytes:
    obj = k8s_object("ConfigMap", name, namespace, **meta)
    if pad:
        obj["data"]["pad"] = "x" * pad
    return orjson.dumps(obj)


def add_namespace(writer: archive.ArchiveWriter, name: str) -> archive.ItemRecord:
    data = orjson.dumps(k8s_object("Namespace", name))
    return writer.add_item(
        resource="namespaces",
        group="",
        version="v1",
        kind="Namespace",
        namespace=None,
        name=name,
        data=data,
    )


def add_config_map(
    writer: archive.ArchiveWriter, name: str, namespace: str = "web", *, pad: int = 0
) -> None:
    writer.add_item(
        resource="configmaps",
        group="",
        version="v1",
        kind="ConfigMap",
        namespace=namespace,
        name=name,
        data=config_map(name, namespace, pad=pad),
    )


@dataclass
class Raw:
    """A tar entry exactly as given (any type, any name)."""

    name: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""
    size: int | None = None


def tar_bytes(entries: Iterable[Raw | tuple[str, bytes]], *, gz: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            raw = entry if isinstance(entry, Raw) else Raw(*entry)
            info = tarfile.TarInfo(raw.name)
            info.type = raw.type
            info.linkname = raw.linkname
            info.size = len(raw.data) if raw.size is None else raw.size
            tar.addfile(info, io.BytesIO(raw.data) if raw.type == tarfile.REGTYPE else None)
    data = buf.getvalue()
    return gzip.compress(data, mtime=0) if gz else data


def cm_entry(name: str, namespace: str = "web", body: bytes | None = None) -> tuple[str, bytes]:
    path = f"resources/configmaps/namespaces/{namespace}/{name}.json"
    return (path, config_map(name, namespace) if body is None else body)
