"""A thin, fast client for the Kubernetes API: raw JSON bytes over the official client's
connection pool, with API Priority and Fairness back-off.

The typed models of the ``kubernetes`` package cost more than the wire for bulk work (see
DESIGN.md), so bulk paths (LIST for backup, CREATE for restore) go through ``request``, which
returns the body bytes; callers parse them with orjson. Authentication, TLS and proxies are the
official client's, loaded from a kubeconfig or the in-cluster service account.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import orjson
import urllib3

from ark.kube.errors import KubeApiError, KubeError
from ark.kube.ratelimit import TokenBucket

if TYPE_CHECKING:  # imported when a client is loaded: a command that connects nowhere is quick
    from kubernetes import client as k8s

_RETRY_STATUSES = {500, 502, 503, 504}
_MAX_SERVER_ERROR_RETRIES = 3
_IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE"}
DEFAULT_POOL_SIZE = 64


class KubeClient:
    """One cluster. Thread-safe: share one client among a pool of worker threads."""

    def __init__(
        self, api: k8s.ApiClient, *, max_retries: int = 8, rate_limit: TokenBucket | None = None
    ) -> None:
        self.api = api
        self._max_retries = max_retries
        self.rate_limit = rate_limit
        """Every request (and every retry) takes a token first; None: no client-side limit."""
        self._host = str(api.configuration.host).rstrip("/")
        self.retries_after_throttling = 0
        self._lock = threading.Lock()
        self._cluster_uid: str | None = None

    @classmethod
    def load(
        cls,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        rate_limit: TokenBucket | None = None,
    ) -> KubeClient:
        """From a kubeconfig (``kubeconfig``, else $KUBECONFIG, else ~/.kube/config), or the
        in-cluster service account when running in a Pod and no kubeconfig is named."""
        from kubernetes import client as k8s  # noqa: PLC0415 - 0.4 s to import: when needed
        from kubernetes import config as k8s_config  # noqa: PLC0415

        configuration = k8s.Configuration()
        in_pod = "KUBERNETES_SERVICE_HOST" in os.environ
        try:
            if kubeconfig is None and in_pod and "KUBECONFIG" not in os.environ:
                k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            else:
                k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=kubeconfig, context=context, client_configuration=configuration
                )
        except (k8s_config.ConfigException, OSError) as exc:
            where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
            raise KubeError(f"cannot load cluster configuration from {where}: {exc}") from exc
        # urllib3 queues requests silently beyond the pool size: size it for the worker threads.
        configuration.connection_pool_maxsize = pool_size
        return cls(k8s.ApiClient(configuration), rate_limit=rate_limit)

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def server(self) -> str:
        return self._host

    def headers(
        self,
        method: str,
        path: str,
        *,
        accept: str = "application/json",
        content_type: str = "application/json",
    ) -> dict[str, str]:
        """A request's headers with the credentials the kubeconfig names (a bearer token, an
        exec plugin's, refreshed when due); client certificates are in the TLS options."""
        _, _, headers, _, _ = self.api.param_serialize(
            method,
            path,
            header_params={"Accept": accept, "Content-Type": content_type},
            auth_settings=["BearerToken"],
        )
        return dict(headers)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int | bool] | None = None,
        body: bytes | Mapping[str, Any] | list[Any] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        timeout: float = 60.0,
    ) -> bytes:
        """Send one request and return the response body; raise KubeApiError on an error status.

        429 (API Priority and Fairness) is retried after Retry-After for every method — the
        server did not process the request; 5xx a few times, only for idempotent methods.
        """
        url = self.url(path, query=query)
        payload = body if isinstance(body, bytes) or body is None else encode_json(body)
        headers = self.headers(method, path, accept=accept, content_type=content_type)
        pool = self.api.rest_client.pool_manager
        for attempt in range(self._max_retries + 1):
            if self.rate_limit is not None:
                self.rate_limit.take()
            try:
                resp = pool.request(
                    method,
                    url,
                    body=payload,
                    headers=headers,
                    timeout=urllib3.Timeout(connect=10.0, read=timeout),
                    retries=False,
                    preload_content=True,
                )
            except urllib3.exceptions.HTTPError as exc:
                if method in _IDEMPOTENT and attempt < self._max_retries:
                    time.sleep(_backoff(attempt))
                    continue
                raise KubeError(f"{method} {path}: cannot reach {self._host}: {exc}") from exc
            status = resp.status
            if status < 400:
                return bytes(resp.data)
            retryable = status == 429 or (
                status in _RETRY_STATUSES
                and method in _IDEMPOTENT
                and attempt < _MAX_SERVER_ERROR_RETRIES
            )
            if retryable and attempt < self._max_retries:
                with self._lock:
                    self.retries_after_throttling += 1
                time.sleep(_retry_after(resp.headers.get("Retry-After"), attempt))
                continue
            raise KubeApiError(method=method, path=path, status=status, body=bytes(resp.data))
        raise AssertionError("unreachable")  # pragma: no cover

    def url(self, path: str, *, query: Mapping[str, str | int | bool] | None = None) -> str:
        """The request's URL (booleans as the API server spells them)."""
        if not query:
            return self._host + path
        return f"{self._host}{path}?" + urlencode(
            {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in query.items()}
        )

    def open_stream(
        self,
        path: str,
        *,
        query: Mapping[str, str | int | bool] | None = None,
        read_timeout: float = 330.0,
    ) -> urllib3.BaseHTTPResponse:
        """A GET whose body is read as it comes (a watch): the open response, to be read with
        ``read1`` and released with ``release_conn``. ``shutdown()`` on it from another thread
        ends a read that waits. KubeApiError on an error status (429 too: its caller opens
        the stream again after a pause of its own)."""
        if self.rate_limit is not None:
            self.rate_limit.take()
        headers = self.headers("GET", path)
        try:
            resp = self.api.rest_client.pool_manager.request(
                "GET",
                self.url(path, query=query),
                headers=headers,
                timeout=urllib3.Timeout(connect=10.0, read=read_timeout),
                retries=False,
                preload_content=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise KubeError(f"GET {path}: cannot reach {self._host}: {exc}") from exc
        if resp.status >= 400:
            body = resp.read(1 << 20)
            resp.release_conn()
            raise KubeApiError(method="GET", path=path, status=resp.status, body=body)
        return resp

    def get(self, path: str, *, query: Mapping[str, str | int | bool] | None = None) -> Any:
        """GET and parse JSON."""
        return orjson.loads(self.request("GET", path, query=query))

    def get_or_none(self, path: str, *, query: Mapping[str, str | int | bool] | None = None) -> Any:
        """GET and parse JSON; None when the object does not exist (404), any other error
        raised."""
        try:
            return self.get(path, query=query)
        except KubeApiError as exc:
            if exc.not_found:
                return None
            raise

    def delete_if_present(self, path: str, *, body: Any = None) -> bool:
        """DELETE; False when the object was already gone (404), any other error raised."""
        try:
            self.request("DELETE", path, body=body)
        except KubeApiError as exc:
            if exc.not_found:
                return False
            raise
        return True

    def version(self) -> dict[str, str]:
        """The server's /version (gitVersion, major, minor, platform, …)."""
        data = self.get("/version")
        return {k: str(v) for k, v in data.items()}

    def cluster_uid(self) -> str:
        """The uid of the namespace kube-system: the cluster's identity, which outlives every
        other object in it (a cluster rebuilt from scratch gets a new one). Read once."""
        if self._cluster_uid is None:
            uid = (self.get("/api/v1/namespaces/kube-system").get("metadata") or {}).get("uid")
            if not uid:
                raise KubeError("namespace kube-system has no uid: cannot identify the cluster")
            self._cluster_uid = str(uid)
        return self._cluster_uid


class TooDeep(ValueError):
    """An object nested deeper than JSON can be written here."""


def encode_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON. orjson stops at 255 levels of nesting, which the API server allows
    deeper (custom resources with free-form fields): those go through the standard library,
    up to Python's recursion limit; deeper still raises TooDeep."""
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError as exc:
        if "recursion" not in str(exc).lower():
            raise
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    except RecursionError:
        raise TooDeep("nested too deep to write as JSON") from None


def _retry_after(header: str | None, attempt: int) -> float:
    try:
        return min(max(float(header or ""), 0.05), 30.0) + random.uniform(0, 0.1)  # noqa: S311
    except ValueError:
        return _backoff(attempt)


def _backoff(attempt: int) -> float:
    return float(min(0.1 * 2**attempt, 10.0) + random.uniform(0, 0.1))  # noqa: S311


def object_path(
    *, group: str, version: str, plural: str, namespace: str | None, name: str | None = None
) -> str:
    """The REST path of a collection or an object."""
    base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    if namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{plural}"
    if name is not None:
        base += f"/{quote(name, safe='')}"
    return base
