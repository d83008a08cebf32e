"""Turning a BackupStorageLocation for Google Cloud Storage into a client.

Config keys (Velero's velero-plugin-for-gcp names, plus ark's):
    project          project for the client (default: from the credentials)           (ark)
    credentialsFile  path of a service-account (or external-account) JSON key file
    storeEndpoint    API endpoint, e.g. a Private Service Connect name or an emulator URL
    universeDomain   universe domain for non-default Google Cloud universes
    kmsKeyName       Cloud KMS key that encrypts new objects
    serviceAccount   service account email that signs download URLs through IAM signBlob
                     (when the credentials carry no private key, e.g. workload identity)
    anonymous        "true": no credentials at all (emulators such as fake-gcs-server) (ark)
    partSizeBytes    resumable-upload chunk (default 8 MiB; a multiple of 256 KiB)    (ark)
    retentionMode    "locked" (default) or "unlocked" object retention for lock()     (ark)

Credential Secret keys:
    cloud            Velero's format: the JSON key of a service account (or an external
                     account / workload identity federation config)
    (none)           Application Default Credentials (GKE workload identity, metadata server)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.auth
import google.cloud.storage as gcs
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import DefaultCredentialsError

from ark.storage import settings
from ark.storage.errors import StoreConfigError
from ark.storage.interface import StoreLocation

KNOWN_KEYS = frozenset(
    {
        "project",
        "credentialsFile",
        "storeEndpoint",
        "universeDomain",
        "kmsKeyName",
        "serviceAccount",
        "anonymous",
        "partSizeBytes",
        "retentionMode",
        "bucket",
    }
)
SCOPES = ["https://www.googleapis.com/auth/devstorage.read_write"]
CHUNK_UNIT = 256 * 1024
DEFAULT_PART = 8 * 1024 * 1024
"""The SDK's resumable writer holds about two chunks while sending one."""


@dataclass(frozen=True)
class Clients:
    client: gcs.Client
    bucket: gcs.Bucket
    endpoint: str | None
    part_size: int
    kms_key_name: str | None
    retention_mode: str
    signing_account: str | None
    """Service account that signs URLs through IAM, when the credentials have no key."""
    can_sign: bool


def build(location: StoreLocation) -> Clients:
    config = settings.Settings(location, known=KNOWN_KEYS)
    part = config.integer(
        "partSizeBytes", default=DEFAULT_PART, minimum=CHUNK_UNIT, maximum=1024 * 1024 * 1024
    )
    if part % CHUNK_UNIT:
        raise StoreConfigError("config.partSizeBytes", f"{part} is not a multiple of 256 KiB")
    credentials, project = _credentials(location, config)
    options: dict[str, Any] = {}
    endpoint = config.text("storeEndpoint")
    if endpoint:
        if not endpoint.startswith(("https://", "http://")):
            raise StoreConfigError("config.storeEndpoint", f"{endpoint!r} is not an http(s) URL")
        options["api_endpoint"] = endpoint.rstrip("/")
    if universe := config.text("universeDomain"):
        options["universe_domain"] = universe
    client = gcs.Client(
        project=config.text("project") or project or "<none>",
        credentials=credentials,
        client_options=options or None,
    )
    signer = config.text("serviceAccount")
    try:
        bucket = client.bucket(location.bucket)
    except ValueError as exc:  # the SDK checks the name's form
        raise StoreConfigError("objectStorage.bucket", f"{location.bucket!r}: {exc}") from None
    return Clients(
        client=client,
        bucket=bucket,
        endpoint=options.get("api_endpoint"),
        part_size=part,
        kms_key_name=config.text("kmsKeyName"),
        retention_mode=config.choice("retentionMode", ("Locked", "Unlocked"), default="Locked"),
        signing_account=signer,
        can_sign=signer is not None or hasattr(credentials, "sign_bytes"),
    )


def _credentials(
    location: StoreLocation, config: settings.Settings
) -> tuple[Credentials, str | None]:
    if config.flag("anonymous", default=False):
        return AnonymousCredentials(), None  # type: ignore[no-untyped-call]
    where = "credentials.cloud"
    text = location.credentials.get("cloud")
    if path := config.text("credentialsFile"):
        where = "config.credentialsFile"
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise StoreConfigError(where, f"cannot read it: {exc.strerror}") from None
    if text is None:
        if location.credentials:
            raise StoreConfigError(
                "credentials",
                f"no 'cloud' key among Secret keys ({settings.redacted(location.credentials)})",
            )
        try:
            creds, project = google.auth.default(scopes=SCOPES)
        except DefaultCredentialsError:
            raise StoreConfigError(
                "credentials",
                "no Google credentials: set the Secret's 'cloud' key to a service-account JSON "
                "key, config.credentialsFile, or run with workload identity",
            ) from None
        return creds, project
    try:
        info = json.loads(text)
    except ValueError:
        raise StoreConfigError(where, "is not JSON (expected a service-account key)") from None
    if not isinstance(info, dict) or "type" not in info:
        raise StoreConfigError(where, "is not a Google credentials JSON (no 'type' field)")
    try:
        creds, project = google.auth.load_credentials_from_dict(  # type: ignore[no-untyped-call]
            info, scopes=SCOPES
        )
    except (DefaultCredentialsError, ValueError) as exc:
        # The library's message names fields, never their values.
        raise StoreConfigError(where, f"unusable {info.get('type')!r} credentials: {exc}") from None
    return creds, project or info.get("project_id")
