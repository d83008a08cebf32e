"""A real HTTP CONNECT proxy on loopback, for clients configured with a kubeconfig proxy-url.

It tunnels each ``CONNECT host:port`` to its target and records what was asked; with
``credentials`` set it answers 407 to a CONNECT without that Basic ``Proxy-Authorization``.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class ConnectProxy:
    credentials: tuple[str, str] | None = None
    tunnels: list[str] = field(default_factory=list)
    """``host:port`` of each tunnel opened, in order."""
    refused: list[str] = field(default_factory=list)
    """``host:port`` of each CONNECT answered 407."""
    port: int = 0

    def _handle(self, client: socket.socket) -> None:
        with client:
            head = read_head(client)
            if head is None:
                return
            request_line, headers = head
            method, target, _ = request_line.split(" ", 2)
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            if self.credentials is not None:
                user, password = self.credentials
                wanted = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                if headers.get("proxy-authorization") != wanted:
                    self.refused.append(target)
                    client.sendall(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                        b'Proxy-Authenticate: Basic realm="ark"\r\nContent-Length: 0\r\n\r\n'
                    )
                    return
            host, _, port = target.rpartition(":")
            try:
                upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            self.tunnels.append(target)
            with upstream:
                client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                upstream.settimeout(None)
                back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
                back.start()
                _pipe(client, upstream)
                back.join(10)

    @contextlib.contextmanager
    def running(self) -> Iterator[ConnectProxy]:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            self.port = int(listener.getsockname()[1])
            stop = threading.Event()

            def serve() -> None:
                while not stop.is_set():
                    try:
                        client, _ = listener.accept()
                    except OSError:
                        return
                    threading.Thread(target=self._handle, args=(client,), daemon=True).start()

            threading.Thread(target=serve, daemon=True).start()
            try:
                yield self
            finally:
                stop.set()


def read_head(conn: socket.socket) -> tuple[str, dict[str, str]] | None:
    """An HTTP request's line and headers (names lower-case); None if the peer hung up first.
    Whatever came after the head is dropped: the clients here send nothing before an answer."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        raw += chunk
    request_line, *lines = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return request_line, headers


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
