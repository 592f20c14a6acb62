"""Listing objects: ListObjectsV2, ListObjects and ListObjectVersions over one key-ordered scan."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict
from urllib.parse import quote_plus

from conveyor.services.s3 import cross_account, version_ids
from conveyor.services.s3.core import Core
from conveyor.services.s3.schema import ObjectRow
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        ListObjectsRequestTypeDef,
        ListObjectsV2RequestTypeDef,
        ListObjectVersionsRequestTypeDef,
    )
    from typing_extensions import ReadOnly

    class ListingSettings(TypedDict):
        """What every listing takes."""

        Bucket: ReadOnly[str]
        EncodingType: ReadOnly[NotRequired[str]]
        Prefix: ReadOnly[NotRequired[str]]
        Delimiter: ReadOnly[NotRequired[str]]
        MaxKeys: ReadOnly[NotRequired[int]]

_PAGE = 1001  # rows read at a time: a page of 1000 keys and one to tell whether there are more


class ListingOperations:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.store = core.store

    def scan(self, bucket: str, prefix: str, delimiter: str, after: str, max_keys: int,
             versions: bool = False, version_after: str | None = None,
             ) -> tuple[list[ObjectRow], list[str], bool, str | None]:
        """Walk keys in byte order after `after`: (entries, common prefixes, truncated, last key/prefix).
        With `versions`, every version is an entry of its own (newest first) that counts towards `max_keys`,
        and `version_after` resumes inside the versions of `after`."""
        entries: list[ObjectRow] = []
        prefixes: list[str] = []
        if versions and version_after is not None and after.startswith(prefix):
            same = self.store.versions_of(bucket, after)
            ids = [v.version_id for v in same]
            rest = same[ids.index(version_after) + 1:] if version_after in ids else []
            if rest and delimiter and after.find(delimiter, len(prefix)) >= 0:
                rest = []  # the key was rolled up into a common prefix, already listed
            for version in rest:
                if len(entries) >= max_keys:
                    return entries, prefixes, True, after
                entries.append(version)
        cursor = max(after, prefix) if after >= prefix else prefix
        inclusive = after < prefix
        if delimiter and after.startswith(prefix) and after.endswith(delimiter) and \
                after.find(delimiter, len(prefix)) == len(after) - len(delimiter):
            # Resuming after a common prefix: skip every key it rolled up.
            cursor, inclusive = after + "\U0010ffff", False
        last: str | None = entries[-1].key if entries else None
        count = len(entries)
        while True:
            rows = self.store.objects_from(bucket, cursor, inclusive, versions, _PAGE)
            if not rows:
                return entries, prefixes, False, last
            progressed = False
            for obj in rows:
                if not obj.key.startswith(prefix):
                    return entries, prefixes, False, last
                if versions and obj.key == cursor and not inclusive:
                    continue
                if delimiter:
                    idx = obj.key.find(delimiter, len(prefix))
                    if idx >= 0:
                        common = obj.key[: idx + len(delimiter)]
                        if count >= max_keys:
                            return entries, prefixes, True, last
                        prefixes.append(common)
                        count += 1
                        last = common
                        cursor, inclusive = common + "\U0010ffff", False
                        progressed = True
                        break
                if count >= max_keys:
                    return entries, prefixes, True, last
                if versions:
                    for version in self.store.versions_of(bucket, obj.key):
                        if count >= max_keys:
                            return entries, prefixes, True, last
                        entries.append(version)
                        count += 1
                        last = obj.key
                    cursor, inclusive = obj.key, False
                    progressed = True
                    break
                entries.append(obj)
                count += 1
                last = obj.key
                cursor, inclusive = obj.key, False
            if not progressed and len(rows) < _PAGE:
                return entries, prefixes, False, last

    def _encode(self, value: str | None, encoding: str | None) -> str | None:
        if value is None or encoding != "url":
            return value
        return quote_plus(value, safe="/")

    def _content(self, obj: ObjectRow, enc: str | None, owner: bool) -> dict[str, Any]:
        entry: dict[str, Any] = {"Key": self._encode(obj.key, enc), "LastModified": obj.last_modified,
                                 "ETag": obj.quoted_etag, "Size": obj.size,
                                 "StorageClass": obj.meta.get("StorageClass") or "STANDARD"}
        entry.update(self._checksum_summary(obj))
        if owner:
            entry["Owner"] = self._owner(obj)
        return entry

    def _owner(self, obj: ObjectRow) -> dict[str, str]:
        """The object's owner (conveyor.services.s3.cross_account.owner_of).
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html ("Owner")"""
        if not obj.meta.get("Owner"):
            return self.core.owner()
        return cross_account.owner_of(self.core, self.core.store.bucket(obj.bucket), obj.meta)

    @staticmethod
    def _checksum_summary(obj: ObjectRow) -> dict[str, Any]:
        """A listed object's checksum algorithm and type (ListObjectsV2, ListObjects, ListObjectVersions).
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html"""
        if not obj.meta.get("Checksums"):
            return {}
        return {"ChecksumAlgorithm": sorted(obj.meta["Checksums"]),
                "ChecksumType": obj.meta.get("ChecksumType") or "FULL_OBJECT"}

    def _max_keys(self, params: ListingSettings) -> int:
        value = params.get("MaxKeys")
        if value is None:
            return 1000
        if value < 0:
            raise ServiceError("InvalidArgument", "Argument maxKeys must be an integer between 0 and 2147483647",
                               400, extra={"ArgumentName": "maxKeys", "ArgumentValue": value})
        return min(value, 1000)

    def _listing_request(self, params: ListingSettings) -> tuple[str, str | None, str, str, int]:
        """What every listing takes: (bucket, encoding type, prefix, delimiter, max keys), checked."""
        bucket = params["Bucket"]
        self.core.require_bucket(bucket)
        return (bucket, self._check_encoding(params), params.get("Prefix") or "", params.get("Delimiter") or "",
                self._max_keys(params))

    def _check_encoding(self, params: ListingSettings) -> str | None:
        enc = params.get("EncodingType")
        if enc not in (None, "url"):
            raise ServiceError("InvalidArgument", "Invalid Encoding Method specified in Request", 400,
                               extra={"ArgumentName": "encoding-type", "ArgumentValue": enc})
        return enc

    async def ListObjectsV2(self, ctx: RequestContext, params: ListObjectsV2RequestTypeDef) -> dict[str, Any]:
        bucket, enc, prefix, delimiter, max_keys = self._listing_request(params)
        after = params.get("StartAfter") or ""
        token = params.get("ContinuationToken")
        if token is not None:
            try:
                if not token:
                    raise ValueError("an empty token")
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except (binascii.Error, ValueError):
                raise ServiceError("InvalidArgument", "The continuation token provided is incorrect", 400,
                                   extra={"ArgumentName": "continuation-token"})
        entries, prefixes, truncated, last = self.scan(bucket, prefix, delimiter, after, max_keys)
        out: dict[str, Any] = {
            "Name": bucket, "Prefix": self._encode(prefix, enc), "MaxKeys": max_keys,
            "KeyCount": len(entries) + len(prefixes), "IsTruncated": truncated,
            "Contents": [self._content(o, enc, bool(params.get("FetchOwner"))) for o in entries] or None,
            "CommonPrefixes": [{"Prefix": self._encode(p, enc)} for p in prefixes] or None,
        }
        if delimiter:
            out["Delimiter"] = self._encode(delimiter, enc)
        if enc:
            out["EncodingType"] = enc
        if token is not None:
            out["ContinuationToken"] = token
        if params.get("StartAfter") and token is None:
            # A continuation token overrides StartAfter, which is then not echoed either.
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
            out["StartAfter"] = self._encode(params["StartAfter"], enc)
        if truncated and last is not None:
            out["NextContinuationToken"] = base64.urlsafe_b64encode(last.encode()).decode()
        return out

    async def ListObjects(self, ctx: RequestContext, params: ListObjectsRequestTypeDef) -> dict[str, Any]:
        bucket, enc, prefix, delimiter, max_keys = self._listing_request(params)
        marker = params.get("Marker") or ""
        entries, prefixes, truncated, last = self.scan(bucket, prefix, delimiter, marker, max_keys)
        out: dict[str, Any] = {
            "Name": bucket, "Prefix": self._encode(prefix, enc), "Marker": self._encode(marker, enc),
            "MaxKeys": max_keys, "IsTruncated": truncated,
            "Contents": [self._content(o, enc, True) for o in entries] or None,
            "CommonPrefixes": [{"Prefix": self._encode(p, enc)} for p in prefixes] or None,
        }
        if delimiter:
            out["Delimiter"] = self._encode(delimiter, enc)
            if truncated and last is not None:
                out["NextMarker"] = self._encode(last, enc)
        if enc:
            out["EncodingType"] = enc
        return out

    def _check_version_marker(self, bucket: str, key_marker: str, version_marker: str) -> None:
        """Recorded AWS answers (list-object-versions --key-marker a --version-id-marker ...): an empty marker
        is "A version-id marker cannot be empty."; `null` is taken; an id S3 did not make is "Invalid version
        id specified" (conveyor.services.s3.version_ids), the key marker existing or not."""
        if not version_marker:
            raise ServiceError("InvalidArgument", "A version-id marker cannot be empty.", 400,
                               extra={"ArgumentName": "version-id-marker", "ArgumentValue": ""})
        if not version_ids.shaped(version_marker) or not (
                version_ids.made_here(version_marker)
                or self.core.store.object(bucket, key_marker, version_marker) is not None):
            raise version_ids.invalid(version_marker, "version-id-marker")

    async def ListObjectVersions(self, ctx: RequestContext,
                                 params: ListObjectVersionsRequestTypeDef) -> dict[str, Any]:
        bucket, enc, prefix, delimiter, max_keys = self._listing_request(params)
        marker = params.get("KeyMarker") or ""
        version_marker = params.get("VersionIdMarker")
        if version_marker is not None and marker:
            self._check_version_marker(bucket, marker, version_marker)
        elif version_marker:
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
            raise ServiceError("InvalidArgument", "A version-id marker cannot be specified without a key marker.",
                               400, extra={"ArgumentName": "version-id-marker", "ArgumentValue": version_marker})
        entries, prefixes, truncated, last = self.scan(bucket, prefix, delimiter, marker, max_keys, versions=True,
                                                       version_after=version_marker or None)
        versions, markers = [], []
        for obj in entries:
            base = {"Key": self._encode(obj.key, enc), "VersionId": obj.version_id, "IsLatest": obj.is_latest,
                    "LastModified": obj.last_modified, "Owner": self._owner(obj)}
            if obj.delete_marker:
                markers.append(base)
            else:
                versions.append({**base, "ETag": obj.quoted_etag, "Size": obj.size,
                                 "StorageClass": obj.meta.get("StorageClass") or "STANDARD",
                                 **self._checksum_summary(obj)})
        out: dict[str, Any] = {
            "Name": bucket, "Prefix": self._encode(prefix, enc), "KeyMarker": self._encode(marker, enc),
            "VersionIdMarker": version_marker or "",
            "MaxKeys": max_keys, "IsTruncated": truncated, "Versions": versions or None,
            "DeleteMarkers": markers or None,
            "CommonPrefixes": [{"Prefix": self._encode(p, enc)} for p in prefixes] or None,
        }
        if delimiter:
            out["Delimiter"] = self._encode(delimiter, enc)
        if truncated and last is not None:
            out["NextKeyMarker"] = self._encode(last, enc)
            if entries and entries[-1].key == last:  # a page that ends inside a key's versions resumes there
                out["NextVersionIdMarker"] = entries[-1].version_id
        if enc:
            out["EncodingType"] = enc
        return out
