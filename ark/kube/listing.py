"""Paginated LISTs that survive expired continue tokens."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from ark.kube.client import KubeClient
from ark.kube.discovery import ApiResource
from ark.kube.errors import KubeApiError

DEFAULT_PAGE_SIZE = 500


@dataclass
class Page:
    items: list[dict[str, Any]]
    resource_version: str
    remaining: int | None
    restarted: bool = False
    """True on the first page after a 410 Gone forced the list to start over."""


def _key(item: dict[str, Any]) -> str:
    """Where a LIST orders the item: ``namespace/name``."""
    meta = item.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def list_pages(
    client: KubeClient,
    resource: ApiResource,
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    max_restarts: int = 3,
) -> Iterator[Page]:
    """LIST a resource page by page (``limit``/``continue``), fetching the next page while the
    caller works on the current one.

    A continue token expires when etcd compacts past it (410 Gone). The list then starts over
    and skips what was already yielded (a LIST returns objects in key order, so everything up
    to the last key yielded), so each object comes once; the first page after such a restart
    says ``restarted``. Items carry ``apiVersion`` and ``kind`` (a LIST omits them per item).
    """
    path = resource.path(namespace=namespace)

    def fetch(token: str | None) -> Any:
        query: dict[str, str | int | bool] = {"limit": limit}
        if token:
            query["continue"] = token
        if label_selector:
            query["labelSelector"] = label_selector
        return orjson.loads(client.request("GET", path, query=query, timeout=120))

    restarts = 0
    last_key: str | None = None  # of the last item yielded
    skip_through: str | None = None  # after a restart: keys up to here were yielded already
    announce = False
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ark-list") as prefetcher:
        pending: Future[Any] = prefetcher.submit(fetch, None)
        token: str | None = None
        while True:
            try:
                data = pending.result()
            except KubeApiError as exc:
                if exc.gone and token and restarts < max_restarts:
                    restarts, token = restarts + 1, None
                    skip_through, announce = last_key, True
                    pending = prefetcher.submit(fetch, None)
                    continue
                raise
            list_meta = data.get("metadata") or {}
            token = list_meta.get("continue") or None
            if token:
                pending = prefetcher.submit(fetch, token)
            fresh: list[dict[str, Any]] = []
            group_version, kind = resource.group_version, resource.kind
            for item in data.get("items") or ():
                if skip_through is not None and _key(item) <= skip_through:
                    continue  # yielded before the restart
                item["apiVersion"] = group_version
                item["kind"] = kind
                fresh.append(item)
            if fresh:
                last_key = _key(fresh[-1])
            yield Page(
                items=fresh,
                resource_version=str(list_meta.get("resourceVersion") or ""),
                remaining=list_meta.get("remainingItemCount"),
                restarted=announce,
            )
            announce = False
            if not token:
                return


def count(
    client: KubeClient,
    resource: ApiResource,
    *,
    namespace: str | None = None,
) -> int:
    """How many objects a LIST would return, from a one-item page's remainingItemCount.

    Costs one small request. (The server leaves remainingItemCount out when a label selector
    is used, which is why this takes none.)
    """
    data = orjson.loads(
        client.request("GET", resource.path(namespace=namespace), query={"limit": 1})
    )
    items = len(data.get("items") or [])
    meta = data.get("metadata") or {}
    if meta.get("remainingItemCount") is not None:
        return items + int(meta["remainingItemCount"])
    if not meta.get("continue"):
        return items
    return sum(len(p.items) for p in list_pages(client, resource, namespace=namespace))
