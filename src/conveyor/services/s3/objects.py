"""Object operations: put, get, head, delete, copy and tagging (listings are in listings.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import unquote

from conveyor.services.s3 import acl, archive, checksums, cross_account, encryption, objectlock
from conveyor.services.s3.access import check_write_acl
from conveyor.services.s3.blobs import INLINE_MAX
from conveyor.services.s3.conditions import (
    WritePrecondition,
    check_copy_source,
    check_read,
    invalid_range,
    parse_range,
)
from conveyor.services.s3.core import Core
from conveyor.services.s3.errors import malformed_xml
from conveyor.services.s3.iam import deleted_item
from conveyor.services.s3.metadata import (
    CHECKSUM_MEMBERS,
    check_tags,
    checksum_members,
    object_members,
    object_meta,
    tag_set,
    version_members,
)
from conveyor.services.s3.schema import ObjectRow
from conveyor.services.s3.uploads import (
    arrived_body,
    body_source,
    requested_algorithms,
    stored_checksums,
    verify_body,
)
from conveyor.services.s3.versions import Versions
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        CopyObjectRequestTypeDef,
        CopySourceOrStrTypeDef,
        DeleteObjectRequestTypeDef,
        DeleteObjectsRequestTypeDef,
        DeleteObjectTaggingRequestTypeDef,
        GetObjectRequestTypeDef,
        GetObjectTaggingRequestTypeDef,
        HeadObjectRequestTypeDef,
        PutObjectRequestTypeDef,
        PutObjectTaggingRequestTypeDef,
    )
    from typing_extensions import ReadOnly

    class CopySourceSettings(TypedDict, total=False):
        """CopyObject's and UploadPartCopy's source and its conditions."""

        CopySource: ReadOnly[CopySourceOrStrTypeDef]
        CopySourceIfMatch: ReadOnly[str]
        CopySourceIfNoneMatch: ReadOnly[str]
        CopySourceIfModifiedSince: ReadOnly[dt.datetime | str]
        CopySourceIfUnmodifiedSince: ReadOnly[dt.datetime | str]

MAX_OBJECT = 5 * 1024**3


def copy_source(core: Core, params: CopySourceSettings, whole: bool = False) -> ObjectRow:
    """The object `x-amz-copy-source` names (`/bucket/key?versionId=...`, URL-encoded), body included,
    once its x-amz-copy-source-if-* conditions hold. `whole`: for CopyObject (rather than UploadPartCopy)."""
    raw = params.get("CopySource")
    if not isinstance(raw, str):  # the SDKs' dict form is theirs: on the wire it is always this header
        raise ServiceError("InvalidArgument", "Invalid copy source object key", 400,
                           extra={"ArgumentName": "x-amz-copy-source"})
    path, _, query = raw.partition("?")
    version = None
    if query.startswith("versionId="):
        version = unquote(query[len("versionId="):])
    path = unquote(path).lstrip("/")
    src_bucket, _, src_key = path.partition("/")
    if not src_bucket or not src_key:
        raise ServiceError("InvalidArgument", "Invalid copy source object key", 400,
                           extra={"ArgumentName": "x-amz-copy-source", "ArgumentValue": raw})
    try:
        obj = core.current_object(src_bucket, src_key, version, with_body=True, argument="x-amz-copy-source")
    except ServiceError as error:
        raise _copy_source_error(error, whole) from None
    archive.check_copy_source(obj, core.clock.now())
    check_copy_source(obj, params.get("CopySourceIfMatch"), params.get("CopySourceIfNoneMatch"),
                      params.get("CopySourceIfModifiedSince"), params.get("CopySourceIfUnmodifiedSince"))
    return obj


def _copy_source_error(error: ServiceError, whole: bool) -> ServiceError:
    """How a copy refuses a source version, as recorded against AWS (us-east-1, 2026): naming a delete marker
    is InvalidRequest; an id S3 did not make is InvalidArgument for UploadPartCopy but a bare InvalidRequest
    "Invalid Request" for CopyObject (an empty id is InvalidArgument for both).
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html ("x-amz-copy-source")"""
    if error.code == "MethodNotAllowed":
        return ServiceError("InvalidRequest", "The source of a copy request may not specifically refer to a delete "
                            "marker by version id.", 400)
    if whole and error.message == "Invalid version id specified":
        return ServiceError("InvalidRequest", "Invalid Request", 400)
    return error


class ObjectOperations:
    def __init__(self, core: Core, versions: Versions) -> None:
        self.core = core
        self.blobs = core.blobs
        self.versions = versions

    # -- put / get / head -------------------------------------------------------------------------
    async def PutObject(self, ctx: RequestContext, params: PutObjectRequestTypeDef) -> dict[str, Any]:
        bucket, key = params["Bucket"], params["Key"]
        brow = self.core.require_bucket(bucket)
        check_write_acl(brow, params)
        if_none_match, if_match = params.get("IfNoneMatch"), params.get("IfMatch")
        if if_none_match not in (None, "*"):
            raise ServiceError("NotImplemented", "If-None-Match on PUT supports only '*'", 501)
        algorithm = params.get("ChecksumAlgorithm")
        algorithms = requested_algorithms(ctx, algorithm)
        whole = arrived_body(ctx)
        if whole is not None and len(whole) <= INLINE_MAX:  # a small body that came with its head: no streaming
            info, decoder = self.blobs.kept_in_memory(whole, algorithms), None
        else:
            source, decoder = body_source(ctx)
            info = await self.blobs.write(source, algorithms, limit=MAX_OBJECT, inline=True)
        try:
            verify_body(ctx, info, decoder)
        except ServiceError:
            self.blobs.delete([info.blob_id])
            raise
        meta = object_meta(params, ctx.request.headers.get("content-type"))
        meta.update(encryption.object_encryption(brow, params, brow.region, self.core.account_id))
        meta.update(objectlock.requested(brow, params, self.core.clock.now()))
        meta["Checksums"] = stored_checksums(ctx, algorithm, info)
        meta["ChecksumType"] = "FULL_OBJECT"
        precondition = None
        if if_none_match is not None or if_match is not None:
            precondition = WritePrecondition(key, absent=if_none_match == "*", if_match=if_match)
        version = await self.versions.put(ctx, bucket, key, info, info.md5.hex(), meta, "s3:ObjectCreated:Put",
                                          precondition=precondition)
        out: dict[str, Any] = {"ETag": version.quoted_etag, **version_members(version.version_id, brow.versioning),
                               **encryption.response_members(meta)}
        out.update(checksum_members(meta))
        return out

    async def GetObject(self, ctx: RequestContext, params: GetObjectRequestTypeDef) -> dict[str, Any]:
        return await self._read(ctx, params, head=False)

    async def HeadObject(self, ctx: RequestContext, params: HeadObjectRequestTypeDef) -> dict[str, Any]:
        return await self._read(ctx, params, head=True)

    async def _read(self, ctx: RequestContext, params: GetObjectRequestTypeDef | HeadObjectRequestTypeDef,
                    head: bool) -> dict[str, Any]:
        bucket, key = params["Bucket"], params["Key"]
        brow = self.core.require_bucket(bucket)
        obj = self.core.current_object(bucket, key, params.get("VersionId"), with_body=not head)
        cross_account.check_owner_reads(self.core, ctx, brow, obj)
        if not head:
            archive.check_readable(obj, self.core.clock.now())
        check_read(obj, params.get("IfMatch"), params.get("IfNoneMatch"), params.get("IfModifiedSince"),
                   params.get("IfUnmodifiedSince"))
        out = object_members(obj, params, brow.versioning)
        start, end = 0, obj.size - 1
        status = 200
        part = params.get("PartNumber")
        requested_range = params.get("Range")
        if part is not None:
            sizes: list[int] = obj.meta.get("PartSizes") or [obj.size]
            if part < 1 or part > len(sizes):
                raise ServiceError("InvalidPartNumber", "The requested partnumber is not satisfiable", 416)
            start = sum(sizes[: part - 1])
            end = start + sizes[part - 1] - 1
            out["PartsCount"] = len(sizes)
            status = 206
        elif requested_range and obj.size > 0:
            rng = parse_range(requested_range, obj.size)
            if rng is not None:
                start, end = rng
                status = 206
        elif requested_range and obj.size == 0 and parse_range(requested_range, 1) is not None:
            raise invalid_range(0, requested_range)
        if status == 206:
            out["ContentRange"] = f"bytes {start}-{end}/{obj.size}"
            out["ContentLength"] = end - start + 1
            for member in CHECKSUM_MEMBERS.values():
                out.pop(member, None)
            out.pop("ChecksumType", None)
        out["__status"] = status
        if not head and obj.blob and obj.size:
            out["Body"] = self.blobs.read(obj.blob, start, end)
        elif not head:
            out["Body"] = (obj.body or b"")[start:end + 1]
        return out

    # -- delete -----------------------------------------------------------------------------------
    async def DeleteObject(self, ctx: RequestContext, params: DeleteObjectRequestTypeDef) -> dict[str, Any]:
        # If-Match on DELETE (general purpose buckets): https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html
        if_match = params.get("IfMatch")
        precondition = WritePrecondition(params["Key"], if_match=if_match) if if_match is not None else None
        done = await self.versions.delete(ctx, params["Bucket"], params["Key"], params.get("VersionId"),
                                          bool(params.get("BypassGovernanceRetention")), precondition)
        out: dict[str, Any] = {"__status": 204}
        if done.version_id is not None:
            out["VersionId"] = done.version_id
        if done.delete_marker:
            out["DeleteMarker"] = True
        return out

    async def DeleteObjects(self, ctx: RequestContext, params: DeleteObjectsRequestTypeDef) -> dict[str, Any]:
        bucket = params["Bucket"]
        self.core.require_bucket(bucket)
        delete = params["Delete"]
        objects = delete.get("Objects") or []
        if len(objects) > 1000:
            raise malformed_xml()
        deleted: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        # Keys IAM refused (`--iam enforce`) are answered AccessDenied each; the others are deleted.
        refused = ctx.denied_items or {}
        for item in objects:
            message = refused.get(deleted_item(item["Key"], item.get("VersionId")))
            if message is not None:
                errors.append({"Key": item["Key"], "Code": "AccessDenied", "Message": message,
                               "VersionId": item.get("VersionId")})
        if refused:
            objects = [i for i in objects if deleted_item(i["Key"], i.get("VersionId")) not in refused]
        # One write per key, issued together: they share a group commit (one fsync, one writer hop).
        bypass = bool(params.get("BypassGovernanceRetention"))
        outcomes = await asyncio.gather(*(self.versions.delete(ctx, bucket, item["Key"], item.get("VersionId"), bypass)
                                          for item in objects), return_exceptions=True)
        for item, done in zip(objects, outcomes, strict=True):
            key, version_id = item["Key"], item.get("VersionId")
            if isinstance(done, ServiceError):
                errors.append({"Key": key, "Code": done.code, "Message": done.message, "VersionId": version_id})
                continue
            if isinstance(done, BaseException):
                raise done
            entry: dict[str, Any] = {"Key": key}
            if version_id:
                entry["VersionId"] = version_id
            if done.delete_marker:
                entry["DeleteMarker"] = True
                entry["DeleteMarkerVersionId"] = done.version_id
            deleted.append(entry)
        return {"Deleted": [] if delete.get("Quiet") else deleted, "Errors": errors}

    # -- copy -------------------------------------------------------------------------------------
    async def CopyObject(self, ctx: RequestContext, params: CopyObjectRequestTypeDef) -> dict[str, Any]:
        bucket, key = params["Bucket"], params["Key"]
        brow = self.core.require_bucket(bucket)
        check_write_acl(brow, params)
        src = copy_source(self.core, params, whole=True)
        directive = (params.get("MetadataDirective") or "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise ServiceError("InvalidArgument", "Unknown metadata directive.", 400)
        # Copying an object onto itself must change something: its metadata, storage class, website redirect
        # or encryption. https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
        changes = any(params.get(name) for name in ("StorageClass", "WebsiteRedirectLocation", "ServerSideEncryption",
                                                     "SSEKMSKeyId", "BucketKeyEnabled"))
        # Also allowed in place, as recorded against AWS (LocalStack's test_copy_in_place_with_bucket_encryption):
        # a bucket whose default encryption was configured (not merely the SSE-S3 every bucket has), and an
        # object restored from an archive.
        changes = changes or bool(brow.config.get("encryption")) or "RestoreExpiry" in src.meta
        # Naming the source's version makes it a copy of that version: a new version, allowed.
        names_version = "versionId=" in str(params.get("CopySource") or "")
        if src.bucket == bucket and src.key == key and directive == "COPY" and not changes and not names_version:
            raise ServiceError("InvalidRequest", "This copy request is illegal because it is trying to copy an "
                               "object to itself without changing the object's metadata, storage class, website "
                               "redirect location or encryption attributes.", 400)
        if directive == "REPLACE":
            meta = object_meta(params, params.get("ContentType"))
        else:
            # The storage class and website redirect are the request's, not the source's.
            # Nor is the source's Object Lock copied: the copy is locked as its own request and bucket say.
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
            # The copy is its writer's, whoever owned the source (conveyor.services.s3.cross_account).
            meta = {k: v for k, v in src.meta.items()
                    if k not in ("Tags", "ACL", "Owner", "StorageClass", "WebsiteRedirectLocation", "RestoreExpiry",
                                 *objectlock.MEMBERS)}
            archive.check_class(params.get("StorageClass"))
            for name in ("StorageClass", "WebsiteRedirectLocation"):
                if params.get(name):
                    meta[name] = params.get(name)
            # The copy's ACL is its request's (canned or grant headers), never its source's.
            grants = acl.header_grants(params)
            if grants or params.get("ACL"):
                meta["ACL"] = {"Grants": grants} if grants else params.get("ACL")
        # The copy is encrypted as its own request and bucket say, not as its source was.
        for name in encryption.OBJECT_MEMBERS:
            meta.pop(name, None)
        meta.update(encryption.object_encryption(brow, params, brow.region, self.core.account_id))
        meta.update(objectlock.requested(brow, params, self.core.clock.now()))
        tagging = params.get("Tagging")
        if (params.get("TaggingDirective") or "COPY").upper() == "COPY":
            if src.meta.get("Tags"):
                meta["Tags"] = src.meta["Tags"]
        elif tagging:
            meta["Tags"] = tag_set(tagging)
        else:
            meta.pop("Tags", None)
        # The copy's checksum: of the algorithm asked for, else of its source's, else CRC64NVME; computed over
        # the whole copy, so a full-object one even when the source's was composite.
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
        algorithm = params.get("ChecksumAlgorithm")
        algos = ({algorithm.upper()} if algorithm else set((src.meta.get("Checksums") or {}).keys())) \
            or {checksums.DEFAULT}
        if src.blob:
            info = await self.blobs.copy(src.blob, algorithms=algos)
        else:
            info = self.blobs.in_memory(src.body or b"", algos)
        meta["Checksums"] = info.checksums
        meta["ChecksumType"] = "FULL_OBJECT"
        meta.pop("PartSizes", None)
        meta.pop("PartsCount", None)
        version = await self.versions.put(ctx, bucket, key, info, info.md5.hex(), meta, "s3:ObjectCreated:Copy")
        result: dict[str, Any] = {"ETag": version.quoted_etag, "LastModified": version.last_modified,
                                  **checksum_members(meta)}
        out: dict[str, Any] = {"CopyObjectResult": result, **version_members(version.version_id, brow.versioning),
                               **encryption.response_members(meta)}
        if src.version_id != "null":
            out["CopySourceVersionId"] = src.version_id
        return out

    # -- tagging ----------------------------------------------------------------------------------
    async def PutObjectTagging(self, ctx: RequestContext, params: PutObjectTaggingRequestTypeDef) -> dict[str, Any]:
        tags = params["Tagging"]["TagSet"]
        if len(tags) > 10:
            raise ServiceError("BadRequest", "Object tags cannot be greater than 10", 400)
        check_tags(tags)
        obj = await self.versions.set_meta(ctx, params["Bucket"], params["Key"], params.get("VersionId"), "Tags",
                                           [dict(tag) for tag in tags], "s3:ObjectTagging:Put")
        return {"VersionId": obj.version_id} if obj.version_id != "null" else {}

    async def GetObjectTagging(self, ctx: RequestContext, params: GetObjectTaggingRequestTypeDef) -> dict[str, Any]:
        obj = self.core.current_object(params["Bucket"], params["Key"], params.get("VersionId"))
        out: dict[str, Any] = {"TagSet": obj.meta.get("Tags") or []}
        if obj.version_id != "null":
            out["VersionId"] = obj.version_id
        return out

    async def DeleteObjectTagging(self, ctx: RequestContext,
                                  params: DeleteObjectTaggingRequestTypeDef) -> dict[str, Any]:
        await self.versions.set_meta(ctx, params["Bucket"], params["Key"], params.get("VersionId"), "Tags", None,
                                     "s3:ObjectTagging:Delete", method="DELETE")
        return {"__status": 204}
