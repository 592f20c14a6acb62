"""S3 Lifecycle, carried out: the configuration operations, and the sweep that runs every midnight UTC on
the service clock (the injectable clock: tests move it forward) and applies each bucket's enabled rules
(then expires restored copies, conveyor.services.s3.restores, and writes the inventory reports due,
conveyor.services.s3.inventory).

What a sweep does, per rule (conveyor.services.s3.lifecycle decides what is due):
- Expiration (Days or Date): the current version is deleted (unversioned bucket) or gets a delete marker;
- Expiration's ExpiredObjectDeleteMarker: a delete marker with no versions left behind it is removed;
- NoncurrentVersionExpiration: noncurrent versions are deleted NoncurrentDays after they became noncurrent,
  keeping the NewerNoncurrentVersions newest ones;
- Transitions / NoncurrentVersionTransitions: the version's storage class changes;
- AbortIncompleteMultipartUpload: uploads initiated DaysAfterInitiation days ago are aborted.
Versions Object Lock protects stay. Expirations send `s3:LifecycleExpiration:*` events, as on AWS
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configure-notification.html).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from conveyor.clock import TimerHandle
from conveyor.services.s3 import lifecycle, restores
from conveyor.services.s3.core import Core
from conveyor.services.s3.inventory import InventoryReports
from conveyor.services.s3.schema import ObjectRow
from conveyor.services.s3.versions import Versions
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        DeleteBucketLifecycleRequestTypeDef,
        GetBucketLifecycleConfigurationRequestTypeDef,
        PutBucketLifecycleConfigurationRequestTypeDef,
    )

log = logging.getLogger(__name__)
_PAGE = 500  # keys per read while sweeping a bucket


class LifecycleOperations:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def PutBucketLifecycleConfiguration(
            self, ctx: RequestContext, params: PutBucketLifecycleConfigurationRequestTypeDef) -> dict[str, Any]:
        name = params["Bucket"]
        self.core.require_bucket(name)
        config = params.get("LifecycleConfiguration")
        if config is None:
            raise ServiceError("MissingRequestBodyError", "Request Body is empty", 400)
        rules = lifecycle.validate([dict(rule) for rule in config.get("Rules") or []])
        minimum = params.get("TransitionDefaultMinimumObjectSize") or lifecycle.DEFAULT_MINIMUM_SIZE
        await self.core.update_setting(name, "lifecycle", {"Rules": rules, "MinimumSize": minimum})
        return {"TransitionDefaultMinimumObjectSize": minimum}

    async def GetBucketLifecycleConfiguration(
            self, ctx: RequestContext, params: GetBucketLifecycleConfigurationRequestTypeDef) -> dict[str, Any]:
        config = self.core.get_setting(params["Bucket"], "lifecycle", "NoSuchLifecycleConfiguration",
                                       "The lifecycle configuration does not exist")
        return {"Rules": config["Rules"], "TransitionDefaultMinimumObjectSize": config["MinimumSize"]}

    async def DeleteBucketLifecycle(self, ctx: RequestContext,
                                    params: DeleteBucketLifecycleRequestTypeDef) -> dict[str, Any]:
        self.core.require_bucket(params["Bucket"])
        await self.core.update_setting(params["Bucket"], "lifecycle", None)
        return {"__status": 204}


class LifecycleSweeper:
    def __init__(self, core: Core, versions: Versions, inventory: InventoryReports | None = None) -> None:
        self.core = core
        self.store = core.store
        self.versions = versions
        self.inventory = inventory  # reports also fall due at midnight (conveyor.services.s3.inventory)
        self._timer: TimerHandle | None = None
        self._running: asyncio.Task[None] | None = None

    def arm(self) -> None:
        """Run a sweep at the next midnight UTC, and again every midnight after it."""
        self.disarm()
        now = self.core.clock.now()
        self._timer = self.core.clock.call_at(lifecycle.next_midnight(now), self._due)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def stop(self) -> None:
        self.disarm()
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)

    def _due(self) -> None:
        from conveyor.background import spawn

        previous = self._running
        self._running = spawn(self._after(previous))
        self.arm()

    async def _after(self, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:  # one sweep at a time
            await asyncio.gather(previous, return_exceptions=True)
        try:
            await self.sweep()
        except Exception:  # a failed sweep is retried at the next midnight
            log.exception("lifecycle sweep failed")

    @property
    def idle(self) -> bool:
        return self._running is None or self._running.done()

    async def sweep(self) -> None:
        """Apply every bucket's enabled rules as of now."""
        if not self.store.is_open:
            return
        for name in self.store.bucket_names_configured("lifecycle"):
            row = self.store.bucket(name)
            config = row.config.get("lifecycle") if row is not None else None
            for rule in (config or {}).get("Rules") or []:
                if rule.get("Status") == "Enabled":
                    await self._apply(name, rule)
        await restores.expire_restores(self.core, self.versions)
        if self.inventory is not None:
            await self.inventory.run()

    async def _apply(self, bucket: str, rule: dict[str, Any]) -> None:
        now = self.core.clock.now()
        prefix = lifecycle.prefix_of(rule)
        after = ""
        while True:
            page = self.store.versions_of_keys(bucket, prefix, after, _PAGE)
            if not page:
                break
            keys: dict[str, list[ObjectRow]] = {}
            for version in page:
                keys.setdefault(version.key, []).append(version)
            past_prefix = False
            for key, versions in keys.items():
                if not key.startswith(prefix):
                    past_prefix = True
                    break
                await self._apply_to_key(bucket, rule, versions, now)
            if past_prefix:
                break
            after = page[-1].key
        if "AbortIncompleteMultipartUpload" in rule:
            days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            for upload in self.store.uploads(bucket):
                if upload.key.startswith(prefix) and lifecycle.due(upload.initiated, days) <= now:
                    await self._quietly(self.store.abort_upload(upload.upload_id))

    async def _apply_to_key(self, bucket: str, rule: dict[str, Any], versions: list[ObjectRow], now: float) -> None:
        """`versions`: one key's, newest (the current one) first."""
        current = versions[0]
        if current.delete_marker:
            expiration = rule.get("Expiration") or {}
            if len(versions) == 1 and expiration.get("ExpiredObjectDeleteMarker") and lifecycle.matches(rule, current):
                await self._quietly(self.versions.expire(bucket, current.key, current.version_id))
        elif lifecycle.matches(rule, current):
            if lifecycle.current_expired(rule, current, now):
                await self._quietly(self.versions.expire(bucket, current.key, None))
            else:
                await self._transition(rule, current, current.last_modified, now, noncurrent=False)
        noncurrent = rule.get("NoncurrentVersionExpiration") or {}
        keep = noncurrent.get("NewerNoncurrentVersions") or 0
        for index in range(1, len(versions)):
            version, successor = versions[index], versions[index - 1]
            since = successor.last_modified  # it became noncurrent when its successor was written
            if version.delete_marker or not lifecycle.matches(rule, version):
                continue
            if noncurrent and index > keep and lifecycle.due(since, noncurrent["NoncurrentDays"]) <= now:
                await self._quietly(self.versions.expire(bucket, version.key, version.version_id))
            else:
                await self._transition(rule, version, since, now, noncurrent=True)

    async def _transition(self, rule: dict[str, Any], version: ObjectRow, since: float, now: float,
                          noncurrent: bool) -> None:
        target = lifecycle.transition_due(rule, since, now, noncurrent)
        if target is not None and (version.meta.get("StorageClass") or "STANDARD") != target:
            await self._quietly(self.core.update_object_meta(version.bucket, version.key, version.version_id,
                                                             {"StorageClass": target}))

    @staticmethod
    async def _quietly(action: Any) -> None:
        """A version or upload gone meanwhile, or one Object Lock protects, is simply left."""
        try:
            await action
        except ServiceError:
            pass
