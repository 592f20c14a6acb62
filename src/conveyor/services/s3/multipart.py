"""Multipart uploads: create, upload part (and part copy), complete with AWS's ETag, abort, list."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from conveyor.services.s3.objects import (
    CHECKSUM_MEMBERS,
    MAX_OBJECT,
    parse_range,
)
from conveyor.services.s3.uploads import body_source, requested_algorithms, verify_body
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.services.s3.api import S3Service

MIN_PART = 5 * 1024 * 1024
MAX_PART = 5 * 1024**3


def no_such_upload(upload_id: str) -> ServiceError:
    return ServiceError("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the "
                        "upload may have been aborted or completed.", 404, extra={"UploadId": upload_id})


class MultipartMixin:
    def _upload(self: S3Service, bucket: str, key: str, upload_id: str) -> dict[str, Any]:
        self.require_bucket(bucket)
        rows = self.database.query("SELECT meta, initiated FROM uploads WHERE upload_id=? AND bucket=? AND key=?",
                                   (upload_id, bucket, key))
        if not rows:
            raise no_such_upload(upload_id)
        return {"meta": json.loads(rows[0][0]), "initiated": rows[0][1]}

    async def CreateMultipartUpload(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket, key = params["Bucket"], params["Key"]
        self.require_bucket(bucket)
        self.check_acl_allowed(bucket, params)
        meta = self.object_meta(params, params.get("ContentType"))
        if params.get("ChecksumAlgorithm"):
            meta["ChecksumAlgorithm"] = params["ChecksumAlgorithm"].upper()
        upload_id = uuid.uuid4().hex
        await self.database.execute("INSERT INTO uploads (upload_id, bucket, key, initiated, meta) VALUES (?,?,?,?,?)",
                                    (upload_id, bucket, key, self.clock.now(), json.dumps(meta)))
        out = {"Bucket": bucket, "Key": key, "UploadId": upload_id}
        if params.get("ChecksumAlgorithm"):
            out["ChecksumAlgorithm"] = params["ChecksumAlgorithm"].upper()
            out["ChecksumType"] = "COMPOSITE"
        return out

    async def _save_part(self: S3Service, upload_id: str, number: int, info: Any) -> None:
        now = self.clock.now()

        def fn(conn: sqlite3.Connection) -> list[str]:
            if not conn.execute("SELECT 1 FROM uploads WHERE upload_id=?", (upload_id,)).fetchone():
                raise no_such_upload(upload_id)
            old = conn.execute("SELECT blob FROM parts WHERE upload_id=? AND part_number=?",
                               (upload_id, number)).fetchone()
            conn.execute("INSERT OR REPLACE INTO parts VALUES (?,?,?,?,?,?,?)",
                         (upload_id, number, info.blob_id, info.size, info.md5.hex(), now,
                          json.dumps(info.checksums)))
            return [old[0]] if old else []

        try:
            freed = await self.database.write(fn)
        except BaseException:
            self.blobs.delete([info.blob_id])
            raise
        self.blobs.delete(freed)

    def _part_number(self, params: dict[str, Any]) -> int:
        number = params["PartNumber"]
        if not 1 <= number <= 10000:
            raise ServiceError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                               400, extra={"ArgumentName": "partNumber", "ArgumentValue": number})
        return number

    async def UploadPart(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        number = self._part_number(params)
        self._upload(bucket, key, upload_id)
        source, decoder = body_source(ctx)
        info = await self.blobs.write(source, requested_algorithms(ctx, params), limit=MAX_PART)
        try:
            verify_body(ctx, info, decoder)
        except ServiceError:
            self.blobs.delete([info.blob_id])
            raise
        await self._save_part(upload_id, number, info)
        out: dict[str, Any] = {"ETag": f'"{info.md5.hex()}"'}
        for algo, value in info.checksums.items():
            if algo != "SHA256" or params.get("ChecksumSHA256") or params.get("ChecksumAlgorithm") == "SHA256":
                out[CHECKSUM_MEMBERS[algo]] = value
        return out

    async def UploadPartCopy(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        number = self._part_number(params)
        self._upload(bucket, key, upload_id)
        src = self.copy_source(params)
        start, end = 0, src.size - 1
        if params.get("CopySourceRange"):
            rng = parse_range(params["CopySourceRange"], src.size)
            if rng is None:
                raise ServiceError("InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                                   "bytes=first-last where first and last are the zero-based offsets of the first "
                                   "and last bytes to copy", 400)
            start, end = rng
        if src.blob:
            info = await self.blobs.copy(src.blob, start, end)
        else:
            info = await self.blobs.write(_single((src.body or b"")[start:end + 1]))
        await self._save_part(upload_id, number, info)
        out: dict[str, Any] = {"CopyPartResult": {"ETag": f'"{info.md5.hex()}"', "LastModified": self.clock.now()}}
        if src.version_id != "null":
            out["CopySourceVersionId"] = src.version_id
        return out

    async def CompleteMultipartUpload(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        brow = self.require_bucket(bucket)
        upload = self._upload(bucket, key, upload_id)
        requested = (params.get("MultipartUpload") or {}).get("Parts") or []
        if not requested:
            raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                               "against our published schema", 400)
        stored = {r[0]: r for r in self.database.query(
            "SELECT part_number, blob, size, etag, checksums FROM parts WHERE upload_id=?", (upload_id,))}
        chosen = []
        previous = 0
        for index, part in enumerate(requested):
            number = part.get("PartNumber") or 0
            if number <= previous:
                raise ServiceError("InvalidPartOrder", "The list of parts was not in ascending order. Parts must "
                                   "be ordered by part number.", 400, extra={"UploadId": upload_id})
            previous = number
            row = stored.get(number)
            etag = (part.get("ETag") or "").strip('"')
            if row is None or (etag and etag != row[3]):
                raise ServiceError("InvalidPart", "One or more of the specified parts could not be found. The part "
                                   "may not have been uploaded, or the specified entity tag may not match the part's "
                                   "entity tag.", 400, extra={"UploadId": upload_id, "PartNumber": number,
                                                              "ETag": part.get("ETag")})
            if row[2] < MIN_PART and index < len(requested) - 1:
                raise ServiceError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed "
                                   "object size.", 400, extra={"ProposedSize": row[2], "MinSizeAllowed": MIN_PART,
                                                               "PartNumber": number, "ETag": row[3]})
            chosen.append(row)
        if sum(r[2] for r in chosen) > MAX_OBJECT:
            raise ServiceError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", 400)
        info = await self.blobs.concat([r[1] for r in chosen])
        digest = hashlib.md5(b"".join(bytes.fromhex(r[3]) for r in chosen)).hexdigest()
        etag = f"{digest}-{len(chosen)}"
        meta = dict(upload["meta"])
        meta["PartSizes"] = [r[2] for r in chosen]
        meta["PartsCount"] = len(chosen)
        algo = meta.pop("ChecksumAlgorithm", None)
        meta["Checksums"] = {}
        if algo:
            # Composite checksum: the checksum of the parts' checksums, "-N" (AWS's COMPOSITE type).
            from conveyor.services.s3 import checksums

            h = checksums.new(algo)
            part_sums = [json.loads(r[4]).get(algo) for r in chosen]
            if h is not None and all(part_sums):
                import base64

                for s in part_sums:
                    h.update(base64.b64decode(s))
                meta["Checksums"] = {algo: f"{checksums.b64(h.digest())}-{len(chosen)}"}
                meta["ChecksumType"] = "COMPOSITE"
        obj = await self._finish_upload(ctx, bucket, key, upload_id, info, etag, meta)
        out: dict[str, Any] = {"Location": f"{ctx.base_url}/{bucket}/{key}", "Bucket": bucket, "Key": key,
                               "ETag": obj.quoted_etag, **self.version_headers(obj, brow.versioning)}
        for name, value in meta["Checksums"].items():
            out[CHECKSUM_MEMBERS[name]] = value
        return out

    async def _finish_upload(self: S3Service, ctx: RequestContext, bucket: str, key: str, upload_id: str,
                             info: Any, etag: str, meta: dict[str, Any]) -> Any:
        part_blobs = [r[0] for r in self.database.query("SELECT blob FROM parts WHERE upload_id=?", (upload_id,))]
        obj = await self.store_object(ctx, bucket, key, info, etag, meta, "s3:ObjectCreated:CompleteMultipartUpload",
                                      condition={"upload_id": upload_id})
        await self.database.execute("DELETE FROM uploads WHERE upload_id=?", (upload_id,), grows=False)
        self.blobs.delete(part_blobs)
        return obj

    async def AbortMultipartUpload(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        self._upload(bucket, key, upload_id)
        blobs = [r[0] for r in self.database.query("SELECT blob FROM parts WHERE upload_id=?", (upload_id,))]
        await self.database.execute("DELETE FROM uploads WHERE upload_id=?", (upload_id,), grows=False)
        self.blobs.delete(blobs)
        return {"__status": 204}

    async def ListParts(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
        upload = self._upload(bucket, key, upload_id)
        max_parts = min(params.get("MaxParts") or 1000, 1000)
        marker = params.get("PartNumberMarker") or 0
        rows = self.database.query(
            "SELECT part_number, size, etag, last_modified, checksums FROM parts WHERE upload_id=? AND part_number>? "
            "ORDER BY part_number LIMIT ?", (upload_id, marker, max_parts + 1))
        truncated = len(rows) > max_parts
        rows = rows[:max_parts]
        parts = []
        for number, size, etag, lm, sums in rows:
            part = {"PartNumber": number, "Size": size, "ETag": f'"{etag}"', "LastModified": lm}
            for algo, value in json.loads(sums).items():
                part[CHECKSUM_MEMBERS[algo]] = value
            parts.append(part)
        out: dict[str, Any] = {
            "Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumberMarker": marker,
            "MaxParts": max_parts, "IsTruncated": truncated, "Parts": parts or None,
            "Initiator": self.owner(), "Owner": self.owner(), "StorageClass": "STANDARD",
        }
        if rows:
            out["NextPartNumberMarker"] = rows[-1][0]
        if upload["meta"].get("ChecksumAlgorithm"):
            out["ChecksumAlgorithm"] = upload["meta"]["ChecksumAlgorithm"]
        return out

    async def ListMultipartUploads(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = params["Bucket"]
        self.require_bucket(bucket)
        prefix = params.get("Prefix") or ""
        max_uploads = min(params.get("MaxUploads") or 1000, 1000)
        rows = self.database.query("SELECT upload_id, key, initiated FROM uploads WHERE bucket=? ORDER BY key, initiated",
                                   (bucket,))
        uploads = [{"UploadId": u, "Key": k, "Initiated": t, "StorageClass": "STANDARD", "Owner": self.owner(),
                    "Initiator": self.owner()} for u, k, t in rows if k.startswith(prefix)]
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


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data
