"""Request payment and transfer acceleration (kept and answered), the bucket policy's status, and
GetObjectAttributes. (Lifecycle is lifecycle_sweep.py's, Object Lock objectlock.py's, websites
website_config.py's, access logging access_logs.py's, inventory inventory.py's, replication
replication.py's.)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from conveyor.services.s3 import policy
from conveyor.services.s3.core import Core
from conveyor.services.s3.errors import malformed_xml
from conveyor.services.s3.metadata import checksum_members, version_members
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        GetBucketAccelerateConfigurationRequestTypeDef,
        GetBucketPolicyStatusRequestTypeDef,
        GetBucketRequestPaymentRequestTypeDef,
        GetObjectAttributesRequestTypeDef,
        PutBucketAccelerateConfigurationRequestTypeDef,
        PutBucketRequestPaymentRequestTypeDef,
    )


def _absent(code: str, message: str, bucket: str) -> ServiceError:
    return ServiceError(code, message, 404, extra={"BucketName": bucket})


class SettingsOperations:
    def __init__(self, core: Core) -> None:
        self.core = core
    # -- request payment and transfer acceleration: kept and answered -------------------------------
    # On one machine the bucket owner makes every request and there is no faster network path, so both
    # change nothing here; they are settings Terraform and CloudFormation write and read back.
    async def PutBucketRequestPayment(self, ctx: RequestContext,
                                      params: PutBucketRequestPaymentRequestTypeDef) -> dict[str, Any]:
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketRequestPayment.html"""
        payer = params["RequestPaymentConfiguration"].get("Payer")
        if payer not in ("Requester", "BucketOwner"):
            raise malformed_xml()
        self.core.require_bucket(params["Bucket"])
        await self.core.update_setting(params["Bucket"], "payer", None if payer == "BucketOwner" else payer)
        return {}

    async def GetBucketRequestPayment(self, ctx: RequestContext,
                                      params: GetBucketRequestPaymentRequestTypeDef) -> dict[str, Any]:
        row = self.core.require_bucket(params["Bucket"])
        return {"Payer": row.config.get("payer") or "BucketOwner"}

    async def PutBucketAccelerateConfiguration(self, ctx: RequestContext,
                                               params: PutBucketAccelerateConfigurationRequestTypeDef) -> dict[str, Any]:
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketAccelerateConfiguration.html"""
        name = params["Bucket"]
        status = params["AccelerateConfiguration"].get("Status")
        if status not in ("Enabled", "Suspended"):
            raise malformed_xml()
        self.core.require_bucket(name)
        if "." in name:
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/transfer-acceleration.html#transfer-acceleration-requirements
            raise ServiceError("InvalidRequest", "S3 Transfer Acceleration is not supported for buckets with periods "
                               "(.) in their names", 400)
        await self.core.update_setting(name, "accelerate", status)
        return {}

    async def GetBucketAccelerateConfiguration(self, ctx: RequestContext,
                                               params: GetBucketAccelerateConfigurationRequestTypeDef) -> dict[str, Any]:
        row = self.core.require_bucket(params["Bucket"])
        status = row.config.get("accelerate")
        return {"Status": status} if status else {}  # no Status: acceleration was never configured

    def _delete_absent(self, bucket: str) -> dict[str, Any]:
        self.core.require_bucket(bucket)
        return {"__status": 204}  # deleting a setting that is not there succeeds on AWS too

    async def GetBucketPolicyStatus(self, ctx: RequestContext,
                                    params: GetBucketPolicyStatusRequestTypeDef) -> dict[str, Any]:
        """https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status"""
        name = params["Bucket"]
        text: str = self.core.get_setting(name, "policy", "NoSuchBucketPolicy", "The bucket policy does not exist")
        return {"PolicyStatus": {"IsPublic": policy.is_public_policy(json.loads(text))}}

    # -- GetObjectAttributes -----------------------------------------------------------------------
    async def GetObjectAttributes(self, ctx: RequestContext,
                                  params: GetObjectAttributesRequestTypeDef) -> dict[str, Any]:
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAttributes.html"""
        bucket, key = params["Bucket"], params["Key"]
        brow = self.core.require_bucket(bucket)
        obj = self.core.current_object(bucket, key, params.get("VersionId"))
        wanted = set(params["ObjectAttributes"])
        out: dict[str, Any] = {"LastModified": obj.last_modified, **version_members(obj.version_id, brow.versioning)}
        if "ETag" in wanted:
            out["ETag"] = obj.etag  # unquoted here, unlike every other S3 response
        if "ObjectSize" in wanted:
            out["ObjectSize"] = obj.size
        if "StorageClass" in wanted:
            out["StorageClass"] = obj.meta.get("StorageClass") or "STANDARD"
        sums = obj.meta.get("Checksums") or {}
        if "Checksum" in wanted and sums:
            out["Checksum"] = checksum_members(obj.meta, suffixed=False)
        if "ObjectParts" in wanted and obj.meta.get("PartsCount"):
            # Per-part details are listed only for objects uploaded with additional checksums per part;
            # a general purpose bucket answers with the count alone otherwise.
            out["ObjectParts"] = {"TotalPartsCount": obj.meta["PartsCount"]}
        return out
