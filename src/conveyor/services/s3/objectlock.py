"""S3 Object Lock: a bucket's lock configuration and default retention, and each version's retention
period and legal hold, which refuse deleting that version (WORM) until they end.

A bucket gets Object Lock at creation (`x-amz-bucket-object-lock-enabled`, which also enables versioning)
or later through PutObjectLockConfiguration once versioning is Enabled; it can never be turned off, nor
versioning suspended (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html).
A version is protected while a legal hold is ON, or until its retain-until date: in COMPLIANCE mode
for everyone, in GOVERNANCE mode unless the request bypasses governance retention
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html#object-lock-retention-modes).
Deleting without a version id only adds a delete marker, which a lock never prevents. Times are the
service clock's (the injectable clock of conveyor.clock).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, TypedDict

from conveyor.services.s3.errors import malformed_xml
from conveyor.services.s3.schema import BucketRow, ObjectRow
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        GetObjectLegalHoldRequestTypeDef,
        GetObjectLockConfigurationRequestTypeDef,
        GetObjectRetentionRequestTypeDef,
        PutObjectLegalHoldRequestTypeDef,
        PutObjectLockConfigurationRequestTypeDef,
        PutObjectRetentionRequestTypeDef,
    )
    from typing_extensions import ReadOnly

    from conveyor.services.s3.core import Core

    class LockSettings(TypedDict, total=False):
        """The lock a PutObject, CopyObject or CreateMultipartUpload asks for on the new version."""

        ObjectLockMode: ReadOnly[str]
        ObjectLockRetainUntilDate: ReadOnly[dt.datetime | str]
        ObjectLockLegalHoldStatus: ReadOnly[str]

MODES = ("GOVERNANCE", "COMPLIANCE")
HOLD_STATUSES = ("ON", "OFF")
# What an object version's metadata keeps (and GET/HEAD answer with, under the same names).
MEMBERS = ("ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus")
_DAY = 86400.0


def protected() -> ServiceError:
    return ServiceError("AccessDenied", "Access Denied because object protected by object lock.", 403)


def missing_configuration() -> ServiceError:
    """AWS's answer to lock settings on a bucket without Object Lock."""
    return ServiceError("InvalidRequest", "Bucket is missing Object Lock Configuration", 400)


def enabled(row: BucketRow) -> bool:
    return bool(row.config.get("object_lock"))


def _seconds(value: dt.datetime | str | float) -> float:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ServiceError("InvalidArgument", "The retain until date must be provided in ISO 8601 format", 400)


def requested(row: BucketRow, params: LockSettings, now: float) -> dict[str, Any]:
    """The lock metadata a write asks for (mode and retain-until date come together, in the future), checked
    against the bucket. https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html"""
    mode, until = params.get("ObjectLockMode"), params.get("ObjectLockRetainUntilDate")
    hold = params.get("ObjectLockLegalHoldStatus")
    if not (mode or until or hold):
        return {}
    if not enabled(row):
        raise missing_configuration()
    out: dict[str, Any] = {}
    if mode or until:
        if not (mode and until):
            raise ServiceError("InvalidArgument", "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode "
                               "must both be supplied", 400)
        if mode not in MODES:
            raise ServiceError("InvalidArgument", "Unknown wormMode directive.", 400,
                               extra={"ArgumentName": "x-amz-object-lock-mode", "ArgumentValue": mode})
        seconds = _seconds(until)
        if seconds <= now:
            raise ServiceError("InvalidArgument", "The retain until date must be in the future!", 400)
        out["ObjectLockMode"], out["ObjectLockRetainUntilDate"] = mode, seconds
    if hold:
        if hold not in HOLD_STATUSES:
            raise ServiceError("InvalidArgument", "Legal Hold must be either of 'ON' or 'OFF'", 400)
        out["ObjectLockLegalHoldStatus"] = hold
    return out


def with_default_retention(row: BucketRow, meta: dict[str, Any], now: float) -> dict[str, Any]:
    """A new version's metadata with the bucket's default retention, unless the write named its own.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html#object-lock-bucket-config"""
    rule = (row.config.get("object_lock") or {}).get("Rule") or {}
    default = rule.get("DefaultRetention")
    if not default or meta.get("ObjectLockMode"):
        return meta
    days = default.get("Days") or 365 * (default.get("Years") or 0)
    return {**meta, "ObjectLockMode": default["Mode"], "ObjectLockRetainUntilDate": now + days * _DAY}


def check_removable(obj: ObjectRow, bypass_governance: bool, now: float) -> None:
    """Deleting this version is refused while a legal hold or a retention period protects it."""
    meta = obj.meta
    if meta.get("ObjectLockLegalHoldStatus") == "ON":
        raise protected()
    until = meta.get("ObjectLockRetainUntilDate")
    if until is None or until <= now:
        return
    if meta.get("ObjectLockMode") == "COMPLIANCE" or not bypass_governance:
        raise protected()


def response_members(meta: dict[str, Any]) -> dict[str, Any]:
    return {name: meta[name] for name in MEMBERS if meta.get(name) is not None}


def _check_configuration(given: Any) -> dict[str, Any]:
    """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectLockConfiguration.html"""
    if given.get("ObjectLockEnabled") != "Enabled":
        raise malformed_xml()
    out: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
    rule = given.get("Rule")
    if rule is None:
        return out
    default = rule.get("DefaultRetention")
    if not default or default.get("Mode") not in MODES:
        raise malformed_xml()
    days, years = default.get("Days"), default.get("Years")
    if (days is None) == (years is None):
        raise malformed_xml()  # exactly one of Days and Years
    period = days if days is not None else years
    if period is None or period <= 0:
        raise ServiceError("InvalidArgument", "Default retention period must be a positive integer value", 400,
                           extra={"ArgumentName": "Days" if days is not None else "Years",
                                  "ArgumentValue": str(period)})
    retention = {"Mode": default["Mode"], ("Days" if days is not None else "Years"): period}
    out["Rule"] = {"DefaultRetention": retention}
    return out


class ObjectLockOperations:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def PutObjectLockConfiguration(self, ctx: RequestContext,
                                         params: PutObjectLockConfigurationRequestTypeDef) -> dict[str, Any]:
        name = params["Bucket"]
        row = self.core.require_bucket(name)
        given = params.get("ObjectLockConfiguration")
        if given is None:
            raise ServiceError("MissingRequestBodyError", "Request Body is empty", 400)
        config = _check_configuration(given)
        if row.versioning != "Enabled":
            raise ServiceError("InvalidBucketState", "Versioning must be 'Enabled' on the bucket to apply a Object "
                               "Lock configuration", 409)
        await self.core.update_setting(name, "object_lock", config)
        return {}

    async def GetObjectLockConfiguration(self, ctx: RequestContext,
                                         params: GetObjectLockConfigurationRequestTypeDef) -> dict[str, Any]:
        config = self.core.get_setting(params["Bucket"], "object_lock", "ObjectLockConfigurationNotFoundError",
                                       "Object Lock configuration does not exist for this bucket")
        return {"ObjectLockConfiguration": config}

    def _locked_version(self, bucket: str, key: str, version_id: str | None) -> ObjectRow:
        row = self.core.require_bucket(bucket)
        if not enabled(row):
            raise missing_configuration()
        return self.core.current_object(bucket, key, version_id)

    async def PutObjectRetention(self, ctx: RequestContext,
                                 params: PutObjectRetentionRequestTypeDef) -> dict[str, Any]:
        """A retention period may be lengthened; shortened or removed only in GOVERNANCE mode with the bypass.
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectRetention.html"""
        bucket, key = params["Bucket"], params["Key"]
        obj = self._locked_version(bucket, key, params.get("VersionId"))
        retention = params.get("Retention") or {}
        mode, until = retention.get("Mode"), retention.get("RetainUntilDate")
        now = self.core.clock.now()
        if (mode is None) != (until is None) or (mode is not None and mode not in MODES):
            raise malformed_xml()
        seconds = _seconds(until) if until is not None else None
        if seconds is not None and seconds <= now:
            raise ServiceError("InvalidArgument", "The retain until date must be in the future!", 400)
        old_mode, old_until = obj.meta.get("ObjectLockMode"), obj.meta.get("ObjectLockRetainUntilDate")
        if old_until is not None and old_until > now:
            weaker = seconds is None or seconds < old_until or (old_mode == "COMPLIANCE" and mode != "COMPLIANCE")
            if weaker and (old_mode == "COMPLIANCE" or not params.get("BypassGovernanceRetention")):
                raise protected()
        value = None if mode is None else {"ObjectLockMode": mode, "ObjectLockRetainUntilDate": seconds}
        await self.core.update_object_meta(bucket, key, obj.version_id, value or {}, remove=MEMBERS[:2])
        return {}

    async def GetObjectRetention(self, ctx: RequestContext,
                                 params: GetObjectRetentionRequestTypeDef) -> dict[str, Any]:
        obj = self._locked_version(params["Bucket"], params["Key"], params.get("VersionId"))
        if not obj.meta.get("ObjectLockMode"):
            raise ServiceError("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock "
                               "configuration", 404)
        return {"Retention": {"Mode": obj.meta["ObjectLockMode"],
                              "RetainUntilDate": obj.meta["ObjectLockRetainUntilDate"]}}

    async def PutObjectLegalHold(self, ctx: RequestContext,
                                 params: PutObjectLegalHoldRequestTypeDef) -> dict[str, Any]:
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectLegalHold.html"""
        bucket, key = params["Bucket"], params["Key"]
        obj = self._locked_version(bucket, key, params.get("VersionId"))
        status = (params.get("LegalHold") or {}).get("Status")
        if status not in HOLD_STATUSES:
            raise malformed_xml()
        await self.core.update_object_meta(bucket, key, obj.version_id, {"ObjectLockLegalHoldStatus": status})
        return {}

    async def GetObjectLegalHold(self, ctx: RequestContext,
                                 params: GetObjectLegalHoldRequestTypeDef) -> dict[str, Any]:
        obj = self._locked_version(params["Bucket"], params["Key"], params.get("VersionId"))
        status = obj.meta.get("ObjectLockLegalHoldStatus")
        if not status:
            raise ServiceError("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock "
                               "configuration", 404)
        return {"LegalHold": {"Status": status}}
