"""Turning a BackupStorageLocation for Azure Blob into a container client.

Config keys (Velero's velero-plugin-for-microsoft-azure names where they exist):
    storageAccount             the storage account name (required unless a connection string or
                               storageAccountURI names it)
    storageAccountURI          blob endpoint, e.g. https://acct.blob.core.windows.net or an
                               Azurite URL http://127.0.0.1:10000/devstoreaccount1
    storageAccountKeyEnvVar    which variable of the ``cloud`` credentials holds the account key
                               (default AZURE_STORAGE_ACCOUNT_ACCESS_KEY)
    resourceGroup, subscriptionId
                               accepted for compatibility; ark does not list keys through ARM,
                               give it the key, a SAS or an identity with data-plane access
    useAAD                     "true": ignore any account key and use Azure AD credentials
    activeDirectoryAuthorityURI  authority host for Azure AD sign-in (sovereign clouds)
    credentialsFile            path of a file in the ``cloud`` format (instead of the Secret)
    blockSizeInBytes           block size for large uploads (default 16 MiB, 1 MiB..100 MiB)
    retentionMode              "locked" (default) or "unlocked" immutability policy for lock()

Credential Secret keys: ``cloud`` (Velero's format: NAME=value lines) and/or these names as
separate keys; the first that applies wins:
    AZURE_STORAGE_CONNECTION_STRING
    AZURE_STORAGE_ACCOUNT_ACCESS_KEY (or the name in storageAccountKeyEnvVar)
    AZURE_STORAGE_SAS_TOKEN
    AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET   (a service principal)
    (none)                     DefaultAzureCredential: workload identity, managed identity, env
AZURE_CLOUD_NAME (AzurePublicCloud, AzureChinaCloud, AzureUSGovernmentCloud) picks the
endpoint suffix when storageAccountURI is not set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential, TokenCredential
from azure.storage.blob import BlobServiceClient, ContainerClient

from ark.storage import settings
from ark.storage.errors import StoreConfigError
from ark.storage.interface import StoreLocation

KNOWN_KEYS = frozenset(
    {
        "storageAccount",
        "storageAccountURI",
        "storageAccountKeyEnvVar",
        "resourceGroup",
        "subscriptionId",
        "useAAD",
        "activeDirectoryAuthorityURI",
        "credentialsFile",
        "blockSizeInBytes",
        "retentionMode",
        "bucket",
    }
)
SUFFIXES = {
    "AzurePublicCloud": "core.windows.net",
    "AzureChinaCloud": "core.chinacloudapi.cn",
    "AzureUSGovernmentCloud": "core.usgovcloudapi.net",
}
MIN_BLOCK, MAX_BLOCK = 1024 * 1024, 100 * 1024 * 1024
GET_CHUNK = 1024 * 1024
"""Download range size: the SDK holds several times a range in memory while decoding it, and
a small range costs no speed (docs/performance.md)."""


@dataclass(frozen=True)
class Clients:
    service: BlobServiceClient
    container: ContainerClient
    account: str
    block_size: int
    retention_mode: str
    account_key: str | None = field(default=None, repr=False)
    """Signs download URLs; without it URLs use a user delegation key (Azure AD) or are None."""
    uses_aad: bool = False


def build(location: StoreLocation) -> Clients:
    config = settings.Settings(location, known=KNOWN_KEYS)
    creds = _credentials(location, config)
    block_size = config.integer(
        "blockSizeInBytes", default=16 * 1024 * 1024, minimum=MIN_BLOCK, maximum=MAX_BLOCK
    )
    tuning: dict[str, Any] = {
        "max_single_put_size": block_size,
        "max_block_size": block_size,
        "max_single_get_size": GET_CHUNK,
        "max_chunk_get_size": GET_CHUNK,
        "connection_timeout": 20,
        "read_timeout": 120,
    }
    retention = config.choice("retentionMode", ("Locked", "Unlocked"), default="Locked")

    if conn := creds.get("AZURE_STORAGE_CONNECTION_STRING"):
        try:
            service = BlobServiceClient.from_connection_string(conn, **tuning)
        except ValueError:
            raise StoreConfigError(
                "credentials.AZURE_STORAGE_CONNECTION_STRING", "is not a valid connection string"
            ) from None
        key = getattr(service.credential, "account_key", None)
        return Clients(
            service=service,
            container=service.get_container_client(location.bucket),
            account=str(service.account_name),
            block_size=block_size,
            retention_mode=retention,
            account_key=key,
        )

    url, account = _account_url(config, creds)
    key_var = config.text("storageAccountKeyEnvVar") or "AZURE_STORAGE_ACCOUNT_ACCESS_KEY"
    use_aad = config.flag("useAAD", default=False)
    key = None if use_aad else creds.get(key_var)
    credential: AzureNamedKeyCredential | AzureSasCredential | TokenCredential
    if key:
        credential = AzureNamedKeyCredential(account, key)
    elif (sas := creds.get("AZURE_STORAGE_SAS_TOKEN")) and not use_aad:
        credential = AzureSasCredential(sas.lstrip("?"))
    else:
        if url.startswith("http://"):  # the SDK refuses a token over plain http, at each call
            raise StoreConfigError(
                "config.storageAccountURI",
                f"{url} is plain http: Azure AD credentials need https (or give the account "
                "key or a SAS token)",
            )
        credential = _identity(config, creds)
    service = BlobServiceClient(account_url=url, credential=credential, **tuning)
    return Clients(
        service=service,
        container=service.get_container_client(location.bucket),
        account=account,
        block_size=block_size,
        retention_mode=retention,
        account_key=key,
        uses_aad=isinstance(credential, TokenCredential),
    )


def _credentials(location: StoreLocation, config: settings.Settings) -> dict[str, str]:
    creds = dict(location.credentials)
    if path := config.text("credentialsFile"):
        try:
            creds = {"cloud": Path(path).read_text()}
        except OSError as exc:
            raise StoreConfigError(
                "config.credentialsFile", f"cannot read it: {exc.strerror}"
            ) from None
    cloud = settings.env_file(creds.pop("cloud")) if "cloud" in creds else {}
    return {**cloud, **{k: v for k, v in creds.items() if v}}


def _account_url(config: settings.Settings, creds: dict[str, str]) -> tuple[str, str]:
    account = config.text("storageAccount")
    if uri := config.text("storageAccountURI"):
        uri = uri.rstrip("/")
        if not uri.startswith(("https://", "http://")):
            raise StoreConfigError("config.storageAccountURI", f"{uri!r} is not an http(s) URL")
        if account is None:  # https://ACCOUNT.blob... or http://host:port/ACCOUNT (Azurite)
            host_or_path = uri.split("://", 1)[1]
            account = (
                host_or_path.split("/")[1] if "/" in host_or_path else host_or_path.split(".")[0]
            )
        return uri, account
    if account is None:
        raise StoreConfigError(
            "config.storageAccount", "is required (or storageAccountURI, or a connection string)"
        )
    cloud = creds.get("AZURE_CLOUD_NAME", "AzurePublicCloud")
    if cloud not in SUFFIXES:
        raise StoreConfigError(
            "credentials.AZURE_CLOUD_NAME", f"{cloud!r} is not one of {', '.join(SUFFIXES)}"
        )
    return f"https://{account}.blob.{SUFFIXES[cloud]}", account


def _identity(config: settings.Settings, creds: dict[str, str]) -> TokenCredential:
    from azure.identity import ClientSecretCredential, DefaultAzureCredential  # noqa: PLC0415

    authority = config.text("activeDirectoryAuthorityURI")
    extra: dict[str, Any] = {"authority": authority} if authority else {}
    tenant, client = creds.get("AZURE_TENANT_ID"), creds.get("AZURE_CLIENT_ID")
    secret = creds.get("AZURE_CLIENT_SECRET")
    if secret:
        for name, value in (("AZURE_TENANT_ID", tenant), ("AZURE_CLIENT_ID", client)):
            if not value:
                raise StoreConfigError(
                    f"credentials.{name}", "is required with AZURE_CLIENT_SECRET"
                )
        assert tenant is not None and client is not None
        return ClientSecretCredential(tenant, client, secret, **extra)
    return DefaultAzureCredential(
        managed_identity_client_id=client, workload_identity_client_id=client, **extra
    )
