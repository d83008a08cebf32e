"""EBS snapshots through the EC2 API (boto3).

Config keys (a VolumeSnapshotLocation's ``spec.config``): ``region``, ``profile`` (of a ``cloud``
credentials file), ``ec2Url`` (endpoint override for every region, e.g. a local moto server).
Credential keys: ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``, or
``cloud`` (Velero's shared-credentials file); none means the SDK's default chain (IRSA, instance
profile).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import boto3
import botocore.config
import botocore.exceptions
import botocore.utils

from ark.snapshot import config as settings
from ark.snapshot import errors, pvs
from ark.snapshot.interface import (
    PersistentVolume,
    SnapshotPhase,
    SnapshotStatus,
    VolumeRef,
    VolumeSnapshotter,
    check_owner,
    check_volume_owner,
    has_tags,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import TagSpecificationTypeDef

PROVIDER = "aws"
CSI_DRIVER = "ebs.csi.aws.com"
CSI_ZONE_KEY = "topology.ebs.csi.aws.com/zone"
IN_TREE = "awsElasticBlockStore"
# ebsUrl: the EBS direct APIs' endpoint, for a volume export (ark.snapshot.ebs_blocks)
CONFIG_KEYS = frozenset({"region", "profile", "ec2Url", "ebsUrl"})
IOPS_TYPES = frozenset({"io1", "io2", "gp3"})

_VOLUME_ID = re.compile(r"^vol-[0-9a-f]+$")
_REGION_OF_ZONE = re.compile(r"^([a-z]{2}(?:-[a-z]+)+-\d+)")
_GONE_VOLUMES = frozenset({"deleting", "deleted", "error"})
_NOT_FOUND = {"InvalidVolume.NotFound", "InvalidSnapshot.NotFound"}
_DENIED = {
    "AuthFailure",
    "UnauthorizedOperation",
    "AccessDenied",
    "AccessDeniedException",  # the EBS direct APIs
    "InvalidClientTokenId",
}


def region_of_zone(zone: str) -> str:
    match = _REGION_OF_ZONE.match(zone)
    if not match:
        raise errors.SnapshotConfigError("zone", f"{zone!r} is not an AWS availability zone")
    return match.group(1)


def parse_volume_id(pv: PersistentVolume, raw: str) -> str:
    """``aws://us-east-1a/vol-…``, ``aws:///vol-…`` or a bare ``vol-…``."""
    volume_id = raw.rsplit("/", 1)[-1] if raw.startswith("aws://") else raw
    if not _VOLUME_ID.match(volume_id):
        raise errors.InvalidVolume(pvs.name_of(pv), f"{raw!r} is not an EBS volume id")
    return volume_id


def _tag_filters(tags: Mapping[str, str]) -> list[Any]:
    """EC2 ``tag:KEY`` filters, written as ``_tag_spec`` writes the tags."""
    return [{"Name": f"tag:{k[:128]}", "Values": [v[:256]]} for k, v in tags.items()]


def _tags_of(resource: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags") or []}


def _tag_spec(resource: str, tags: Mapping[str, str]) -> list[TagSpecificationTypeDef]:
    if not tags:
        return []
    pairs = [{"Key": k[:128], "Value": v[:256]} for k, v in tags.items()]
    return [{"ResourceType": resource, "Tags": pairs}]  # type: ignore[typeddict-item]


@contextmanager
def calling(action: str, subject: str, *, region: str) -> Iterator[None]:
    """AWS's errors as ark's: not found, access denied, or the operation failed, naming
    ``subject`` and the code AWS gave (EC2 and the EBS direct APIs answer alike)."""
    where = f"AWS region {region}"
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message") or code)
        if code == "InvalidVolume.NotFound":
            raise errors.VolumeNotFound(subject.removeprefix("volume "), where) from exc
        if code == "InvalidSnapshot.NotFound":
            raise errors.SnapshotNotFound(subject.removeprefix("snapshot "), where) from exc
        kind = errors.AccessDenied if code in _DENIED else errors.OperationFailed
        raise kind(action, subject, f"{code}: {message}", code=code) from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise errors.OperationFailed(action, subject, f"{where}: {exc}") from exc


class EbsSnapshotter(VolumeSnapshotter):
    def __init__(self, *, region: str, session: boto3.Session, endpoint: str | None) -> None:
        self._region = region
        self._session = session
        self._endpoint = endpoint
        self._clients: dict[str, EC2Client] = {}
        self._lock = threading.Lock()

    @property
    def provider(self) -> str:
        return PROVIDER

    @property
    def region(self) -> str:
        return self._region

    def _ec2(self, region: str | None = None) -> EC2Client:
        region = region or self._region
        with self._lock:  # a boto3 Session is not thread-safe
            return self._client(region)

    def _client(self, region: str) -> EC2Client:
        if region not in self._clients:
            self._clients[region] = self._session.client(
                "ec2",
                region_name=region,
                endpoint_url=self._endpoint,
                config=botocore.config.Config(
                    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10
                ),
            )
        return self._clients[region]

    def _calling(
        self, action: str, subject: str, *, region: str | None = None
    ) -> AbstractContextManager[None]:
        return calling(action, subject, region=region or self._region)

    def volume_state(self, volume_id: str) -> str:
        """The volume's EC2 state (``creating``, ``available``, ...)."""
        with self._calling("describe volume", f"volume {volume_id}"):
            found = self._ec2().describe_volumes(VolumeIds=[volume_id])["Volumes"]
        if not found:
            raise errors.VolumeNotFound(volume_id, f"AWS region {self._region}")
        return str(found[0].get("State", ""))

    def volume_of(self, pv: PersistentVolume) -> VolumeRef | None:
        source = pvs.in_tree_source(pv, IN_TREE)
        if source is not None:
            raw = pvs.required_field(pv, source, "volumeID", IN_TREE)
        else:
            handle = pvs.csi_handle(pv, CSI_DRIVER)
            if handle is None:
                return None
            raw = handle
        volume_id = parse_volume_id(pv, raw)
        try:
            with self._calling("describe volume", volume_id):
                found = self._ec2().describe_volumes(VolumeIds=[volume_id])["Volumes"]
        except errors.VolumeNotFound:
            raise errors.VolumeNotFound(
                volume_id, f"AWS region {self._region}", pv=pvs.name_of(pv)
            ) from None
        if not found:
            raise errors.VolumeNotFound(volume_id, f"AWS region {self._region}", pv=pvs.name_of(pv))
        volume = found[0]
        return VolumeRef(
            volume_id=volume_id,
            region=self._region,
            zone=volume.get("AvailabilityZone"),
            pv_name=pvs.name_of(pv),
            volume_type=volume.get("VolumeType"),
            iops=volume.get("Iops"),
            size_gib=volume.get("Size"),
            encrypted=bool(volume.get("Encrypted")),
            kms_key_id=volume.get("KmsKeyId"),
        )

    def create_snapshot(self, volume: VolumeRef, *, tags: Mapping[str, str]) -> str:
        subject = f"volume {volume.volume_id}" + (
            f" (PV {volume.pv_name})" if volume.pv_name else ""
        )
        if volume.region != self._region:
            raise errors.OperationFailed(
                "snapshot", subject, f"it is in {volume.region}, this snapshotter in {self._region}"
            )
        with self._calling("snapshot", subject):
            made = self._ec2().create_snapshot(
                VolumeId=volume.volume_id,
                Description=f"ark snapshot of {volume.pv_name or volume.volume_id}",
                TagSpecifications=_tag_spec("snapshot", tags),
            )
        return made["SnapshotId"]

    def _describe_snapshot(self, snapshot_id: str, *, region: str | None = None) -> Any:
        with self._calling("describe snapshot", snapshot_id, region=region):
            found = self._ec2(region).describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
        if not found:
            raise errors.SnapshotNotFound(snapshot_id, f"AWS region {region or self._region}")
        return found[0]

    def snapshot_status(self, snapshot_id: str) -> SnapshotStatus:
        snap = self._describe_snapshot(snapshot_id)
        state = snap.get("State", "pending")
        progress_text = str(snap.get("Progress") or "").rstrip("%")
        progress = int(progress_text) if progress_text.isdigit() else None
        message = str(snap.get("StateMessage") or "")
        if state == "completed":
            return SnapshotStatus(SnapshotPhase.COMPLETED, progress=100, message=message)
        if state == "error":
            return SnapshotStatus(SnapshotPhase.FAILED, progress=progress, message=message or state)
        return SnapshotStatus(SnapshotPhase.PENDING, progress=progress, message=message)

    def create_volume_from_snapshot(
        self,
        snapshot_id: str,
        *,
        zone: str | None,
        volume_type: str | None = None,
        iops: int | None = None,
        tags: Mapping[str, str],
    ) -> str:
        subject = f"snapshot {snapshot_id}"
        if not zone:
            raise errors.OperationFailed("create a volume", subject, "an EBS volume needs a zone")
        if region_of_zone(zone) != self._region:
            raise errors.OperationFailed(
                "create a volume", subject, f"zone {zone} is not in region {self._region}"
            )
        snap = self._describe_snapshot(snapshot_id)
        args: dict[str, Any] = {
            "SnapshotId": snapshot_id,
            "AvailabilityZone": zone,
            "TagSpecifications": _tag_spec("volume", tags),
        }
        if volume_type:
            args["VolumeType"] = volume_type
            if iops and volume_type in IOPS_TYPES:
                args["Iops"] = iops
        if snap.get("Encrypted"):
            args["Encrypted"] = True
            if snap.get("KmsKeyId"):
                args["KmsKeyId"] = snap["KmsKeyId"]
        with self._calling("create a volume", subject):
            made = self._ec2().create_volume(**args)
        return made["VolumeId"]

    def copy_snapshot(self, snapshot_id: str, *, to_region: str, tags: Mapping[str, str]) -> str:
        with self._calling(f"copy to {to_region}", f"snapshot {snapshot_id}", region=to_region):
            made = self._ec2(to_region).copy_snapshot(
                SourceRegion=self._region,
                SourceSnapshotId=snapshot_id,
                Description=f"ark copy of {snapshot_id} from {self._region}",
                TagSpecifications=_tag_spec("snapshot", tags),
            )
        return made["SnapshotId"]

    def delete_snapshot(
        self, snapshot_id: str, *, owner_tags: Mapping[str, str] | None = None
    ) -> None:
        try:
            if owner_tags is not None:
                found = _tags_of(self._describe_snapshot(snapshot_id))
                check_owner(snapshot_id, found, owner_tags)
            with self._calling("delete", f"snapshot {snapshot_id}"):
                self._ec2().delete_snapshot(SnapshotId=snapshot_id)
        except errors.SnapshotNotFound:
            return

    def delete_volume(self, volume_id: str, *, owner_tags: Mapping[str, str]) -> None:
        """EC2 DeleteVolume once DescribeVolumes shows every owner tag; EC2 refuses an attached
        volume (``VolumeInUse``), raised as OperationFailed."""
        subject = f"volume {volume_id}"
        try:
            with self._calling("read", subject):
                found = self._ec2().describe_volumes(VolumeIds=[volume_id])["Volumes"]
            if not found or found[0].get("State") in ("deleting", "deleted"):
                return
            wanted = {k[:128]: v[:256] for k, v in owner_tags.items()}
            check_volume_owner(volume_id, _tags_of(found[0]), wanted)
            with self._calling("delete", subject):
                self._ec2().delete_volume(VolumeId=volume_id)
        except errors.VolumeNotFound:
            return

    def volumes_tagged(self, tags: Mapping[str, str]) -> list[VolumeRef]:
        wanted = {k[:128]: v[:256] for k, v in tags.items()}
        found: list[VolumeRef] = []
        with self._calling("list volumes", f"tagged {wanted}"):
            pages = self._ec2().get_paginator("describe_volumes")
            for page in pages.paginate(Filters=_tag_filters(tags)):
                for volume in page["Volumes"]:
                    if volume.get("State") in _GONE_VOLUMES or not has_tags(
                        _tags_of(volume), wanted
                    ):
                        continue
                    found.append(
                        VolumeRef(
                            volume_id=volume["VolumeId"],
                            region=self._region,
                            zone=volume.get("AvailabilityZone"),
                        )
                    )
        return sorted(found, key=lambda v: v.volume_id)

    def snapshots_tagged(self, tags: Mapping[str, str]) -> list[str]:
        wanted = {k[:128]: v[:256] for k, v in tags.items()}
        found: list[str] = []
        with self._calling("list snapshots", f"tagged {wanted}"):
            pages = self._ec2().get_paginator("describe_snapshots")
            for page in pages.paginate(OwnerIds=["self"], Filters=_tag_filters(tags)):
                for snap in page["Snapshots"]:
                    if snap.get("State") != "error" and has_tags(_tags_of(snap), wanted):
                        found.append(snap["SnapshotId"])
        return sorted(found)

    def set_volume_id(
        self, pv: PersistentVolume, *, volume_id: str, zone: str | None
    ) -> dict[str, Any]:
        source = pvs.in_tree_source(pv, IN_TREE) or {}
        uri_form = str(source.get("volumeID", "")).startswith("aws://")
        in_tree_id = f"aws://{zone or ''}/{volume_id}" if uri_form else volume_id
        return pvs.rewritten(
            pv,
            in_tree_kind=IN_TREE,
            in_tree_fields={"volumeID": in_tree_id},
            csi_driver=CSI_DRIVER,
            csi_handle_value=volume_id,
            csi_zone_key=CSI_ZONE_KEY,
            zone=zone,
            region=region_of_zone(zone) if zone else self._region,
        )


def session_of(
    region: str, config: Mapping[str, str], credentials: Mapping[str, str]
) -> boto3.Session:
    creds: Mapping[str, str] = credentials
    if "cloud" in credentials:
        creds = settings.ini_profile(
            credentials["cloud"],
            profile=config.get("profile", "default"),
            setting="credentials.cloud",
        )
    key_id = creds.get("aws_access_key_id")
    secret = creds.get("aws_secret_access_key")
    if bool(key_id) != bool(secret):
        missing = "aws_secret_access_key" if key_id else "aws_access_key_id"
        raise errors.SnapshotConfigError(f"credentials.{missing}", "missing (both keys are needed)")
    if key_id:
        return boto3.Session(
            region_name=region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            aws_session_token=creds.get("aws_session_token") or None,
        )
    try:
        return boto3.Session(region_name=region, profile_name=config.get("profile") or None)
    except botocore.exceptions.ProfileNotFound as exc:
        raise errors.SnapshotConfigError("profile", str(exc)) from None


def check_region(region: str) -> None:
    """SnapshotConfigError naming ``region`` when the AWS SDK would refuse it."""
    try:
        botocore.utils.validate_region_name(region)
    except botocore.exceptions.InvalidRegionError:
        raise errors.SnapshotConfigError(
            "region", f"{region[:64]!r} is not an AWS region name (like us-east-1)"
        ) from None


def open_snapshotter(
    *, region: str, config: Mapping[str, str], credentials: Mapping[str, str]
) -> EbsSnapshotter:
    settings.check_keys(config, CONFIG_KEYS, provider=PROVIDER)
    chosen = config.get("region") or region
    if not chosen:
        raise errors.SnapshotConfigError("region", "required for EBS snapshots")
    check_region(chosen)
    return EbsSnapshotter(
        region=chosen,
        session=session_of(chosen, config, credentials),
        endpoint=settings.endpoint(config, "ec2Url"),
    )
