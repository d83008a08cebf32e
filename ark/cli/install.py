"""``ark install``: the CRDs, the operator (the kustomize base deploy/base), a default
BackupStorageLocation and its credential Secret, applied with server-side apply."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import click

from ark.api import crdgen, kinds
from ark.cli import common, context, kustomize, locations, output
from ark.cli.context import CliError, Obj
from ark.kube import KubeClient, discover
from ark.kube import crds as kube_crds

FIELD_MANAGER = "ark-install"
APPLY_PATCH = "application/apply-patch+yaml"
SECRET_KEY = "cloud"  # noqa: S105 - the key name in the Secret, not a secret


def crds() -> list[Obj]:
    return list(crdgen.all_crds().values())


def secret(name: str, namespace: str, data: bytes) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {SECRET_KEY: base64.b64encode(data).decode()},
    }


def redacted(obj: Obj) -> Obj:
    """A Secret with its values replaced: secrets are never printed."""
    if obj.get("kind") != "Secret":
        return obj
    data = obj.get("data") or {}
    return {**obj, "data": {k: "<redacted>" for k in data}}


def order(objs: list[Obj]) -> list[Obj]:
    """CRDs, then Namespaces, then everything else, as listed; an object listed twice (the
    CRDs ark generates and the copies in deploy/base) only once, as first listed."""
    rank = {"CustomResourceDefinition": 0, "Namespace": 1}
    seen: set[tuple[str, str, str, str]] = set()
    unique: list[Obj] = []
    for obj in objs:
        meta = obj.get("metadata") or {}
        key = (
            str(obj.get("apiVersion")),
            str(obj.get("kind")),
            str(meta.get("namespace") or ""),
            str(meta.get("name")),
        )
        if key not in seen:
            seen.add(key)
            unique.append(obj)
    return sorted(unique, key=lambda o: rank.get(str(o.get("kind")), 2))


@click.command("install")
@click.option("--provider", help="Object-store provider of the default location (aws, gcp, …).")
@click.option("--bucket", help="Bucket (or fs directory) of the default location.")
@click.option("--prefix", help="Folder inside the bucket for ark's data.")
@click.option("--config", metavar="KEY=VALUE,...", help="Provider settings, e.g. region=eu-west-1.")
@click.option(
    "--secret-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Credentials file for the provider; stored in a Secret (key 'cloud') the location "
    "names. Its contents are never printed.",
)
@click.option(
    "--secret-name", default="ark-credentials", show_default=True, help="Name of that Secret."
)
@click.option(
    "--location-name",
    default="default",
    show_default=True,
    help="Name of the BackupStorageLocation created (the default location).",
)
@click.option(
    "--deploy-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Kustomize base of the operator (default: the one shipped with ark).",
)
@click.option("--no-operator", is_flag=True, help="Install the CRDs (and location) only.")
@click.option(
    "--dry-run", is_flag=True, help="Print the YAML instead of applying it (Secrets redacted)."
)
@context.connection_options
def install(
    *,
    provider: str | None,
    bucket: str | None,
    prefix: str | None,
    config: str | None,
    secret_file: Path | None,
    secret_name: str,
    location_name: str,
    deploy_dir: Path | None,
    no_operator: bool,
    dry_run: bool,
) -> None:
    """Install ark into the current context: CRDs, the operator in -n's namespace, and (with
    --provider and --bucket) a default BackupStorageLocation with its credential Secret.

    Applying again updates what is there (server-side apply). Objects already in the cluster
    that ark no longer ships are left alone.
    """
    s = context.settings()
    if (provider is None) != (bucket is None):
        raise CliError("--provider and --bucket go together", code=2)
    if secret_file is not None and provider is None:
        raise CliError("--secret-file needs --provider and --bucket", code=2)
    objs = crds()
    if not no_operator:
        objs += kustomize.render(
            deploy_dir or kustomize.default_deploy_dir(), namespace=s.namespace
        )
    if not any(o.get("kind") == "Namespace" for o in objs):
        objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": s.namespace}})
    location: list[Obj] = []
    if provider is not None and bucket is not None:
        ref = {"name": secret_name, "key": SECRET_KEY} if secret_file else None
        spec = locations.bsl_spec(
            provider=provider,
            bucket=bucket,
            prefix=prefix,
            config=config,
            credential_ref=ref,
            default=True,
        )
        if secret_file is not None:
            location.append(secret(secret_name, s.namespace, secret_file.read_bytes()))
        location.append(common.wire(kinds.BACKUP_STORAGE_LOCATION, location_name, spec))
    objs = order(objs) + location
    if dry_run:
        output.echo("\n---\n".join(output.to_yaml(redacted(o)).rstrip() for o in objs))
        return
    client = s.client()
    with common.api_errors():
        apply_all(client, objs)
    output.echo(
        f"ark installed in namespace {s.namespace}: {len(objs)} objects applied"
        + (f", default location {location_name!r}" if location else "")
        + "."
    )


def apply_all(client: KubeClient, objs: list[Obj]) -> None:
    crd_objs = [o for o in objs if o["kind"] == "CustomResourceDefinition"]
    for obj in crd_objs:
        _apply(client, f"{kube_crds.CRD_PATH}/{obj['metadata']['name']}", obj)
    wait_established(client, [o["metadata"]["name"] for o in crd_objs])
    found = discover(client)
    for obj in objs:
        if obj["kind"] == "CustomResourceDefinition":
            continue
        group, _, version = str(obj["apiVersion"]).rpartition("/")
        resource = found.by_group_kind(group, obj["kind"])
        if resource is None:
            raise CliError(f"the cluster does not serve {obj['apiVersion']} {obj['kind']}")
        path = resource.path(
            namespace=obj["metadata"].get("namespace"), name=obj["metadata"]["name"]
        ).replace(f"/{resource.version}/", f"/{version}/", 1)
        _apply(client, path, obj)


def _apply(client: KubeClient, path: str, obj: Obj) -> Any:
    what = f"{obj['kind']} {obj['metadata'].get('name')}"
    with common.api_errors(what):
        return client.request(
            "PATCH",
            path,
            query={"fieldManager": FIELD_MANAGER, "force": True},
            body=obj,
            content_type=APPLY_PATCH,
        )


def wait_established(client: KubeClient, names: list[str], *, timeout: float = 60) -> None:
    pending = kube_crds.wait_established(client, names, timeout=timeout)
    if pending:
        raise CliError(f"CRDs not Established after {timeout:.0f}s: {', '.join(sorted(pending))}")
