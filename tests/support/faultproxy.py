"""A TCP proxy on loopback that breaks some of the connections through it: between ark and a
real object store (MinIO), the faults a network and a busy store give.

Each new connection rolls once against ``probability`` for the proxy's current ``kind``:

- ``latency``: every piece forwarded either way waits ``delay`` seconds;
- ``stall``: the response waits ``stall`` seconds before its first byte (a slow store);
- ``reset``: the response is cut by a TCP reset after a random number of bytes;
- ``hangup``: the request is read and the connection closed with no response;
- ``503``: answered ``503 SlowDown`` (S3's own throttling error), the connection closed.

A real store cannot be made to do these on demand; the proxy is the named stand-in for the
network between, the store behind it is real. ``injected`` counts the faulted connections.
"""

from __future__ import annotations

import random
import select
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

KINDS = ("latency", "stall", "reset", "hangup", "503")
_SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><RequestId>fault</RequestId></Error>"
)


@dataclass
class FaultProxy:
    upstream: tuple[str, int]
    seed: int = 0
    kind: str = "pass"
    probability: float = 0.0
    delay: float = 0.05
    stall: float = 3.0
    limit: int | None = None
    """At most this many faults, then every connection passes."""
    injected: Counter[str] = field(default_factory=Counter)
    port: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)  # noqa: S311 - faults, not keys
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, name="fault-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, kind: str, probability: float) -> None:
        assert kind == "pass" or kind in KINDS, kind
        with self._lock:
            self.kind, self.probability = kind, probability

    def close(self) -> None:
        self._sock.close()

    def _roll(self) -> tuple[str, int]:
        with self._lock:
            spent = self.limit is not None and sum(self.injected.values()) >= self.limit
            hit = not spent and self.kind != "pass" and self._rng.random() < self.probability
            kind = self.kind if hit else "pass"
            if hit:
                self.injected[kind] += 1
            return kind, self._rng.randrange(1024, 64 * 1024)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        kind, cut = self._roll()
        with client:
            if kind in ("hangup", "503"):
                _read_head(client)
                if kind == "503":
                    client.sendall(
                        b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                        b"Connection: close\r\nContent-Length: "
                        + str(len(_SLOWDOWN)).encode()
                        + b"\r\n\r\n"
                        + _SLOWDOWN
                    )
                else:
                    _reset(client)
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                return
            with upstream:
                _relay(
                    client,
                    upstream,
                    delay=self.delay if kind == "latency" else 0.0,
                    stall=self.stall if kind == "stall" else 0.0,
                    cut=cut if kind == "reset" else None,
                )


def _read_head(sock: socket.socket) -> None:
    data = b""
    sock.settimeout(10)
    while b"\r\n\r\n" not in data and len(data) < 65536:
        try:
            more = sock.recv(4096)
        except OSError:
            return
        if not more:
            return
        data += more


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST rather than a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _relay(
    client: socket.socket, upstream: socket.socket, *, delay: float, stall: float, cut: int | None
) -> None:
    """Both directions in one thread (so a reset closes a socket no other thread is reading:
    the kernel sends the RST at once): requests as they come, the response after ``stall``,
    each piece after ``delay``, cut by a reset after ``cut`` bytes."""
    started, sent = time.monotonic(), 0
    try:
        while True:
            ready, _, _ = select.select([client, upstream], [], [], 60)
            if not ready:
                return
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                if delay:
                    time.sleep(delay)
                if sock is client:
                    upstream.sendall(data)
                    continue
                if stall and sent == 0:
                    time.sleep(max(stall - (time.monotonic() - started), 0))
                if cut is not None and sent + len(data) > cut:
                    client.sendall(data[: cut - sent])
                    _reset(client)
                    return
                client.sendall(data)
                sent += len(data)
    except OSError:
        return
