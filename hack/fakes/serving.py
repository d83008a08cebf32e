"""The HTTP plumbing the fakes share: a threaded loopback server, JSON requests and answers."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    """The parsed JSON body, or None when there was none."""
    raw_body: bytes = b""


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class BadJson(Exception):
    pass


Handler = Callable[[Request], Response]


def _handler_class(handle: Handler, *, verbose: bool) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                body = json.loads(raw) if raw.strip() else None
            except ValueError:
                body = BadJson()
            request = Request(
                method=self.command,
                path=urllib.parse.unquote(split.path),
                query=query,
                headers=headers,
                body=body,
                raw_body=raw,
            )
            response = handle(request)
            payload = b"" if response.body is None else json.dumps(response.body).encode()
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            if response.body is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            if verbose:
                sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return _Handler


@dataclass
class Running:
    """A fake server running in a background thread of this process."""

    url: str
    server: ThreadingHTTPServer
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def start(
    handle: Handler, *, host: str = "127.0.0.1", port: int = 0, verbose: bool = False
) -> Running:
    """Serve ``handle`` on ``host:port`` (0: a free port) in a daemon thread."""
    server = ThreadingHTTPServer((host, port), _handler_class(handle, verbose=verbose))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=f"fake:{port}", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    return Running(url=f"http://{bound_host!s}:{bound_port}", server=server, thread=thread)


def main(description: str, handle: Handler, argv: list[str] | None = None) -> int:
    """``python -m hack.fakes.X``: print the URL, then serve until interrupted."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    running = start(handle, host=args.host, port=args.port, verbose=args.verbose)
    print(running.url, flush=True)
    try:
        running.thread.join()
    except KeyboardInterrupt:
        running.stop()
    return 0


def base_url(request: Request) -> str:
    """The URL clients reached this server at (from the Host header, as real services do)."""
    return f"http://{request.headers.get('host', '127.0.0.1')}"
