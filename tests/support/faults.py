"""Real faults at chosen moments: a KubeClient that runs a hook before each request.

The faults themselves are real (etcd compacts a revision, a namespace is deleted, a MinIO
process is killed); the hook only picks the moment, between two requests of the engine.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import urllib3

from ark.kube import KubeClient

Hook = Callable[[str, str, Mapping[str, object]], None]


class HookedClient(KubeClient):
    """Shares ``base``'s connection pool; calls ``hook(method, path, query)`` first."""

    def __init__(self, base: KubeClient, hook: Hook) -> None:
        super().__init__(base.api)
        self._hook = hook

    def request(self, method: str, path: str, **kwargs: Any) -> bytes:
        query: Mapping[str, object] = kwargs.get("query") or {}
        self._hook(method, path, query)
        return super().request(method, path, **kwargs)


def etcd_compact(endpoint: str) -> int:
    """Compact etcd at its current revision (what kube-apiserver does every 5 minutes), so
    continue tokens minted before now expire. Returns the revision."""
    http = urllib3.PoolManager()
    key = base64.b64encode(b"/registry").decode()
    status = http.request("POST", f"{endpoint}/v3/kv/range", body=orjson.dumps({"key": key}))
    revision = int(orjson.loads(status.data)["header"]["revision"])
    compacted = http.request(
        "POST",
        f"{endpoint}/v3/kv/compaction",
        body=orjson.dumps({"revision": str(revision), "physical": True}),
    )
    if compacted.status != 200:
        raise AssertionError(f"etcd compaction failed: {compacted.status} {compacted.data!r}")
    return revision
