"""S3 as another service's origin (conveyor.ports.Objects.open_object): an object read as a given
principal, judged as S3 judges that principal's GetObject.

A service principal (CloudFront's origin access control) may read only what the bucket policy allows it,
for the resource it acts for (`AWS:SourceArn`); an anonymous reader what a public policy or ACL allows.
A reader that may not list the bucket learns nothing of a missing key: 403 AccessDenied, not 404.
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (Permissions)
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from email.utils import format_datetime

from conveyor import resource_policy
from conveyor.ports import Reader, StoredObject
from conveyor.services.s3 import archive, cors, policy
from conveyor.services.s3.core import Core
from conveyor.services.s3.errors import no_such_bucket, no_such_key
from conveyor.services.s3.schema import BucketRow, ObjectRow
from conveyor.wire import Headers, ServiceError

_CONTENT = (("CacheControl", "Cache-Control"), ("ContentDisposition", "Content-Disposition"),
            ("ContentEncoding", "Content-Encoding"), ("ContentLanguage", "Content-Language"), ("Expires", "Expires"))


def _allowed(core: Core, row: BucketRow, reader: Reader, action: str, resource: str, operation: str,
             key: str | None) -> bool:
    if reader.service is None:
        try:
            policy.check_anonymous_access(core, operation, row.name, key)
        except ServiceError:
            return False
        return True
    context = {name: value for name, value in (("aws:SourceArn", reader.source_arn),
                                                ("aws:SourceAccount", reader.source_account)) if value}
    request = resource_policy.Request(action=action, resource=resource, service=reader.service, context=context)
    return resource_policy.decide(resource_policy.parse(row.config.get("policy")), request) == "Allow"


def open_object(core: Core, bucket: str, key: str, reader: Reader, origin: str | None) -> StoredObject:
    row = core.store.bucket(bucket)
    if row is None:
        raise no_such_bucket(bucket)
    if not _allowed(core, row, reader, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", "GetObject", key):
        raise policy.access_denied()
    obj = core.store.object(bucket, key, with_body=True)
    if obj is None or obj.delete_marker:
        if _allowed(core, row, reader, "s3:ListBucket", f"arn:aws:s3:::{bucket}", "ListObjectsV2", None):
            raise no_such_key(key)
        raise policy.access_denied()
    archive.check_readable(obj, core.clock.now())  # an archived object is read only once restored
    headers = _headers(obj, row)
    if origin:
        headers += cors.response_headers(row.config.get("cors"), origin, "GET")
    return StoredObject(obj.size, obj.quoted_etag, obj.last_modified, headers, _reader(core, obj))


def _headers(obj: ObjectRow, row: BucketRow) -> list[tuple[str, str]]:
    meta = obj.meta
    headers = [("Content-Type", str(meta.get("ContentType") or "binary/octet-stream"))]
    for member, name in _CONTENT:
        value = meta.get(member)
        if value is not None:
            headers.append((name, value if isinstance(value, str) else http_date(float(value))))
    for name, value in (meta.get("Metadata") or {}).items():
        headers.append((f"x-amz-meta-{name}", str(value)))
    if row.versioning or obj.version_id != "null":
        headers.append(("x-amz-version-id", obj.version_id))
    if "ServerSideEncryption" in meta:
        headers.append(("x-amz-server-side-encryption", str(meta["ServerSideEncryption"])))
    return headers


def http_date(seconds: float) -> str:
    return format_datetime(datetime.fromtimestamp(seconds, UTC), usegmt=True)


def _reader(core: Core, obj: ObjectRow) -> Callable[[int, int], AsyncIterator[bytes]]:
    def read(start: int, end: int) -> AsyncIterator[bytes]:
        if obj.blob and obj.size:
            return core.blobs.read(obj.blob, start, end)
        return _one((obj.body or b"")[start:end + 1])

    return read


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def preflight(core: Core, bucket: str, origin: str, method: str, requested: str | None) -> list[tuple[str, str]]:
    row = core.store.bucket(bucket)
    if row is None:
        raise ServiceError("AccessForbidden", "CORSResponse: Bucket not found", 403)
    headers = [("origin", origin), ("access-control-request-method", method)]
    if requested:
        headers.append(("access-control-request-headers", requested))
    return cors.preflight(row.config.get("cors"), Headers(headers))
