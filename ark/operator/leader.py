"""One active operator per namespace: leader election on a ``coordination.k8s.io`` Lease.

Replicas of the operator share the Lease ``ark-operator`` in the namespace they serve. One holds
it and runs every handler; the others wait (answering health probes) and take it over when the
holder stops renewing it for ``lease_duration``. A holder that cannot renew within
``renew_deadline`` exits at once, before anyone else can take the lease, so no backup or restore
runs in two places; the new leader resumes what was interrupted (as after any restart).

Expiry is judged as client-go does it: by how long the record has gone unchanged on this
replica's own monotonic clock, never by comparing the record's timestamps with the local time.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ark.kube import KubeApiError, KubeClient, KubeError

LEASE_NAME = "ark-operator"
_log = logging.getLogger("ark.operator")


@dataclass(frozen=True)
class Timing:
    lease_duration: float = 15.0
    """A standby takes over a lease left unrenewed this long."""
    renew_deadline: float = 10.0
    """The leader gives up (exits) when it could not renew for this long."""
    retry_period: float = 2.0
    """How often the leader renews and a standby looks."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Election:
    """Acquire, renew and release the lease for one identity. Give it a client without
    retries (``KubeClient(api, max_retries=0)``): a renewal must fail fast, not wait."""

    def __init__(
        self, client: KubeClient, namespace: str, identity: str, *, timing: Timing = Timing()
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.identity = identity
        self.timing = timing
        self._path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{LEASE_NAME}"
        self._observed: tuple[str, str] | None = None
        """(holder, renewTime) of the record last seen, and when it was first seen so."""
        self._observed_at = 0.0
        self._stop = threading.Event()

    @property
    def _timeout(self) -> float:
        return max(1.0, self.timing.retry_period)

    def _get(self) -> dict[str, Any]:
        lease: dict[str, Any] = orjson.loads(
            self.client.request("GET", self._path, timeout=self._timeout)
        )
        return lease

    def _spec(self, *, transitions: int, acquired: str) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.timing.lease_duration)),
            "acquireTime": acquired,
            "renewTime": _now(),
            "leaseTransitions": transitions,
        }

    def try_acquire_or_renew(self) -> bool:
        """One attempt; True when this identity holds the lease afterwards."""
        try:
            lease = self._get()
        except KubeApiError as exc:
            if not exc.not_found:
                raise
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": LEASE_NAME, "namespace": self.namespace},
                "spec": self._spec(transitions=0, acquired=_now()),
            }
            try:
                self.client.request(
                    "POST", self._path.rsplit("/", 1)[0], body=body, timeout=self._timeout
                )
            except KubeApiError as exc2:
                if exc2.already_exists:
                    return False
                raise
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, str(spec.get("renewTime") or ""))
        if record != self._observed:
            self._observed, self._observed_at = record, time.monotonic()
        duration = float(spec.get("leaseDurationSeconds") or self.timing.lease_duration)
        expired = time.monotonic() - self._observed_at >= duration
        if holder and holder != self.identity and not expired:
            return False
        mine = holder == self.identity
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine else 1)
        acquired = str(spec.get("acquireTime")) if mine and spec.get("acquireTime") else _now()
        lease["spec"] = self._spec(transitions=transitions, acquired=acquired)
        try:  # resourceVersion in the body: a concurrent writer makes this a 409
            self.client.request("PUT", self._path, body=lease, timeout=self._timeout)
        except KubeApiError as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def acquire(self) -> None:
        """Block until this identity holds the lease."""
        logged = False
        while not self._stop.is_set():
            try:
                if self.try_acquire_or_renew():
                    _log.info("leader election: %s holds lease %s", self.identity, LEASE_NAME)
                    return
            except KubeError as exc:
                _log.warning("leader election: cannot read or write the lease: %s", exc)
            if not logged:
                _log.info(
                    "leader election: %s waits; lease %s is held by %s",
                    self.identity,
                    LEASE_NAME,
                    self._observed[0] if self._observed else "?",
                )
                logged = True
            self._stop.wait(self.timing.retry_period)

    def keep(self, on_lost: Callable[[str], None]) -> None:
        """Renew every retry period in a daemon thread; a second thread watches the clock and
        calls ``on_lost`` with the reason once no renewal has succeeded for ``renew_deadline``
        (a request hanging in the network included), or when another identity holds the lease."""
        last = [time.monotonic()]
        lost = threading.Event()
        reason = [f"lease {LEASE_NAME} not renewed for {self.timing.renew_deadline:.0f}s"]

        def renew() -> None:
            while not self._stop.wait(self.timing.retry_period) and not lost.is_set():
                try:
                    if self.try_acquire_or_renew():
                        last[0] = time.monotonic()
                    elif self._observed and self._observed[0] not in ("", self.identity):
                        reason[0] = f"lease {LEASE_NAME} is held by {self._observed[0]}"
                        lost.set()
                except KubeError as exc:
                    _log.warning("leader election: cannot renew lease %s: %s", LEASE_NAME, exc)

        def watch() -> None:
            while not self._stop.wait(0.2):
                if lost.is_set() or time.monotonic() - last[0] >= self.timing.renew_deadline:
                    _log.error("leader election: leadership lost (%s)", reason[0])
                    on_lost(reason[0])
                    return

        for target, name in ((renew, "ark-leader-renew"), (watch, "ark-leader-watch")):
            threading.Thread(target=target, name=name, daemon=True).start()

    def release(self) -> None:
        """Stop renewing and let a standby take over at once (a graceful shutdown)."""
        self._stop.set()
        try:
            lease = self._get()
            if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            lease["spec"]["holderIdentity"] = ""
            lease["spec"]["leaseDurationSeconds"] = 1
            self.client.request("PUT", self._path, body=lease, timeout=self._timeout)
        except KubeError as exc:
            _log.warning("leader election: cannot release lease %s: %s", LEASE_NAME, exc)
