"""Paginated LISTs that survive expired continue tokens."""

from __future__ import annotations

from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass
from typing import Any

import orjson

from ark.kube._interpreter import collector_paused, responsive_switching
from ark.kube.client import KubeClient
from ark.kube.discovery import ApiResource
from ark.kube.errors import KubeApiError, KubeError

DEFAULT_PAGE_SIZE = 500


@dataclass
class Page:
    items: list[dict[str, Any]]
    resource_version: str
    remaining: int | None
    restarted: bool = False
    """True on the first page after a 410 Gone forced the list to start over."""
    more: bool = False
    """Another page follows."""


class _Unknown:
    pass


_UNKNOWN = _Unknown()
_HEAD_MAX = 4096  # kind, apiVersion and the list's metadata come first, in far fewer bytes


def _peek_continue(raw: bytes) -> str | _Unknown | None:
    """A page's continue token from the bytes before its items (the API server writes kind,
    apiVersion and metadata first), without parsing the page; ``_UNKNOWN`` when the response
    does not start that way (the caller then parses it all)."""
    at = raw.find(b'"items":', 0, _HEAD_MAX)
    head = raw[:at].rstrip() if at > 0 else b""
    if not head.endswith(b","):
        return _UNKNOWN
    try:
        doc = orjson.loads(head[:-1] + b"}")
    except orjson.JSONDecodeError:
        return _UNKNOWN
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if not isinstance(meta, dict):
        return _UNKNOWN
    token = meta.get("continue")
    return token if isinstance(token, str) and token else None


def _parse_list(path: str, raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise KubeError(f"LIST {path}: the response is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise KubeError(f"LIST {path}: the response is not a JSON object")
    return data


def _key(item: dict[str, Any]) -> str:
    """Where a LIST orders the item: ``namespace/name``."""
    meta = item.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def _tagged_items(
    data: dict[str, Any], resource: ApiResource, *, skip_through: str | None
) -> list[dict[str, Any]]:
    """A page's items with ``apiVersion`` and ``kind``, less those up to ``skip_through``
    (yielded before a restart)."""
    fresh: list[dict[str, Any]] = []
    group_version, kind = resource.group_version, resource.kind
    for item in data.get("items") or ():
        if skip_through is not None and _key(item) <= skip_through:
            continue
        item["apiVersion"] = group_version
        item["kind"] = kind
        fresh.append(item)
    return fresh


def list_pages(
    client: KubeClient,
    resource: ApiResource,
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    max_restarts: int = 3,
) -> Generator[Page, None, None]:
    """LIST a resource page by page (``limit``/``continue``), fetching the next page while the
    caller works on the current one.

    A continue token expires when etcd compacts past it (410 Gone). The list then starts over
    and skips what was already yielded (a LIST returns objects in key order, so everything up
    to the last key yielded), so each object comes once; the first page after such a restart
    says ``restarted``. Items carry ``apiVersion`` and ``kind`` (a LIST omits them per item).
    """
    path = resource.path(namespace=namespace)

    def fetch(token: str | None) -> bytes:
        query: dict[str, str | int | bool] = {"limit": limit}
        if token:
            query["continue"] = token
        if label_selector:
            query["labelSelector"] = label_selector
        return client.request("GET", path, query=query, timeout=120)

    restarts = 0
    last_key: str | None = None  # of the last item yielded
    skip_through: str | None = None  # after a restart: keys up to here were yielded already
    announce = switching_set = False
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="ark-list") as prefetcher,
        ExitStack() as switching,
    ):
        pending: Future[bytes] = prefetcher.submit(fetch, None)
        token: str | None = None
        while True:
            try:
                raw = pending.result()
            except KubeApiError as exc:
                if exc.gone and token and restarts < max_restarts:
                    restarts, token = restarts + 1, None
                    skip_through, announce = last_key, True
                    pending = prefetcher.submit(fetch, None)
                    continue
                raise
            # Ask for the next page before parsing this one: the server works on it meanwhile.
            peeked = _peek_continue(raw)
            data: dict[str, Any] | None = None
            if peeked is _UNKNOWN:
                data = _parse_list(path, raw)
                peeked = (data.get("metadata") or {}).get("continue") or None
            token = peeked if isinstance(peeked, str) else None
            if token:
                if not switching_set:  # from the first page of several on
                    switching.enter_context(responsive_switching())
                    switching_set = True
                pending = prefetcher.submit(fetch, token)
            if data is None:
                data = _parse_list(path, raw)
            list_meta = data.get("metadata") or {}
            if (list_meta.get("continue") or None) != token:
                raise KubeError(f"LIST {path}: the continue token read ahead is not the page's")
            fresh = _tagged_items(data, resource, skip_through=skip_through)
            if fresh:
                last_key = _key(fresh[-1])
            handed = [
                Page(
                    items=fresh,
                    resource_version=str(list_meta.get("resourceVersion") or ""),
                    remaining=list_meta.get("remainingItemCount"),
                    restarted=announce,
                    more=bool(token),
                )
            ]
            del data, list_meta, fresh
            # Popped as it is yielded: while the caller works on the page this frame holds no
            # reference to it, so the caller dropping it frees it (see for_each_page).
            yield handed.pop()
            announce = False
            if not token:
                return


def for_each_page(
    client: KubeClient,
    resource: ApiResource,
    handle: Callable[[Page], None],
    *,
    namespace: str | None = None,
    label_selector: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> None:
    """:func:`list_pages`, each page given to ``handle`` while the garbage collector is paused
    and freed before it resumes (``handle`` keeps no reference to the page's objects), so the
    collector never walks a page: in bulk that is several percent of the time."""
    pages = list_pages(
        client, resource, namespace=namespace, label_selector=label_selector, limit=limit
    )
    with closing(pages):
        while True:
            with collector_paused():
                page = next(pages, None)
                if page is None:
                    return
                handle(page)
                del page


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
