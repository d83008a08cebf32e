"""Run one command in one container of a pod through the API server's ``pods/exec``
subresource, over a WebSocket (the ``v5.channel.k8s.io``/``v4.channel.k8s.io`` protocols
kubectl speaks), with the connection settings of a ``KubeClient``.

A small client of its own rather than ``kubernetes.stream``: that one swaps a method on the
shared ``ApiClient`` for the duration of the call, which is not safe with the worker threads
that share a ``KubeClient``, and it has no connect or read timeout. Blocking: call it from a
worker thread, never on an event loop.

The stream goes through the proxy the REST requests use (the kubeconfig's ``proxy-url``, else
the environment's ``https_proxy``/``no_proxy``): an ``http://`` proxy by CONNECT, with Basic
credentials from the URL's user info; ``socks4``/``socks5`` ones need the ``python-socks``
package; an ``https://`` proxy (TLS to the proxy itself) is refused as ExecError.

A command that outlives its timeout is abandoned (the stream is closed); as with Velero, the
process in the container may go on running.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import orjson
import websocket

from ark.kube.client import KubeClient, object_path
from ark.kube.errors import KubeApiError, KubeError

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
_STDOUT, _STDERR, _ERROR, _CLOSE = 1, 2, 3, 255
#: Output kept per stream (the tail): enough for a cause, bounded for a chatty command.
OUTPUT_LIMIT = 64 * 1024


@dataclass(frozen=True)
class ExecResult:
    """A command that ran to its end; ``exit_code`` 0 is success."""

    exit_code: int
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0


class ExecError(KubeError):
    """The command did not run to its end: the connection failed, or it timed out."""


class PodExec:
    """``pods/exec`` of the cluster behind ``client``; one call runs one command."""

    def __init__(self, client: KubeClient) -> None:
        self._client = client

    def __call__(
        self,
        *,
        namespace: str,
        pod: str,
        container: str,
        command: Sequence[str],
        timeout: float,
    ) -> ExecResult:
        """Run ``command`` in ``container`` and wait for it at most ``timeout`` seconds.

        Raises ``KubeApiError`` when the API server refuses the exec (its own status and
        message: no such pod, pod not scheduled, unknown container, forbidden) and
        ``ExecError`` when the connection fails or the command outlives ``timeout``.
        """
        path = object_path(group="", version="v1", plural="pods", namespace=namespace, name=pod)
        path += "/exec"
        query = urlencode(
            [("command", part) for part in command]
            + [("container", container), ("stdout", "true"), ("stderr", "true")]
        )
        url = _websocket_url(self._client.server) + path + "?" + query
        started = time.monotonic()
        deadline = started + timeout
        proxy = _proxy_options(self._client)
        ws = websocket.WebSocket(sslopt=_ssl_options(self._client), skip_utf8_validation=True)
        try:
            try:
                ws.connect(  # type: ignore[no-untyped-call]
                    url,
                    header=self._auth_headers(path),
                    subprotocols=list(PROTOCOLS),
                    timeout=max(timeout, 0.001),
                    **proxy,
                )
            except websocket.WebSocketBadStatusException as exc:
                raise KubeApiError(
                    method="GET", path=path, status=exc.status_code, body=exc.resp_body or b""
                ) from exc
            stdout, stderr, status = _read_until_closed(ws, deadline)
        except (websocket.WebSocketTimeoutException, TimeoutError) as exc:
            raise ExecError(f"timed out after {_seconds(timeout)}") from exc
        except websocket.WebSocketProxyException as exc:
            where = (
                f"{proxy['http_proxy_host']}:{proxy['http_proxy_port']}"
                if proxy
                else "from the environment"
            )
            raise ExecError(
                f"exec stream to {self._client.server} through proxy {where} failed: {exc}"
            ) from exc
        except (websocket.WebSocketException, OSError) as exc:
            raise ExecError(f"exec stream to {self._client.server} failed: {exc}") from exc
        finally:
            with contextlib.suppress(websocket.WebSocketException, OSError):
                ws.close(timeout=1)  # the stream is over either way
            # close() leaves the socket open when the server closed the stream first
            ws.shutdown()  # type: ignore[no-untyped-call]
        seconds = time.monotonic() - started
        return ExecResult(
            exit_code=_exit_code(status, path),
            stdout=stdout.decode("utf-8", "replace"),
            stderr=stderr.decode("utf-8", "replace"),
            seconds=seconds,
        )

    def _auth_headers(self, path: str) -> list[str]:
        headers = self._client.headers("GET", path)
        return [f"{k}: {v}" for k, v in headers.items() if k.lower() == "authorization"]


def _websocket_url(server: str) -> str:
    if server.startswith("https://"):
        return "wss://" + server.removeprefix("https://")
    if server.startswith("http://"):
        return "ws://" + server.removeprefix("http://")
    return server


def _ssl_options(client: KubeClient) -> dict[str, Any]:
    c = client.api.configuration
    options: dict[str, Any]
    if c.verify_ssl:
        options = {"cert_reqs": ssl.CERT_REQUIRED}
        if c.ssl_ca_cert:
            options["ca_certs"] = c.ssl_ca_cert
        if c.assert_hostname is not None:
            options["check_hostname"] = c.assert_hostname
    else:
        options = {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
    if c.cert_file:
        options["certfile"] = c.cert_file
    if c.key_file:
        options["keyfile"] = c.key_file
    if c.tls_server_name:
        options["server_hostname"] = c.tls_server_name
    return options


_SOCKS = frozenset({"socks4", "socks4a", "socks5", "socks5h"})


def _proxy_options(client: KubeClient) -> dict[str, Any]:
    """websocket-client's options for the proxy the client's REST requests go through, by the
    same rule (none when ``no_proxy`` covers the server: websocket-client then reads the
    environment by the same rule itself)."""
    c = client.api.configuration
    from kubernetes.client.rest import should_bypass_proxies  # noqa: PLC0415 - as KubeClient

    if not c.proxy or should_bypass_proxies(c.host, c.no_proxy or ""):
        return {}
    url = urlsplit(str(c.proxy))
    scheme = (url.scheme or "http").lower()
    if scheme == "https":
        raise ExecError(
            f"exec streams cannot go through proxy {url.hostname}: it is https:// (TLS to the "
            "proxy itself); use its http:// address (the tunnel to the API server is TLS)"
        )
    if scheme != "http" and scheme not in _SOCKS:
        raise ExecError(f"proxy {url.hostname}: unknown scheme {scheme}://")
    options: dict[str, Any] = {
        "http_proxy_host": url.hostname,
        "http_proxy_port": url.port or (80 if scheme == "http" else 1080),
        "proxy_type": scheme,
    }
    if url.username:
        options["http_proxy_auth"] = (unquote(url.username), unquote(url.password or ""))
    return options


def _read_until_closed(
    ws: websocket.WebSocket, deadline: float
) -> tuple[bytes, bytes, dict[str, Any] | None]:
    """Demultiplex the channels until the server closes the stream."""
    stdout, stderr, error = bytearray(), bytearray(), bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ws.settimeout(remaining)
        try:
            opcode, frame = ws.recv_data_frame(True)
        except websocket.WebSocketConnectionClosedException:
            break
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        data = bytes(frame.data or b"")
        if opcode not in (websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_TEXT) or not data:
            continue
        channel, payload = data[0], data[1:]
        if channel == _STDOUT:
            stdout = _tail(stdout + payload)
        elif channel == _STDERR:
            stderr = _tail(stderr + payload)
        elif channel == _ERROR:
            error += payload
        elif channel == _CLOSE:
            continue
    status: dict[str, Any] | None = None
    if error:
        try:
            parsed = orjson.loads(bytes(error))
        except orjson.JSONDecodeError:
            parsed = {"status": "Failure", "message": error.decode("utf-8", "replace")}
        status = parsed if isinstance(parsed, dict) else None
    return bytes(stdout), bytes(stderr), status


def _tail(buffer: bytearray) -> bytearray:
    return buffer[-OUTPUT_LIMIT:] if len(buffer) > OUTPUT_LIMIT else buffer


def _exit_code(status: dict[str, Any] | None, path: str) -> int:
    """The exit code from the error channel's metav1.Status (absent or Success: 0)."""
    if status is None or status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or ():
            if cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message"))
                except (TypeError, ValueError):
                    break
    raise ExecError(f"exec {path}: {status.get('message') or status.get('reason') or status}")


def _seconds(value: float) -> str:
    return f"{value:g}s"
