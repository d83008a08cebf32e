"""The operator's configuration: command-line flags, each with an ``ARK_*`` environment default.

    python -m ark.operator --namespace ark-system --metrics-port 8085

Flags win over the environment; the environment wins over the built-in defaults. Intervals are
seconds. ``--cron-seconds`` is for tests and demos only: it adds a seconds field to every
Schedule's cron expression (``* * * * *`` with ``--cron-seconds '*/3'`` fires every 3 seconds).
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_NAMESPACE = "ark-system"


@dataclass(frozen=True)
class Settings:
    namespace: str = DEFAULT_NAMESPACE
    kubeconfig: str | None = None
    max_concurrent_backups: int = 2
    max_concurrent_restores: int = 4
    backup_workers: int = 8
    restore_workers: int = 16
    client_page_size: int = 500
    """Items per LIST page a backup asks the API server for."""
    client_qps: float = 0.0
    """Requests a second to the API server, on average (0: no client-side limit)."""
    client_burst: int = 20
    """Requests at once above ``client_qps``."""
    bind_address: str = "0.0.0.0"  # noqa: S104 - a Pod's probes and scrapes come from outside
    metrics_port: int = 8085
    health_port: int = 8086
    progress_interval: float = 2.0
    """At most one status patch per backup/restore this often while it runs."""
    gc_interval: float = 60.0
    """How often each Backup's expiration is checked."""
    location_interval: float = 10.0
    """How often locations are looked at; each BSL's own validationFrequency and
    backupSyncPeriod say when it is actually validated and synced."""
    schedule_interval: float = 5.0
    """How often schedules are looked at (the resolution of cron ticks)."""
    default_location_period: float = 60.0
    """validationFrequency / backupSyncPeriod of a BSL that sets none."""
    default_volume_snapshot_locations: Mapping[str, str] = field(default_factory=dict)
    """Provider -> the VolumeSnapshotLocation a backup that names none for it uses (when the
    provider has several), as Velero's server flag."""
    snapshot_timeout: float = 3600.0
    """How long a backup waits for its volume snapshots to complete."""
    max_attempts: int = 3
    """A backup or restore interrupted this many times (the operator stopped while it ran)
    is Failed instead of started again."""
    cron_seconds: str | None = None
    """Test-only: a cron seconds field appended to 5-field schedules."""
    leader_elect: bool = True
    """Replicas elect one active operator through the Lease ark-operator (see leader.py)."""
    leader_identity: str = ""
    """This replica's name in the lease (default: the host name, a Pod's name)."""
    lease_duration: float = 15.0
    lease_renew_deadline: float = 10.0
    lease_retry_period: float = 2.0
    verbose: bool = False


def _env(name: str, default: str | None) -> str | None:
    value = os.environ.get(f"ARK_{name}")
    return value if value not in (None, "") else default


def parser() -> argparse.ArgumentParser:
    d = Settings()
    p = argparse.ArgumentParser(
        prog="python -m ark.operator",
        description="ark's operator: runs Backups, Restores, Schedules and deletions, validates "
        "and syncs storage locations, in one namespace.",
    )

    def flag(name: str, *, help_: str, default: object, kind: type = str, **extra: object) -> None:
        env = name.upper().replace("-", "_")
        p.add_argument(
            f"--{name}",
            type=kind,
            default=_env(env, None if default is None else str(default)),
            help=f"{help_} (env ARK_{env}; default {default})",
            **extra,  # type: ignore[arg-type]
        )

    p.add_argument(
        "-n",
        "--namespace",
        default=_env("NAMESPACE", os.environ.get("POD_NAMESPACE", d.namespace)),
        help="namespace whose ark resources this operator handles (env ARK_NAMESPACE, "
        f"POD_NAMESPACE; default {d.namespace})",
    )
    p.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG"),
        help="kubeconfig file (default $KUBECONFIG, else in-cluster service account)",
    )
    flag("max-concurrent-backups", help_="backups running at once", default=2, kind=int)
    flag("max-concurrent-restores", help_="restores running at once", default=4, kind=int)
    flag("backup-workers", help_="LIST threads per backup", default=d.backup_workers, kind=int)
    flag("restore-workers", help_="threads per restore", default=d.restore_workers, kind=int)
    flag(
        "client-page-size",
        help_="items per LIST page of a backup",
        default=d.client_page_size,
        kind=int,
    )
    flag(
        "client-qps",
        help_="requests a second to the API server, 0 for no client-side limit",
        default=d.client_qps,
        kind=float,
    )
    flag(
        "client-burst",
        help_="requests at once above --client-qps",
        default=d.client_burst,
        kind=int,
    )
    flag("bind-address", help_="address of the metrics and health ports", default=d.bind_address)
    flag("metrics-port", help_="Prometheus metrics port, 0 off", default=d.metrics_port, kind=int)
    flag("health-port", help_="/healthz port, 0 off", default=d.health_port, kind=int)
    flag("progress-interval", help_="seconds between progress patches", default=2.0, kind=float)
    flag("gc-interval", help_="seconds between expiration checks", default=60.0, kind=float)
    flag("location-interval", help_="seconds between location looks", default=10.0, kind=float)
    flag("schedule-interval", help_="seconds between schedule looks", default=5.0, kind=float)
    flag(
        "default-location-period",
        help_="validation/sync period of a BSL that names none",
        default=60.0,
        kind=float,
    )
    flag(
        "default-volume-snapshot-locations",
        help_="provider:name,... the VolumeSnapshotLocation per provider for backups naming none",
        default="",
    )
    flag(
        "snapshot-timeout",
        help_="seconds a backup waits for its volume snapshots",
        default=d.snapshot_timeout,
        kind=float,
    )
    flag(
        "max-attempts",
        help_="a backup or restore interrupted this many times ends Failed",
        default=d.max_attempts,
        kind=int,
    )
    flag("cron-seconds", help_="TEST ONLY: cron seconds field for every schedule", default=None)
    flag(
        "leader-elect",
        help_="elect one active replica through the Lease ark-operator (true/false)",
        default="true",
    )
    flag("leader-identity", help_="this replica's name in the lease", default="<host name>")
    flag(
        "lease-duration",
        help_="seconds a standby waits for an unrenewed lease",
        default=15.0,
        kind=float,
    )
    flag(
        "lease-renew-deadline",
        help_="seconds the leader may fail to renew before it exits",
        default=10.0,
        kind=float,
    )
    flag(
        "lease-retry-period",
        help_="seconds between lease renewals and looks",
        default=2.0,
        kind=float,
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def provider_locations(value: str) -> dict[str, str]:
    """``aws:ebs-east,gcp:pd`` -> {"aws": "ebs-east", "gcp": "pd"}."""
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        provider, sep, name = item.partition(":")
        if not sep or not provider.strip() or not name.strip():
            raise ValueError(f"{item!r} is not provider:name")
        if provider.strip() in out:
            raise ValueError(f"provider {provider.strip()!r} given twice")
        out[provider.strip()] = name.strip()
    return out


def _boolean(value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    parser().error(f"--leader-elect: {value!r} is not true or false")
    raise AssertionError("unreachable")


def from_args(argv: Sequence[str] | None = None) -> Settings:
    a = parser().parse_args(argv)
    try:
        vsl_defaults = provider_locations(a.default_volume_snapshot_locations or "")
    except ValueError as exc:
        parser().error(f"--default-volume-snapshot-locations: {exc}")
    settings = Settings(
        namespace=a.namespace,
        kubeconfig=a.kubeconfig,
        max_concurrent_backups=int(a.max_concurrent_backups),
        max_concurrent_restores=int(a.max_concurrent_restores),
        backup_workers=int(a.backup_workers),
        restore_workers=int(a.restore_workers),
        client_page_size=int(a.client_page_size),
        client_qps=float(a.client_qps),
        client_burst=int(a.client_burst),
        bind_address=a.bind_address,
        metrics_port=int(a.metrics_port),
        health_port=int(a.health_port),
        progress_interval=float(a.progress_interval),
        gc_interval=float(a.gc_interval),
        location_interval=float(a.location_interval),
        schedule_interval=float(a.schedule_interval),
        default_location_period=float(a.default_location_period),
        default_volume_snapshot_locations=vsl_defaults,
        snapshot_timeout=float(a.snapshot_timeout),
        max_attempts=int(a.max_attempts),
        cron_seconds=a.cron_seconds or None,
        leader_elect=_boolean(a.leader_elect),
        leader_identity=(
            a.leader_identity
            if a.leader_identity not in (None, "", "<host name>")
            else os.environ.get("HOSTNAME") or socket.gethostname()
        ),
        lease_duration=float(a.lease_duration),
        lease_renew_deadline=float(a.lease_renew_deadline),
        lease_retry_period=float(a.lease_retry_period),
        verbose=bool(a.verbose),
    )
    if (
        not 0
        < settings.lease_retry_period
        < settings.lease_renew_deadline
        < settings.lease_duration
    ):
        parser().error(
            "lease timing must be 0 < --lease-retry-period < --lease-renew-deadline "
            "< --lease-duration"
        )
    if settings.client_qps < 0:
        parser().error("--client-qps must not be negative")
    for name in (
        "max_concurrent_backups",
        "max_concurrent_restores",
        "client_page_size",
        "client_burst",
        "max_attempts",
    ):
        if getattr(settings, name) < 1:
            parser().error(f"--{name.replace('_', '-')} must be at least 1")
    return settings
