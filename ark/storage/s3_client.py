"""Turning a BackupStorageLocation for S3 into a boto3 client and per-request options.

Config keys (Velero's velero-plugin-for-aws names):
    region                     signing region (default: the AWS SDK's default, else us-east-1)
    s3Url                      endpoint URL for S3-compatible servers (MinIO, Ceph RGW, ...)
    publicUrl                  endpoint used only for download URLs (e.g. an ingress)
    s3ForcePathStyle           "true" for path-style addressing (most non-AWS servers)
    insecureSkipTLSVerify      "true" to skip TLS certificate checks (testing only)
    caCert                     PEM bundle to trust for the endpoint
    signatureVersion           "4" (default) or "1" (legacy servers)
    profile                    profile in the credentials file (default "default")
    credentialsFile            path of an ini credentials file (instead of the Secret)
    enableSharedConfig         accepted for compatibility (boto3 always reads shared config)
    serverSideEncryption       "AES256", "aws:kms" or "aws:kms:dsse"
    kmsKeyId                   KMS key id or ARN (implies aws:kms)
    customerKeyEncryptionFile  path of a file holding a 32-byte SSE-C key
    tagging                    object tags as "k1=v1&k2=v2"
    checksumAlgorithm          CRC32 (default), CRC32C, SHA1, SHA256, or "" for none
    partSizeBytes              multipart part size (ark; default 16 MiB, 5 MiB..5 GiB)
    retentionMode              "compliance" (default) or "governance" for lock() (ark)

Credential Secret keys (first match wins):
    cloud                      Velero's format: an AWS ini credentials file; ``profile`` picks
                               the section ([default] unless set)
    aws_access_key_id, aws_secret_access_key, aws_session_token (optional)
    (none)                     the AWS SDK's default chain: env, IRSA web identity, instance role
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import InvalidRegionError

from ark.storage import settings
from ark.storage.errors import StoreConfigError
from ark.storage.interface import StoreLocation

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

KNOWN_KEYS = frozenset(
    {
        "region",
        "s3Url",
        "publicUrl",
        "s3ForcePathStyle",
        "insecureSkipTLSVerify",
        "caCert",
        "signatureVersion",
        "profile",
        "credentialsFile",
        "enableSharedConfig",
        "serverSideEncryption",
        "kmsKeyId",
        "customerKeyEncryptionFile",
        "tagging",
        "checksumAlgorithm",
        "partSizeBytes",
        "retentionMode",
        "bucket",  # Velero passes the bucket in config too
    }
)
CHECKSUMS = ("CRC32", "CRC32C", "SHA1", "SHA256")
MIN_PART, MAX_PART = 5 * 1024 * 1024, 5 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class Options:
    """What every request needs beyond bucket and key."""

    part_size: int
    retention_mode: str
    checksum: str | None
    write_extra: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """ServerSideEncryption/SSEKMSKeyId/Tagging/SSE-C for PutObject and CreateMultipartUpload."""
    sse_c: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """SSE-C headers every read, head and part upload must repeat."""


@dataclass(frozen=True)
class Clients:
    client: S3Client
    signer: S3Client
    """The client download URLs are signed with (``publicUrl`` when set)."""
    options: Options


def build(location: StoreLocation) -> Clients:
    config = settings.Settings(location, known=KNOWN_KEYS)
    session = _session(location, config)
    region = config.text("region") or session.region_name or "us-east-1"
    signature = {"4": "s3v4", "1": "s3"}[config.choice("signatureVersion", ("4", "1"), default="4")]
    checksum_text = location.config.get("checksumAlgorithm")
    checksum = (
        None
        if checksum_text is not None and not checksum_text.strip()
        else config.choice("checksumAlgorithm", CHECKSUMS, default="CRC32")
    )
    botocore_config = Config(
        region_name=region,
        signature_version=signature,
        s3={
            "addressing_style": "path" if config.flag("s3ForcePathStyle", default=False) else "auto"
        },
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=32,
        connect_timeout=10,
        read_timeout=120,
        request_checksum_calculation="when_supported" if checksum else "when_required",
        response_checksum_validation="when_supported" if checksum else "when_required",
    )
    verify: bool | str | None = None
    if config.flag("insecureSkipTLSVerify", default=False):
        verify = False
    elif ca := config.text("caCert"):
        verify = _ca_bundle(ca)
    endpoint = config.text("s3Url")
    public = config.text("publicUrl")
    try:
        client: S3Client = session.client(
            "s3", endpoint_url=endpoint, config=botocore_config, verify=verify
        )
        signer: S3Client = (
            session.client("s3", endpoint_url=public, config=botocore_config, verify=verify)
            if public
            else client
        )
    except InvalidRegionError:
        raise StoreConfigError(
            "config.region", f"{region[:64]!r} is not an AWS region name (like us-east-1)"
        ) from None
    except ValueError as exc:  # botocore: an endpoint URL it cannot use
        key = "config.publicUrl" if public and public in str(exc) else "config.s3Url"
        raise StoreConfigError(key, str(exc)) from None
    options = Options(
        part_size=config.part_size(minimum=MIN_PART, maximum=MAX_PART),
        retention_mode=config.choice(
            "retentionMode", ("COMPLIANCE", "GOVERNANCE"), default="COMPLIANCE"
        ),
        checksum=checksum,
        **_encryption(config),
    )
    return Clients(client=client, signer=signer, options=options)


def _session(location: StoreLocation, config: settings.Settings) -> boto3.session.Session:
    profile = config.text("profile")
    creds = dict(location.credentials)
    if path := config.text("credentialsFile"):
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise StoreConfigError(
                "config.credentialsFile", f"cannot read it: {exc.strerror}"
            ) from None
        creds = {"cloud": text}
    if "cloud" in creds:
        section = settings.ini_section(creds["cloud"], section=profile or "default")
        keys = {k.lower(): v for k, v in section.items()}
        source = "cloud"
    else:
        keys = {k.lower(): v for k, v in creds.items()}
        source = None
    key_id, secret = keys.get("aws_access_key_id"), keys.get("aws_secret_access_key")
    if key_id or secret:
        for name, value in (("aws_access_key_id", key_id), ("aws_secret_access_key", secret)):
            if not value:
                where = f"credentials.{source}" if source else f"credentials.{name}"
                raise StoreConfigError(where, f"{name} is missing (the other key is set)")
        return _new_session(
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            aws_session_token=keys.get("aws_session_token") or None,
        )
    if creds and source is None:
        raise StoreConfigError(
            "credentials",
            f"no usable AWS credentials among Secret keys ({settings.redacted(creds)}); "
            "expected 'cloud' or 'aws_access_key_id' + 'aws_secret_access_key'",
        )
    try:
        return _new_session(profile_name=profile)
    except Exception as exc:  # botocore's ProfileNotFound
        raise StoreConfigError("config.profile", str(exc)) from None


_loader: botocore.loaders.Loader | None = None


def _new_session(**options: Any) -> boto3.session.Session:
    """A boto3 session whose clients read botocore's data files through the process's one loader.

    A session of its own parses S3's model and endpoint rules again: about 12 MB for each
    store opened, and a location checked and synced every few seconds opens one each time (the
    churn left an idle operator 30 MiB larger). The loader only caches what it read from those
    files, so sharing it changes no client. The first session's loader is kept (boto3 has added
    its own data directory to it)."""
    global _loader  # noqa: PLW0603 - one loader per process, like botocore's default session
    core = botocore.session.Session()
    session = boto3.session.Session(botocore_session=core, **options)
    if _loader is None:
        _loader = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _loader)
    return session


def _encryption(config: settings.Settings) -> dict[str, Any]:
    write: dict[str, Any] = {}
    sse_c: dict[str, Any] = {}
    kms = config.text("kmsKeyId")
    mode = config.text("serverSideEncryption")
    if kms:
        if mode not in (None, "aws:kms", "aws:kms:dsse"):
            raise StoreConfigError("config.serverSideEncryption", f"{mode!r} cannot use kmsKeyId")
        write.update(ServerSideEncryption=mode or "aws:kms", SSEKMSKeyId=kms)
    elif mode:
        write["ServerSideEncryption"] = config.choice(
            "serverSideEncryption", ("AES256", "aws:kms", "aws:kms:dsse"), default="AES256"
        )
    if path := config.text("customerKeyEncryptionFile"):
        if write:
            raise StoreConfigError(
                "config.customerKeyEncryptionFile", "cannot be combined with kmsKeyId"
            )
        try:
            key = Path(path).read_bytes()
        except OSError as exc:
            raise StoreConfigError(
                "config.customerKeyEncryptionFile", f"cannot read it: {exc.strerror}"
            ) from None
        if len(key) != 32:
            raise StoreConfigError(
                "config.customerKeyEncryptionFile", f"holds {len(key)} bytes; SSE-C needs 32"
            )
        # botocore base64-encodes the raw key and adds its MD5 itself.
        sse_c = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    if tagging := config.text("tagging"):
        write["Tagging"] = tagging
    return {"write_extra": {**write, **sse_c}, "sse_c": sse_c}


def _ca_bundle(pem: str) -> str:
    """botocore wants a path: keep the PEM in a file named by its content hash."""
    digest = hashlib.sha256(pem.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"ark-s3-ca-{digest}.pem"
    if not path.exists():
        tmp = path.with_suffix(f".{id(pem)}.tmp")
        tmp.write_text(pem)
        tmp.replace(path)
    return str(path)
