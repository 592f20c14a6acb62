"""Bucket events for EventBridge: a bucket whose notification configuration has
`EventBridgeConfiguration: {}` sends every object creation and deletion to its region's default bus, in
EventBridge's shape ("Object Created" / "Object Deleted", source `aws.s3`), through the same outbox as
its other events. https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html and
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html (keys are not URL-encoded here,
unlike the records sent to queues, topics and functions).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from conveyor import ids
from conveyor.services.s3.notifications import ObjectChange, Requester, dumps
from conveyor.services.s3.schema import SEQUENCER_PLACEHOLDER, BucketRow, PendingEvent

# The S3 event name (without "s3:") -> EventBridge's detail-type and detail.reason (and deletion-type).
_KINDS: dict[str, tuple[str, str | None, str | None]] = {
    "ObjectCreated:Put": ("Object Created", "PutObject", None),
    "ObjectCreated:Post": ("Object Created", "POST Object", None),
    "ObjectCreated:Copy": ("Object Created", "CopyObject", None),
    "ObjectCreated:CompleteMultipartUpload": ("Object Created", "CompleteMultipartUpload", None),
    "ObjectRemoved:Delete": ("Object Deleted", "DeleteObject", "Permanently Deleted"),
    "ObjectRemoved:DeleteMarkerCreated": ("Object Deleted", "DeleteObject", "Delete Marker Created"),
    "LifecycleExpiration:Delete": ("Object Deleted", "Lifecycle Expiration", "Permanently Deleted"),
    "LifecycleExpiration:DeleteMarkerCreated": ("Object Deleted", "Lifecycle Expiration", "Delete Marker Created"),
    "ObjectRestore:Post": ("Object Restore Initiated", None, None),
    "ObjectRestore:Completed": ("Object Restore Completed", None, None),
    "ObjectRestore:Delete": ("Object Restore Expired", None, None),
    "ObjectTagging:Put": ("Object Tags Added", None, None),
    "ObjectTagging:Delete": ("Object Tags Deleted", None, None),
    "ObjectAcl:Put": ("Object ACL Updated", None, None),
}


def pending_events(bucket: BucketRow, account: str, change: ObjectChange, requester: Requester) -> list[PendingEvent]:
    """The default bus's event for `change`, when the bucket sends events to EventBridge."""
    config = bucket.config.get("notification") or {}
    kind = _KINDS.get(change.event.removeprefix("s3:"))
    if config.get("EventBridgeConfiguration") is None or kind is None:
        return []
    detail_type, reason, deletion = kind
    obj: dict[str, Any] = {"key": change.key}
    if change.size is not None:
        obj["size"] = change.size
    if change.etag:
        obj["etag"] = change.etag
    if change.version_id != "null":
        obj["version-id"] = change.version_id
    obj["sequencer"] = SEQUENCER_PLACEHOLDER  # the write fills in the bucket's change count
    detail: dict[str, Any] = {
        "version": "0", "bucket": {"name": bucket.name}, "object": obj, "request-id": requester.request_id,
        "requester": account, "source-ip-address": requester.source_ip}
    if reason:
        detail["reason"] = reason
    if change.restored is not None:
        until, storage_class = change.restored
        detail["restore-expiry-time"] = dt.datetime.fromtimestamp(until, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        detail["source-storage-class"] = storage_class
    if deletion:
        detail["deletion-type"] = deletion
    event = {"version": "0", "id": ids.uuid4(), "detail-type": detail_type, "source": "aws.s3", "account": account,
             "time": dt.datetime.fromtimestamp(change.when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "region": bucket.region, "resources": [f"arn:aws:s3:::{bucket.name}"], "detail": detail}
    bus = f"arn:aws:events:{bucket.region}:{account}:event-bus/default"
    return [PendingEvent("events", bus, dumps(event))]
