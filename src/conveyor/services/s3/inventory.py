"""S3 Inventory: Put/Get/List/DeleteBucketInventoryConfiguration, and the reports S3 writes.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html
A configuration names a destination bucket (by ARN), a format, a schedule (Daily or Weekly), the versions
to list and optional fields. At each midnight UTC of the service clock (Sundays only for Weekly), every
enabled configuration gets a report in its destination, laid out as AWS lays it out
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html):
`PREFIX/SOURCE/ID/data/UUID.csv.gz` (the listing) and `PREFIX/SOURCE/ID/YYYY-MM-DDTHH-MMZ/manifest.json`.
Conveyor writes CSV reports; ORC and Parquet are refused, as it cannot write those formats.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from conveyor.services.s3 import checksums
from conveyor.services.s3.core import Core
from conveyor.services.s3.errors import malformed_xml
from conveyor.services.s3.schema import ObjectRow
from conveyor.services.s3.versions import Versions
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        DeleteBucketInventoryConfigurationRequestTypeDef,
        GetBucketInventoryConfigurationRequestTypeDef,
        ListBucketInventoryConfigurationsRequestTypeDef,
        PutBucketInventoryConfigurationRequestTypeDef,
    )

MAX_CONFIGURATIONS = 1000
OPTIONAL_FIELDS = ("Size", "LastModifiedDate", "StorageClass", "ETag", "IsMultipartUploaded", "ReplicationStatus",
                   "EncryptionStatus", "ObjectLockRetainUntilDate", "ObjectLockMode", "ObjectLockLegalHoldStatus",
                   "IntelligentTieringAccessTier", "BucketKeyStatus", "ChecksumAlgorithm", "ObjectAccessControlList",
                   "ObjectOwner", "LifecycleExpirationDate")
INVENTORY_SERVICE = "s3.amazonaws.com"
_PAGE = 1000


def _not_found() -> ServiceError:
    return ServiceError("NoSuchConfiguration", "The specified configuration does not exist.", 404)


def validate(given: dict[str, Any], core: Core) -> dict[str, Any]:
    """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketInventoryConfiguration.html"""
    destination = (given.get("Destination") or {}).get("S3BucketDestination") or {}
    if not given.get("Id") or given.get("IsEnabled") is None or not destination.get("Bucket"):
        raise malformed_xml()
    if given.get("IncludedObjectVersions") not in ("All", "Current"):
        raise malformed_xml()
    if (given.get("Schedule") or {}).get("Frequency") not in ("Daily", "Weekly"):
        raise malformed_xml()
    if any(field not in OPTIONAL_FIELDS for field in given.get("OptionalFields") or []):
        raise malformed_xml()
    fmt = destination.get("Format")
    if fmt not in ("CSV", "ORC", "Parquet"):
        raise malformed_xml()
    if fmt != "CSV":
        raise ServiceError("NotImplemented", f"Conveyor writes inventory reports as CSV, not {fmt}.", 501)
    arn = str(destination["Bucket"])
    if not arn.startswith("arn:aws:s3:::") or core.store.bucket(arn.removeprefix("arn:aws:s3:::")) is None:
        raise ServiceError("InvalidArgument", "Invalid destination bucket ARN or the bucket does not exist", 400,
                           extra={"ArgumentName": "Bucket", "ArgumentValue": arn})
    return {k: v for k, v in given.items() if v is not None}


class InventoryOperations:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def PutBucketInventoryConfiguration(
            self, ctx: RequestContext, params: PutBucketInventoryConfigurationRequestTypeDef) -> dict[str, Any]:
        name = params["Bucket"]
        row = self.core.require_bucket(name)
        # Kept under the Id of its document, which is what AWS reads back.
        config = validate(dict(params["InventoryConfiguration"]), self.core)
        existing = dict(row.config.get("inventory") or {})
        if config["Id"] not in existing and len(existing) >= MAX_CONFIGURATIONS:
            raise ServiceError("TooManyConfigurations", "You are attempting to create a new configuration but have "
                               "already reached the 1,000-configuration limit.", 400)
        existing[config["Id"]] = config
        await self.core.update_setting(name, "inventory", existing)
        return {}

    async def GetBucketInventoryConfiguration(
            self, ctx: RequestContext, params: GetBucketInventoryConfigurationRequestTypeDef) -> dict[str, Any]:
        row = self.core.require_bucket(params["Bucket"])
        config = (row.config.get("inventory") or {}).get(params["Id"])
        if config is None:
            raise _not_found()
        return {"InventoryConfiguration": config}

    async def ListBucketInventoryConfigurations(
            self, ctx: RequestContext, params: ListBucketInventoryConfigurationsRequestTypeDef) -> dict[str, Any]:
        row = self.core.require_bucket(params["Bucket"])
        configs = [config for _, config in sorted((row.config.get("inventory") or {}).items())]
        return {"InventoryConfigurationList": configs or None, "IsTruncated": False}

    async def DeleteBucketInventoryConfiguration(
            self, ctx: RequestContext, params: DeleteBucketInventoryConfigurationRequestTypeDef) -> dict[str, Any]:
        name = params["Bucket"]
        row = self.core.require_bucket(name)
        existing = dict(row.config.get("inventory") or {})
        if existing.pop(params["Id"], None) is None:
            raise _not_found()
        await self.core.update_setting(name, "inventory", existing or None)
        return {"__status": 204}


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


class InventoryReports:
    """The reports of every enabled configuration that is due at a midnight (run by the lifecycle sweep)."""

    def __init__(self, core: Core, versions: Versions) -> None:
        self.core = core
        self.versions = versions

    async def run(self) -> None:
        now = dt.datetime.fromtimestamp(self.core.clock.now(), dt.UTC)
        for name in self.core.store.bucket_names_configured("inventory"):
            row = self.core.store.bucket(name)
            for config in ((row.config.get("inventory") or {}) if row is not None else {}).values():
                weekly = (config.get("Schedule") or {}).get("Frequency") == "Weekly"
                if config.get("IsEnabled") and (not weekly or now.weekday() == 6):
                    try:
                        await self._report(name, config, now)
                    except ServiceError:
                        pass  # the destination is gone: no report, as on AWS

    def _rows(self, bucket: str, config: dict[str, Any]) -> list[list[str]]:
        prefix = str((config.get("Filter") or {}).get("Prefix") or "")
        every = config.get("IncludedObjectVersions") == "All"
        fields = list(config.get("OptionalFields") or [])
        rows: list[list[str]] = []
        after = ""
        while True:
            page = self.core.store.versions_of_keys(bucket, prefix, after, _PAGE)
            if not page:
                return rows
            for obj in page:
                if not obj.key.startswith(prefix):
                    return rows
                if every or (obj.is_latest and not obj.delete_marker):
                    rows.append(self._row(bucket, obj, every, fields))
            after = page[-1].key

    @staticmethod
    def _row(bucket: str, obj: ObjectRow, every: bool, fields: list[str]) -> list[str]:
        """https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html#storage-inventory-contents"""
        row = [bucket, obj.key]
        if every:
            row += [obj.version_id, str(obj.is_latest).lower(), str(obj.delete_marker).lower()]
        values = {
            "Size": str(obj.size), "ETag": obj.etag, "StorageClass": str(obj.meta.get("StorageClass") or "STANDARD"),
            "LastModifiedDate": dt.datetime.fromtimestamp(obj.last_modified, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "IsMultipartUploaded": str(bool(obj.meta.get("PartsCount"))).lower(),
            "EncryptionStatus": "SSE-S3" if obj.meta.get("ServerSideEncryption") == "AES256" else "SSE-KMS",
            "ObjectLockMode": str(obj.meta.get("ObjectLockMode") or ""),
            "ReplicationStatus": str(obj.meta.get("ReplicationStatus") or ""),
            "ObjectLockLegalHoldStatus": str(obj.meta.get("ObjectLockLegalHoldStatus") or "OFF"),
        }
        return row + [values.get(field, "") for field in fields]

    async def _report(self, source: str, config: dict[str, Any], now: dt.datetime) -> None:
        destination = config["Destination"]["S3BucketDestination"]
        target = str(destination["Bucket"]).removeprefix("arn:aws:s3:::")
        base = f"{destination.get('Prefix') + '/' if destination.get('Prefix') else ''}{source}/{config['Id']}"
        text = io.StringIO()
        csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(self._rows(source, config))
        data = gzip.compress(text.getvalue().encode(), mtime=0)
        data_key = f"{base}/data/{uuid.uuid4()}.csv.gz"
        await self._put(target, data_key, data, "application/gzip")
        every = config.get("IncludedObjectVersions") == "All"
        schema = ["Bucket", "Key", *(["VersionId", "IsLatest", "IsDeleteMarker"] if every else []),
                  *(config.get("OptionalFields") or [])]
        manifest = {
            "sourceBucket": source, "destinationBucket": destination["Bucket"], "version": "2016-11-30",
            "creationTimestamp": str(int(now.timestamp() * 1000)), "fileFormat": "CSV",
            "fileSchema": ", ".join(schema),
            "files": [{"key": data_key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()}],
        }
        body = json.dumps(manifest, indent=2).encode()
        folder = f"{base}/{now:%Y-%m-%dT%H-%MZ}"
        await self._put(target, f"{folder}/manifest.json", body, "application/json")
        await self._put(target, f"{folder}/manifest.checksum", hashlib.md5(body).hexdigest().encode(), "text/plain")

    async def _put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        info = await self.core.blobs.write(_single(data), {checksums.DEFAULT}, inline=True)
        meta = {"ContentType": content_type, "ServerSideEncryption": "AES256", "Checksums": info.checksums,
                "ChecksumType": "FULL_OBJECT"}
        await self.versions.put_as_service(bucket, key, info, meta, INVENTORY_SERVICE)
