"""Bucket operations: create, list, head, locate and delete buckets; their tags, versioning, CORS rules
and event notifications (access settings are in access.py, the settings Conveyor lacks in settings.py)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any

from conveyor.ports import Ports
from conveyor.services.s3 import cors, cross_account, destinations, notifications
from conveyor.services.s3.access import new_bucket_acl, new_bucket_config
from conveyor.services.s3.acl import stored as stored_acl
from conveyor.services.s3.core import Core
from conveyor.services.s3.errors import host_id, malformed_xml
from conveyor.services.s3.locations import US_EAST_1, bucket_region
from conveyor.services.s3.metadata import check_tags
from conveyor.services.s3.schema import BucketRow, PendingEvent
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        CreateBucketRequestTypeDef,
        DeleteBucketCorsRequestTypeDef,
        DeleteBucketRequestTypeDef,
        DeleteBucketTaggingRequestTypeDef,
        GetBucketCorsRequestTypeDef,
        GetBucketLocationRequestTypeDef,
        GetBucketNotificationConfigurationRequestTypeDef,
        GetBucketTaggingRequestTypeDef,
        GetBucketVersioningRequestTypeDef,
        HeadBucketRequestTypeDef,
        ListBucketsRequestTypeDef,
        PutBucketCorsRequestTypeDef,
        PutBucketNotificationConfigurationRequestTypeDef,
        PutBucketTaggingRequestTypeDef,
        PutBucketVersioningRequestTypeDef,
    )

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
# Matched with fullmatch: `$` with `match` would let "bucket\n" through.
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_RE = re.compile(r"\d+\.\d+\.\d+\.\d+")


class BucketOperations:
    def __init__(self, core: Core, ports: Ports) -> None:
        self.core = core
        self.store = core.store
        self.ports = ports

    async def ListBuckets(self, ctx: RequestContext, params: ListBucketsRequestTypeDef) -> dict[str, Any]:
        """Buckets by name, paged by MaxBuckets (1 to 10,000) with an opaque ContinuationToken.
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html"""
        prefix = params.get("Prefix") or ""
        region = params.get("BucketRegion")
        limit = params.get("MaxBuckets")
        if limit is not None and not 1 <= limit <= 10000:
            raise ServiceError("InvalidArgument", "Argument max-buckets must be an integer between 1 and 10000",
                               400, extra={"ArgumentName": "max-buckets", "ArgumentValue": str(limit)})
        after = ""
        token = params.get("ContinuationToken")
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode() if token else "\x00invalid"
            except (binascii.Error, ValueError):
                after = "\x00invalid"
            if after.startswith("\x00"):
                raise ServiceError("InvalidArgument", "The continuation token provided is incorrect", 400,
                                   extra={"ArgumentName": "continuation-token"})
        other = cross_account.other_account(ctx, self.core.account_id)
        if other is not None:  # buckets belong to the configured account: another one owns none here
            return {"Owner": {"ID": cross_account.canonical_id(other.account_id)}, "Prefix": params.get("Prefix"),
                    "Buckets": []}
        names = [(n, c, r) for n, c, r in self.store.buckets()
                 if n.startswith(prefix) and region in (None, r) and n > after]
        out: dict[str, Any] = {"Owner": self.core.owner(), "Prefix": params.get("Prefix")}
        if limit is not None and len(names) > limit:
            names = names[:limit]
            out["ContinuationToken"] = base64.urlsafe_b64encode(names[-1][0].encode()).decode()
        out["Buckets"] = [{"Name": n, "CreationDate": c, "BucketRegion": r} for n, c, r in names]
        return out

    async def CreateBucket(self, ctx: RequestContext, params: CreateBucketRequestTypeDef) -> dict[str, Any]:
        name = params["Bucket"]
        if not _BUCKET_RE.fullmatch(name) or ".." in name or _IP_RE.fullmatch(name):
            raise ServiceError("InvalidBucketName", "The specified bucket is not valid.", 400,
                               extra={"BucketName": name})
        conf = params.get("CreateBucketConfiguration") or {}
        region = bucket_region(conf.get("LocationConstraint"), ctx.region)
        namespace = params.get("BucketNamespace")
        if namespace == "account-regional" and not name.endswith(f"-{self.core.account_id}-{region}-an"):
            # A bucket of the account regional namespace is named PREFIX-ACCOUNT-REGION-an.
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/gpbucketnamespaces.html
            raise ServiceError("InvalidNamespaceHeader", "The bucket name does not match the account regional "
                               "namespace format: bucket-name-prefix-accountId-region-an", 400,
                               extra={"BucketName": name})
        if namespace not in (None, "global", "account-regional"):
            raise ServiceError("InvalidNamespaceHeader", f"Invalid x-amz-bucket-namespace header: {namespace}", 400)
        acl = stored_acl(new_bucket_acl(params))
        settings = new_bucket_config(params)
        versioning = ""
        if params.get("ObjectLockEnabledForBucket"):
            # Object Lock at creation enables versioning with it, for good.
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html
            settings["object_lock"] = {"ObjectLockEnabled": "Enabled"}
            versioning = "Enabled"
        config = json.dumps(settings)
        existing = self.store.bucket(name)
        if existing is not None and existing.region == region == US_EAST_1:
            # For legacy compatibility, re-creating a bucket one owns in us-east-1 succeeds (and resets its ACL);
            # every other region answers BucketAlreadyOwnedByYou.
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html#API_CreateBucket_Errors
            if existing.acl != acl:
                await self.store.set_acl(name, acl)
            return {"Location": f"/{name}"}
        await self.store.create_bucket(name, region, self.core.clock.now(), self.core.owner_id, acl, config,
                                       versioning)
        if namespace == "account-regional":
            return {"Location": f"/{name}", "BucketArn": f"arn:aws:s3:::{name}"}
        return {"Location": f"/{name}"}

    async def HeadBucket(self, ctx: RequestContext, params: HeadBucketRequestTypeDef) -> dict[str, Any]:
        row = self.core.require_bucket(params["Bucket"])
        return {"BucketRegion": row.region}

    async def GetBucketLocation(self, ctx: RequestContext, params: GetBucketLocationRequestTypeDef) -> dict[str, Any]:
        row = self.core.require_bucket(params["Bucket"])
        return {"LocationConstraint": None if row.region == "us-east-1" else row.region}

    async def DeleteBucket(self, ctx: RequestContext, params: DeleteBucketRequestTypeDef) -> dict[str, Any]:
        await self.store.delete_bucket(params["Bucket"])
        return {"__status": 204}

    # -- tagging -----------------------------------------------------------------------------------
    async def PutBucketTagging(self, ctx: RequestContext, params: PutBucketTaggingRequestTypeDef) -> dict[str, Any]:
        tags = [dict(tag) for tag in params["Tagging"]["TagSet"]]
        check_tags(tags, bucket=True)
        if len(tags) > 50:
            raise ServiceError("InvalidTag", "Bucket tag count cannot be greater than 50", 400)
        # An empty TagSet removes the bucket's tags; success is 204 No Content.
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketTagging.html
        await self.core.update_setting(params["Bucket"], "tags", tags or None)
        return {"__status": 204}

    async def GetBucketTagging(self, ctx: RequestContext, params: GetBucketTaggingRequestTypeDef) -> dict[str, Any]:
        tags = self.core.get_setting(params["Bucket"], "tags", "NoSuchTagSet", "The TagSet does not exist")
        return {"TagSet": tags}

    async def DeleteBucketTagging(self, ctx: RequestContext,
                                  params: DeleteBucketTaggingRequestTypeDef) -> dict[str, Any]:
        await self.core.update_setting(params["Bucket"], "tags", None)
        return {"__status": 204}

    # -- versioning --------------------------------------------------------------------------------
    async def PutBucketVersioning(self, ctx: RequestContext,
                                  params: PutBucketVersioningRequestTypeDef) -> dict[str, Any]:
        status = params["VersioningConfiguration"].get("Status")
        if status not in ("Enabled", "Suspended"):
            raise malformed_xml()
        row = self.core.require_bucket(params["Bucket"])
        if status != "Enabled" and row.config.get("object_lock"):
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html
            raise ServiceError("InvalidBucketState", "An Object Lock configuration is present on this bucket, so "
                               "the versioning state cannot be changed.", 409)
        await self.store.set_versioning(params["Bucket"], status)
        return {}

    async def GetBucketVersioning(self, ctx: RequestContext,
                                  params: GetBucketVersioningRequestTypeDef) -> dict[str, Any]:
        row = self.core.require_bucket(params["Bucket"])
        return {"Status": row.versioning or None}

    # -- CORS --------------------------------------------------------------------------------------
    async def PutBucketCors(self, ctx: RequestContext, params: PutBucketCorsRequestTypeDef) -> dict[str, Any]:
        rules = [dict(rule) for rule in params["CORSConfiguration"]["CORSRules"]]
        cors.validate(rules)
        await self.core.update_setting(params["Bucket"], "cors", rules)
        return {}

    async def GetBucketCors(self, ctx: RequestContext, params: GetBucketCorsRequestTypeDef) -> dict[str, Any]:
        rules = self.core.get_setting(params["Bucket"], "cors", "NoSuchCORSConfiguration",
                                      "The CORS configuration does not exist")
        return {"CORSRules": rules}

    async def DeleteBucketCors(self, ctx: RequestContext, params: DeleteBucketCorsRequestTypeDef) -> dict[str, Any]:
        await self.core.update_setting(params["Bucket"], "cors", None)
        return {"__status": 204}

    # -- notifications -------------------------------------------------------------------------------
    async def PutBucketNotificationConfiguration(
            self, ctx: RequestContext, params: PutBucketNotificationConfigurationRequestTypeDef) -> dict[str, Any]:
        name = params["Bucket"]
        row = self.core.require_bucket(name)
        given = params["NotificationConfiguration"]
        if given.get("EventBridgeConfiguration") is not None and self.ports.events is None:
            raise ServiceError("NotImplemented", "EventBridge notifications need the events service, which this "
                               "build of Conveyor does not have.", 501)
        config, dests = notifications.validate(given)
        destinations.check(self.ports, [(kind, arn) for kind, arn, _ in dests], name, self.core.account_id,
                           row.region)
        # Configuring sends a test event to each queue and topic (not to functions).
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html
        test = notifications.dumps(notifications.test_event(name, self.core.clock.now(), ctx.request_id,
                                                            host_id(ctx)))
        events = [PendingEvent(kind, arn, test) for kind, arn in sorted({(k, a) for k, a, _ in dests
                                                                          if k in ("sqs", "sns")})]

        async def attempt(row: BucketRow) -> None:
            await self.store.replace_config(row, json.dumps({**row.config, "notification": config}), events)

        await self.core.retrying(name, attempt)
        return {}

    async def GetBucketNotificationConfiguration(
            self, ctx: RequestContext, params: GetBucketNotificationConfigurationRequestTypeDef) -> dict[str, Any]:
        row = self.core.require_bucket(params["Bucket"])
        return dict(row.config.get("notification") or {})
