"""Azure Resource Manager's protocol, shared by fake resource providers.

What every ARM request goes through (per the ARM REST conventions): a bearer token, an
``api-version`` query parameter, subscription GUIDs, existing resource groups, errors as
``{"error": {"code", "message"}}``, and long-running operations answered ``202 Accepted`` with
``Azure-AsyncOperation`` (status ``InProgress`` → ``Succeeded``) and ``Location`` headers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hack.fakes import serving
from hack.fakes.serving import Request, Response

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
GROUP = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)$", re.I)


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        return Response(self.status, {"error": {"code": self.code, "message": self.message}})


def bad_request(message: str, code: str = "InvalidParameter") -> ArmError:
    return ArmError(400, code, message)


def not_allowed(request: Request) -> ArmError:
    return ArmError(405, "MethodNotAllowed", f"{request.method} is not supported on {request.path}")


def now() -> str:
    return datetime.now(UTC).isoformat()


def check_request(request: Request, *, token: str | None) -> str:
    """Authentication and api-version, as ARM checks them first; returns the api-version."""
    auth = request.headers.get("authorization", "")
    scheme, _, presented = auth.partition(" ")
    if not auth:
        raise ArmError(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        )
    if scheme.lower() != "bearer" or not presented:
        raise ArmError(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        )
    if token is not None and presented != token:
        raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.")
    version = request.query.get("api-version")
    if not version:
        raise ArmError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if not _API_VERSION.match(version):
        raise ArmError(
            400, "InvalidApiVersionParameter", f"The api-version '{version}' is invalid."
        )
    return version


def check_subscription(sub: str) -> None:
    if not _GUID.match(sub):
        raise ArmError(
            400,
            "InvalidSubscriptionId",
            f"The provided subscription identifier '{sub}' is malformed or invalid.",
        )


class ResourceGroups:
    """Resource groups by ``subscription/name``; ``None`` at construction: every group exists."""

    def __init__(self, groups: dict[str, str] | None) -> None:
        self.any = groups is None
        self.locations = {k.lower(): v for k, v in (groups or {}).items()}

    def require(self, sub: str, rg: str) -> None:
        check_subscription(sub)
        if not self.any and f"{sub}/{rg}".lower() not in self.locations:
            raise ArmError(
                404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found."
            )

    def serve(self, request: Request, sub: str, rg: str) -> Response:
        """``PUT|GET /subscriptions/{s}/resourcegroups/{rg}`` (Microsoft.Resources)."""
        rid = f"/subscriptions/{sub}/resourceGroups/{rg}"
        if request.method == "PUT":
            check_subscription(sub)
            body = request.body if isinstance(request.body, dict) else {}
            if not body.get("location"):
                raise bad_request(
                    "The location property is required for this definition.", "LocationRequired"
                )
            self.locations[f"{sub}/{rg}".lower()] = body["location"]
        elif request.method != "GET":
            raise not_allowed(request)
        self.require(sub, rg)
        location = self.locations.get(f"{sub}/{rg}".lower(), "")
        return Response(
            200,
            {
                "id": rid,
                "name": rg,
                "type": "Microsoft.Resources/resourceGroups",
                "location": location,
                "properties": {"provisioningState": "Succeeded"},
            },
        )


@dataclass
class Operation:
    id: str
    resource_id: str
    polls_left: int
    finish: Callable[[], Any]
    """Applies the operation's effect; returns the final resource body (None for deletes)."""
    status: str = "InProgress"
    start: str = field(default_factory=now)
    result: Any = None


class Operations:
    """Long-running operations: each reports InProgress for ``polls`` polls, then Succeeded.

    Time passes whenever someone looks: a GET of the operation or of its resource (``tick``)
    counts as a poll, so a client that never polls the operation still sees it finish.
    """

    def __init__(self, *, polls: int, provider: str) -> None:
        self.polls = polls
        self.provider = provider
        self.items: dict[str, Operation] = {}
        self.path = re.compile(
            rf"^/subscriptions/[^/]+/providers/{re.escape(provider)}/locations/[^/]+/"
            r"(?:Disk)?Operations/(?P<op>[^/]+)$",
            re.I,
        )

    def accepted(
        self,
        request: Request,
        *,
        sub: str,
        resource_id: str,
        location: str,
        body: Any,
        finish: Callable[[], Any],
    ) -> Response:
        """``202 Accepted`` for a PUT or DELETE whose effect ``finish`` applies later."""
        op = Operation(
            id=str(uuid.uuid4()), resource_id=resource_id, polls_left=self.polls, finish=finish
        )
        self.items[op.id] = op
        if op.polls_left <= 0:
            self._complete(op)
        url = (
            f"{serving.base_url(request)}/subscriptions/{sub}/providers/{self.provider}"
            f"/locations/{location}/DiskOperations/{op.id}"
            f"?api-version={request.query['api-version']}"
        )
        return Response(202, body, {"Azure-AsyncOperation": url, "Location": url + "&monitor=true"})

    def _complete(self, op: Operation) -> None:
        op.status = "Succeeded"
        op.result = op.finish()

    def _poll(self, op: Operation) -> None:
        if op.status == "InProgress":
            op.polls_left -= 1
            if op.polls_left < 0:
                self._complete(op)

    def tick(self, resource_id: str) -> None:
        """Someone read ``resource_id``: its pending operations move on by one poll."""
        for op in list(self.items.values()):
            if op.resource_id.lower() == resource_id.lower():
                self._poll(op)

    def serve(self, request: Request, op_id: str) -> Response:
        if request.method != "GET":
            raise not_allowed(request)
        op = self.items.get(op_id)
        if op is None:
            raise ArmError(404, "NotFound", f"Operation '{op_id}' was not found.")
        self._poll(op)
        if request.query.get("monitor") == "true":
            if op.status == "InProgress":
                location = (
                    f"{serving.base_url(request)}{request.path}"
                    f"?api-version={request.query['api-version']}&monitor=true"
                )
                return Response(202, None, {"Location": location})
            return Response(204) if op.result is None else Response(200, op.result)
        return Response(200, {"name": op.id, "status": op.status, "startTime": op.start})
