"""S3 (rest-xml): the service the gateway sees. Its hooks give S3's quirks their step of the request
pipeline (virtual hosts, website endpoints, CORS, browser POST forms, anonymous callers, SigV2); its
operations live in the objects of `operation_groups`, composed over one store (S3Store: the database,
the blob files and the event outbox):

    BucketOperations, AccessOperations, SettingsOperations       bucket settings
    ObjectOperations, ListingOperations, MultipartOperations      objects
        over Versions (new versions and their events) and Core (lookups, settings changes) over S3Store
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

from botocore.model import OperationModel

from conveyor.authz import Denial, Need
from conveyor.links import Link
from conveyor.ports import AccessCheck, Ports, Reader, StoredObject
from conveyor.protocol.base import Codec
from conveyor.services.base import Environment, Handler, Result, Service
from conveyor.services.s3 import (
    cors,
    cross_account,
    destinations,
    iam,
    notifications,
    policy,
    refusals,
    sigv2,
    website,
)
from conveyor.services.s3 import origin as origin_reads
from conveyor.services.s3.access import AccessOperations
from conveyor.services.s3.access_logs import AccessLogs, LoggingOperations
from conveyor.services.s3.buckets import BucketOperations
from conveyor.services.s3.codec import S3Codec, S3ValidationCodes, split_path
from conveyor.services.s3.core import Core
from conveyor.services.s3.encryption import EncryptionOperations
from conveyor.services.s3.errors import host_id, slow_down
from conveyor.services.s3.hosts import virtual_host
from conveyor.services.s3.inventory import InventoryOperations, InventoryReports
from conveyor.services.s3.lifecycle_sweep import LifecycleOperations, LifecycleSweeper
from conveyor.services.s3.listings import ListingOperations
from conveyor.services.s3.multipart import MultipartOperations
from conveyor.services.s3.objectlock import ObjectLockOperations
from conveyor.services.s3.objects import ObjectOperations
from conveyor.services.s3.outbox import Undeliverable
from conveyor.services.s3.presign_post import PostUploads
from conveyor.services.s3.replica_jobs import Replicator
from conveyor.services.s3.replication import KIND as REPLICATION_JOB
from conveyor.services.s3.replication import ReplicationOperations
from conveyor.services.s3.restores import RestoreOperations
from conveyor.services.s3.settings import SettingsOperations
from conveyor.services.s3.store import S3Store
from conveyor.services.s3.versions import Versions
from conveyor.services.s3.website_config import WebsiteOperations
from conveyor.wire import Caller, HttpResponse, RequestContext, ServiceError

log = logging.getLogger(__name__)


class S3Service(Service):
    name = "s3"
    takes_unsigned = True  # anonymous GETs, browser forms and preflights name no service: they are S3's
    validation_codes = S3ValidationCodes()

    @functools.cached_property
    def codecs(self) -> dict[str, Codec]:
        return {"rest-xml": S3Codec(self.model)}

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.store = S3Store(self.config.service_dir("s3"), env.disk)
        self.core = Core(self.store, self.clock, self.config.account_id)
        versions = Versions(self.core)
        self.lifecycle = LifecycleSweeper(self.core, versions, InventoryReports(self.core, versions))
        self.access_logs = AccessLogs(self.core, versions)
        self.posts = PostUploads(self.core, versions, self.config, self.ports, self._authorize_needs)
        self.operation_groups = (
            BucketOperations(self.core, self.ports), AccessOperations(self.core, versions), SettingsOperations(self.core),
            EncryptionOperations(self.core),
            ObjectOperations(self.core, versions), ListingOperations(self.core),
            MultipartOperations(self.core, versions), ObjectLockOperations(self.core),
            LifecycleOperations(self.core), WebsiteOperations(self.core), RestoreOperations(self.core, versions),
            LoggingOperations(self.core, self.access_logs), InventoryOperations(self.core),
            ReplicationOperations(self.core),
        )
        self.replicator = Replicator(self.core, versions, self.ports)
        self._handlers: dict[str, Handler | None] = {}

    def unavailable_error(self) -> ServiceError:
        """https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"""
        return slow_down()

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self.store.open(self._deliver)
        self.lifecycle.arm()
        self.access_logs.load()

    async def stop(self) -> None:
        await self.lifecycle.stop()
        await self.access_logs.stop()  # the records waiting are delivered first
        await self.store.close()

    async def reset(self) -> None:
        await self.lifecycle.stop()
        await self.store.wipe()
        self.lifecycle.arm()  # the clock was reset too, and its timers with it
        self.access_logs.load(wipe=True)

    def health(self) -> dict[str, Any]:
        if not self.store.is_open:
            return {"status": "stopped"}
        buckets, pending = self.store.counts()
        return {"status": "running", "buckets": buckets, "pending_events": pending}

    async def _deliver(self, kind: str, target: str, bodies: Sequence[str]) -> None:
        """Events (or replication jobs) from the outbox, in order; an exception leaves them there for a retry."""
        if kind == REPLICATION_JOB:
            for body in bodies:
                await self.replicator.run(body)
            return
        destination = self.ports.destination(kind)
        if destination is None:
            raise RuntimeError(f"no {kind} service to deliver to")
        if not destinations.exists(self.ports, kind, target):
            raise Undeliverable(f"{target} does not exist")
        access = self.ports.access
        if access is not None and access.active and kind in ("sqs", "sns"):
            # AWS checks the destination's policy at each delivery too, not only when the notification is
            # configured: a queue or topic policy changed since refuses the event (under --iam report or
            # enforce; conveyor.authz). https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html
            bodies = [body for body in bodies if self._may_deliver(access, kind, target, body)]
            if not bodies:
                return
        await destination.deliver_from_s3(target, bodies)

    def _may_deliver(self, access: AccessCheck, kind: str, target: str, body: str) -> bool:
        bucket = destinations.event_bucket(body)
        action = "sqs:SendMessage" if kind == "sqs" else "sns:Publish"
        if access.service_may(destinations.S3_PRINCIPAL, action, target, f"arn:aws:s3:::{bucket}",
                              self.config.account_id):
            return True
        log.warning("dropping an event for %s: its policy does not let S3 deliver events of %s", target, bucket)
        return False

    def links(self) -> list[Link]:
        if not self.store.is_open:
            return []
        found: list[Link] = []
        for name, config in self.store.notification_configs():
            found += notifications.links(name, config)
        return found

    # -- conveyor.ports.Objects ----------------------------------------------------------------------
    def provide(self, ports: Ports) -> None:
        ports.objects = self
        ports.policy_holders["s3"] = self  # bucket policies, for IAM's evaluation

    # -- conveyor.ports.PolicyHolder: a bucket's policy applies to the bucket and its objects ----------
    def resource_exists(self, arn: str) -> bool:
        return self.store.bucket(iam.bucket_of(arn)) is not None

    def resource_policy(self, arn: str) -> str | None:
        row = self.store.bucket(iam.bucket_of(arn))
        policy = row.config.get("policy") if row is not None else None
        return policy if isinstance(policy, str) else None

    def bucket_exists(self, bucket: str) -> bool:
        return self.store.bucket(bucket) is not None

    async def read_object(self, bucket: str, key: str, version_id: str | None = None) -> bytes:
        """Lambda reads deployment packages from buckets."""
        obj = self.core.current_object(bucket, key, version_id, with_body=True)
        if not obj.blob:  # small bodies live in the object's row
            return obj.body or b""
        return b"".join([chunk async for chunk in self.store.blobs.read(obj.blob)])

    def open_object(self, bucket: str, key: str, reader: Reader, origin: str | None = None) -> StoredObject:
        """CloudFront's edge reads its origins as its origin access control says."""
        return origin_reads.open_object(self.core, bucket, key, reader, origin)

    def preflight(self, bucket: str, origin: str, method: str, headers: str | None) -> list[tuple[str, str]]:
        return origin_reads.preflight(self.core, bucket, origin, method, headers)

    # -- the request pipeline's hooks ----------------------------------------------------------------
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
            return website.respond(self.core, ctx, host.bucket)
        req = ctx.request
        if req.method == "OPTIONS":
            ctx.operation_name = "PreflightRequest"
            return self._preflight(ctx, path.bucket)
        if (req.method == "POST" and path.bucket and path.key is None
                and (req.headers.get("content-type") or "").startswith("multipart/form-data")):
            ctx.operation_name = "PostObject"
            return await self.posts.post_object(ctx, path.bucket)
        return None

    async def authorize(self, ctx: RequestContext, operation: OperationModel) -> None:
        """Anonymous callers (and SigV2 presigned URLs) are judged by the bucket's policy, ACLs and Public
        Access Block, before the body is read."""
        if not ctx.authenticated:
            path = split_path(ctx)
            if not sigv2.authenticate(ctx, self.config, path.bucket):
                policy.check_anonymous(self.core, ctx, operation.name, path.bucket, path.key)

    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        if operation.name in iam.POLICY_OPERATIONS and self._owner_root(ctx):
            # The bucket owner's root user may always read, replace and delete the bucket policy, whatever
            # it denies, "to ensure that bucket owners don't inadvertently lock themselves out".
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html
            return []
        return iam.needs(operation.name, params, self.iam_action(operation.name))

    def _owner_root(self, ctx: RequestContext) -> bool:
        caller = ctx.principal
        return caller is None or (caller.kind == "root" and caller.account_id == self.config.account_id)

    def handler(self, operation: str) -> Handler | None:
        # Found once per operation (the groups searched, GetObject's and HeadObject's wrapper made), not on
        # every request: the operations are the model's, so the dict stays as small as the model.
        try:
            return self._handlers[operation]
        except KeyError:
            found = self._handlers[operation] = self._find_handler(operation)
            return found

    def _find_handler(self, operation: str) -> Handler | None:
        found = super().handler(operation)
        if found is None or operation not in ("GetObject", "HeadObject"):
            return found
        operate = found

        @functools.wraps(operate)  # its signature stays the operation's (tests/s3/test_handlers.py reads it)
        async def answered(ctx: RequestContext, params: dict[str, Any]) -> Result:
            try:
                return await operate(ctx, params)
            except ServiceError as error:
                if error.code == "NoSuchKey":
                    self._may_know_missing(ctx, params)
                raise

        return answered

    def _may_know_missing(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        """A key that does not exist is NoSuchKey (404) only to a caller that may list the bucket; without
        s3:ListBucket it is AccessDenied (403), so that a caller cannot learn which keys exist
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions"; HeadObject too).
        Judged under --iam report|enforce for signed callers, as the operation itself is."""
        self._authorize_needs(ctx, [Need("s3:ListBucket", f"arn:aws:s3:::{params.get('Bucket', '')}")])

    def _authorize_needs(self, ctx: RequestContext, needs: list[Need]) -> None:
        access = self.ports.access
        if access is not None:
            access.authorize_needs(ctx, self, needs)
            self._bucket_policy_denies(ctx, needs)
        other = cross_account.other_account(ctx, self.config.account_id)
        if other is not None:
            cross_account.check_needs(self.core, other, needs)

    def _bucket_policy_denies(self, ctx: RequestContext, needs: list[Need]) -> None:
        """A signed caller of the account, the owner included, is refused what the bucket policy explicitly
        denies, with `--iam off` too: S3 evaluates the bucket policy for every request, whoever signs it, and
        an explicit Deny wins over the owner's rights (e.g. a Deny on s3:PutObject over plain HTTP or without
        x-amz-server-side-encryption). An Allow adds nothing for the owner, who needs none.
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-policy-language-overview.html,
        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html"""
        access = self.ports.access
        if access is None or not ctx.authenticated or not needs:
            return
        caller = ctx.principal or Caller.root(self.config.account_id)
        denial = access.explicit_denial(ctx, caller, needs)
        if denial is None:
            return
        whole = [n for n in needs if n.item is None]
        if denial.item is None or whole:
            raise self.access_denied(ctx, denial)
        # DeleteObjects: each denied key is an AccessDenied in the answer, the others are deleted.
        refused = dict(ctx.denied_items or {})
        for need in needs:
            one = access.explicit_denial(ctx, caller, [need])
            if one is not None:
                refused[one.item or ""] = self.access_denied(ctx, one).message
        ctx.denied_items = refused

    def access_denied(self, ctx: RequestContext, denial: Denial) -> ServiceError:
        """S3 quotes the resource: `... on resource: "arn:aws:s3:::bucket/key" because ...`.
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html"""
        return ServiceError("AccessDenied", denial.message(resource=f'"{denial.resource}"'), 403)

    async def check(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> None:
        refusals.check(ctx, params)
        if ctx.authenticated and (operation.name in iam.COPIES or self._has_policy(params.get("Bucket"))):
            self._bucket_policy_denies(ctx, self.iam_requests(ctx, operation, params))
        other = cross_account.other_account(ctx, self.config.account_id)
        if other is not None:
            cross_account.check(self.core, ctx, other, operation.name, params)
        elif (ctx.authenticated and operation.name in cross_account.OWNER_CHECKED
              and not self._owns_every_object(operation.name, params)):
            # The bucket owner's account, on an object another account may own.
            cross_account.check_bucket_owner(self.core, iam.needs(operation.name, params,
                                                                  self.iam_action(operation.name)))

    def _owns_every_object(self, operation: str, params: dict[str, Any]) -> bool:
        """Whether the bucket owner owns every object the operation touches, known without asking for them: its
        one bucket has ACLs disabled (BucketOwnerEnforced, every new bucket's default), so no object is another
        account's. (A copy also reads another bucket: judged by check_bucket_owner.)"""
        if operation in iam.COPIES:
            return False
        bucket = params.get("Bucket")
        row = self.store.bucket(bucket) if isinstance(bucket, str) else None
        return row is not None and row.config.get("ownership") == "BucketOwnerEnforced"

    def _has_policy(self, bucket: Any) -> bool:
        row = self.store.bucket(bucket) if isinstance(bucket, str) else None
        return row is not None and bool(row.config.get("policy"))

    def finish(self, ctx: RequestContext, response: HttpResponse) -> None:
        response.set_header("x-amz-id-2", host_id(ctx))
        if ctx.operation_label == "HeadBucket" and response.header("content-type") is None:
            response.set_header("Content-Type", "application/xml")  # as AWS answers it, bodiless as it is
        self.access_logs.record(ctx, response)
        origin = ctx.request.headers.get("origin")
        if not origin or ctx.request.method == "OPTIONS":
            return
        try:
            bucket = split_path(ctx).bucket
        except ServiceError:
            return
        row = self.store.bucket(bucket) if bucket else None
        if row is None:
            return
        for name, value in cors.response_headers(row.config.get("cors"), origin, ctx.request.method):
            response.set_header(name, value)

    def _preflight(self, ctx: RequestContext, bucket: str | None) -> HttpResponse:
        row = self.store.bucket(bucket) if bucket else None
        if row is None:
            raise ServiceError("AccessForbidden", "CORSResponse: Bucket not found", 403)
        headers = cors.preflight(row.config.get("cors"), ctx.request.headers)
        return HttpResponse(200, headers=headers)
