"""What S3's operations share: the store, the clock, the account's canonical owner, lookups that fail
as S3 does, and changes to a bucket's settings."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from conveyor.clock import Clock
from conveyor.services.s3 import version_ids
from conveyor.services.s3.errors import host_id, no_such_bucket, no_such_key, slow_down
from conveyor.services.s3.notifications import Requester
from conveyor.services.s3.schema import BucketRow, ObjectRow
from conveyor.services.s3.store import BucketChanged, S3Store
from conveyor.wire import RequestContext, ServiceError

T = TypeVar("T")

# How often a write computed from a bucket's state is computed again when the bucket changed meanwhile
# (a settings change racing it); more than a couple means settings change faster than objects are stored.
_ATTEMPTS = 8


class Core:
    def __init__(self, store: S3Store, clock: Clock, account_id: str) -> None:
        self.store = store
        self.blobs = store.blobs
        self.clock = clock
        self.account_id = account_id
        # The account's canonical user id, as S3 shows bucket and object owners.
        self.owner_id = hashlib.sha256(account_id.encode()).hexdigest()

    def owner(self) -> dict[str, str]:
        """An owner as S3 shows it: its canonical id alone. S3 stopped returning DisplayName in 2025.
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_Owner.html"""
        return {"ID": self.owner_id}

    @staticmethod
    def requester(ctx: RequestContext) -> Requester:
        principal = f"AWS:{ctx.access_key or 'anonymous'}" if ctx.authenticated else "anonymous"
        return Requester(principal, (ctx.request.client or ("127.0.0.1", 0))[0], ctx.request_id, host_id(ctx))

    # -- lookups that fail as S3 does ------------------------------------------------------------------
    def require_bucket(self, name: str) -> BucketRow:
        row = self.store.bucket(name)
        if row is None:
            raise no_such_bucket(name)
        return row

    def current_object(self, bucket: str, key: str, version_id: str | None = None,
                       with_body: bool = False, method: str = "GET", argument: str = "versionId") -> ObjectRow:
        """The object a read names (a version, or the current one), in an existing bucket. `argument`: how an
        error names where a bad version id came from (`versionId`, or the copy source header)."""
        row = self.require_bucket(bucket)
        if version_id is not None:
            version_ids.check_shape(version_id, row.versioning, argument)
        obj = self.store.object(bucket, key, version_id or None, with_body)
        if obj is None:
            if version_id:
                if not version_ids.made_here(version_id):
                    raise version_ids.invalid(version_id, argument)
                raise ServiceError("NoSuchVersion", "The specified version does not exist.", 404,
                                   extra={"Key": key, "VersionId": version_id})
            raise no_such_key(key)
        if obj.delete_marker:
            if version_id:
                raise ServiceError("MethodNotAllowed", "The specified method is not allowed against this resource.",
                                   405, headers={"x-amz-delete-marker": "true", "Last-Modified": "", "Allow": "DELETE"},
                                   extra={"Method": method, "ResourceType": "DeleteMarker"})
            raise ServiceError("NoSuchKey", "The specified key does not exist.", 404, extra={"Key": key},
                               headers={"x-amz-delete-marker": "true", "x-amz-version-id": obj.version_id})
        return obj

    async def set_object_meta(self, bucket: str, key: str, version_id: str | None, name: str,
                              value: Any, method: str = "PUT") -> ObjectRow:
        """Set (or, with None, remove) one item of a version's metadata (its tags, its ACL)."""
        obj = self.current_object(bucket, key, version_id, method=method)
        meta = dict(obj.meta)
        if value is None:
            meta.pop(name, None)
        else:
            meta[name] = value
        await self.store.set_object_meta(bucket, key, obj.version_id, json.dumps(meta))
        return obj

    async def update_object_meta(self, bucket: str, key: str, version_id: str, updates: dict[str, Any],
                                 remove: tuple[str, ...] = ()) -> None:
        """Set several items of a version's metadata at once, dropping the `remove` ones not set."""
        obj = self.current_object(bucket, key, version_id)
        meta = {k: v for k, v in obj.meta.items() if k not in remove}
        meta.update(updates)
        await self.store.set_object_meta(bucket, key, obj.version_id, json.dumps(meta))

    # -- bucket settings ---------------------------------------------------------------------------------
    def get_setting(self, bucket: str, name: str, code: str, message: str) -> Any:
        """A setting from the bucket's configuration (JSON as it was stored); AWS's 404 `code` when unset."""
        value = self.require_bucket(bucket).config.get(name)
        if value is None:
            raise ServiceError(code, message, 404, extra={"BucketName": bucket})
        return value

    async def update_setting(self, bucket: str, name: str, value: Any) -> None:
        """Set (or, with None, remove) one setting of the bucket's configuration."""

        async def attempt(row: BucketRow) -> None:
            config = dict(row.config)
            if value is None:
                config.pop(name, None)
            else:
                config[name] = value
            await self.store.replace_config(row, json.dumps(config))

        await self.retrying(bucket, attempt)

    async def retrying(self, bucket: str, attempt: Callable[[BucketRow], Awaitable[T]]) -> T:
        """Run a write computed from the bucket's current state, computing it again while the bucket changes
        under it (conveyor.services.s3.store.BucketChanged)."""
        for _ in range(_ATTEMPTS):
            try:
                return await attempt(self.require_bucket(bucket))
            except BucketChanged:
                continue
        raise slow_down()
