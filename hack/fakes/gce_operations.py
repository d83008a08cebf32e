"""Compute Engine's operations and error format, for the GCE fake.

An Operation (``compute#operation``) is returned by every mutation and lives in the scope of its
target (``zones/{z}``, ``regions/{r}`` or ``global``). It reports ``RUNNING`` until its steps have
run, one step per read of the operation or of its target, then ``DONE``; a step that raises a
GceError ends it ``DONE`` with that ``error``, as a failed operation does.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hack.fakes.serving import Response

LINK_BASE = "https://www.googleapis.com/compute/v1/"


def link(path: str) -> str:
    """A selfLink as the real service writes it."""
    return LINK_BASE + path


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class GceError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message

    def response(self) -> Response:
        detail = {"message": self.message, "domain": "global", "reason": self.reason}
        return Response(
            self.status,
            {"error": {"code": self.status, "message": self.message, "errors": [detail]}},
        )


def not_found(path: str) -> GceError:
    return GceError(404, "notFound", f"The resource '{path}' was not found")


def invalid(field_name: str, value: str, why: str) -> GceError:
    return GceError(400, "invalid", f"Invalid value for field '{field_name}': '{value}'. {why}")


@dataclass
class Operation:
    body: dict[str, Any]
    target: str
    steps: list[Callable[[], None]] = field(default_factory=list)


class Operations:
    def __init__(self) -> None:
        self.items: dict[str, Operation] = {}
        self.ids = itertools.count(7_000_000_000_000_000_001)

    def start(
        self,
        scope: str,
        kind: str,
        *,
        target: str,
        target_id: str,
        steps: list[Callable[[], None]],
    ) -> dict[str, Any]:
        name = f"operation-{int(datetime.now(UTC).timestamp() * 1000)}-{uuid.uuid4().hex[:12]}"
        path = f"{scope}/operations/{name}"
        body: dict[str, Any] = {
            "kind": "compute#operation",
            "id": str(next(self.ids)),
            "name": name,
            "operationType": kind,
            "targetLink": link(target),
            "targetId": target_id,
            "status": "RUNNING",
            "user": "ark-test@example.iam.gserviceaccount.com",
            "progress": 0,
            "insertTime": now(),
            "startTime": now(),
            "selfLink": link(path),
        }
        where = scope.split("/")[2]
        if where in ("zones", "regions"):
            body[where[:-1]] = link(scope)
        self.items[path] = Operation(body=body, target=target, steps=list(steps))
        return dict(body)

    def _step(self, op: Operation) -> None:
        if op.steps:
            try:
                op.steps.pop(0)()
            except GceError as exc:  # the operation failed: DONE, with its error
                op.steps.clear()
                op.body["error"] = {"errors": [{"code": exc.reason, "message": exc.message}]}
        if not op.steps and op.body["status"] != "DONE":
            op.body.update(status="DONE", progress=100, endTime=now())

    def read(self, path: str) -> dict[str, Any]:
        op = self.items.get(path)
        if op is None:
            raise not_found(path)
        self._step(op)
        return dict(op.body)

    def tick(self, target: str) -> None:
        """Someone read ``target``: its running operations move on by one step."""
        for op in list(self.items.values()):
            if op.target == target and op.body["status"] != "DONE":
                self._step(op)
