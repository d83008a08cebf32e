"""Writing one object into the target cluster under an existing-resource policy, or saying
what would happen (dry run)."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from ark.api.restore import ExistingResourcePolicy
from ark.kube import KubeApiError, KubeClient, TooDeep, encode_json, object_path
from ark.restore import fidelity

# Deleting these to "recreate" them would destroy data or everything they hold: they are
# updated instead, with a warning.
GUARDED = frozenset(
    {
        "namespaces",
        "customresourcedefinitions.apiextensions.k8s.io",
        "persistentvolumes",
        "persistentvolumeclaims",
    }
)
_IGNORED_TOP = frozenset({"apiVersion", "kind", "metadata", "status"})


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RECREATED = "recreated"
    SKIPPED_EXISTS = "skipped-exists"
    SKIPPED = "skipped"
    FAILED = "failed"
    WOULD_CREATE = "would-create"
    WOULD_UPDATE = "would-update"
    WOULD_RECREATE = "would-recreate"
    WOULD_SKIP_EXISTS = "would-skip-exists"


@dataclass
class Applied:
    outcome: Outcome
    uid: str | None = None
    message: str | None = None
    warnings: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)
    """How the object as restored differs from the backed-up one: each is named in the results
    and makes the restore PartiallyFailed (a restore is exact or explained)."""


def path_of(obj: dict[str, Any], plural: str, *, namespaced: bool, name: str | None = None) -> str:
    api_version = obj["apiVersion"]
    group, _, version = api_version.rpartition("/")
    namespace = (obj.get("metadata") or {}).get("namespace") if namespaced else None
    return object_path(group=group, version=version, plural=plural, namespace=namespace, name=name)


def diff(
    live: dict[str, Any],
    desired: dict[str, Any],
    *,
    limit: int = 50,
    secret: bool = False,
) -> list[str]:
    """What would change if ``desired`` replaced ``live``: one line per changed leaf, added
    or removed, over the fields a restore sets (labels, annotations and the object's own
    sections). With ``secret`` the
    lines name the fields that change and never their values (a Secret's data, and its
    annotations, which may hold a copy of it)."""
    lines: list[str] = []

    def say(path: str, old: Any, new: Any) -> None:
        if secret:
            lines.append(
                f"{path}: " + ("set" if old is None else "removed" if new is None else "changed")
            )
        else:
            lines.append(f"{path}: {_short(old)} -> {_short(new)}")

    def walk(path: str, old: Any, new: Any) -> None:
        if len(lines) >= limit:
            return
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(new) | set(old)):
                walk(f"{path}.{key}" if path else key, old.get(key), new.get(key))
        elif old != new:
            say(path, old, new)

    for section in ("labels", "annotations"):
        walk(
            f"metadata.{section}",
            (live.get("metadata") or {}).get(section) or {},
            (desired.get("metadata") or {}).get(section) or {},
        )
    for key in sorted((set(desired) | set(live)) - _IGNORED_TOP):
        walk(key, live.get(key), desired.get(key))
    return lines


CLUSTER_OWNED: dict[str, frozenset[str]] = {
    "services": frozenset(
        {
            "spec.clusterIP",
            "spec.clusterIPs",
            "spec.healthCheckNodePort",
            "spec.ipFamilies",
            "spec.ipFamilyPolicy",
        }
    ),
    "persistentvolumeclaims": frozenset({"spec.volumeName"}),
    "persistentvolumes": frozenset({"spec.claimRef"}),
    "jobs.batch": frozenset({"spec.selector"}),
}
"""Fields the target cluster assigned to a live object (a Service's address, the binding of a
claim and its volume): an update keeps the live ones."""


def replacement(
    live: dict[str, Any], desired: dict[str, Any], *, resource_dir: str
) -> dict[str, Any]:
    """``desired`` as a whole replacement of ``live`` (an update: fields added since the backup
    go): the live object's identity and what the cluster owns kept, the rest the backup's."""
    body = copy.deepcopy({k: v for k, v in desired.items() if k != "status"})
    meta = body.setdefault("metadata", {})
    live_meta = live.get("metadata") or {}
    for key in ("uid", "resourceVersion", "creationTimestamp", "finalizers"):
        if key in live_meta:
            meta[key] = live_meta[key]
    if "ownerReferences" not in meta and live_meta.get("ownerReferences"):
        meta["ownerReferences"] = live_meta["ownerReferences"]
    for dotted in CLUSTER_OWNED.get(resource_dir, ()):
        section, field_ = dotted.split(".", 1)
        live_value = (live.get(section) or {}).get(field_)
        if live_value is not None:
            body.setdefault(section, {})[field_] = live_value
    if resource_dir == "services":
        _keep_node_ports(live, body)
    return body


def _keep_node_ports(live: dict[str, Any], body: dict[str, Any]) -> None:
    """The live Service's nodePorts for the ports the backup asks none for."""
    assigned = {
        (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
        for p in (live.get("spec") or {}).get("ports") or []
    }
    for port in (body.get("spec") or {}).get("ports") or []:
        got = assigned.get((port.get("port"), port.get("protocol", "TCP")))
        if "nodePort" not in port and got:
            port["nodePort"] = got


class Action(StrEnum):
    SKIP = "skip"
    UPDATE = "update"
    RECREATE = "recreate"


@dataclass(frozen=True)
class Decision:
    action: Action
    warning: str | None = None


def decide(
    policy: ExistingResourcePolicy,
    *,
    resource_dir: str,
    live: dict[str, Any],
    changes: list[str],
    recreate_finalized: bool = False,
) -> Decision:
    """What a restore does to an object that already exists: the one rule for the restore
    and its dry run. An identical object is left alone under every policy; ``recreate``
    never deletes what would take data or other objects with it (GUARDED kinds), nor an
    object other controllers hold with finalizers unless ``recreate_finalized``: those are
    updated instead, with a warning."""
    if policy is ExistingResourcePolicy.NONE or not changes:
        return Decision(Action.SKIP)
    if policy is ExistingResourcePolicy.UPDATE:
        return Decision(Action.UPDATE)
    if resource_dir in GUARDED:
        return Decision(
            Action.UPDATE, f"not recreated ({resource_dir} are never deleted by a restore)"
        )
    finalizers = (live.get("metadata") or {}).get("finalizers") or []
    if finalizers and not recreate_finalized:
        return Decision(
            Action.UPDATE,
            f"not recreated: finalizers {', '.join(map(str, finalizers))} of other controllers "
            "hold it; updated instead",
        )
    return Decision(Action.RECREATE)


def _stored(sent: dict[str, Any], stored: Any, resource_dir: str) -> list[str]:
    """What the API server did not store as sent (``fidelity``)."""
    if not isinstance(stored, dict):
        return []
    return fidelity.stored_differences(sent, stored, secret=resource_dir == "secrets")


def _short(value: Any) -> str:
    try:
        text = encode_json(value).decode() if value is not None else "<unset>"
    except TooDeep:
        text = "<nested too deep to show>"
    return text if len(text) <= 80 else text[:77] + "..."


def _invalid_fields(exc: KubeApiError) -> str:
    causes = exc.details.get("causes") or []
    fields = sorted({c.get("field", "") for c in causes if c.get("field")})
    return ", ".join(fields) if fields else exc.message


class Writer:
    """Applies objects to one cluster; safe to share between threads."""

    def __init__(
        self,
        client: KubeClient,
        *,
        policy: ExistingResourcePolicy,
        dry_run: bool,
        wait_timeout: float = 120.0,
        backup_name: str | None = None,
        recreate_finalized: bool = False,
    ) -> None:
        self.client = client
        self.policy = ExistingResourcePolicy(policy)
        self.dry_run = dry_run
        self.wait_timeout = wait_timeout
        self.backup_name = backup_name
        self.recreate_finalized = recreate_finalized
        """Named in the error of a recreate whose create failed after the delete."""

    def apply(
        self,
        obj: dict[str, Any],
        *,
        resource_dir: str,
        plural: str,
        namespaced: bool,
        copy: str | None = None,
    ) -> Applied:
        """Create ``obj``, or treat the existing one by the policy. ``copy`` says where the
        backed-up object is in the backup (named if a recreate deleted it and then failed)."""
        name = obj["metadata"]["name"]
        collection = path_of(obj, plural, namespaced=namespaced)
        item = path_of(obj, plural, namespaced=namespaced, name=name)
        if self.dry_run:
            return self._dry_run(obj, resource_dir=resource_dir, collection=collection, item=item)
        try:
            created = orjson.loads(self.client.request("POST", collection, body=obj))
            return Applied(
                Outcome.CREATED,
                uid=created["metadata"].get("uid"),
                differences=_stored(obj, created, resource_dir),
            )
        except KubeApiError as exc:
            if not exc.already_exists:
                return Applied(Outcome.FAILED, message=exc.message)
        return self._existing(
            obj, resource_dir=resource_dir, collection=collection, item=item, copy=copy
        )

    def _existing(
        self,
        obj: dict[str, Any],
        *,
        resource_dir: str,
        collection: str,
        item: str,
        copy: str | None,
    ) -> Applied:
        try:
            live = self.client.get(item)
        except KubeApiError as exc:
            return Applied(Outcome.FAILED, message=f"exists, but cannot be read: {exc.message}")
        uid = live["metadata"].get("uid")
        changes = self._changes(live, obj, resource_dir)
        decision = decide(
            self.policy,
            resource_dir=resource_dir,
            live=live,
            changes=changes,
            recreate_finalized=self.recreate_finalized,
        )
        if decision.action is Action.SKIP:
            note = "already exists" + (
                f"; differs from the backup in {len(changes)} field(s)"
                if changes
                else (", identical" if self.policy is not ExistingResourcePolicy.NONE else "")
            )
            return Applied(Outcome.SKIPPED_EXISTS, uid=uid, message=note, diff=changes)
        if decision.action is Action.RECREATE:
            return self._recreate(
                obj, resource_dir=resource_dir, collection=collection, item=item, uid=uid, copy=copy
            )
        result = self._update(obj, item=item, live=live, changes=changes, resource_dir=resource_dir)
        if decision.warning:
            result.warnings.insert(0, decision.warning)
        return result

    def _changes(self, live: dict[str, Any], obj: dict[str, Any], resource_dir: str) -> list[str]:
        """What replacing ``live`` with the backup's object changes (what the cluster owns
        kept, as the update keeps it)."""
        desired = replacement(live, obj, resource_dir=resource_dir)
        return diff(live, desired, secret=resource_dir == "secrets")

    def _update(
        self,
        obj: dict[str, Any],
        *,
        item: str,
        live: dict[str, Any],
        changes: list[str],
        resource_dir: str,
    ) -> Applied:
        """Make the live object the backup's: a replacement (PUT with the live
        resourceVersion), so fields added since the backup go too. A field the cluster
        refuses to change stays as it is and is named as a difference."""
        uid = live["metadata"].get("uid")
        if not changes:
            return Applied(Outcome.SKIPPED_EXISTS, uid=uid, message="already exists, identical")
        body = replacement(live, obj, resource_dir=resource_dir)
        try:
            stored = orjson.loads(self.client.request("PUT", item, body=body))
        except KubeApiError as exc:
            if exc.invalid:
                return Applied(
                    Outcome.SKIPPED_EXISTS,
                    uid=uid,
                    message="already exists; not updated",
                    differences=[
                        f"cannot update immutable field(s) {_invalid_fields(exc)}: {exc.message}"
                    ],
                    diff=changes,
                )
            if exc.status == 409:
                return Applied(
                    Outcome.FAILED, uid=uid, message="changed while being updated; not updated"
                )
            return Applied(Outcome.FAILED, uid=uid, message=f"update failed: {exc.message}")
        return Applied(
            Outcome.UPDATED,
            uid=uid,
            diff=changes,
            differences=_stored(body, stored, resource_dir),
        )

    def _recreate(
        self,
        obj: dict[str, Any],
        *,
        resource_dir: str,
        collection: str,
        item: str,
        uid: str | None,
        copy: str | None,
    ) -> Applied:
        """Delete and create again, never losing the object: right before the delete the API
        server validates the create (a dry run: AlreadyExists comes after validation and
        admission, so it means everything else passed), the delete names the uid that was
        compared, and a create that still fails says where the backed-up copy is."""
        try:
            self.client.request("POST", collection, body=obj, query={"dryRun": "All"})
        except KubeApiError as exc:
            if not exc.already_exists:
                return Applied(
                    Outcome.FAILED,
                    uid=uid,
                    message=f"not recreated (the live object is kept): the API server would "
                    f"refuse the backed-up one: {exc.message}",
                )
        try:
            self.client.request(
                "DELETE",
                item,
                body={"propagationPolicy": "Background", "preconditions": {"uid": uid}},
            )
        except KubeApiError as exc:
            if not exc.not_found and exc.status != 409:  # 409: a new one took its place
                return Applied(Outcome.FAILED, message=f"cannot delete to recreate: {exc.message}")
        deadline = time.monotonic() + self.wait_timeout
        while True:
            try:
                created = orjson.loads(self.client.request("POST", collection, body=obj))
                return Applied(
                    Outcome.RECREATED,
                    uid=created["metadata"].get("uid"),
                    differences=_stored(obj, created, resource_dir),
                )
            except KubeApiError as exc:
                if not exc.already_exists or time.monotonic() > deadline:
                    return Applied(Outcome.FAILED, message=self._lost(copy, exc))
            try:
                again = self.client.get(item)
            except KubeApiError:
                again = None
            if again is not None and again["metadata"].get("uid") != uid:
                # A controller made a new one at once (a namespace's default ServiceAccount):
                # waiting cannot help; bring that one to the backup's data.
                result = self._update(
                    obj,
                    item=item,
                    live=again,
                    changes=self._changes(again, obj, resource_dir),
                    resource_dir=resource_dir,
                )
                result.warnings.insert(0, "re-created by the cluster at once; updated instead")
                return result
            time.sleep(0.2)  # the old object is still being finalized

    def _lost(self, copy: str | None, exc: KubeApiError) -> str:
        where = f"{copy} in backup {self.backup_name}" if copy and self.backup_name else copy
        return f"deleted to recreate, but the create failed: {exc.message}" + (
            f"; the backed-up copy is {where}" if where else ""
        )

    def _dry_run(
        self, obj: dict[str, Any], *, resource_dir: str, collection: str, item: str
    ) -> Applied:
        try:
            live = self.client.get(item)
        except KubeApiError as exc:
            if not exc.not_found:
                return Applied(Outcome.FAILED, message=exc.message)
            return self._server_dry_run(obj, collection=collection)
        uid = live["metadata"].get("uid")
        changes = self._changes(live, obj, resource_dir)
        decision = decide(
            self.policy,
            resource_dir=resource_dir,
            live=live,
            changes=changes,
            recreate_finalized=self.recreate_finalized,
        )
        outcome = {
            Action.SKIP: Outcome.WOULD_SKIP_EXISTS,
            Action.UPDATE: Outcome.WOULD_UPDATE,
            Action.RECREATE: Outcome.WOULD_RECREATE,
        }[decision.action]
        return Applied(
            outcome, uid=uid, diff=changes, warnings=[decision.warning] if decision.warning else []
        )

    def _server_dry_run(self, obj: dict[str, Any], *, collection: str) -> Applied:
        """Let the API server validate the create without persisting it (dryRun=All)."""
        try:
            self.client.request("POST", collection, body=obj, query={"dryRun": "All"})
        except KubeApiError as exc:
            # A namespace the restore would create first does not exist yet: fine.
            if exc.not_found and "namespaces" in exc.message:
                return Applied(Outcome.WOULD_CREATE)
            return Applied(Outcome.FAILED, message=f"the API server would refuse it: {exc.message}")
        return Applied(Outcome.WOULD_CREATE)
