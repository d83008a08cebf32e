"""A local Azure Resource Manager for Microsoft.Compute managed disks and snapshots.

Speaks ARM's REST protocol as azure-mgmt-compute uses it (Disks/Snapshots – Create Or Update,
Get, Delete, List By Resource Group in the Compute REST reference):

- ``PUT|GET|DELETE /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/
  {disks|snapshots}/{name}?api-version=…`` and ``GET …/{disks|snapshots}`` (list);
  ``GET /subscriptions/{s}/providers/Microsoft.Compute/{disks|snapshots}`` (List, every group);
  ``PUT|GET /subscriptions/{s}/resourcegroups/{rg}`` to create resource groups by hand.
- PUT and DELETE are long-running (see ``hack.fakes.arm``): ``provisioningState`` is
  ``Creating``/``Deleting`` until the operation succeeds. Deleting a missing resource is 204.
- Incremental and CopyStart snapshots copy in the background: ``completionPercent`` advances by
  ``copy_step`` on each GET; a disk cannot be created from a snapshot still copying.
- Validated as the service does: ``location`` and ``creationData.createOption`` required, SKU
  names, zones ``1``–``3``, a Copy stays in its source's region, CopyStart only for incremental
  snapshots to another region, ``diskIOPSReadWrite`` only on Ultra/PremiumV2 disks.
- With a data plane (``data``: page blobs in Azurite, ``hack.fakes.disk_data``), disks and
  snapshots have bytes: ``createOption: Upload`` (``uploadSizeBytes``: a whole number of MiB
  plus the 512-byte VHD footer) makes a disk in ``ReadyToUpload``; ``POST …/beginGetAccess``
  (long-running, ``{"access": "Read"|"Write", "durationInSeconds"}``) answers ``accessSAS``, a
  SAS URL to the resource's page blob (Write only for ``ReadyToUpload`` disks, which become
  ``ActiveUpload``; Read makes ``ActiveSAS``) and ``POST …/endGetAccess`` ends it
  (``Unattached``). A Copy copies the source's bytes; a resource with an active SAS can be
  neither copied nor deleted, as in Azure.

    python -m hack.fakes.azure_compute --port 8090
"""

from __future__ import annotations

import re
import threading
import uuid
from typing import Any

from hack.fakes import arm, serving
from hack.fakes.arm import ArmError, bad_request
from hack.fakes.disk_data import DiskData
from hack.fakes.serving import Request, Response

PROVIDER = "Microsoft.Compute"
_RESOURCE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.compute/"
    r"(?P<kind>disks|snapshots)(?:/(?P<name>[^/]+))?$",
    re.IGNORECASE,
)
_ACCESS = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/microsoft\.compute/"
    r"(?P<kind>disks|snapshots)/(?P<name>[^/]+)/(?P<action>beginGetAccess|endGetAccess)$",
    re.IGNORECASE,
)
_SUBSCRIPTION_LIST = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/providers/microsoft\.compute/(?P<kind>disks|snapshots)$",
    re.IGNORECASE,
)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,78}[A-Za-z0-9_]?$")
TYPES = {"disks": f"{PROVIDER}/disks", "snapshots": f"{PROVIDER}/snapshots"}
DISK_SKUS = frozenset(
    {
        "Standard_LRS",
        "Premium_LRS",
        "StandardSSD_LRS",
        "UltraSSD_LRS",
        "Premium_ZRS",
        "StandardSSD_ZRS",
        "PremiumV2_LRS",
    }
)
SNAPSHOT_SKUS = frozenset({"Standard_LRS", "Premium_LRS", "Standard_ZRS"})
IOPS_SKUS = frozenset({"UltraSSD_LRS", "PremiumV2_LRS"})
VHD_FOOTER = 512
MIB = 1 << 20
UPLOAD_MIN = 20 * MIB + VHD_FOOTER
UPLOAD_MAX = 32 * (1 << 40) + VHD_FOOTER
_ACTIVE = frozenset({"ActiveUpload", "ActiveSAS"})


class AzureCompute:
    """In-memory Microsoft.Compute state plus the request handler (``handle``) serving it."""

    def __init__(
        self,
        *,
        token: str | None = None,
        resource_groups: dict[str, str] | None = None,
        op_polls: int = 1,
        copy_step: float = 50.0,
        data: DiskData | None = None,
    ) -> None:
        """``token``: the bearer token to require (None: any). ``resource_groups`` maps
        ``subscription/group`` to a location (None: every group exists). ``data``: where
        disks' bytes are (None: disks have none, and Upload and access grants are refused)."""
        self.token = token
        self.groups = arm.ResourceGroups(resource_groups)
        self.operations = arm.Operations(polls=op_polls, provider=PROVIDER)
        self.copy_step = copy_step
        self.resources: dict[str, dict[str, Any]] = {}
        self.data = data
        self.blobs: dict[str, str] = {}
        """Resource id (lower case) -> its page blob, for the resources that have bytes."""
        self.lock = threading.RLock()
        if data is not None:
            data.ensure_container()

    def handle(self, request: Request) -> Response:
        try:
            with self.lock:
                return self._dispatch(request)
        except ArmError as exc:
            return exc.response()

    def lookup(self, resource_id: str) -> dict[str, Any] | None:
        """The stored resource (for tests), without advancing anything."""
        with self.lock:
            return self.resources.get(resource_id.lower())

    def _dispatch(self, request: Request) -> Response:
        arm.check_request(request, token=self.token)
        if match := self.operations.path.match(request.path):
            return self.operations.serve(request, match["op"])
        if match := arm.GROUP.match(request.path):
            return self.groups.serve(request, match["sub"], match["rg"])
        if match := _SUBSCRIPTION_LIST.match(request.path):
            if request.method != "GET":
                raise arm.not_allowed(request)
            kind = f"/providers/{TYPES[match['kind'].lower()]}/".lower()
            under = f"/subscriptions/{match['sub']}/".lower()
            keys = [k for k in self.resources if k.startswith(under) and kind in k]
            return self._listed(keys)
        if match := _ACCESS.match(request.path):
            return self._access(request, match)
        match = _RESOURCE.match(request.path)
        if match is None:
            raise ArmError(404, "NotFound", f"No HTTP resource was found for '{request.path}'.")
        return self._resource(request, match)

    def _resource(self, request: Request, match: re.Match[str]) -> Response:
        """A group's list of disks or snapshots, or one of them."""
        sub, rg, kind, name = match["sub"], match["rg"], match["kind"].lower(), match["name"]
        self.groups.require(sub, rg)
        prefix = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{TYPES[kind]}"
        if name is None:
            if request.method != "GET":
                raise arm.not_allowed(request)
            under = prefix.lower() + "/"
            return self._listed([k for k in self.resources if k.startswith(under)])
        rid = f"{prefix}/{name}"
        if request.method == "GET":
            found = self._read(rid)
            if found is None:
                raise ArmError(
                    404,
                    "ResourceNotFound",
                    f"The Resource '{TYPES[kind]}/{name}' under resource group '{rg}' was not "
                    "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
                )
            return Response(200, found)
        if request.method == "PUT":
            return self._put(request, rid=rid, sub=sub, kind=kind, name=name)
        if request.method == "DELETE":
            return self._delete(request, rid=rid, sub=sub)
        raise arm.not_allowed(request)

    def _listed(self, keys: list[str]) -> Response:
        items = [self._read(k) for k in keys]
        return Response(200, {"value": [i for i in items if i is not None]})

    def _read(self, rid: str) -> dict[str, Any] | None:
        """A GET: pending operations and background copies advance by one step per read."""
        self.operations.tick(rid)
        resource = self.resources.get(rid.lower())
        if resource is None:
            return None
        props = resource["properties"]
        done = props.get("provisioningState") == "Succeeded"
        if done and props.get("completionPercent", 100.0) < 100.0:
            props["completionPercent"] = min(100.0, props["completionPercent"] + self.copy_step)
        return resource

    def _source(self, resource_id: str) -> dict[str, Any]:
        found = self.resources.get((resource_id or "").lower())
        if found is None or found["properties"].get("provisioningState") == "Deleting":
            raise ArmError(404, "NotFound", f"Resource '{resource_id}' was not found.")
        return found

    def _copy_source(self, resource_id: str) -> dict[str, Any]:
        """The source of a Copy: not one still being uploaded."""
        found = self._source(resource_id)
        state = found["properties"].get("diskState")
        if state in ("ReadyToUpload", "ActiveUpload"):
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Disk '{found['name']}' is in state {state}: its upload must finish "
                "(endGetAccess) before it can be copied.",
            )
        return found

    def _attach_data(self, rid: str, resource: dict[str, Any], creation: dict[str, Any]) -> None:
        """The new resource's bytes: an empty blob for an Upload, its source's for a Copy."""
        if self.data is None:
            return
        blob = resource["properties"]["uniqueId"]
        if creation["createOption"] == "Upload":
            self.data.create(blob, int(creation["uploadSizeBytes"]))
        else:
            source = self.blobs.get(str(creation.get("sourceResourceId", "")).lower())
            if source is None:
                return
            self.data.copy(source, blob)
        self.blobs[rid.lower()] = blob

    def _access(self, request: Request, match: re.Match[str]) -> Response:
        """``beginGetAccess`` (a SAS URL to the bytes) and ``endGetAccess``."""
        if request.method != "POST":
            raise arm.not_allowed(request)
        sub, rg, kind, name = match["sub"], match["rg"], match["kind"].lower(), match["name"]
        self.groups.require(sub, rg)
        rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{TYPES[kind]}/{name}"
        resource = self._source(rid)
        props = resource["properties"]
        if props.get("provisioningState") != "Succeeded":
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"'{name}' is {props.get('provisioningState')}: access can be granted once "
                "it has been created.",
            )
        finish: Any
        if match["action"].lower() == "endgetaccess":

            def finish() -> None:
                if props.get("diskState") in _ACTIVE:
                    props["diskState"] = "Unattached"

        else:
            url, state = self._grant(request, name, props, self.blobs.get(rid.lower()))

            def finish() -> dict[str, Any]:
                props["diskState"] = state
                return {"accessSAS": url}

        return self.operations.accepted(
            request,
            sub=sub,
            resource_id=rid,
            location=resource["location"],
            body=None,
            finish=finish,
        )

    def _grant(
        self, request: Request, name: str, props: dict[str, Any], blob: str | None
    ) -> tuple[str, str]:
        """(the SAS URL, the state the grant leaves) of a valid ``beginGetAccess``."""
        body = request.body if isinstance(request.body, dict) else {}
        access, seconds = body.get("access"), body.get("durationInSeconds")
        if access not in ("Read", "Write"):
            raise bad_request(f"The value '{access}' of parameter 'access' is invalid.")
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
            raise bad_request(f"The value '{seconds}' of parameter 'durationInSeconds' is invalid.")
        if self.data is None or blob is None:
            raise ArmError(409, "OperationNotAllowed", f"'{name}' has no data to grant access to.")
        state = props.get("diskState")
        if access == "Write" and state != "ReadyToUpload":
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Disk '{name}' is in state {state}: write access is granted only to a disk "
                "created for upload (ReadyToUpload).",
            )
        if access == "Read" and state in ("ReadyToUpload", "ActiveUpload"):
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Disk '{name}' is in state {state}: it cannot be read before its upload ends.",
            )
        url = self.data.sas_url(blob, write=access == "Write", seconds=seconds)
        return url, "ActiveUpload" if access == "Write" else "ActiveSAS"

    def _put(self, request: Request, *, rid: str, sub: str, kind: str, name: str) -> Response:
        body = request.body
        if not isinstance(body, dict):
            raise bad_request(
                "The request content was invalid and could not be deserialized.",
                "InvalidRequestContent",
            )
        if not _NAME.match(name):
            raise bad_request(f"The resource name '{name}' is invalid.", "InvalidResourceName")
        location = body.get("location")
        if not location:
            raise bad_request(
                "The location property is required for this definition.", "LocationRequired"
            )
        props = body.get("properties") if isinstance(body.get("properties"), dict) else {}
        creation = props.get("creationData")
        if not isinstance(creation, dict) or not creation.get("createOption"):
            raise bad_request("Required parameter 'creationData.createOption' is missing (null).")
        tags = body.get("tags") or {}
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise bad_request("Tag values must be strings.", "InvalidTagValue")
        for tag in tags:
            if len(tag) > 512 or any(c in tag for c in "<>%&\\?/"):
                raise bad_request(
                    f"The tag name '{tag}' has invalid characters.", "InvalidTagNameCharacters"
                )
        existing = self.resources.get(rid.lower())
        if existing is not None:
            if existing["properties"]["creationData"]["createOption"] != creation["createOption"]:
                raise ArmError(
                    409,
                    "PropertyChangeNotAllowed",
                    "Changing property 'creationData.createOption' is not allowed.",
                )
            existing["tags"] = tags
            return Response(200, existing)
        build = self._new_snapshot if kind == "snapshots" else self._new_disk
        resource = build(body, props, creation, location)
        resource.update(id=rid, name=name, type=TYPES[kind], location=location, tags=tags)
        resource["properties"].update(
            provisioningState="Creating", timeCreated=arm.now(), uniqueId=str(uuid.uuid4())
        )
        self._attach_data(rid, resource, creation)
        self.resources[rid.lower()] = resource

        def finish() -> dict[str, Any]:
            resource["properties"]["provisioningState"] = "Succeeded"
            return resource

        return self.operations.accepted(
            request, sub=sub, resource_id=rid, location=location, body=resource, finish=finish
        )

    def _new_snapshot(
        self,
        body: dict[str, Any],
        props: dict[str, Any],
        creation: dict[str, Any],
        location: str,
    ) -> dict[str, Any]:
        option = creation["createOption"]
        sku = (body.get("sku") or {}).get("name", "Standard_LRS")
        if sku not in SNAPSHOT_SKUS:
            raise bad_request(f"The value '{sku}' is not valid for sku.name.")
        incremental = bool(props.get("incremental"))
        if option not in ("Copy", "CopyStart"):
            raise bad_request(f"createOption '{option}' is not supported for snapshots here.")
        source = self._copy_source(creation.get("sourceResourceId", ""))
        same_region = source["location"].lower() == location.lower()
        if option == "Copy" and not same_region:
            raise bad_request(f"The snapshot must be in its source's region {source['location']}.")
        if option == "CopyStart":
            if not incremental or source["type"] != TYPES["snapshots"]:
                raise bad_request(
                    "CopyStart copies an incremental snapshot into an incremental snapshot.",
                    "BadRequest",
                )
            if same_region:
                raise bad_request("CopyStart copies to another region.", "BadRequest")
        sprops = source["properties"]
        out: dict[str, Any] = {
            "creationData": {**creation, "sourceUniqueId": sprops["uniqueId"]},
            "diskSizeGB": sprops.get("diskSizeGB"),
            "diskSizeBytes": sprops.get("diskSizeBytes")
            or int(sprops.get("diskSizeGB") or 0) << 30,
            "incremental": incremental,
            "encryption": props.get("encryption") or sprops.get("encryption"),
            "diskState": "Unattached",
        }
        if incremental:
            out["completionPercent"] = 0.0
        return {"sku": {"name": sku, "tier": "Standard"}, "properties": out}

    def _new_disk(
        self,
        body: dict[str, Any],
        props: dict[str, Any],
        creation: dict[str, Any],
        location: str,
    ) -> dict[str, Any]:
        option = creation["createOption"]
        sku = (body.get("sku") or {}).get("name", "Standard_LRS")
        if sku not in DISK_SKUS:
            raise bad_request(f"The value '{sku}' is not valid for sku.name.")
        zones = body.get("zones") or []
        if not isinstance(zones, list) or len(zones) > 1 or not set(zones) <= {"1", "2", "3"}:
            raise bad_request(
                f"Zones {zones} are invalid: a disk is in at most one of zones 1, 2, 3.",
                "InvalidAvailabilityZone",
            )
        size = props.get("diskSizeGB")
        encryption = props.get("encryption")
        state = "Unattached"
        if option == "Empty":
            if not size:
                raise bad_request("Required parameter 'diskSizeGB' is missing (null).")
        elif option == "Copy":
            size, encryption, creation = self._disk_copy(creation, location, size, encryption)
        elif option == "Upload" and self.data is not None:
            size, state = _upload_size(creation), "ReadyToUpload"
        else:
            raise bad_request(f"createOption '{option}' is not supported for disks here.")
        iops = props.get("diskIOPSReadWrite")
        if iops is not None and sku not in IOPS_SKUS:
            raise bad_request(
                f"diskIOPSReadWrite is only for Ultra and PremiumV2 disks, not {sku}."
            )
        out: dict[str, Any] = {
            "creationData": creation,
            "diskSizeGB": int(size),
            "diskState": state,
            "encryption": encryption or {"type": "EncryptionAtRestWithPlatformKey"},
        }
        if option == "Upload":
            out["diskSizeBytes"] = int(creation["uploadSizeBytes"]) - VHD_FOOTER
        if iops is not None:
            out["diskIOPSReadWrite"] = int(iops)
        disk: dict[str, Any] = {"sku": {"name": sku, "tier": sku.split("_")[0]}, "properties": out}
        if zones:
            disk["zones"] = zones
        return disk

    def _disk_copy(
        self, creation: dict[str, Any], location: str, size: Any, encryption: Any
    ) -> tuple[Any, Any, dict[str, Any]]:
        """(size, encryption, creationData) of a disk copied from a snapshot or disk."""
        source = self._copy_source(creation.get("sourceResourceId", ""))
        if source["location"].lower() != location.lower():
            raise bad_request(f"The disk must be in its source's region {source['location']}.")
        sprops = source["properties"]
        ready = sprops.get("provisioningState") == "Succeeded"
        if not ready or sprops.get("completionPercent", 100.0) < 100.0:
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Snapshot '{source['name']}' is still being copied "
                f"(completionPercent {sprops.get('completionPercent')}).",
            )
        size = size or sprops.get("diskSizeGB")
        if int(size) < int(sprops.get("diskSizeGB") or 0):
            raise bad_request("A disk cannot be smaller than its source.")
        encryption = encryption or sprops.get("encryption")
        return size, encryption, {**creation, "sourceUniqueId": sprops["uniqueId"]}

    def _delete(self, request: Request, *, rid: str, sub: str) -> Response:
        found = self.resources.get(rid.lower())
        if found is None:
            return Response(204)
        if found["properties"].get("diskState") in _ACTIVE:
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"'{found['name']}' has an active SAS ({found['properties']['diskState']}): "
                "end it (endGetAccess) before deleting.",
            )
        found["properties"]["provisioningState"] = "Deleting"

        def finish() -> None:
            self.resources.pop(rid.lower(), None)
            blob = self.blobs.pop(rid.lower(), None)
            if blob is not None and self.data is not None:
                self.data.delete(blob)

        return self.operations.accepted(
            request,
            sub=sub,
            resource_id=rid,
            location=found["location"],
            body=None,
            finish=finish,
        )


def _upload_size(creation: dict[str, Any]) -> int:
    """The size in GiB of a disk created for upload, from its ``uploadSizeBytes``."""
    upload = creation.get("uploadSizeBytes")
    if (
        not isinstance(upload, int)
        or not UPLOAD_MIN <= upload <= UPLOAD_MAX
        or (upload - VHD_FOOTER) % MIB
    ):
        raise bad_request(
            f"The value '{upload}' of uploadSizeBytes is invalid: the disk's size in "
            "whole MiB plus 512 bytes for the VHD footer, from 20 MiB to 32 TiB."
        )
    return -(-(upload - VHD_FOOTER) // (1 << 30))


def start(**kwargs: Any) -> tuple[AzureCompute, serving.Running]:
    """Start a fake on a free loopback port; ``kwargs`` go to ``AzureCompute``."""
    fake = AzureCompute(**kwargs)
    return fake, serving.start(fake.handle)


if __name__ == "__main__":
    raise SystemExit(serving.main(__doc__ or "", AzureCompute().handle))
