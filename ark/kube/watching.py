"""WATCH streams: one long GET per resource, its events read as they come.

The API server writes one JSON event per line (``{"type": ..., "object": {...}}``). A stream
ends when the server's ``timeoutSeconds`` is up (the caller watches again from the last
resourceVersion), when :meth:`WatchStream.close` is called from another thread, or with an
``ERROR`` event: 410 Gone (the resourceVersion was compacted away) is raised as the
KubeApiError it stands for, so callers test ``.gone`` as for a LIST.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import urllib3

from ark.kube.client import KubeClient
from ark.kube.discovery import ApiResource
from ark.kube.errors import KubeApiError, KubeError

MAX_EVENT_BYTES = 64 << 20
"""A line longer than this is refused (etcd keeps objects under 1.5 MiB; a watch event is
one object)."""
BOOKMARK = "BOOKMARK"


@dataclass(frozen=True)
class WatchEvent:
    type: str
    """ADDED, MODIFIED, DELETED or BOOKMARK (only the object's resourceVersion is meant)."""
    object: dict[str, Any]

    @property
    def resource_version(self) -> str:
        return str((self.object.get("metadata") or {}).get("resourceVersion") or "")


class WatchStream:
    """One WATCH of a resource (cluster-wide) from ``resource_version``, with bookmarks."""

    def __init__(
        self,
        client: KubeClient,
        resource: ApiResource,
        *,
        resource_version: str,
        timeout_seconds: int = 300,
    ) -> None:
        self.resource = resource
        self._path = resource.path()
        self._closed = False
        self._response: urllib3.BaseHTTPResponse | None = None
        query: dict[str, str | int | bool] = {
            "watch": True,
            "allowWatchBookmarks": True,
            "resourceVersion": resource_version,
            "timeoutSeconds": timeout_seconds,
        }
        self._response = client.open_stream(
            self._path, query=query, read_timeout=timeout_seconds + 30
        )

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """End the stream; safe from another thread (a read that waits returns)."""
        self._closed = True
        if self._response is not None:
            # Released to the pool already when the stream ended by itself: nothing to end.
            with contextlib.suppress(RuntimeError, OSError):
                self._response.shutdown()

    def events(self) -> Iterator[WatchEvent]:
        """The events until the stream ends. KubeApiError for an ERROR event (``gone`` for
        410), KubeError for a broken stream."""
        resp = self._response
        assert resp is not None
        pending = bytearray()
        try:
            while not self._closed:
                try:
                    chunk = resp.read1(1 << 16)
                except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                    if self.closed:
                        return
                    raise KubeError(f"WATCH {self._path}: the stream broke: {exc}") from exc
                if not chunk:
                    return
                pending += chunk
                while (end := pending.find(b"\n")) >= 0:
                    line = bytes(pending[:end])
                    del pending[: end + 1]
                    if line.strip():
                        yield self._event(line)
                if len(pending) > MAX_EVENT_BYTES:
                    raise KubeError(f"WATCH {self._path}: an event over {MAX_EVENT_BYTES} bytes")
        finally:
            resp.release_conn()

    def _event(self, line: bytes) -> WatchEvent:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise KubeError(f"WATCH {self._path}: an event is not JSON ({exc})") from None
        kind = doc.get("type") if isinstance(doc, dict) else None
        obj = doc.get("object") if isinstance(doc, dict) else None
        if not isinstance(kind, str) or not isinstance(obj, dict):
            raise KubeError(f"WATCH {self._path}: not a watch event: {line[:200]!r}")
        if kind == "ERROR":
            raise KubeApiError(
                method="WATCH",
                path=self._path,
                status=int(obj.get("code") or 500),
                body=orjson.dumps(obj),
            )
        return WatchEvent(type=kind, object=obj)
