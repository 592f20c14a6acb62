"""Storing and removing object versions with the events they cause.

The new row (its version id decided by the bucket's versioning) and the event records (matched against
the bucket's notification configuration) are computed here, then written by the store in one commit;
if the bucket's settings changed in between, they are computed again (S3Store's BucketChanged).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.services.s3 import cross_account, eventbridge, objectlock, replication, version_ids
from conveyor.services.s3.blobs import BlobInfo
from conveyor.services.s3.conditions import WritePrecondition
from conveyor.services.s3.core import Core
from conveyor.services.s3.notifications import ObjectChange, Requester, pending_events
from conveyor.services.s3.schema import BucketRow, NewVersion, ObjectRow, PendingEvent
from conveyor.wire import Caller, RequestContext

# An event a metadata change causes: its name, who caused it, and for s3:ObjectRestore:Completed the restored
# copy's expiry and the object's storage class.
MetaEvent = tuple[str, Requester, tuple[float, str] | None]

_DELETE = ("s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated")
_EXPIRE = ("s3:LifecycleExpiration:Delete", "s3:LifecycleExpiration:DeleteMarkerCreated")


@dataclass(frozen=True)
class Deletion:
    """What a DeleteObject did: the version it removed or the delete marker it added (None: the unversioned
    object), and whether that is a delete marker."""

    version_id: str | None
    delete_marker: bool


class Versions:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.store = core.store

    def _events(self, row: BucketRow, change: ObjectChange, requester: Requester) -> list[PendingEvent]:
        return (pending_events(row, self.core.owner_id, change, requester)
                + eventbridge.pending_events(row, self.core.account_id, change, requester))

    async def put(self, ctx: RequestContext, bucket: str, key: str, body: BlobInfo, etag: str, meta: dict[str, Any],
                  event: str, *, precondition: WritePrecondition | None = None,
                  completes: str | None = None) -> NewVersion:
        """Commit a new current version of `key` holding `body` (already written), and its events. On failure
        the body's blob is deleted: nothing names it."""
        return await self._put(self.core.requester(ctx), bucket, key, body, etag, meta, event,
                               precondition=precondition, completes=completes,
                               writer=cross_account.other_account(ctx, self.core.account_id))

    async def put_as_service(self, bucket: str, key: str, body: BlobInfo, meta: dict[str, Any],
                             principal: str) -> NewVersion:
        """A version S3 itself writes (server access logs), its events naming the service as the requester."""
        request_id = uuid.uuid4().hex[:16].upper()
        requester = Requester(principal, principal, request_id, request_id)
        return await self._put(requester, bucket, key, body, body.md5.hex(), meta, "s3:ObjectCreated:Put")

    async def _put(self, requester: Requester, bucket: str, key: str, body: BlobInfo, etag: str,
                   meta: dict[str, Any], event: str, *, precondition: WritePrecondition | None = None,
                   completes: str | None = None, writer: Caller | None = None) -> NewVersion:
        """`writer`: another account writing the object (conveyor.services.s3.cross_account)."""
        now = self.core.clock.now()

        async def attempt(row: BucketRow) -> NewVersion:
            found = replication.targets(row, key, meta)
            stored = replication.mark_pending(objectlock.with_default_retention(row, meta, now), found)
            owner = cross_account.writer_owner(writer, row, meta)
            if owner is not None:
                stored["Owner"] = owner
            version = NewVersion(bucket, key, version_ids.new() if row.versioning == "Enabled" else "null", False,
                                 body.blob_id or None, body.size, etag, now, json.dumps(stored), body.data)
            change = ObjectChange(event, key, version.version_id, now, body.size, etag)
            events = self._events(row, change, requester) + replication.jobs(bucket, key, version.version_id, found)
            await self.store.put_version(row, version, events, precondition=precondition, completes=completes)
            return version

        try:
            return await self.core.retrying(bucket, attempt)
        except BaseException:
            self.core.blobs.delete([body.blob_id])
            raise

    async def put_replica(self, bucket: str, source: ObjectRow, storage_class: str | None) -> None:
        """Store a replica of `source` (a version or a delete marker of another bucket) in `bucket`: the same
        version id, ETag, metadata and creation time, ReplicationStatus REPLICA, and the events of a new
        object in that bucket, S3 itself the requester (conveyor.services.s3.replication)."""
        if source.delete_marker:
            body = BlobInfo("", 0, b"")
        elif source.blob:
            body = await self.core.blobs.copy(source.blob)
        else:
            body = self.core.blobs.in_memory(source.body or b"")
        meta = {k: v for k, v in source.meta.items() if k != replication.PENDING}
        if not source.delete_marker:
            meta[replication.STATUS] = "REPLICA"
            if storage_class:
                meta["StorageClass"] = storage_class
        request_id = uuid.uuid4().hex[:16].upper()
        requester = Requester("AmazonS3", "s3.amazonaws.com", request_id, request_id)
        now = self.core.clock.now()

        async def attempt(row: BucketRow) -> None:
            version = NewVersion(bucket, source.key, source.version_id, source.delete_marker, body.blob_id or None,
                                 source.size, source.etag, source.last_modified, json.dumps(meta),
                                 None if source.delete_marker else body.data)
            if source.delete_marker:
                change = ObjectChange(_DELETE[1], source.key, source.version_id, now)
            else:
                change = ObjectChange("s3:ObjectCreated:Put", source.key, source.version_id, now, source.size,
                                      source.etag)
            await self.store.put_version(row, version, self._events(row, change, requester))

        try:
            await self.core.retrying(bucket, attempt)
        except BaseException:
            self.core.blobs.delete([body.blob_id])
            raise

    async def set_meta(self, ctx: RequestContext, bucket: str, key: str, version_id: str | None, name: str,
                       value: Any, event: str, method: str = "PUT") -> ObjectRow:
        """Core.set_object_meta for what has events of its own (s3:ObjectTagging:Put/Delete, s3:ObjectAcl:Put)
        and replication carries to the replicas of a replicated version (its tags, its ACL): the change, its
        events and a job updating each replica, in one commit
        (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html,
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-what-is-isnot-replicated.html)."""
        obj = self.core.current_object(bucket, key, version_id, method=method)
        requester = self.core.requester(ctx)
        now = self.core.clock.now()

        async def attempt(row: BucketRow) -> None:
            current = self.core.current_object(bucket, key, obj.version_id, method=method)
            meta = {k: v for k, v in current.meta.items() if k != name}
            if value is not None:
                meta[name] = value
            replicated = current.meta.get(replication.STATUS) in ("PENDING", "COMPLETED")
            sent = replication.targets(row, key, current.meta) if replicated else []
            change = ObjectChange(event, key, obj.version_id, now, etag=current.etag)
            await self.store.change_object_meta(row, key, obj.version_id, current.meta_json, json.dumps(meta),
                                                self._events(row, change, requester)
                                                + replication.meta_jobs(bucket, key, obj.version_id, sent, name))

        await self.core.retrying(bucket, attempt)
        return obj

    async def change_meta(self, bucket: str, key: str, version_id: str,
                          update: Callable[[dict[str, Any]], dict[str, Any] | None],
                          happenings: Sequence[MetaEvent]) -> bool:
        """Change a version's metadata (`update` returns the new metadata, or None to leave it) and commit the
        events of the change (e.g. s3:ObjectRestore:Post and :Completed, in that order) with it; False when the
        version is gone."""
        now = self.core.clock.now()

        async def attempt(row: BucketRow) -> bool:
            obj = self.store.object(bucket, key, version_id)
            if obj is None:
                return False
            meta = update(dict(obj.meta))
            if meta is None:
                return True
            events: list[PendingEvent] = []
            for event, requester, restored in happenings:
                change = ObjectChange(event, key, version_id, now, obj.size, obj.etag, restored)
                events += self._events(row, change, requester)
            await self.store.change_object_meta(row, key, version_id, obj.meta_json, json.dumps(meta), events)
            return True

        return await self.core.retrying(bucket, attempt)

    async def delete(self, ctx: RequestContext, bucket: str, key: str, version_id: str | None,
                     bypass_governance: bool = False, precondition: WritePrecondition | None = None) -> Deletion:
        """DeleteObject: remove the version named, or the unversioned object, or add a delete marker. A version
        Object Lock protects stays (conveyor.services.s3.objectlock); `precondition` (If-Match) is judged in
        the delete's own commit."""
        if version_id is not None:
            # It is echoed in x-amz-version-id. Deleting a version that is gone succeeds; one S3 could not have
            # made is refused (conveyor.services.s3.version_ids).
            version_ids.check_shape(version_id, self.core.require_bucket(bucket).versioning)
            if not version_ids.made_here(version_id) and self.store.object(bucket, key, version_id) is None:
                raise version_ids.invalid(version_id)
        return await self._delete(bucket, key, version_id, bypass_governance, self.core.requester(ctx), _DELETE,
                                  precondition)

    async def expire(self, bucket: str, key: str, version_id: str | None) -> Deletion:
        """A lifecycle expiration: as DeleteObject, with S3 itself as the requester and its own event names.
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html"""
        # Lifecycle's changes are S3's own: its event records name S3 as the principal and source.
        request_id = uuid.uuid4().hex[:16].upper()
        requester = Requester("AmazonS3", "s3.amazonaws.com", request_id, request_id)
        return await self._delete(bucket, key, version_id, False, requester, _EXPIRE)

    async def _delete(self, bucket: str, key: str, version_id: str | None, bypass_governance: bool,
                      requester: Requester, names: tuple[str, str],
                      precondition: WritePrecondition | None = None) -> Deletion:
        now = self.core.clock.now()
        removed, marked = names

        async def attempt(row: BucketRow) -> Deletion:
            if version_id or not row.versioning:
                target = version_id or "null"
                change = ObjectChange(removed, key, target, now)
                checked = None
                if objectlock.enabled(row):
                    found = self.store.object(bucket, key, target)
                    if found is not None:
                        objectlock.check_removable(found, bypass_governance, now)
                        checked = found.meta_json
                was_marker = await self.store.remove_version(row, key, target, self._events(row, change, requester),
                                                             checked_meta=checked, precondition=precondition)
                return Deletion(version_id, bool(was_marker))
            sent = replication.targets(row, key, {}, delete_marker=True) if names == _DELETE else []
            marker = NewVersion(bucket, key, version_ids.new() if row.versioning == "Enabled" else "null", True,
                                None, 0, "", now, json.dumps(replication.mark_pending({}, sent)), None)
            change = ObjectChange(marked, key, marker.version_id, now)
            events = self._events(row, change, requester) + replication.jobs(bucket, key, marker.version_id, sent)
            # A delete marker is a delete: it runs on a full disk too (conveyor.storage.disk).
            await self.store.put_version(row, marker, events, grows=False, precondition=precondition)
            return Deletion(marker.version_id, True)

        return await self.core.retrying(bucket, attempt)
