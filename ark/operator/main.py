"""``python -m ark.operator``: configure kopf and run the operator until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import logging
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import kopf

from ark.kube import KubeClient
from ark.operator import leader, metrics, runtime
from ark.operator import settings as settings_
from ark.operator.handlers import register

_log = logging.getLogger("ark.operator")


def kopf_settings() -> kopf.OperatorSettings:
    conf = kopf.OperatorSettings()
    conf.persistence.finalizer = "ark.dev/finalizer"
    # The CRDs declare status.kopf (preserve-unknown-fields), so progress survives pruning.
    conf.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    conf.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="ark.dev", key="last-handled-configuration"
    )
    conf.posting.level = logging.INFO
    # A Backup's expiration timer deletes the Backup itself, so the deletion can come while the
    # timer is still returning; kopf keeps the finalizer until the timer has exited and looks
    # again only after this many seconds (its default, 60, held an expired Backup that long).
    conf.background.cancellation_polling = 1.0
    conf.watching.server_timeout = 300
    conf.watching.client_timeout = 330
    return conf


def main(argv: Sequence[str] | None = None) -> int:
    settings = settings_.from_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if settings.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if settings.kubeconfig:
        os.environ["KUBECONFIG"] = settings.kubeconfig
    registry = kopf.OperatorRegistry()
    register(registry, settings)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # The official client fixes its default kubeconfig path at import time: read the file
        # ourselves when one is named, else use the Pod's service account.
        if settings.kubeconfig:
            return kopf.login_with_kubeconfig(**kwargs)
        if kopf.login_with_service_account(**kwargs) is not None:
            return kopf.login_with_service_account(**kwargs)
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup(registry=registry)
    async def startup(**_: Any) -> None:
        runtime.start(settings)
        metrics.serve(address=settings.bind_address, port=settings.metrics_port)
        _log.info(
            "ark operator for namespace %s: %d backups and %d restores at once, metrics on "
            ":%s, health on :%s",
            settings.namespace,
            settings.max_concurrent_backups,
            settings.max_concurrent_restores,
            settings.metrics_port or "-",
            settings.health_port or "-",
        )

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        # Change log watchers store their open segments: the next start resumes after them.
        await asyncio.to_thread(runtime.current().changelogs.stop_all)

    liveness = (
        f"http://{settings.bind_address}:{settings.health_port}/healthz"
        if settings.health_port
        else None
    )
    election = _elect(settings)
    try:
        kopf.run(
            registry=registry,
            settings=kopf_settings(),
            standalone=True,
            namespaces=[settings.namespace],
            liveness_endpoint=liveness,
        )
    finally:
        if election is not None:
            election.release()
    return 0


def _elect(settings: settings_.Settings) -> leader.Election | None:
    """Wait (healthy, doing nothing) until this replica holds the lease, then keep it; a
    leader that loses it exits at once (see ``leader``)."""
    if not settings.leader_elect:
        return None
    client = KubeClient(KubeClient.load(kubeconfig=settings.kubeconfig).api, max_retries=0)
    election = leader.Election(
        client,
        settings.namespace,
        settings.leader_identity,
        timing=leader.Timing(
            lease_duration=settings.lease_duration,
            renew_deadline=settings.lease_renew_deadline,
            retry_period=settings.lease_retry_period,
        ),
    )
    with _standby_health(settings):
        election.acquire()

    def lost(reason: str) -> None:
        _log.error("exiting: no longer the leader (%s); another replica takes over", reason)
        logging.shutdown()
        os._exit(1)

    election.keep(lost)
    return election


@contextlib.contextmanager
def _standby_health(settings: settings_.Settings) -> Iterator[None]:
    """/healthz answers while a standby waits for the lease (kopf's own endpoint comes up
    once it leads)."""
    if not settings.health_port:
        yield
        return

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/healthz"
            self.send_response(200 if ok else 404)
            self.end_headers()
            self.wfile.write(b"standby\n" if ok else b"")

        def log_message(self, *_: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer((settings.bind_address, settings.health_port), Health)
    thread = threading.Thread(target=server.serve_forever, name="ark-standby-health", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
