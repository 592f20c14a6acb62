"""S3: request dispatch and bucket operations (objects and multipart live in their own modules)."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from typing import Any

from botocore.model import OperationModel

from conveyor.ports import Ports
from conveyor.protocol.models import service_model
from conveyor.protocol.rest_xml import host_id, split_path
from conveyor.services.base import Environment, Service
from conveyor.services.s3 import (
    cors,
    destinations,
    notifications,
    policy,
    refusals,
    sigv2,
    website,
)
from conveyor.services.s3.access import AccessMixin, new_bucket_config
from conveyor.services.s3.blobs import BlobStore
from conveyor.services.s3.codec import S3Codec, S3ValidationCodes
from conveyor.services.s3.hosts import virtual_host
from conveyor.services.s3.listings import ListingsMixin
from conveyor.services.s3.locations import bucket_region
from conveyor.services.s3.multipart import MultipartMixin
from conveyor.services.s3.objects import ObjectsMixin
from conveyor.services.s3.settings import SettingsMixin
from conveyor.services.s3.store import MIGRATIONS, BucketRow
from conveyor.storage.db import Database
from conveyor.wire import HttpResponse, RequestContext, ServiceError

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")

def s3_model() -> Any:
    return service_model("s3")


def no_such_bucket(name: str) -> ServiceError:
    return ServiceError("NoSuchBucket", "The specified bucket does not exist", 404, extra={"BucketName": name})


class S3Service(ObjectsMixin, ListingsMixin, MultipartMixin, SettingsMixin, AccessMixin, Service):
    name = "s3"
    takes_unsigned = True  # anonymous GETs, browser forms and preflights name no service: they are S3's
    validation_codes = S3ValidationCodes()

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.model = s3_model()
        self.codecs = {"rest-xml": S3Codec(self.model)}
        self.db: Database | None = None
        self.blobs = BlobStore(self.config.service_dir("s3") / "blobs", env.disk)
        self.outbox: notifications.Outbox | None = None

    def unavailable_error(self) -> ServiceError:
        """S3 asks clients to back off with `503 SlowDown`, which every SDK retries as throttling.
        https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"""
        return ServiceError("SlowDown", "Please reduce your request rate.", 503, sender_fault=False)

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self.blobs.open()
        self.db = Database(self.config.service_dir("s3") / "s3.db", MIGRATIONS, self.env.disk)
        self._collect_orphans()
        self.outbox = notifications.Outbox(self.db, self._deliver)
        self.outbox.start()

    async def stop(self) -> None:
        if self.outbox:
            await self.outbox.stop()
        if self.db:
            self.db.close()
            self.db = None

    async def reset(self) -> None:
        def wipe(conn: sqlite3.Connection) -> None:
            for table in ("outbox", "parts", "uploads", "objects", "buckets", "garbage"):
                conn.execute(f"DELETE FROM {table}")

        await self.database.write(wipe)
        self.blobs.wipe()

    def health(self) -> dict[str, Any]:
        if self.db is None:
            return {"status": "stopped"}
        buckets = self.db.query("SELECT count(*) FROM buckets")[0][0]
        pending = self.db.query("SELECT count(*) FROM outbox")[0][0]
        return {"status": "running", "buckets": buckets, "pending_events": pending}

    @property
    def database(self) -> Database:
        assert self.db is not None, "S3 is not started"
        return self.db

    def _collect_orphans(self) -> None:
        """Blob files a crash left without metadata (written, never committed) are removed."""
        known = {r[0] for r in self.database.query("SELECT blob FROM objects WHERE blob IS NOT NULL")}
        known |= {r[0] for r in self.database.query("SELECT blob FROM parts")}
        self.blobs.delete(self.blobs.all_ids() - known)

    # -- the request pipeline's hooks ----------------------------------------------------------------
    def provide(self, ports: Ports) -> None:
        ports.objects = self

    async def read_object(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        """conveyor.ports.Objects: Lambda reads deployment packages from buckets."""
        obj = self.current_object(bucket, key, version_id, with_body=True)
        if not obj.blob:  # small bodies live in the object's row
            return obj.body or b""
        return b"".join([chunk async for chunk in self.blobs.read(obj.blob)])

    def protocol_for(self, ctx: RequestContext) -> str:
        # Routing is also where S3 learns the bucket a virtual host names (`photos.s3.amazonaws.com`),
        # so that every later step, errors included, sees the same bucket and key.
        host = virtual_host(ctx.request.host)
        ctx.host_bucket = host.bucket if host else None
        return "rest-xml"

    async def intercept(self, ctx: RequestContext) -> HttpResponse | None:
        """Requests that are not operations of the model: website endpoints, CORS preflights, and the
        browser's POST form uploads."""
        path = split_path(ctx)
        host = virtual_host(ctx.request.host) if ctx.host_bucket else None
        if host is not None and host.website:
            ctx.operation_name = "WebsiteGet"
            return website.respond(self, ctx, host.bucket)
        req = ctx.request
        if req.method == "OPTIONS":
            ctx.operation_name = "PreflightRequest"
            return self._preflight(ctx, path.bucket)
        if (req.method == "POST" and path.bucket and path.key is None
                and (req.headers.get("content-type") or "").startswith("multipart/form-data")):
            from conveyor.services.s3.presign_post import post_object

            ctx.operation_name = "PostObject"
            return await post_object(self, ctx, path.bucket)
        return None

    async def authorize(self, ctx: RequestContext, operation: OperationModel) -> None:
        """Anonymous callers (and SigV2 presigned URLs) are judged by the bucket's policy, ACLs and Public
        Access Block, before the body is read."""
        if not ctx.authenticated:
            path = split_path(ctx)
            if not sigv2.authenticate(ctx, self.config, path.bucket):
                policy.check_anonymous(self, ctx, operation.name, path.bucket, path.key)

    async def check(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> None:
        refusals.check(ctx, params)

    def finish(self, ctx: RequestContext, response: HttpResponse) -> None:
        response.set_header("x-amz-id-2", host_id(ctx))
        origin = ctx.request.headers.get("origin")
        if not origin or ctx.request.method == "OPTIONS":
            return
        try:
            bucket = split_path(ctx).bucket
        except ServiceError:
            return
        row = self.bucket_row(bucket)
        if row is None:
            return
        for name, value in cors.response_headers(row.config.get("cors"), origin, ctx.request.method):
            response.set_header(name, value)

    def _preflight(self, ctx: RequestContext, bucket: str | None) -> HttpResponse:
        row = self.bucket_row(bucket) if bucket else None
        if row is None:
            raise ServiceError("AccessForbidden", "CORSResponse: Bucket not found", 403)
        headers = cors.preflight(row.config.get("cors"), ctx.request.headers)
        return HttpResponse(200, headers=headers)

    # -- helpers shared by the operation modules --------------------------------------------------
    def owner_id(self) -> str:
        return hashlib.sha256(self.config.account_id.encode()).hexdigest()

    def owner(self) -> dict[str, str]:
        return {"ID": self.owner_id(), "DisplayName": "conveyor"}

    def principal(self, ctx: RequestContext) -> str:
        return f"AWS:{ctx.access_key or 'anonymous'}" if ctx.authenticated else "anonymous"

    def bucket_row(self, name: str | None) -> BucketRow | None:
        if not name:
            return None
        rows = self.database.query(
            "SELECT name, region, created, owner, versioning, acl, config FROM buckets WHERE name = ?", (name,))
        return BucketRow.from_row(rows[0]) if rows else None

    def require_bucket(self, name: str) -> BucketRow:
        row = self.bucket_row(name)
        if row is None:
            raise no_such_bucket(name)
        return row

    async def update_config(self, bucket: str, key: str, value: Any) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT config FROM buckets WHERE name = ?", (bucket,)).fetchone()
            if row is None:
                raise no_such_bucket(bucket)
            config = json.loads(row[0])
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
            conn.execute("UPDATE buckets SET config = ? WHERE name = ?", (json.dumps(config), bucket))

        await self.database.write(fn)

    def get_config(self, bucket: str, key: str, code: str, message: str) -> Any:
        value = self.require_bucket(bucket).config.get(key)
        if value is None:
            raise ServiceError(code, message, 404, extra={"BucketName": bucket})
        return value

    async def _deliver(self, kind: str, target: str, body: str) -> None:
        """One event from the outbox; an exception leaves the row there for a retry."""
        destination = self.ports.destination(kind)
        if destination is None:
            raise RuntimeError(f"no {kind} service to deliver to")
        if not destinations.exists(self.ports, kind, target):
            raise notifications.Undeliverable(f"{target} does not exist")
        await destination.deliver_from_s3(target, body)

    # -- buckets ---------------------------------------------------------------------------------
    async def ListBuckets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("Prefix") or ""
        rows = self.database.query("SELECT name, created, region FROM buckets ORDER BY name")
        buckets = [{"Name": n, "CreationDate": c, "BucketRegion": r} for n, c, r in rows if n.startswith(prefix)]
        return {"Buckets": buckets, "Owner": self.owner(), "Prefix": params.get("Prefix")}

    async def CreateBucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        if not _BUCKET_RE.match(name) or ".." in name or _IP_RE.match(name):
            raise ServiceError("InvalidBucketName", "The specified bucket is not valid.", 400,
                               extra={"BucketName": name})
        conf = params.get("CreateBucketConfiguration") or {}
        region = bucket_region(conf.get("LocationConstraint"), ctx.region)
        acl = params.get("ACL") or "private"
        if acl not in ("private", "public-read", "public-read-write", "authenticated-read"):
            raise ServiceError("InvalidArgument", f"Unsupported canned ACL {acl}", 400)
        config = json.dumps(new_bucket_config(params))
        now = self.clock.now()
        owner = self.owner_id()

        def fn(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise ServiceError(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    409, extra={"BucketName": name})
            conn.execute("INSERT INTO buckets (name, region, created, owner, acl, config) VALUES (?,?,?,?,?,?)",
                         (name, region, now, owner, acl, config))

        await self.database.write(fn)
        return {"Location": f"/{name}"}

    async def HeadBucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        row = self.require_bucket(params["Bucket"])
        return {"BucketRegion": row.region}

    async def GetBucketLocation(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        row = self.require_bucket(params["Bucket"])
        return {"LocationConstraint": None if row.region == "us-east-1" else row.region}

    async def DeleteBucket(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]

        def fn(conn: sqlite3.Connection) -> None:
            if not conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise no_such_bucket(name)
            if conn.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise ServiceError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409,
                                   extra={"BucketName": name})
            blobs = [r[0] for r in conn.execute(
                "SELECT p.blob FROM parts p JOIN uploads u USING (upload_id) WHERE u.bucket = ?", (name,))]
            conn.execute("DELETE FROM buckets WHERE name = ?", (name,))
            return blobs

        freed = await self.database.write(fn, grows=False)
        self.blobs.delete(freed or [])
        return {"__status": 204}

    # tagging ---------------------------------------------------------------------------------
    async def PutBucketTagging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags = (params.get("Tagging") or {}).get("TagSet") or []
        await self.update_config(params["Bucket"], "tags", tags)
        return {}

    async def GetBucketTagging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags = self.get_config(params["Bucket"], "tags", "NoSuchTagSet", "The TagSet does not exist")
        return {"TagSet": tags}

    async def DeleteBucketTagging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.require_bucket(params["Bucket"])
        await self.update_config(params["Bucket"], "tags", None)
        return {}

    # versioning ------------------------------------------------------------------------------
    async def PutBucketVersioning(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        status = (params.get("VersioningConfiguration") or {}).get("Status")
        if status not in ("Enabled", "Suspended"):
            raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                               "against our published schema", 400)
        name = params["Bucket"]
        self.require_bucket(name)
        await self.database.execute("UPDATE buckets SET versioning = ? WHERE name = ?", (status, name))
        return {}

    async def GetBucketVersioning(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        row = self.require_bucket(params["Bucket"])
        return {"Status": row.versioning or None}

    # CORS ------------------------------------------------------------------------------------
    async def PutBucketCors(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rules = (params.get("CORSConfiguration") or {}).get("CORSRules") or []
        cors.validate(rules)
        await self.update_config(params["Bucket"], "cors", rules)
        return {}

    async def GetBucketCors(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rules = self.get_config(params["Bucket"], "cors", "NoSuchCORSConfiguration",
                                "The CORS configuration does not exist")
        return {"CORSRules": rules}

    async def DeleteBucketCors(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.require_bucket(params["Bucket"])
        await self.update_config(params["Bucket"], "cors", None)
        return {"__status": 204}

    # notifications -----------------------------------------------------------------------------
    async def PutBucketNotificationConfiguration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        self.require_bucket(name)
        config = params.get("NotificationConfiguration") or {}
        if config.get("EventBridgeConfiguration") is not None:
            raise ServiceError("NotImplemented", "EventBridge notifications are not supported by Conveyor.", 501)
        dests = notifications.validate(config)
        destinations.check(self.ports, [(kind, arn) for kind, arn, _ in dests], name, self.config.account_id)
        test = notifications.dumps(notifications.test_event(name, self.clock.now(), ctx.request_id, host_id(ctx)))
        targets = sorted({(kind, arn) for kind, arn, _ in dests if kind in ("sqs", "sns")})

        def fn(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT config FROM buckets WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise no_such_bucket(name)
            bucket_config = json.loads(row[0])
            bucket_config["notification"] = config
            conn.execute("UPDATE buckets SET config = ? WHERE name = ?", (json.dumps(bucket_config), name))
            for kind, arn in targets:
                conn.execute("INSERT INTO outbox (kind, target, body) VALUES (?,?,?)", (kind, arn, test))

        await self.database.write(fn)
        assert self.outbox is not None
        self.outbox.kick()
        return {}

    async def GetBucketNotificationConfiguration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        row = self.require_bucket(params["Bucket"])
        return dict(row.config.get("notification") or {})
