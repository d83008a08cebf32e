"""The dashboard's HTTP side: routes to views, and the two defences of its one write.

A page from another site could make the browser send requests to this server: the Host check
refuses any request not addressed to the bound loopback address by name (``127.0.0.1:PORT``,
or ``localhost:PORT``), which a DNS-rebinding page cannot forge; the dry-run POST must carry
this process's random CSRF token, which only the dashboard's own pages contain (another
origin cannot read them).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
import sys
import traceback
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import click

from ark.cli.context import BadFlag, CliError, Settings
from ark.cli.dashboard import views
from ark.cli.dashboard.markup import Frame, Page, e, href, layout, tag

MAX_FORM_BYTES = 64 * 1024
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no-referrer would make the form's Origin "null"
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def loopback(address: str) -> str:
    """The address to bind: a loopback address (``localhost`` is 127.0.0.1); BadFlag else."""
    if address == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise BadFlag("--address", f"{address!r} is not an IP address") from None
    if not ip.is_loopback:
        raise BadFlag(
            "--address",
            f"{address} is not a loopback address: the dashboard acts with your kubeconfig's "
            "credentials and serves only this machine (127.0.0.1 or ::1)",
        )
    return str(ip)


class Dashboard(ThreadingHTTPServer):
    """The server: one thread per request, each reading the cluster as the command's
    ``Settings`` (its client is shared: it is thread-safe)."""

    daemon_threads = True

    def __init__(
        self, address: str, port: int, *, settings: Settings, command: click.Command, frame: Frame
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        super().__init__((address, port), Handler)
        self.settings = settings
        self.command = command
        self.frame = frame
        self.csrf = secrets.token_urlsafe(32)
        """This process's token: in every dry-run form, required with every POST."""

    @property
    def authority(self) -> str:
        """``host:port`` as the URL names it."""
        host, port = str(self.server_address[0]), int(self.server_address[1])
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.authority}/"

    def allowed_hosts(self) -> frozenset[str]:
        """The Host headers accepted: the bound address, and ``localhost`` on its port."""
        return frozenset({self.authority, f"localhost:{self.server_address[1]}"})


class Handler(BaseHTTPRequestHandler):
    server: Dashboard
    server_version = "ark-dashboard"
    sys_version = ""

    def do_GET(self) -> None:
        self._serve(self._get)

    def do_POST(self) -> None:
        self._serve(self._post)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"ark dashboard: {self.address_string()} {format % args}\n")

    # -- routing ---------------------------------------------------------------------------
    def _serve(self, route: Callable[[list[str]], Page | str]) -> None:
        """Check the Host, route, and answer a page (or a redirect, when the route returns
        a path); errors become pages saying what went wrong."""
        host = self.headers.get("Host", "")
        if host not in self.server.allowed_hosts():
            self._plain(
                HTTPStatus.FORBIDDEN,
                f"refused: Host {host!r} is not this dashboard's address "
                f"({self.server.authority}); open {self.server.url}",
            )
            return
        path = urlsplit(self.path).path
        segments = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
        try:
            with click.Context(self.server.command, obj=self.server.settings):
                answer = route(segments)
        except views.NotFound as exc:
            answer = _error(HTTPStatus.NOT_FOUND, str(exc))
        except BadFlag as exc:
            answer = _error(HTTPStatus.BAD_REQUEST, str(exc))
        except Refused as exc:
            answer = _error(exc.status, str(exc))
        except CliError as exc:
            answer = _error(HTTPStatus.BAD_GATEWAY, str(exc))
        except Exception:  # a bug: its traceback goes to the terminal, not the page
            traceback.print_exc()
            answer = _error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error (see the terminal)")
        if isinstance(answer, str):
            self._redirect(answer)
        else:
            self._page(answer)

    def _get(self, segments: list[str]) -> Page | str:  # noqa: PLR0911 - one per route
        match segments:
            case []:
                return "/backups"
            case ["backups"]:
                return views.backups()
            case ["backups", name]:
                return views.backup(name, csrf=self.server.csrf)
            case ["restores"]:
                return views.restores()
            case ["restores", name]:
                return views.restore(name)
            case ["schedules"]:
                return views.schedules()
            case ["locations"]:
                return views.locations()
        return _error(HTTPStatus.NOT_FOUND, f"no page at {self.path}")

    def _post(self, segments: list[str]) -> Page | str:
        match segments:
            case ["backups", name, "dry-run"]:
                form = self._form()
                name = views.dry_run(name, namespace_mappings=form.get("namespaceMappings", ""))
                return href("restores", name)
        raise Refused(HTTPStatus.METHOD_NOT_ALLOWED, f"nothing to POST at {self.path}")

    def _form(self) -> dict[str, str]:
        """The POSTed form, once its origin (when the browser names one) and its CSRF token
        are this dashboard's; Refused (403) else."""
        origin = self.headers.get("Origin")
        if origin is not None and origin not in {
            f"http://{h}" for h in self.server.allowed_hosts()
        }:
            raise Refused(HTTPStatus.FORBIDDEN, f"refused: a form from another origin ({origin})")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_FORM_BYTES:
            raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "refused: form too large")
        body = self.rfile.read(length).decode("utf-8", "replace")
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        if not hmac.compare_digest(form.get("csrf", "").encode(), self.server.csrf.encode()):
            raise Refused(
                HTTPStatus.FORBIDDEN,
                "refused: the form's CSRF token is missing or not this dashboard's "
                "(reload the page and submit again)",
            )
        return form

    # -- answers ---------------------------------------------------------------------------
    def _page(self, page: Page) -> None:
        self._send(page.status, "text/html; charset=utf-8", layout(page, self.server.frame))

    def _plain(self, status: HTTPStatus, text: str) -> None:
        self._send(status, "text/plain; charset=utf-8", text + "\n")

    def _redirect(self, target: str) -> None:
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        for key, value in HEADERS.items():
            self.send_header(key, value)
        self.end_headers()

    def _send(self, status: int, content_type: str, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in HEADERS.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


class Refused(CliError):
    """A request the dashboard will not serve; ``status`` is its HTTP status."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: HTTPStatus, message: str) -> Page:
    title = f"{status.value} {status.phrase}"
    return Page(title, tag("p", e(message), cls="error"), status=status.value)
