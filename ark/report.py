"""What a backup or restore tells its user: per-item issues, results files and a run log.

Messages name the object and the cause (``"configmaps shop/settings: cannot restore: ..."``).
Object contents are never logged, so Secrets cannot leak into logs.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

_log = logging.getLogger("ark")


@dataclass(frozen=True)
class Issue:
    """A warning or error about one item, one resource, or the run as a whole."""

    message: str
    resource: str | None = None
    namespace: str | None = None
    name: str | None = None

    @property
    def subject(self) -> str:
        if self.resource and self.name:
            where = f"{self.namespace}/{self.name}" if self.namespace else self.name
            return f"{self.resource} {where}"
        return self.resource or "run"

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}" if self.resource else self.message

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        for key in ("resource", "namespace", "name"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass
class Issues:
    """Thread-safe collection of warnings and errors."""

    warnings: list[Issue] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def warn(self, message: str, **where: str | None) -> Issue:
        issue = Issue(message, **where)
        with self._lock:
            self.warnings.append(issue)
        return issue

    def error(self, message: str, **where: str | None) -> Issue:
        issue = Issue(message, **where)
        with self._lock:
            self.errors.append(issue)
        return issue

    def results_document(self) -> dict[str, Any]:
        """Velero's results layout (velero / cluster / namespaces) plus ark's per-item lists."""

        def velero_shape(issues: list[Issue]) -> dict[str, Any]:
            namespaces: dict[str, list[str]] = {}
            cluster: list[str] = []
            general: list[str] = []
            for issue in issues:
                if issue.namespace:
                    namespaces.setdefault(issue.namespace, []).append(str(issue))
                elif issue.resource:
                    cluster.append(str(issue))
                else:
                    general.append(str(issue))
            return {"velero": general, "cluster": cluster, "namespaces": namespaces}

        return {
            "errors": velero_shape(self.errors),
            "warnings": velero_shape(self.warnings),
            "items": {
                "errors": [i.to_json() for i in self.errors],
                "warnings": [i.to_json() for i in self.warnings],
            },
        }


class RunLog:
    """Timestamped log lines of one run, spooled to a temp file (bounded memory) and echoed to
    the ``ark`` logger; uploaded gzip'd next to the archive when the run ends."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115
        self._lock = threading.Lock()

    def _write(self, level: str, message: str) -> None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = orjson.dumps({"time": now, "level": level, "msg": message, "run": self.subject})
        with self._lock:
            self._file.write(line + b"\n")

    def info(self, message: str) -> None:
        _log.info("%s: %s", self.subject, message)
        self._write("info", message)

    def warning(self, message: str) -> None:
        _log.warning("%s: %s", self.subject, message)
        self._write("warning", message)

    def error(self, message: str) -> None:
        _log.error("%s: %s", self.subject, message)
        self._write("error", message)

    def gzipped_chunks(self, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        """The log so far, gzip-compressed, as chunks for a streaming upload."""

        def compress(gz: gzip.GzipFile) -> None:
            self._file.seek(0)
            while chunk := self._file.read(chunk_size):
                gz.write(chunk)
            self._file.seek(0, 2)

        with self._lock:
            yield from _gzipped(compress, chunk_size)

    def close(self) -> None:
        self._file.close()


def gzip_json(document: Any) -> bytes:
    return gzip.compress(orjson.dumps(document), mtime=0)


def gzip_json_chunks(
    document: Mapping[str, Any],
    *,
    arrays: Mapping[str, Iterable[Any]],
    chunk_size: int = 1 << 16,
) -> Iterator[bytes]:
    """``document`` with one more key per entry of ``arrays`` holding a JSON array of what it
    yields, gzip-compressed, as chunks for a streaming upload. The elements are encoded one at
    a time: memory holds the compressed bytes (on disk past 1 MiB), never the whole document
    (100,000 restore outcomes as dicts are about 35 MB)."""
    if clash := document.keys() & arrays.keys():
        raise ValueError(f"keys both in the document and the arrays: {sorted(clash)}")

    def compress(gz: gzip.GzipFile) -> None:
        head = orjson.dumps(document)
        buf = bytearray(head[:-1])  # without its closing brace
        comma = head != b"{}"
        for key, elements in arrays.items():
            buf += (b"," if comma else b"") + orjson.dumps(key) + b":["
            comma, first = True, True
            for element in elements:
                if not first:
                    buf += b","
                buf += orjson.dumps(element)
                first = False
                if len(buf) >= chunk_size:
                    gz.write(buf)
                    buf.clear()
            buf += b"]"
        buf += b"}"
        gz.write(buf)

    return _gzipped(compress, chunk_size)


def _gzipped(compress: Callable[[gzip.GzipFile], None], chunk_size: int) -> Iterator[bytes]:
    """What ``compress`` writes, gzip'd (no timestamp: the same bytes for the same input) into
    a temp file that stays in memory up to 1 MiB, then read back in chunks."""
    with tempfile.SpooledTemporaryFile(max_size=1 << 20) as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
            compress(gz)
        out.seek(0)
        while chunk := out.read(chunk_size):
            yield chunk
