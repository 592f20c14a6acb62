"""Server access logging: PutBucketLogging / GetBucketLogging, and the log objects S3 writes.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerLogs.html
A bucket that logs names a target bucket (same region, same owner, no Object Lock) that lets the logging
service write: through its bucket policy (`logging.s3.amazonaws.com` may `s3:PutObject`) or, where ACLs
are enabled, the LogDelivery group's WRITE grant. Each request to the bucket becomes one log record
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html); records are delivered in batches,
as AWS delivers them on a best-effort basis, into an object named `TARGETPREFIX + YYYY-mm-DD-HH-MM-SS-UNIQUE`
written by the service clock's flush every FLUSH_EVERY seconds (and when S3 stops). A record is on disk
before its request is answered (conveyor.services.s3.access_log_spool): records not yet delivered when the
server is killed are delivered after it restarts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from conveyor import resource_policy
from conveyor.clock import TimerHandle
from conveyor.services.s3 import acl, checksums
from conveyor.services.s3.access_log_spool import Spool
from conveyor.services.s3.codec import split_path
from conveyor.services.s3.core import Core
from conveyor.services.s3.errors import host_id
from conveyor.services.s3.versions import Versions
from conveyor.wire import HttpResponse, RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import GetBucketLoggingRequestTypeDef, PutBucketLoggingRequestTypeDef

log = logging.getLogger(__name__)
FLUSH_EVERY = 300.0  # seconds between deliveries of a bucket's records
LOGGING_SERVICE = "logging.s3.amazonaws.com"
_NOBODY: dict[str, str] = {"ID": ""}


def _invalid_target(message: str) -> ServiceError:
    return ServiceError("InvalidTargetBucketForLogging", message, 400)


class AccessLogs:
    """The logging configurations, the records waiting for delivery, and their delivery."""

    def __init__(self, core: Core, versions: Versions) -> None:
        self.core = core
        self.versions = versions
        self.enabled: dict[str, dict[str, Any]] = {}  # bucket -> its LoggingEnabled
        self.spool = Spool(core.store.root / "access-logs")
        self._delivering = asyncio.Lock()
        self._timer: TimerHandle | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def load(self, wipe: bool = False) -> None:
        """Read the logging configurations and open the spool (`wipe`: emptied, for a reset)."""
        self.enabled = {}
        if wipe:
            self.spool.wipe(self.core.clock.now())
        else:
            self.spool.open(self.core.clock.now())
        for name in self.core.store.bucket_names_configured("logging"):
            row = self.core.store.bucket(name)
            if row is not None and row.config.get("logging"):
                self.enabled[name] = row.config["logging"]
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.core.clock.call_at(self.core.clock.now() + FLUSH_EVERY, self._due)

    def _due(self) -> None:
        from conveyor.background import spawn

        spawn(self.flush())
        self._arm()

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.flush()
        self.spool.close()

    # -- records ---------------------------------------------------------------------------------------
    def record(self, ctx: RequestContext, response: HttpResponse) -> None:
        """One request's log record, for a bucket that logs (called for every S3 request)."""
        if not self.enabled:
            return
        try:
            path = split_path(ctx)
        except ServiceError:
            return
        if path.bucket is None or path.bucket not in self.enabled:
            return
        try:
            self.spool.append(path.bucket, self._line(ctx, response, path.bucket, path.key))
        except OSError as error:  # (a full disk) the request is answered all the same; its record is lost
            log.warning("access log record of %s not kept: %s", path.bucket, error)

    def _line(self, ctx: RequestContext, response: HttpResponse, bucket: str, key: str | None) -> str:
        """https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html"""
        now = dt.datetime.fromtimestamp(self.core.clock.now(), dt.UTC)
        req = ctx.request
        kind = "OBJECT" if key is not None else "BUCKET"
        operation = f"REST.{req.method}.{kind}" if ctx.operation is not None else f"REST.{req.method}.UNKNOWN"
        uri = req.path + (f"?{req.query_string}" if req.query_string else "")
        sent = response.header("content-length") or "-"
        fields = [
            self.core.owner_id, bucket, now.strftime("[%d/%b/%Y:%H:%M:%S +0000]"),
            req.client[0] if req.client else "-", ctx.principal.arn if ctx.principal is not None else "-",
            ctx.request_id, operation, key if key is not None else "-", f'"{req.method} {uri} HTTP/1.1"',
            str(response.status), _error_code(response), sent, "-", "-", "-",
            f'"{req.headers.get("referer") or "-"}"', f'"{req.headers.get("user-agent") or "-"}"',
            response.header("x-amz-version-id") or "-", host_id(ctx),
            "SigV4" if ctx.authenticated else "-", "-", "AuthHeader" if ctx.authenticated else "-",
            req.host, "-", "-", "-",
        ]
        return " ".join(fields)

    async def flush(self) -> None:
        """Deliver every waiting batch of records: one log object per logged bucket and batch."""
        if not self.core.store.is_open:
            return
        async with self._delivering:
            for batch in self.spool.cut(self.core.clock.now()):
                try:
                    for bucket, lines in Spool.read(batch).items():
                        await self._deliver(bucket, lines, *Spool.identity(batch))
                except Exception as error:  # (a full disk) kept for the next flush
                    log.warning("access logs not delivered (%s); will retry", error)
                    return
                Spool.done(batch)

    async def _deliver(self, bucket: str, lines: list[str], cut: float, unique: str) -> None:
        target = self.enabled.get(bucket)
        if target is None:
            return  # logging was turned off since: its records go nowhere
        now = dt.datetime.fromtimestamp(cut, dt.UTC)
        # The same batch delivered again (after a crash) writes the same key.
        suffix = hashlib.sha256(f"{unique}/{bucket}".encode()).hexdigest()[:16].upper()
        key = f"{target.get('TargetPrefix') or ''}{now:%Y-%m-%d-%H-%M-%S}-{suffix}"
        body = ("\n".join(lines) + "\n").encode()
        try:
            info = await self.core.blobs.write(_single(body), {checksums.DEFAULT}, inline=True)
            meta = {"ContentType": "text/plain", "ServerSideEncryption": "AES256",
                    "Checksums": info.checksums, "ChecksumType": "FULL_OBJECT"}
            await self.versions.put_as_service(target["TargetBucket"], key, info, meta, LOGGING_SERVICE)
        except ServiceError as error:  # the target is gone or refuses: the records are dropped
            log.warning("access logs of %s not delivered to %s: %s", bucket, target["TargetBucket"], error)


_CODE = re.compile(rb"<Code>([^<]{1,64})</Code>")


def _error_code(response: HttpResponse) -> str:
    """An error's code, from its header (HEAD, website) or its XML document."""
    if response.status < 300:
        return "-"
    code = response.header("x-amz-error-code")
    if code:
        return code
    match = _CODE.search(response.body[:1024])
    return match[1].decode("ascii", "replace") if match else "-"


async def _single(data: bytes) -> AsyncIterator[bytes]:
    yield data


class LoggingOperations:
    def __init__(self, core: Core, logs: AccessLogs) -> None:
        self.core = core
        self.logs = logs

    async def PutBucketLogging(self, ctx: RequestContext, params: PutBucketLoggingRequestTypeDef) -> dict[str, Any]:
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLogging.html"""
        name = params["Bucket"]
        row = self.core.require_bucket(name)
        enabled = (params.get("BucketLoggingStatus") or {}).get("LoggingEnabled")
        if not enabled:
            await self.core.update_setting(name, "logging", None)  # an empty status turns logging off
            self.logs.enabled.pop(name, None)
            return {}
        target_name = enabled.get("TargetBucket") or ""
        target = self.core.store.bucket(target_name)
        if target is None:
            raise _invalid_target("The target bucket for logging does not exist")
        if target.region != row.region:
            raise ServiceError("CrossLocationLoggingProhibited", "Cross S3 location logging not allowed. ", 403,
                               extra={"TargetBucketLocation": target.region})
        if target.config.get("object_lock"):
            raise _invalid_target("The target bucket for logging must not have Object Lock enabled")
        if enabled.get("TargetGrants") and target.config.get("ownership") == "BucketOwnerEnforced":
            raise _invalid_target("Target grants are not supported when the target bucket has the bucket owner "
                                  "enforced setting for Object Ownership")
        prefix = enabled.get("TargetPrefix") or ""
        if not self._may_deliver(target.config, target.acl, target_name, prefix):
            raise _invalid_target("You must either provide the necessary permissions to the logging service using a "
                                  "bucket policy or give the log-delivery group WRITE and READ_ACP permissions to the "
                                  "target bucket")
        config: dict[str, Any] = {"TargetBucket": target_name, "TargetPrefix": prefix}
        for member in ("TargetGrants", "TargetObjectKeyFormat"):
            if enabled.get(member):
                config[member] = enabled[member]
        await self.core.update_setting(name, "logging", config)
        self.logs.enabled[name] = config
        return {}

    @staticmethod
    def _may_deliver(config: dict[str, Any], bucket_acl: str, target: str, prefix: str) -> bool:
        """The target's policy lets the logging service write under the prefix, or its ACL lets LogDelivery."""
        request = resource_policy.Request(action="s3:PutObject", resource=f"arn:aws:s3:::{target}/{prefix}x",
                                          service=LOGGING_SERVICE)
        if resource_policy.allows(resource_policy.parse(config.get("policy")), request):
            return True
        return config.get("ownership") != "BucketOwnerEnforced" and acl.allows(
            acl.grants_of(bucket_acl, _NOBODY), acl.LOG_DELIVERY, "WRITE")

    async def GetBucketLogging(self, ctx: RequestContext, params: GetBucketLoggingRequestTypeDef) -> dict[str, Any]:
        row = self.core.require_bucket(params["Bucket"])
        config = row.config.get("logging")
        return {"LoggingEnabled": config} if config else {}  # an empty BucketLoggingStatus: logging is off
