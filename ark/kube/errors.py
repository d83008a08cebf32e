"""Errors from the Kubernetes API, carrying the server's own status, reason and message."""

from __future__ import annotations

from typing import Any

import orjson


class KubeError(Exception):
    """The cluster could not be reached or configured."""


class KubeApiError(KubeError):
    """The API server answered with an error status (a metav1.Status)."""

    def __init__(self, *, method: str, path: str, status: int, body: bytes) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.reason = ""
        self.details: dict[str, Any] = {}
        message = body.decode("utf-8", "replace").strip()[:2000]
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            message = str(parsed.get("message") or message)
            self.reason = str(parsed.get("reason") or "")
            self.details = parsed.get("details") or {}
        self.message = message
        super().__init__(f"{method} {path}: {status} {self.reason or 'error'}: {message}")

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"

    @property
    def gone(self) -> bool:
        return self.status == 410

    @property
    def invalid(self) -> bool:
        return self.status == 422
