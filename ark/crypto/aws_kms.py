"""The ``aws-kms`` key provider: a key-encryption key that stays in AWS KMS.

Each backup's data key is wrapped by KMS ``Encrypt`` and unwrapped by ``Decrypt`` (once per
backup read), with the encryption context ``{"ark.dev/key-id": <id>}``, so a wrapped key only
opens under the id it was made for (and CloudTrail shows which). ``config``:

    keyId     the KMS key: its ARN, id, alias ARN or ``alias/name`` (required)
    region    the key's region (default: the ARN's)
    kmsUrl    endpoint override (e.g. a local moto server)
    profile   profile in the credentials file (default "default")

``secret``: an AWS ini credentials file (Velero's ``cloud`` format); none means the SDK's
default chain (IRSA, instance profile). ark needs ``kms:Encrypt`` and ``kms:Decrypt`` on the key.
"""

from __future__ import annotations

import configparser
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from ark.crypto.keys import KeyEncryptionKey, KeySource, KeyUnavailable, UnwrapFailed

PROVIDER = "aws-kms"
CONFIG_KEYS = frozenset({"keyId", "region", "kmsUrl", "profile"})
CONTEXT_KEY = "ark.dev/key-id"


class AwsKmsKey:
    def __init__(self, key_id: str, *, kms_key: str, client: Any) -> None:
        self._id = key_id
        self._kms_key = kms_key
        self._client = client

    @property
    def id(self) -> str:
        return self._id

    def _fail(self, action: str, exc: Exception) -> KeyUnavailable:
        if isinstance(exc, botocore.exceptions.ClientError):
            error = exc.response.get("Error", {})
            cause = f"{error.get('Code')}: {error.get('Message')}"
        else:
            cause = str(exc)
        return KeyUnavailable(f"key {self._id!r}: AWS KMS {action} with {self._kms_key}: {cause}")

    def wrap(self, data_key: bytes) -> bytes:
        try:
            response = self._client.encrypt(
                KeyId=self._kms_key, Plaintext=data_key, EncryptionContext={CONTEXT_KEY: self._id}
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise self._fail("Encrypt", exc) from None
        blob: bytes = response["CiphertextBlob"]
        return blob

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            response = self._client.decrypt(
                CiphertextBlob=wrapped,
                KeyId=self._kms_key,
                EncryptionContext={CONTEXT_KEY: self._id},
            )
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("InvalidCiphertextException", "IncorrectKeyException"):
                raise UnwrapFailed(
                    f"the data key does not open with key {self._id!r} ({self._kms_key}: {code})"
                ) from None
            raise self._fail("Decrypt", exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail("Decrypt", exc) from None
        plain: bytes = response["Plaintext"]
        return plain


def _credentials(secret: bytes | None, profile: str) -> dict[str, str]:
    if secret is None:
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(secret.decode("utf-8"))
    except (configparser.Error, UnicodeDecodeError):
        raise ValueError("secret: not an AWS ini-format credentials file") from None
    if not parser.has_section(profile):
        known = ", ".join(parser.sections()) or "none"
        raise ValueError(f"secret: no profile [{profile}] (profiles: {known})")
    values = dict(parser.items(profile))
    if not values.get("aws_access_key_id") or not values.get("aws_secret_access_key"):
        raise ValueError("secret: needs aws_access_key_id and aws_secret_access_key")
    return values


def open_key(source: KeySource) -> KeyEncryptionKey:
    """The ``aws-kms`` provider (ValueError for a config it cannot use)."""
    config = dict(source.config)
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise ValueError(f"aws-kms: unknown config keys {unknown} (known: {sorted(CONFIG_KEYS)})")
    kms_key = config.get("keyId")
    if not kms_key:
        raise ValueError("aws-kms: config.keyId is required (the KMS key's ARN, id or alias)")
    region = config.get("region") or (
        kms_key.split(":")[3] if kms_key.startswith("arn:") and kms_key.count(":") >= 5 else ""
    )
    if not region:
        raise ValueError("aws-kms: config.region is required unless keyId is an ARN")
    creds = _credentials(source.secret, config.get("profile") or "default")
    session = boto3.Session(
        region_name=region,
        aws_access_key_id=creds.get("aws_access_key_id"),
        aws_secret_access_key=creds.get("aws_secret_access_key"),
        aws_session_token=creds.get("aws_session_token"),
    )
    client = session.client(
        "kms",
        endpoint_url=config.get("kmsUrl") or None,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}),
    )
    return AwsKmsKey(source.id, kms_key=kms_key, client=client)
