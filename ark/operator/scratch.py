"""What a restore test made outside its scratch namespaces, and its removal: the
PersistentVolumes bound to its scratch claims and the volumes behind them.

ark never destroys data it was not asked to destroy. A cloud volume is deleted only when all of
these hold: the test's Restore recorded making it (``status.volumes``: the PersistentVolume and
the volume id), the PersistentVolume bound to a scratch claim points at it, the cloud shows the
Restore's tags on it (its name and uid; ``delete_volume`` refuses a volume without them), and no
other PersistentVolume of the cluster refers to it. A CSI volume is deleted by its driver, once
its claim is shown to be made from the test's own VolumeSnapshot
(``CsiSnapshotter.delete_volume``). A PersistentVolume object the test wrote with reclaim policy
Retain and no volume of the test's behind it (its storage is not the test's) is deleted as an
object only; one with reclaim policy Delete is left to its provisioner.

``begin`` runs before the scratch namespaces are deleted (it reads the claims, and hands CSI
volumes to their driver), ``finish`` after, as often as needed: a volume whose claim is not
gone yet, or that its cloud would not delete, stays pending and named with why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from ark import control, snapshot
from ark.kube import KubeApiError, KubeClient
from ark.snapshot import csi_objects
from ark.snapshot import errors as snapshot_errors
from ark.snapshot.interface import VolumeSnapshotter, has_tags

PVS = "/api/v1/persistentvolumes"
CSI = "csi"
_NOT_SOURCE = frozenset(
    {
        "claimRef",
        "nodeAffinity",
        "capacity",
        "accessModes",
        "storageClassName",
        "mountOptions",
        "persistentVolumeReclaimPolicy",
        "volumeMode",
        "volumeAttributesClassName",
    }
)


@dataclass
class Cleanup:
    """What is still to delete (``ScratchVolume`` entries, as in status), what is left and
    why (named), and which of those are failures rather than waits."""

    pending: list[dict[str, Any]] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return not self.pending and not self.left


def refers(pv: dict[str, Any], volume_id: str) -> bool:
    """Whether PersistentVolume ``pv``'s source names ``volume_id`` (its last path segment,
    in any case: ``aws://zone/vol-1``, an ARM id, a GCE disk name): broad on purpose, a
    false yes only keeps a volume."""
    tail = volume_id.rstrip("/").rsplit("/", 1)[-1].lower()
    source = {k: v for k, v in (pv.get("spec") or {}).items() if k not in _NOT_SOURCE}
    return bool(tail) and tail in orjson.dumps(source).decode().lower()


def _name(pv: dict[str, Any]) -> str:
    return str(pv["metadata"]["name"])


def _claim_ref(pv: dict[str, Any]) -> dict[str, Any]:
    return dict((pv.get("spec") or {}).get("claimRef") or {})


def _policy(pv: dict[str, Any]) -> str:
    return str((pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") or "")


def _list_pvs(client: KubeClient) -> list[dict[str, Any]]:
    return list(client.get(PVS).get("items") or [])


def _provider(target: str) -> str:
    """``aws us-east-1`` (a RestoredVolume's target) → ``aws``."""
    return target.split(" ", 1)[0]


def begin(
    client: KubeClient,
    restore: dict[str, Any] | None,
    scratch: list[str],
    owner: dict[str, str],
) -> Cleanup:
    """Before the scratch namespaces go: the PersistentVolumes bound to their claims that the
    test made, each as an entry to finish. A volume made from a snapshot is set to Retain (ark
    deletes it itself, after the checks); a CSI volume is handed to its driver now (its claim
    still shows whose it is)."""
    out = Cleanup()
    status = (restore or {}).get("status") or {}
    recorded = {str(v.get("persistentVolume")): v for v in status.get("volumes") or ()}
    started = control.parse_time(status.get("startTimestamp"))
    for pv in _list_pvs(client):
        if _claim_ref(pv).get("namespace") not in scratch:
            continue
        name, made = _name(pv), control.parse_time(pv["metadata"].get("creationTimestamp"))
        entry: dict[str, Any] = {"persistentVolume": name}
        volume = recorded.get(name)
        ours = volume is not None and refers(pv, str(volume.get("volumeId") or ""))
        if not ours and (started is None or made is None or made < started.replace(microsecond=0)):
            continue  # not written by this test: never touched
        handle = ((pv.get("spec") or {}).get("csi") or {}).get("volumeHandle")
        if volume is not None and ours:
            entry.update(
                volumeId=volume["volumeId"],
                provider=_provider(str(volume.get("target") or "")),
                location=volume.get("location"),
            )
            if _policy(pv) != "Retain":  # the test deletes it, after its checks
                _patch_policy(client, name, "Retain")
        elif (
            handle
            and volume is None
            and (pv["metadata"].get("annotations") or {}).get("pv.kubernetes.io/provisioned-by")
        ):
            try:
                _csi(client).delete_volume(str(handle), owner_tags=owner)
            except snapshot_errors.NotOwned as exc:
                out.left.append(f"PersistentVolume {name}: {exc}")
                out.errors.append(f"PersistentVolume {name}: {exc}")
                continue
            except snapshot_errors.SnapshotError as exc:
                out.errors.append(f"PersistentVolume {name}: {exc}")
            entry.update(volumeId=str(handle), provider=CSI)
        out.pending.append(entry)
    for target in scratch:
        client.delete_if_present(f"/api/v1/namespaces/{target}")
    return out


def _csi(client: KubeClient) -> VolumeSnapshotter:
    return snapshot.open_snapshotter(CSI, region="", config={}, credentials={}, kube=client)


def _patch_policy(client: KubeClient, name: str, policy: str) -> None:
    client.request(
        "PATCH",
        f"{PVS}/{name}",
        body={"spec": {"persistentVolumeReclaimPolicy": policy}},
        content_type="application/merge-patch+json",
    )


def finish(
    client: KubeClient,
    namespace: str,
    entries: list[dict[str, Any]],
    scratch: list[str],
    owner: dict[str, str],
) -> Cleanup:
    """One pass over what is left: the scratch namespaces still there, the entries whose
    claims are gone deleted (object, then volume), the others kept with why."""
    out = Cleanup()
    for target in scratch:
        found = client.get_or_none(f"/api/v1/namespaces/{target}")
        if found is not None:
            out.left.append(f"namespace {target}: {_terminating(found)}")
    pvs = {_name(pv): pv for pv in _list_pvs(client)}
    for entry in entries:
        _finish_one(client, namespace, entry, pvs=pvs, owner=owner, out=out)
    if not out.left:
        _remove_restored_contents(client, owner)
    return out


def _remove_restored_contents(client: KubeClient, owner: dict[str, str]) -> None:
    """The VolumeSnapshotContents the test's CSI claims were provisioned from: objects over
    the backup's snapshots (Retain: deleting them leaves the snapshots), annotated with the
    test's tags; their VolumeSnapshots went with the scratch namespaces."""
    listed = client.get_or_none(f"/apis/{csi_objects.GROUP}/v1/volumesnapshotcontents")
    for content in (listed or {}).get("items") or ():
        meta = content.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        if (
            owner
            and has_tags(annotations, owner)
            and annotations.get(csi_objects.RESTORED_FROM)
            and (content.get("spec") or {}).get("deletionPolicy") == "Retain"
            and not meta.get("deletionTimestamp")
        ):
            client.delete_if_present(
                f"/apis/{csi_objects.GROUP}/v1/volumesnapshotcontents/{meta['name']}"
            )


def _terminating(namespace: dict[str, Any]) -> str:
    """Why a namespace is still there, from its conditions (what holds it)."""
    if not namespace["metadata"].get("deletionTimestamp"):
        return "not deleted"
    held = [
        str(c.get("message"))
        for c in (namespace.get("status") or {}).get("conditions") or ()
        if c.get("status") == "True" and c.get("message")
    ]
    return "still terminating" + (f" ({'; '.join(held)})" if held else "")


def _finish_one(
    client: KubeClient,
    namespace: str,
    entry: dict[str, Any],
    *,
    pvs: dict[str, dict[str, Any]],
    owner: dict[str, str],
    out: Cleanup,
) -> None:
    name = str(entry["persistentVolume"])
    provider, volume_id = entry.get("provider"), entry.get("volumeId")
    pv = pvs.get(name)
    if pv is not None:
        ref = _claim_ref(pv)
        claim = client.get_or_none(
            f"/api/v1/namespaces/{ref.get('namespace')}/persistentvolumeclaims/{ref.get('name')}"
        )
        if claim is not None and claim["metadata"].get("uid") == ref.get("uid"):
            out.pending.append(entry)
            out.left.append(
                f"PersistentVolume {name}: its claim {ref.get('namespace')}/{ref.get('name')} "
                "is not deleted yet"
            )
            return
        if provider == CSI or (not volume_id and _policy(pv) == "Delete"):
            out.pending.append(entry)
            why = ((pv.get("status") or {}).get("message")) or "its provisioner deletes it"
            out.left.append(f"PersistentVolume {name} ({pv['status'].get('phase')}): {why}")
            if (pv.get("status") or {}).get("phase") == "Failed":
                out.errors.append(f"PersistentVolume {name}: {why}")
            return
        if not pv["metadata"].get("deletionTimestamp"):
            body = {"preconditions": {"uid": pv["metadata"]["uid"]}}
            try:
                client.request("DELETE", f"{PVS}/{name}", body=body)
            except KubeApiError as exc:
                if not (exc.not_found or exc.conflict):
                    raise
    if provider in (None, CSI) or not volume_id:
        return
    users = sorted(n for n, other in pvs.items() if n != name and refers(other, str(volume_id)))
    subject = f"{provider} volume {volume_id} (PersistentVolume {name})"
    if users:
        why = f"{subject}: not deleted: PersistentVolume(s) {', '.join(users)} refer to it"
        out.pending.append(entry)
        out.left.append(why)
        out.errors.append(why)
        return
    try:
        location = entry.get("location")
        if not location:
            raise control.LocationError("the restore recorded no snapshot location for it")
        control.open_vsl_snapshotter(client, namespace, str(location)).delete_volume(
            str(volume_id), owner_tags=owner
        )
    except (control.LocationError, snapshot_errors.SnapshotError) as exc:
        out.pending.append(entry)
        out.left.append(f"{subject}: {exc}")
        out.errors.append(f"{subject}: {exc}")


def settle(
    client: KubeClient,
    namespace: str,
    begun: Cleanup,
    scratch: list[str],
    owner: dict[str, str],
    *,
    wait: float,
    interval: float = 1.0,
) -> Cleanup:
    """``finish`` until nothing is left or ``wait`` seconds passed (a namespace's deletion
    takes the controllers some seconds); what ``begin`` refused stays named."""
    deadline = time.monotonic() + wait
    while True:
        done = finish(client, namespace, begun.pending, scratch, owner)
        if done.done or time.monotonic() >= deadline:
            break
        time.sleep(interval)
    refused = [w for w in begun.left if w not in done.left]
    return Cleanup(done.pending, refused + done.left, begun.errors + done.errors)
