"""Object operations: put/get/head/delete/copy, tagging and ACLs (listings are in listings.py)."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from conveyor.protocol.rest_xml import host_id
from conveyor.services.s3 import checksums, notifications
from conveyor.services.s3.access import check_write_acl
from conveyor.services.s3.blobs import BlobInfo
from conveyor.services.s3.store import OBJECT_COLUMNS, ObjectRow, delete_version, insert_object, next_seq
from conveyor.services.s3.uploads import body_source, requested_algorithms, verify_body
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.services.s3.api import S3Service

MAX_OBJECT = 5 * 1024**3
CONTENT_FIELDS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "Expires")
CHECKSUM_MEMBERS = {"CRC32": "ChecksumCRC32", "CRC32C": "ChecksumCRC32C", "CRC64NVME": "ChecksumCRC64NVME",
                    "SHA1": "ChecksumSHA1", "SHA256": "ChecksumSHA256"}


def no_such_key(key: str) -> ServiceError:
    return ServiceError("NoSuchKey", "The specified key does not exist.", 404, extra={"Key": key})


def precondition_failed(condition: str) -> ServiceError:
    return ServiceError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
                        extra={"Condition": condition})


def new_version_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes[:8]).decode().rstrip("=")


def _etag_matches(header: str, etag: str) -> bool:
    return any(t.strip() in ("*", f'"{etag}"', etag) for t in header.split(","))


def _ts(value: Any) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single `bytes=` range; None = serve the whole object."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            n = int(last)
            if n == 0:
                raise ValueError
            return max(0, size - n), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        if first == "" and last == "0":
            raise _invalid_range(size)
        return None
    if start > end:
        return None
    if start >= size:
        raise _invalid_range(size)
    return start, min(end, size - 1)


def _invalid_range(size: int) -> ServiceError:
    return ServiceError("InvalidRange", "The requested range is not satisfiable", 416,
                        extra={"ActualObjectSize": size, "RangeRequested": None})


class ObjectsMixin:
    # -- shared -----------------------------------------------------------------------------------
    def find_object(self: S3Service, bucket: str, key: str, version_id: str | None = None,
                    with_body: bool = False) -> ObjectRow | None:
        # The inline body comes in the same read as the row, so it always matches the row's ETag.
        columns = OBJECT_COLUMNS + (", body" if with_body else "")
        if version_id:
            rows = self.database.query(
                f"SELECT {columns} FROM objects WHERE bucket=? AND key=? AND version_id=?",
                (bucket, key, version_id))
        else:
            rows = self.database.query(
                f"SELECT {columns} FROM objects WHERE bucket=? AND key=? AND is_latest=1", (bucket, key))
        return ObjectRow.from_row(rows[0]) if rows else None

    def current_object(self: S3Service, bucket: str, key: str, version_id: str | None = None,
                       with_body: bool = False) -> ObjectRow:
        self.require_bucket(bucket)
        obj = self.find_object(bucket, key, version_id, with_body)
        if obj is None:
            if version_id:
                raise ServiceError("NoSuchVersion", "The specified version does not exist.", 404,
                                   extra={"Key": key, "VersionId": version_id})
            raise no_such_key(key)
        if obj.delete_marker:
            if version_id:
                raise ServiceError("MethodNotAllowed", "The specified method is not allowed against this resource.",
                                   405, headers={"x-amz-delete-marker": "true", "Last-Modified": ""},
                                   extra={"Method": "GET", "ResourceType": "DeleteMarker"})
            raise ServiceError("NoSuchKey", "The specified key does not exist.", 404, extra={"Key": key},
                               headers={"x-amz-delete-marker": "true", "x-amz-version-id": obj.version_id})
        return obj

    def emit(self: S3Service, conn: sqlite3.Connection, ctx: RequestContext, bucket: str, event: str,
             obj: ObjectRow, seq: int, when: float) -> None:
        """Queue the event records for this change in the same transaction as the change itself; `when` is
        the time of the change (for a removal, not the removed version's Last-Modified)."""
        row = conn.execute("SELECT config, region, owner FROM buckets WHERE name = ?", (bucket,)).fetchone()
        if row is None:
            return
        import json

        config = json.loads(row[0]).get("notification") or {}
        if not config:
            return
        for kind, arn, config_id in notifications.matches(config, event, obj.key):
            created = event.startswith("s3:ObjectCreated")
            rec = notifications.record(
                event_name=event, region=row[1], when=when, principal=self.principal(ctx),
                source_ip=(ctx.request.client or ("127.0.0.1", 0))[0], request_id=ctx.request_id,
                host_id=host_id(ctx), config_id=config_id, bucket=bucket,
                owner=self.owner_id(), key=obj.key, size=obj.size if created else None,
                etag=obj.etag if created else None, version_id=obj.version_id, sequencer=seq)
            conn.execute("INSERT INTO outbox (kind, target, body) VALUES (?,?,?)",
                         (kind, arn, notifications.dumps({"Records": [rec]})))

    async def store_object(self: S3Service, ctx: RequestContext, bucket: str, key: str, info: BlobInfo | None,
                           etag: str, meta: dict[str, Any], event: str,
                           condition: dict[str, Any] | None = None) -> ObjectRow:
        """Commit a new current version (and its events); frees what it replaced after the commit."""
        from conveyor.services.s3.api import no_such_bucket

        now = self.clock.now()

        def fn(conn: sqlite3.Connection) -> tuple[ObjectRow, list[str]]:
            brow = conn.execute("SELECT versioning FROM buckets WHERE name = ?", (bucket,)).fetchone()
            if brow is None:
                raise no_such_bucket(bucket)
            if condition:
                cur = conn.execute("SELECT etag, delete_marker FROM objects WHERE bucket=? AND key=? AND is_latest=1",
                                   (bucket, key)).fetchone()
                exists = cur is not None and not cur[1]
                if condition.get("IfNoneMatch") == "*" and exists:
                    raise precondition_failed("If-None-Match")
                if condition.get("IfMatch") is not None:
                    if not exists:
                        raise no_such_key(key)
                    if not _etag_matches(condition["IfMatch"], cur[0]):
                        raise precondition_failed("If-Match")
            versioned = brow[0] == "Enabled"
            seq = next_seq(conn, bucket)
            obj = ObjectRow(bucket, key, new_version_id() if versioned else "null", seq, True, False,
                            info.blob_id or None if info else None, info.size if info else 0, etag, now, meta,
                            info.data if info else None)
            freed = insert_object(conn, obj, versioned)
            self.emit(conn, ctx, bucket, event, obj, seq, now)
            return obj, freed

        try:
            obj, freed = await self.database.write(fn)
        except BaseException:
            if info is not None:
                self.blobs.delete([info.blob_id])
            raise
        obj.body = None  # the caller has it already; do not keep it alive with the row
        self.blobs.delete(freed)
        assert self.outbox is not None
        self.outbox.kick()
        return obj

    def object_meta(self, params: dict[str, Any], content_type: str | None) -> dict[str, Any]:
        meta: dict[str, Any] = {"ContentType": content_type or "binary/octet-stream"}
        for name in CONTENT_FIELDS:
            if params.get(name) is not None:
                meta[name] = params[name]  # Expires too: kept as sent (see conveyor.services.s3.codec)
        if "ContentEncoding" in meta:
            enc = ",".join(p for p in meta["ContentEncoding"].split(",") if p.strip() != "aws-chunked")
            if enc:
                meta["ContentEncoding"] = enc
            else:
                del meta["ContentEncoding"]
        if params.get("Metadata"):
            meta["Metadata"] = params["Metadata"]
        if params.get("Tagging"):
            from urllib.parse import parse_qsl

            meta["Tags"] = [{"Key": k, "Value": v} for k, v in parse_qsl(params["Tagging"], keep_blank_values=True)]
        if params.get("ACL"):
            meta["ACL"] = params["ACL"]
        for name in ("StorageClass", "ServerSideEncryption", "WebsiteRedirectLocation"):
            if params.get(name):
                meta[name] = params[name]
        return meta

    def check_acl_allowed(self: S3Service, bucket: str, params: dict[str, Any]) -> None:
        check_write_acl(self.require_bucket(bucket), params)

    def version_headers(self, obj: ObjectRow, bucket_versioning: str) -> dict[str, Any]:
        return {"VersionId": obj.version_id} if bucket_versioning or obj.version_id != "null" else {}

    # -- put / get / head -------------------------------------------------------------------------
    async def PutObject(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket, key = params["Bucket"], params["Key"]
        brow = self.require_bucket(bucket)
        self.check_acl_allowed(bucket, params)
        if params.get("IfNoneMatch") not in (None, "*"):
            raise ServiceError("NotImplemented", "If-None-Match on PUT supports only '*'", 501)
        source, decoder = body_source(ctx)
        algos = requested_algorithms(ctx, params)
        info = await self.blobs.write(source, algos, limit=MAX_OBJECT, inline=True)
        try:
            verify_body(ctx, info, decoder)
        except ServiceError:
            self.blobs.delete([info.blob_id])
            raise
        meta = self.object_meta(params, ctx.request.headers.get("content-type"))
        meta["Checksums"] = {a: v for a, v in info.checksums.items()
                             if a != "SHA256" or "SHA256" in self._client_algos(ctx, params)}
        etag = info.md5.hex()
        obj = await self.store_object(ctx, bucket, key, info, etag, meta, "s3:ObjectCreated:Put",
                                      condition={"IfNoneMatch": params.get("IfNoneMatch"),
                                                 "IfMatch": params.get("IfMatch")})
        out: dict[str, Any] = {"ETag": obj.quoted_etag, **self.version_headers(obj, brow.versioning)}
        if "ServerSideEncryption" in meta:
            out["ServerSideEncryption"] = meta["ServerSideEncryption"]
        for algo, value in meta["Checksums"].items():
            out[CHECKSUM_MEMBERS[algo]] = value
        if meta["Checksums"]:
            out["ChecksumType"] = "FULL_OBJECT"
        return out

    def _client_algos(self, ctx: RequestContext, params: dict[str, Any]) -> set[str]:
        headers = ctx.request.headers
        algos = {a for a in checksums.ALGORITHMS if checksums.header_for(a) in headers}
        if params.get("ChecksumAlgorithm"):
            algos.add(str(params["ChecksumAlgorithm"]).upper())
        for name in (headers.get("x-amz-trailer") or "").split(","):
            if name.strip().lower().startswith("x-amz-checksum-"):
                algos.add(name.strip().lower().removeprefix("x-amz-checksum-").upper())
        return algos

    def _check_conditions(self, params: dict[str, Any], obj: ObjectRow) -> None:
        """RFC 7232 precedence as S3 applies it to GET and HEAD."""
        etag = obj.etag
        lm = int(obj.last_modified)
        if_match, if_none = params.get("IfMatch"), params.get("IfNoneMatch")
        ims, ius = params.get("IfModifiedSince"), params.get("IfUnmodifiedSince")
        if if_match is not None:
            if not _etag_matches(if_match, etag):
                raise precondition_failed("If-Match")
        elif ius is not None and lm > _ts(ius):
            raise precondition_failed("If-Unmodified-Since")
        if if_none is not None:
            if _etag_matches(if_none, etag):
                raise ServiceError("NotModified", "Not Modified", 304, headers={"ETag": obj.quoted_etag})
        elif ims is not None and lm <= _ts(ims):
            raise ServiceError("NotModified", "Not Modified", 304, headers={"ETag": obj.quoted_etag})

    def _object_headers(self, obj: ObjectRow, params: dict[str, Any], versioning: str) -> dict[str, Any]:
        meta = obj.meta
        out: dict[str, Any] = {
            "ETag": obj.quoted_etag, "LastModified": obj.last_modified, "ContentLength": obj.size,
            "AcceptRanges": "bytes", "ContentType": meta.get("ContentType"),
            **self.version_headers(obj, versioning),
        }
        for name in CONTENT_FIELDS:
            if name in meta:
                out[name] = meta[name]
        if meta.get("Metadata"):
            out["Metadata"] = meta["Metadata"]
        if meta.get("Tags"):
            out["TagCount"] = len(meta["Tags"])
        if meta.get("PartsCount") and params.get("PartNumber"):
            out["PartsCount"] = meta["PartsCount"]
        if meta.get("StorageClass") and meta["StorageClass"] != "STANDARD":
            out["StorageClass"] = meta["StorageClass"]
        for name in ("ServerSideEncryption", "WebsiteRedirectLocation"):
            if name in meta:
                out[name] = meta[name]
        if (params.get("ChecksumMode") or "").upper() == "ENABLED":
            for algo, value in (meta.get("Checksums") or {}).items():
                out[CHECKSUM_MEMBERS[algo]] = value
            if meta.get("Checksums"):
                out["ChecksumType"] = meta.get("ChecksumType") or "FULL_OBJECT"
        for override, member in (("ResponseCacheControl", "CacheControl"),
                                 ("ResponseContentDisposition", "ContentDisposition"),
                                 ("ResponseContentEncoding", "ContentEncoding"),
                                 ("ResponseContentLanguage", "ContentLanguage"),
                                 ("ResponseContentType", "ContentType"), ("ResponseExpires", "Expires")):
            if params.get(override) is not None:
                out[member] = params[override]
        return out

    async def GetObject(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._get(ctx, params, head=False)

    async def HeadObject(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self._get(ctx, params, head=True)

    async def _get(self: S3Service, ctx: RequestContext, params: dict[str, Any], head: bool) -> dict[str, Any]:
        bucket, key = params["Bucket"], params["Key"]
        brow = self.require_bucket(bucket)
        obj = self.current_object(bucket, key, params.get("VersionId"), with_body=not head)
        self._check_conditions(params, obj)
        out = self._object_headers(obj, params, brow.versioning)
        start, end = 0, obj.size - 1
        status = 200
        part = params.get("PartNumber")
        if part is not None:
            sizes = obj.meta.get("PartSizes") or [obj.size]
            if part < 1 or part > len(sizes):
                raise ServiceError("InvalidPartNumber", "The requested partnumber is not satisfiable", 416)
            start = sum(sizes[: part - 1])
            end = start + sizes[part - 1] - 1
            out["PartsCount"] = len(sizes)
            status = 206
        elif params.get("Range") and obj.size > 0:
            rng = parse_range(params["Range"], obj.size)
            if rng is not None:
                start, end = rng
                status = 206
        elif params.get("Range") and obj.size == 0 and parse_range(params["Range"], 1) is not None:
            raise _invalid_range(0)
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
    async def delete_one(self: S3Service, ctx: RequestContext, bucket: str, key: str,
                         version_id: str | None) -> dict[str, Any]:
        now = self.clock.now()

        def fn(conn: sqlite3.Connection) -> tuple[dict[str, Any], list[str]]:
            brow = conn.execute("SELECT versioning FROM buckets WHERE name = ?", (bucket,)).fetchone()
            if brow is None:
                from conveyor.services.s3.api import no_such_bucket

                raise no_such_bucket(bucket)
            versioning = brow[0]
            if version_id:
                obj, freed = delete_version(conn, bucket, key, version_id)
                out: dict[str, Any] = {"VersionId": version_id}
                if obj is not None:
                    if obj.delete_marker:
                        out["DeleteMarker"] = True
                    seq = next_seq(conn, bucket)
                    self.emit(conn, ctx, bucket, "s3:ObjectRemoved:Delete", obj, seq, now)
                return out, freed
            if not versioning:
                obj, freed = delete_version(conn, bucket, key, "null")
                if obj is not None:
                    seq = next_seq(conn, bucket)
                    self.emit(conn, ctx, bucket, "s3:ObjectRemoved:Delete", obj, seq, now)
                return {}, freed
            seq = next_seq(conn, bucket)
            marker = ObjectRow(bucket, key, new_version_id() if versioning == "Enabled" else "null", seq, True,
                               True, None, 0, "", now, {})
            freed = insert_object(conn, marker, versioning == "Enabled")
            self.emit(conn, ctx, bucket, "s3:ObjectRemoved:DeleteMarkerCreated", marker, seq, now)
            return {"DeleteMarker": True, "VersionId": marker.version_id}, freed

        out, freed = await self.database.write(fn, grows=False)  # a delete runs on a full disk too
        self.blobs.delete(freed)
        assert self.outbox is not None
        self.outbox.kick()
        return out

    async def DeleteObject(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        out = await self.delete_one(ctx, params["Bucket"], params["Key"], params.get("VersionId"))
        out["__status"] = 204
        return out

    async def DeleteObjects(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = params["Bucket"]
        self.require_bucket(bucket)
        delete = params.get("Delete") or {}
        objects = delete.get("Objects") or []
        if len(objects) > 1000:
            raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                               "against our published schema", 400)
        deleted, errors = [], []
        # One write per key, issued together: they share a group commit (one fsync, one writer hop).
        outcomes = await asyncio.gather(*(self.delete_one(ctx, bucket, item.get("Key"), item.get("VersionId"))
                                          for item in objects), return_exceptions=True)
        for item, out in zip(objects, outcomes, strict=True):
            key = item.get("Key")
            if isinstance(out, ServiceError):
                errors.append({"Key": key, "Code": out.code, "Message": out.message, "VersionId": item.get("VersionId")})
                continue
            if isinstance(out, BaseException):
                raise out
            entry: dict[str, Any] = {"Key": key}
            if item.get("VersionId"):
                entry["VersionId"] = item["VersionId"]
                if out.get("DeleteMarker"):
                    entry["DeleteMarker"] = True
                    entry["DeleteMarkerVersionId"] = item["VersionId"]
            elif out.get("DeleteMarker"):
                entry["DeleteMarker"] = True
                entry["DeleteMarkerVersionId"] = out["VersionId"]
            deleted.append(entry)
        return {"Deleted": [] if delete.get("Quiet") else deleted, "Errors": errors}

    # -- copy -------------------------------------------------------------------------------------
    def copy_source(self: S3Service, params: dict[str, Any]) -> ObjectRow:
        raw = params["CopySource"]
        path, _, query = raw.partition("?")
        version = None
        if query.startswith("versionId="):
            version = unquote(query[len("versionId="):])
        path = unquote(path).lstrip("/")
        src_bucket, _, src_key = path.partition("/")
        if not src_bucket or not src_key:
            raise ServiceError("InvalidArgument", "Invalid copy source object key", 400,
                               extra={"ArgumentName": "x-amz-copy-source", "ArgumentValue": raw})
        self.require_bucket(src_bucket)
        obj = self.current_object(src_bucket, src_key, version, with_body=True)
        etag, lm = obj.etag, int(obj.last_modified)
        if params.get("CopySourceIfMatch") is not None and not _etag_matches(params["CopySourceIfMatch"], etag):
            raise precondition_failed("x-amz-copy-source-If-Match")
        if params.get("CopySourceIfNoneMatch") is not None and _etag_matches(params["CopySourceIfNoneMatch"], etag):
            raise precondition_failed("x-amz-copy-source-If-None-Match")
        if params.get("CopySourceIfUnmodifiedSince") is not None and lm > _ts(params["CopySourceIfUnmodifiedSince"]):
            raise precondition_failed("x-amz-copy-source-If-Unmodified-Since")
        if params.get("CopySourceIfModifiedSince") is not None and lm <= _ts(params["CopySourceIfModifiedSince"]):
            raise precondition_failed("x-amz-copy-source-If-Modified-Since")
        return obj

    async def CopyObject(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket, key = params["Bucket"], params["Key"]
        brow = self.require_bucket(bucket)
        self.check_acl_allowed(bucket, params)
        src = self.copy_source(params)
        directive = (params.get("MetadataDirective") or "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise ServiceError("InvalidArgument", "Unknown metadata directive.", 400)
        if src.bucket == bucket and src.key == key and directive == "COPY" and not params.get("StorageClass"):
            raise ServiceError("InvalidRequest", "This copy request is illegal because it is trying to copy an "
                               "object to itself without changing the object's metadata, storage class, website "
                               "redirect location or encryption attributes.", 400)
        if directive == "REPLACE":
            meta = self.object_meta(params, params.get("ContentType"))
        else:
            meta = {k: v for k, v in src.meta.items() if k not in ("Tags", "ACL")}
        if (params.get("TaggingDirective") or "COPY").upper() == "COPY":
            if src.meta.get("Tags"):
                meta["Tags"] = src.meta["Tags"]
        elif params.get("Tagging"):
            meta["Tags"] = self.object_meta({"Tagging": params["Tagging"]}, None)["Tags"]
        else:
            meta.pop("Tags", None)
        algos = set((src.meta.get("Checksums") or {}).keys())
        if params.get("ChecksumAlgorithm"):
            algos.add(params["ChecksumAlgorithm"].upper())
        if src.blob:
            info = await self.blobs.copy(src.blob, algorithms=algos)
        else:
            info = self.blobs.in_memory(src.body or b"", algos)
        meta["Checksums"] = info.checksums
        meta.pop("PartSizes", None)
        meta.pop("PartsCount", None)
        etag = info.md5.hex()
        obj = await self.store_object(ctx, bucket, key, info, etag, meta, "s3:ObjectCreated:Copy")
        out: dict[str, Any] = {"CopyObjectResult": {"ETag": obj.quoted_etag, "LastModified": obj.last_modified},
                               **self.version_headers(obj, brow.versioning)}
        if "ServerSideEncryption" in meta:
            out["ServerSideEncryption"] = meta["ServerSideEncryption"]
        if src.version_id != "null":
            out["CopySourceVersionId"] = src.version_id
        return out

    # -- tagging ----------------------------------------------------------------------------------
    async def _set_object_meta(self: S3Service, bucket: str, key: str, version: str | None, name: str,
                               value: Any) -> ObjectRow:
        obj = self.current_object(bucket, key, version)
        import json

        meta = dict(obj.meta)
        if value is None:
            meta.pop(name, None)
        else:
            meta[name] = value
        await self.database.execute("UPDATE objects SET meta = ? WHERE bucket=? AND key=? AND version_id=?",
                                    (json.dumps(meta), bucket, key, obj.version_id))
        return obj

    async def PutObjectTagging(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags = (params.get("Tagging") or {}).get("TagSet") or []
        if len(tags) > 10:
            raise ServiceError("BadRequest", "Object tags cannot be greater than 10", 400)
        obj = await self._set_object_meta(params["Bucket"], params["Key"], params.get("VersionId"), "Tags", tags)
        return {"VersionId": obj.version_id} if obj.version_id != "null" else {}

    async def GetObjectTagging(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        obj = self.current_object(params["Bucket"], params["Key"], params.get("VersionId"))
        out: dict[str, Any] = {"TagSet": obj.meta.get("Tags") or []}
        if obj.version_id != "null":
            out["VersionId"] = obj.version_id
        return out

    async def DeleteObjectTagging(self: S3Service, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await self._set_object_meta(params["Bucket"], params["Key"], params.get("VersionId"), "Tags", None)
        return {"__status": 204}
