"""Writing one object into the target cluster under an existing-resource policy, or saying
what would happen (dry run)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from ark.api.restore import ExistingResourcePolicy
from ark.kube import KubeApiError, KubeClient, object_path

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


def path_of(obj: dict[str, Any], plural: str, *, namespaced: bool, name: str | None = None) -> str:
    api_version = obj["apiVersion"]
    group, _, version = api_version.rpartition("/")
    namespace = (obj.get("metadata") or {}).get("namespace") if namespaced else None
    return object_path(group=group, version=version, plural=plural, namespace=namespace, name=name)


def diff(live: dict[str, Any], desired: dict[str, Any], *, limit: int = 50) -> list[str]:
    """What would change if ``desired`` were applied over ``live``: one line per changed leaf,
    over the fields a restore sets (labels, annotations and the object's own sections)."""
    lines: list[str] = []

    def walk(path: str, old: Any, new: Any) -> None:
        if len(lines) >= limit:
            return
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(new):
                walk(f"{path}.{key}" if path else key, old.get(key), new[key])
        elif old != new:
            lines.append(f"{path}: {_short(old)} -> {_short(new)}")

    for section in ("labels", "annotations"):
        walk(
            f"metadata.{section}",
            (live.get("metadata") or {}).get(section) or {},
            (desired.get("metadata") or {}).get(section) or {},
        )
    for key in sorted(set(desired) - _IGNORED_TOP):
        walk(key, live.get(key), desired[key])
    return lines


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode() if value is not None else "<unset>"
    return text if len(text) <= 80 else text[:77] + "..."


def _patch_body(desired: dict[str, Any]) -> dict[str, Any]:
    meta = desired.get("metadata") or {}
    body: dict[str, Any] = {k: v for k, v in desired.items() if k not in _IGNORED_TOP}
    body["metadata"] = {k: meta[k] for k in ("labels", "annotations") if meta.get(k)}
    return body


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
    ) -> None:
        self.client = client
        self.policy = ExistingResourcePolicy(policy)
        self.dry_run = dry_run
        self.wait_timeout = wait_timeout

    def apply(self, obj: dict[str, Any], *, rdir: str, plural: str, namespaced: bool) -> Applied:
        name = obj["metadata"]["name"]
        collection = path_of(obj, plural, namespaced=namespaced)
        item = path_of(obj, plural, namespaced=namespaced, name=name)
        if self.dry_run:
            return self._dry_run(obj, rdir=rdir, collection=collection, item=item)
        try:
            created = orjson.loads(self.client.request("POST", collection, body=obj))
            return Applied(Outcome.CREATED, uid=created["metadata"].get("uid"))
        except KubeApiError as exc:
            if not exc.already_exists:
                return Applied(Outcome.FAILED, message=exc.message)
        return self._existing(obj, rdir=rdir, collection=collection, item=item)

    def _existing(self, obj: dict[str, Any], *, rdir: str, collection: str, item: str) -> Applied:
        try:
            live = self.client.get(item)
        except KubeApiError as exc:
            return Applied(Outcome.FAILED, message=f"exists, but cannot be read: {exc.message}")
        uid = live["metadata"].get("uid")
        changes = diff(live, obj)
        if self.policy is ExistingResourcePolicy.NONE:
            note = "already exists" + (
                f"; differs from the backup in {len(changes)} field(s)" if changes else ""
            )
            return Applied(Outcome.SKIPPED_EXISTS, uid=uid, message=note, diff=changes)
        # An identical object is left alone under every policy (as the dry run says).
        if self.policy is ExistingResourcePolicy.RECREATE and changes and rdir not in GUARDED:
            return self._recreate(obj, collection=collection, item=item, uid=uid)
        result = self._update(obj, item=item, uid=uid, changes=changes)
        if self.policy is ExistingResourcePolicy.RECREATE and changes:
            result.warnings.insert(0, f"not recreated ({rdir} are never deleted by a restore)")
        return result

    def _update(
        self, obj: dict[str, Any], *, item: str, uid: str | None, changes: list[str]
    ) -> Applied:
        if not changes:
            return Applied(Outcome.SKIPPED_EXISTS, uid=uid, message="already exists, identical")
        try:
            self.client.request(
                "PATCH", item, body=_patch_body(obj), content_type="application/merge-patch+json"
            )
        except KubeApiError as exc:
            if exc.invalid:
                return Applied(
                    Outcome.SKIPPED_EXISTS,
                    uid=uid,
                    message="already exists; not updated",
                    warnings=[
                        f"cannot update immutable field(s) {_invalid_fields(exc)}: {exc.message}"
                    ],
                    diff=changes,
                )
            return Applied(Outcome.FAILED, uid=uid, message=f"update failed: {exc.message}")
        return Applied(Outcome.UPDATED, uid=uid, diff=changes)

    def _recreate(
        self, obj: dict[str, Any], *, collection: str, item: str, uid: str | None
    ) -> Applied:
        try:
            self.client.request("DELETE", item, body={"propagationPolicy": "Background"})
        except KubeApiError as exc:
            if not exc.not_found:
                return Applied(Outcome.FAILED, message=f"cannot delete to recreate: {exc.message}")
        deadline = time.monotonic() + self.wait_timeout
        while True:
            try:
                created = orjson.loads(self.client.request("POST", collection, body=obj))
                return Applied(Outcome.RECREATED, uid=created["metadata"].get("uid"))
            except KubeApiError as exc:
                if not exc.already_exists or time.monotonic() > deadline:
                    return Applied(Outcome.FAILED, message=f"recreate failed: {exc.message}")
            try:
                again = self.client.get(item)
            except KubeApiError:
                again = None
            if again is not None and again["metadata"].get("uid") != uid:
                # A controller made a new one at once (a namespace's default ServiceAccount):
                # waiting cannot help; bring that one to the backup's data.
                result = self._update(
                    obj, item=item, uid=again["metadata"].get("uid"), changes=diff(again, obj)
                )
                result.warnings.insert(0, "re-created by the cluster at once; updated instead")
                return result
            time.sleep(0.2)  # the old object is still being finalized

    def _dry_run(self, obj: dict[str, Any], *, rdir: str, collection: str, item: str) -> Applied:
        try:
            live = self.client.get(item)
        except KubeApiError as exc:
            if not exc.not_found:
                return Applied(Outcome.FAILED, message=exc.message)
            return self._server_dry_run(obj, collection=collection)
        uid = live["metadata"].get("uid")
        changes = diff(live, obj)
        if self.policy is ExistingResourcePolicy.NONE or not changes:
            return Applied(Outcome.WOULD_SKIP_EXISTS, uid=uid, diff=changes)
        if self.policy is ExistingResourcePolicy.RECREATE and rdir not in GUARDED:
            return Applied(Outcome.WOULD_RECREATE, uid=uid, diff=changes)
        return Applied(Outcome.WOULD_UPDATE, uid=uid, diff=changes)

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
