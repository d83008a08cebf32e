"""Azure credentials and ARM clients for the snapshotter.

A static bearer token (``AZURE_ACCESS_TOKEN``) is used as is; over plain http (a local fake ARM)
the token is sent by a minimal policy, because the SDK's authentication policy refuses
non-https URLs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.identity import ClientSecretCredential, DefaultAzureCredential
from azure.mgmt.compute import ComputeManagementClient

ARM_SCOPE = "https://management.azure.com/.default"


class StaticToken(TokenCredential):
    """A bearer token handed over as is (it is never logged: ``repr`` hides it)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken(<hidden>)"

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        del scopes, kwargs  # one token for every scope
        return AccessToken(self._token, int(time.time()) + 3600)


class _BearerOverHttp(SansIOHTTPPolicy[Any, Any]):
    def __init__(self, credential: TokenCredential, scope: str) -> None:
        self._credential = credential
        self._scope = scope

    def on_request(self, request: PipelineRequest[Any]) -> None:
        token = self._credential.get_token(self._scope).token
        request.http_request.headers["Authorization"] = f"Bearer {token}"


def credential(creds: Mapping[str, str]) -> TokenCredential:
    if creds.get("AZURE_ACCESS_TOKEN"):
        return StaticToken(creds["AZURE_ACCESS_TOKEN"])
    if creds.get("AZURE_CLIENT_SECRET"):
        return ClientSecretCredential(
            tenant_id=creds.get("AZURE_TENANT_ID", ""),
            client_id=creds.get("AZURE_CLIENT_ID", ""),
            client_secret=creds["AZURE_CLIENT_SECRET"],
        )
    return DefaultAzureCredential()


def compute_client(
    cred: TokenCredential, *, subscription: str, endpoint: str | None, polling_interval: float
) -> ComputeManagementClient:
    kwargs: dict[str, Any] = {"polling_interval": polling_interval}
    if endpoint is not None:
        kwargs["base_url"] = endpoint
        if endpoint.startswith("http://"):
            kwargs["authentication_policy"] = _BearerOverHttp(cred, ARM_SCOPE)
    return ComputeManagementClient(cred, subscription, **kwargs)
