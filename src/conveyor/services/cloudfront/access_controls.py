"""Origin access control: the identity a distribution reads its S3 origin with.

With signing behavior `always` (and `no-override`, since viewers of a local edge send no Authorization of
their own to keep) the edge reads the bucket as the service principal `cloudfront.amazonaws.com` for the
distribution's ARN, which the bucket policy must allow; with `never` it reads anonymously.
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.services.cloudfront.catalog import ACCESS_CONTROL, Catalog, new_id, page
from conveyor.services.cloudfront.errors import check_if_match, fault
from conveyor.services.cloudfront.store import Batch
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_cloudfront.type_defs import (
        CreateOriginAccessControlRequestTypeDef,
        DeleteOriginAccessControlRequestTypeDef,
        GetOriginAccessControlConfigRequestTypeDef,
        GetOriginAccessControlRequestTypeDef,
        ListOriginAccessControlsRequestTypeDef,
        UpdateOriginAccessControlRequestTypeDef,
    )

API = "https://cloudfront.amazonaws.com/2020-05-31/origin-access-control"


def _config(sent: Any) -> dict[str, Any]:
    config = dict(sent)
    config.setdefault("Description", "")
    if not 1 <= len(config["Name"]) <= 64:
        raise fault("InvalidArgument", "The origin access control name must be 1 to 64 characters long.")
    return config


class AccessControlOperations:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _require(self, oac_id: str) -> dict[str, Any]:
        found = self.catalog.access_controls.get(oac_id)
        if found is None:
            raise fault("NoSuchOriginAccessControl")
        return found

    def _unique(self, name: str, other_than: str = "") -> None:
        for record in self.catalog.access_controls.values():
            if record["Id"] != other_than and record["OriginAccessControlConfig"]["Name"] == name:
                raise fault("OriginAccessControlAlreadyExists", "An origin access control with the specified "
                            f"parameters already exists: {record['Id']} is named {name}.")

    @staticmethod
    def _view(record: dict[str, Any]) -> dict[str, Any]:
        return {"Id": record["Id"], "OriginAccessControlConfig": record["OriginAccessControlConfig"]}

    async def CreateOriginAccessControl(self, ctx: RequestContext,
                                        params: CreateOriginAccessControlRequestTypeDef) -> dict[str, Any]:
        config = _config(params["OriginAccessControlConfig"])
        self._unique(config["Name"])
        oac_id = new_id("E")
        record = {"Id": oac_id, "ETag": new_id("E"), "OriginAccessControlConfig": config}
        await self.catalog.save(Batch().write(ACCESS_CONTROL, oac_id, record))
        return {"OriginAccessControl": self._view(record), "Location": f"{API}/{oac_id}", "ETag": record["ETag"]}

    async def GetOriginAccessControl(self, ctx: RequestContext,
                                     params: GetOriginAccessControlRequestTypeDef) -> dict[str, Any]:
        record = self._require(params["Id"])
        return {"OriginAccessControl": self._view(record), "ETag": record["ETag"]}

    async def GetOriginAccessControlConfig(self, ctx: RequestContext,
                                           params: GetOriginAccessControlConfigRequestTypeDef) -> dict[str, Any]:
        record = self._require(params["Id"])
        return {"OriginAccessControlConfig": record["OriginAccessControlConfig"], "ETag": record["ETag"]}

    async def UpdateOriginAccessControl(self, ctx: RequestContext,
                                        params: UpdateOriginAccessControlRequestTypeDef) -> dict[str, Any]:
        record = self._require(params["Id"])
        check_if_match(params.get("IfMatch"), record["ETag"])
        config = _config(params["OriginAccessControlConfig"])
        self._unique(config["Name"], record["Id"])
        if config["OriginAccessControlOriginType"] != "s3" and self._users(record["Id"]):
            raise fault("IllegalUpdate", "The update contains modifications that are not allowed: distributions "
                        "read S3 origins with this origin access control.")
        updated = {**record, "ETag": new_id("E"), "OriginAccessControlConfig": config}
        await self.catalog.save(Batch().write(ACCESS_CONTROL, record["Id"], updated))
        return {"OriginAccessControl": self._view(updated), "ETag": updated["ETag"]}

    async def DeleteOriginAccessControl(self, ctx: RequestContext,
                                        params: DeleteOriginAccessControlRequestTypeDef) -> dict[str, Any]:
        record = self._require(params["Id"])
        check_if_match(params.get("IfMatch"), record["ETag"])
        if self._users(record["Id"]):
            raise fault("OriginAccessControlInUse")
        await self.catalog.save(Batch().remove(ACCESS_CONTROL, record["Id"]))
        return {}

    async def ListOriginAccessControls(self, ctx: RequestContext,
                                       params: ListOriginAccessControlsRequestTypeDef) -> dict[str, Any]:
        records = list(self.catalog.access_controls.values())
        chunk, next_marker, size = page(records, "Id", params.get("Marker"), params.get("MaxItems"))
        listing: dict[str, Any] = {"Marker": params.get("Marker") or "", "MaxItems": size,
                                   "IsTruncated": next_marker is not None, "Quantity": len(chunk)}
        if chunk:
            listing["Items"] = [{"Id": r["Id"], **r["OriginAccessControlConfig"]} for r in chunk]
        if next_marker is not None:
            listing["NextMarker"] = next_marker
        return {"OriginAccessControlList": listing}

    def _users(self, oac_id: str) -> list[str]:
        return [record["Id"] for record in self.catalog.distributions.values()
                if any(origin.get("OriginAccessControlId") == oac_id
                       for origin in record["DistributionConfig"]["Origins"]["Items"])]
