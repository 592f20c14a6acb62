"""Multipart uploads: create, upload part (and part copy), complete with AWS's ETag, abort, list."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from conveyor.services.s3 import checksums, encryption, objectlock
from conveyor.services.s3.access import check_write_acl
from conveyor.services.s3.blobs import BlobInfo
from conveyor.services.s3.conditions import WritePrecondition, parse_range
from conveyor.services.s3.core import Core
from conveyor.services.s3.errors import malformed_xml, no_such_upload
from conveyor.services.s3.metadata import CHECKSUM_MEMBERS, checksum_members, object_meta, version_members
from conveyor.services.s3.objects import MAX_OBJECT, copy_source
from conveyor.services.s3.schema import PartRow, UploadRow
from conveyor.services.s3.uploads import body_source, client_algorithms, requested_algorithms, verify_body
from conveyor.services.s3.versions import Versions
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        AbortMultipartUploadRequestTypeDef,
        CompleteMultipartUploadRequestTypeDef,
        CreateMultipartUploadRequestTypeDef,
        ListMultipartUploadsRequestTypeDef,
        ListPartsRequestTypeDef,
        UploadPartCopyRequestTypeDef,
        UploadPartRequestTypeDef,
    )

MIN_PART = 5 * 1024 * 1024
MAX_PART = 5 * 1024**3


def _part_number(number: int) -> int:
    if not 1 <= number <= 10000:
        raise ServiceError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                           400, extra={"ArgumentName": "partNumber", "ArgumentValue": number})
    return number


def _composite_checksum(algorithm: str, parts: list[PartRow]) -> str | None:
    """AWS's COMPOSITE checksum: the checksum of the parts' checksums, then "-N"; None when a part lacks one."""
    hasher = checksums.new(algorithm)
    sums = [part.checksums.get(algorithm) for part in parts]
    if hasher is None or not all(sums):
        return None
    for value in sums:
        hasher.update(base64.b64decode(value or ""))
    return f"{checksums.b64(hasher.digest())}-{len(parts)}"


def _checksum_choice(algorithm: str | None, checksum_type: str | None) -> tuple[str, str]:
    """A multipart upload's checksum algorithm and type: CRC64NVME's full-object checksum unless the upload
    names another; CRC32 and CRC32C may be either, CRC64NVME only full-object, SHA-1 and SHA-256 only composite.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html#ChecksumTypes"""
    if checksum_type is not None and algorithm is None:
        raise ServiceError("InvalidRequest", "The x-amz-checksum-type header can only be used with the "
                           "x-amz-checksum-algorithm header.", 400)
    chosen = (algorithm or checksums.DEFAULT).upper()
    if chosen not in CHECKSUM_MEMBERS:
        raise ServiceError("InvalidRequest", "Checksum algorithm provided is unsupported. Please try again with "
                           "any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]", 400)
    kind = (checksum_type or ("FULL_OBJECT" if chosen == "CRC64NVME" else "COMPOSITE")).upper()
    if (kind == "FULL_OBJECT" and chosen not in checksums.FULL_OBJECT_ALGORITHMS) or \
            (kind == "COMPOSITE" and chosen == "CRC64NVME") or kind not in ("FULL_OBJECT", "COMPOSITE"):
        raise ServiceError("InvalidRequest", f"The {chosen} checksum algorithm does not support the checksum type "
                           f"{kind}", 400)
    return chosen, kind


def _full_object_checksum(algorithm: str, parts: list[PartRow]) -> str | None:
    """A full-object CRC of the whole upload, from its parts' CRCs; None when a part lacks one."""
    sums = [(part.checksums.get(algorithm), part.size) for part in parts]
    if not all(value for value, _ in sums):
        return None
    return checksums.combine(algorithm, [(value or "", size) for value, size in sums])


def _listing_argument(value: int | None, name: str, default: int) -> int:
    """ListParts' max-parts and part-number-marker: integers from 0 to 2^31-1, with S3's two messages."""
    if value is None:
        return default
    if value < 0:
        message = f"Argument {name} must be an integer between 0 and 2147483647"
    elif value > 2147483647:
        message = f"Provided {name} not an integer or within integer range"
    else:
        return value
    raise ServiceError("InvalidArgument", message, 400, extra={"ArgumentName": name, "ArgumentValue": str(value)})


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


class MultipartOperations:
    def __init__(self, core: Core, versions: Versions) -> None:
        self.core = core
        self.store = core.store
        self.blobs = core.blobs
        self.versions = versions

    def _upload(self, bucket: str, key: str, upload_id: str) -> UploadRow:
        self.core.require_bucket(bucket)
        upload = self.store.upload(upload_id, bucket, key)
        if upload is None:
            raise no_such_upload(upload_id)
        return upload

    async def CreateMultipartUpload(self, ctx: RequestContext,
                                    params: CreateMultipartUploadRequestTypeDef) -> dict[str, Any]:
        bucket, key = params["Bucket"], params["Key"]
        brow = self.core.require_bucket(bucket)
        check_write_acl(brow, params)
        meta = object_meta(params, params.get("ContentType"))
        meta.update(encryption.object_encryption(brow, params, brow.region, self.core.account_id))
        meta.update(objectlock.requested(brow, params, self.core.clock.now()))
        algorithm, checksum_type = _checksum_choice(params.get("ChecksumAlgorithm"), params.get("ChecksumType"))
        meta["ChecksumAlgorithm"], meta["ChecksumType"] = algorithm, checksum_type
        meta["ChecksumNamed"] = bool(params.get("ChecksumAlgorithm"))
        upload_id = uuid.uuid4().hex
        await self.store.create_upload(upload_id, bucket, key, self.core.clock.now(), json.dumps(meta))
        out: dict[str, Any] = {"Bucket": bucket, "Key": key, "UploadId": upload_id,
                               **encryption.response_members(meta)}
        if params.get("ChecksumAlgorithm"):
            out["ChecksumAlgorithm"] = algorithm
            out["ChecksumType"] = checksum_type
        return out

    async def _save_part(self, upload_id: str, number: int, info: BlobInfo) -> None:
        part = PartRow(number, info.blob_id, info.size, info.md5.hex(), self.core.clock.now(), info.checksums)
        try:
            await self.store.save_part(upload_id, part, json.dumps(info.checksums))
        except BaseException:
            self.blobs.delete([info.blob_id])
            raise

    async def UploadPart(self, ctx: RequestContext, params: UploadPartRequestTypeDef) -> dict[str, Any]:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        number = _part_number(params["PartNumber"])
        upload = self._upload(bucket, key, upload_id)
        source, decoder = body_source(ctx)
        algorithm = params.get("ChecksumAlgorithm")
        upload_algorithm = upload.meta.get("ChecksumAlgorithm") or checksums.DEFAULT
        wanted = requested_algorithms(ctx, algorithm) | {upload_algorithm}
        info = await self.blobs.write(source, wanted, limit=MAX_PART)
        try:
            verify_body(ctx, info, decoder)
        except ServiceError:
            self.blobs.delete([info.blob_id])
            raise
        await self._save_part(upload_id, number, info)
        out: dict[str, Any] = {"ETag": f'"{info.md5.hex()}"', **encryption.response_members(upload.meta)}
        # The part's checksum of the algorithm its client or its upload named (not the CRC64NVME kept for
        # an upload that named none, nor the SHA-256 computed to check a signature).
        shown = client_algorithms(ctx, algorithm)
        if upload.meta.get("ChecksumNamed"):
            shown.add(upload_algorithm)
        for algo, value in info.checksums.items():
            if algo in shown:
                out[CHECKSUM_MEMBERS[algo]] = value
        return out

    async def UploadPartCopy(self, ctx: RequestContext, params: UploadPartCopyRequestTypeDef) -> dict[str, Any]:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        number = _part_number(params["PartNumber"])
        upload = self._upload(bucket, key, upload_id)
        src = copy_source(self.core, params)
        start, end = 0, src.size - 1
        source_range = params.get("CopySourceRange")
        if source_range:
            rng = parse_range(source_range, src.size)
            if rng is None:
                raise ServiceError("InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                                   "bytes=first-last where first and last are the zero-based offsets of the first "
                                   "and last bytes to copy", 400)
            start, end = rng
        algorithms = {upload.meta.get("ChecksumAlgorithm") or checksums.DEFAULT}
        if src.blob:
            info = await self.blobs.copy(src.blob, start, end, algorithms=algorithms)
        else:
            info = await self.blobs.write(_single((src.body or b"")[start:end + 1]), algorithms)
        await self._save_part(upload_id, number, info)
        out: dict[str, Any] = {"CopyPartResult": {"ETag": f'"{info.md5.hex()}"',
                                                  "LastModified": self.core.clock.now()},
                               **encryption.response_members(upload.meta)}
        if src.version_id != "null":
            out["CopySourceVersionId"] = src.version_id
        return out

    def _chosen_parts(self, upload_id: str, params: CompleteMultipartUploadRequestTypeDef) -> list[PartRow]:
        """The uploaded parts the request lists, checked: in order, each there with its ETag, all but the
        last at least MIN_PART."""
        requested = (params.get("MultipartUpload") or {}).get("Parts") or []
        if not requested:
            raise malformed_xml()
        stored = {part.number: part for part in self.store.parts(upload_id)}
        chosen: list[PartRow] = []
        previous = 0
        for index, asked in enumerate(requested):
            number = asked.get("PartNumber") or 0
            if number <= previous:
                raise ServiceError("InvalidPartOrder", "The list of parts was not in ascending order. Parts must "
                                   "be ordered by part number.", 400, extra={"UploadId": upload_id})
            previous = number
            part = stored.get(number)
            etag = (asked.get("ETag") or "").strip('"')
            if part is None or (etag and etag != part.etag):
                raise ServiceError("InvalidPart", "One or more of the specified parts could not be found. The part "
                                   "may not have been uploaded, or the specified entity tag may not match the part's "
                                   "entity tag.", 400, extra={"UploadId": upload_id, "PartNumber": number,
                                                              "ETag": asked.get("ETag")})
            if part.size < MIN_PART and index < len(requested) - 1:
                raise ServiceError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed "
                                   "object size.", 400, extra={"ProposedSize": part.size, "MinSizeAllowed": MIN_PART,
                                                               "PartNumber": number, "ETag": part.etag})
            chosen.append(part)
        if sum(part.size for part in chosen) > MAX_OBJECT:
            raise ServiceError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", 400)
        return chosen

    async def CompleteMultipartUpload(self, ctx: RequestContext,
                                      params: CompleteMultipartUploadRequestTypeDef) -> dict[str, Any]:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        brow = self.core.require_bucket(bucket)
        if self.store.upload(upload_id, bucket, key) is None:
            repeated = self._completed_again(ctx, bucket, key, upload_id, brow.versioning)
            if repeated is not None:
                return repeated
        upload = self._upload(bucket, key, upload_id)
        chosen = self._chosen_parts(upload_id, params)
        info = await self.blobs.concat([part.blob for part in chosen])
        # AWS's multipart ETag: the MD5 of the parts' MD5s, then "-N".
        digest = hashlib.md5(b"".join(bytes.fromhex(part.etag) for part in chosen)).hexdigest()
        meta = dict(upload.meta)
        meta["PartSizes"] = [part.size for part in chosen]
        meta["PartsCount"] = len(chosen)
        algorithm = meta.pop("ChecksumAlgorithm", None) or checksums.DEFAULT
        meta.pop("ChecksumNamed", None)
        checksum_type = meta.get("ChecksumType") or "FULL_OBJECT"
        meta["ChecksumType"] = checksum_type
        if checksum_type == "COMPOSITE":
            value = _composite_checksum(algorithm, chosen)
        else:
            value = _full_object_checksum(algorithm, chosen)
        meta["Checksums"] = {algorithm: value} if value else {}
        # The upload ends in the same commit as the object appears: completed once, its parts freed after.
        # If-None-Match: * and If-Match hold for the object the upload becomes, judged in its commit.
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
        if_none_match, if_match = params.get("IfNoneMatch"), params.get("IfMatch")
        precondition = None
        if if_none_match is not None or if_match is not None:
            if if_none_match not in (None, "*"):
                raise ServiceError("NotImplemented", "If-None-Match on PUT supports only '*'", 501)
            precondition = WritePrecondition(key, absent=if_none_match == "*", if_match=if_match)
        version = await self.versions.put(ctx, bucket, key, info, f"{digest}-{len(chosen)}", meta,
                                          "s3:ObjectCreated:CompleteMultipartUpload", completes=upload_id,
                                          precondition=precondition)
        out: dict[str, Any] = {"Location": f"{ctx.base_url}/{bucket}/{key}", "Bucket": bucket, "Key": key,
                               "ETag": version.quoted_etag, **version_members(version.version_id, brow.versioning),
                               **encryption.response_members(meta)}
        out.update(checksum_members(meta))
        return out

    def _completed_again(self, ctx: RequestContext, bucket: str, key: str, upload_id: str,
                         versioning: str) -> dict[str, Any] | None:
        """A retried CompleteMultipartUpload of an upload completed lately answers as the first did, while the
        version it made is still there (its conditions, such as If-None-Match, are not judged again).
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html"""
        done = self.store.completed_upload(upload_id, bucket, key)
        if done is None:
            return None
        version = self.store.object(bucket, key, done[0])
        if version is None or version.etag != done[1]:
            return None
        out: dict[str, Any] = {"Location": f"{ctx.base_url}/{bucket}/{key}", "Bucket": bucket, "Key": key,
                               "ETag": version.quoted_etag, **version_members(version.version_id, versioning),
                               **encryption.response_members(version.meta)}
        out.update(checksum_members(version.meta))
        return out

    async def AbortMultipartUpload(self, ctx: RequestContext,
                                   params: AbortMultipartUploadRequestTypeDef) -> dict[str, Any]:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        self._upload(bucket, key, upload_id)
        await self.store.abort_upload(upload_id)
        return {"__status": 204}

    async def ListParts(self, ctx: RequestContext, params: ListPartsRequestTypeDef) -> dict[str, Any]:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        upload = self._upload(bucket, key, upload_id)
        max_parts = min(_listing_argument(params.get("MaxParts"), "max-parts", 1000), 1000)
        marker = _listing_argument(params.get("PartNumberMarker"), "part-number-marker", 0)
        rows = self.store.parts(upload_id, after=marker, limit=max_parts + 1)
        truncated = len(rows) > max_parts
        rows = rows[:max_parts]
        parts = []
        for row in rows:
            part = {"PartNumber": row.number, "Size": row.size, "ETag": f'"{row.etag}"',
                    "LastModified": row.last_modified}
            for algo, value in row.checksums.items():
                part[CHECKSUM_MEMBERS[algo]] = value
            parts.append(part)
        out: dict[str, Any] = {
            "Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumberMarker": marker,
            "MaxParts": max_parts, "IsTruncated": truncated, "Parts": parts or None,
            "Initiator": self.core.owner(), "Owner": self.core.owner(), "StorageClass": "STANDARD",
        }
        out["NextPartNumberMarker"] = rows[-1].number if rows else 0
        if upload.meta.get("ChecksumNamed"):
            out["ChecksumAlgorithm"] = upload.meta["ChecksumAlgorithm"]
            out["ChecksumType"] = upload.meta["ChecksumType"]
        return out

    async def ListMultipartUploads(self, ctx: RequestContext,
                                   params: ListMultipartUploadsRequestTypeDef) -> dict[str, Any]:
        bucket = params["Bucket"]
        self.core.require_bucket(bucket)
        prefix = params.get("Prefix") or ""
        max_uploads = min(params.get("MaxUploads") or 1000, 1000)
        owner = self.core.owner()
        uploads = [{"UploadId": u.upload_id, "Key": u.key, "Initiated": u.initiated,
                    "StorageClass": u.meta.get("StorageClass") or "STANDARD", "Owner": owner, "Initiator": owner,
                    **({"ChecksumAlgorithm": u.meta["ChecksumAlgorithm"], "ChecksumType": u.meta["ChecksumType"]}
                       if u.meta.get("ChecksumNamed") else {})}
                   for u in self.store.uploads(bucket) if u.key.startswith(prefix)]
        truncated = len(uploads) > max_uploads
        uploads = uploads[:max_uploads]
        out: dict[str, Any] = {"Bucket": bucket, "MaxUploads": max_uploads, "IsTruncated": truncated,
                               "Uploads": uploads or None, "Prefix": prefix,
                               "KeyMarker": params.get("KeyMarker") or "",
                               "UploadIdMarker": params.get("UploadIdMarker") or ""}
        if truncated and uploads:
            out["NextKeyMarker"] = uploads[-1]["Key"]
            out["NextUploadIdMarker"] = uploads[-1]["UploadId"]
        return out
