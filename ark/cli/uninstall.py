"""``ark uninstall``: remove ark from a cluster and delete no backup.

The operator goes first (so nothing acts on what is being removed), then the finalizers ark's
objects carry (so nothing waits for an operator that is gone), then -n's namespace, the
cluster-wide objects of deploy/base and the CRDs. Object storage and the clouds are not
touched: what stays there is said at the end.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import click

from ark import control
from ark.api import kinds
from ark.cli import common, context, kustomize, output
from ark.cli.context import CliError, Obj
from ark.kube import KubeApiError, KubeClient, discover
from ark.kube import crds as kube_crds

NAMESPACE_TIMEOUT = 120.0


@click.command("uninstall")
@click.option(
    "--keep-crds",
    is_flag=True,
    help="Leave ark's CRDs (kept anyway while other namespaces hold ark objects).",
)
@click.option(
    "--deploy-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Kustomize base the operator was installed from (default: the one shipped with ark).",
)
@click.option("--confirm", is_flag=True, help="Do not ask for confirmation.")
@context.connection_options
def uninstall(*, keep_crds: bool, deploy_dir: Path | None, confirm: bool) -> None:
    """Remove ark from the current context: the operator, -n's namespace with every ark object
    in it, the cluster-wide RBAC and admission policy, and ark's CRDs.

    Nothing in object storage or the clouds is deleted: every backup and volume snapshot
    stays, and ark installed again on the same bucket finds the backups. (To delete backups
    with their snapshots, use 'ark backup delete' before uninstalling.)
    """
    s = context.settings()
    client = s.client()
    with common.api_errors():
        stays = _what_stays(client, s.namespace)
        others = _other_namespaces(client, s.namespace)
    common.confirm(
        f"Remove ark and namespace {s.namespace} from this cluster (backups stay)?",
        confirmed=confirm,
        verb="uninstall",
        declined="nothing removed",
    )
    shared = bool(others)
    rendered = kustomize.render(deploy_dir or kustomize.default_deploy_dir(), namespace=s.namespace)
    with common.api_errors():
        _delete_operator(client, s.namespace, rendered)
        _release(client, s.namespace)
        _delete_namespace(client, s.namespace)
        removed = 0 if shared else _delete_cluster_wide(client, rendered)
        crds = 0 if shared or keep_crds else _delete_crds(client)
    output.echo(
        f"ark uninstalled from namespace {s.namespace}: the operator and the namespace removed"
        + (f", {removed} cluster-wide objects" if removed else "")
        + (f", {crds} CRDs" if crds else "")
        + "."
    )
    if shared:
        output.echo(
            f"Kept ark's CRDs and cluster-wide objects: namespaces {', '.join(others)} "
            "still hold ark objects."
        )
    for line in stays:
        output.echo(line)


def _what_stays(client: KubeClient, namespace: str) -> list[str]:
    """What the uninstall leaves outside the cluster, from the namespace's locations and
    Backups (read before anything goes)."""
    try:
        locations = control.list_objects(client, control.BSL, namespace)
        backups = control.list_objects(client, control.BACKUP, namespace)
    except KubeApiError as exc:
        if exc.not_found:  # the CRDs are gone already
            return ["Nothing in object storage or the clouds was deleted."]
        raise
    per_location = Counter(
        str(
            (b.get("status") or {}).get("storageLocation")
            or (b.get("spec") or {}).get("storageLocation")
        )
        for b in backups
    )
    snapshots = sum(len((b.get("status") or {}).get("volumeSnapshots") or []) for b in backups)
    lines = ["Nothing in object storage or the clouds was deleted; left there:"]
    for bsl in sorted(locations, key=lambda o: str(o["metadata"]["name"])):
        name = bsl["metadata"]["name"]
        spec = bsl.get("spec") or {}
        storage = spec.get("objectStorage") or {}
        where = f"{spec.get('provider')} bucket {storage.get('bucket')}" + (
            f", prefix {storage.get('prefix')}" if storage.get("prefix") else ""
        )
        lines.append(f"  location {name} ({where}): {per_location.get(name, 0)} backups")
    if not locations:
        lines.append("  (no BackupStorageLocation in this namespace)")
    if snapshots:
        lines.append(f"  {snapshots} volume snapshots in their clouds")
    return lines


def _other_namespaces(client: KubeClient, namespace: str) -> list[str]:
    """Other namespaces holding ark objects (another installation): its CRDs and cluster-wide
    objects stay for them."""
    found: set[str] = set()
    for kind in kinds.ALL_KINDS:
        listed = client.get_or_none(f"/apis/{kind.api_version}/{kind.plural}")
        if listed is None:
            continue
        for obj in listed.get("items") or []:
            other = (obj.get("metadata") or {}).get("namespace")
            if other and other != namespace:
                found.add(str(other))
    return sorted(found)


def _delete_operator(client: KubeClient, namespace: str, rendered: list[Obj]) -> None:
    for obj in rendered:
        if obj.get("kind") == "Deployment":
            name = obj["metadata"]["name"]
            _delete(client, f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")


def _release(client: KubeClient, namespace: str) -> None:
    """Drop the finalizers on ark's objects: the operator that would remove them is gone."""
    for kind in kinds.ALL_KINDS:
        try:
            objs = control.list_objects(client, kind, namespace)
        except KubeApiError as exc:
            if exc.not_found:
                continue
            raise
        for obj in objs:
            if obj["metadata"].get("finalizers"):
                control.patch(
                    client,
                    kind,
                    namespace,
                    obj["metadata"]["name"],
                    {"metadata": {"finalizers": None}},
                )


def _delete_namespace(client: KubeClient, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}"
    _delete(client, path)
    deadline = time.monotonic() + NAMESPACE_TIMEOUT
    while time.monotonic() < deadline:
        if client.get_or_none(path) is None:
            return
        _release(client, namespace)  # objects made while the namespace was going
        time.sleep(0.5)
    raise CliError(f"namespace {namespace} is still terminating after {NAMESPACE_TIMEOUT:.0f}s")


def _delete_cluster_wide(client: KubeClient, rendered: list[Obj]) -> int:
    found = discover(client)
    count = 0
    for obj in rendered:
        if obj.get("kind") in ("Namespace", "CustomResourceDefinition"):
            continue
        if obj.get("metadata", {}).get("namespace"):
            continue
        group = str(obj["apiVersion"]).rpartition("/")[0]
        resource = found.by_group_kind(group, obj["kind"])
        if resource is not None and not resource.namespaced:
            count += _delete(client, resource.path(name=obj["metadata"]["name"]))
    return count


def _delete_crds(client: KubeClient) -> int:
    count = 0
    for kind in kinds.ALL_KINDS:
        count += _delete(client, f"{kube_crds.CRD_PATH}/{kind.crd_name}")
    return count


def _delete(client: KubeClient, path: str) -> int:
    return int(client.delete_if_present(path))
