"""RestoreObject, and the events of a restore: s3:ObjectRestore:Post when it starts, :Completed when the
restored copy is readable (at once here: Conveyor has no archive to fetch from) and :Delete when that copy
expires, at the midnight UTC after its Days on the service clock
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html#supported-notification-event-types).
Each event is committed with the metadata change it describes (conveyor.services.s3.outbox).
"""

from __future__ import annotations

import math
import uuid
from typing import TYPE_CHECKING, Any

from conveyor.services.s3 import archive
from conveyor.services.s3.core import Core
from conveyor.services.s3.errors import malformed_xml
from conveyor.services.s3.notifications import Requester
from conveyor.services.s3.versions import Versions
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import RestoreObjectRequestTypeDef

_DAY = 86400.0
EXPIRY = "RestoreExpiry"  # the object metadata holding when the restored copy expires


def _s3_itself() -> Requester:
    """What S3 does on its own (completing and expiring restores) names S3 as the requester."""
    request_id = uuid.uuid4().hex[:16].upper()
    return Requester("AmazonS3", "s3.amazonaws.com", request_id, request_id)


class RestoreOperations:
    def __init__(self, core: Core, versions: Versions) -> None:
        self.core = core
        self.versions = versions

    async def RestoreObject(self, ctx: RequestContext, params: RestoreObjectRequestTypeDef) -> dict[str, Any]:
        """202 when a restore starts, 200 when the object is already restored (its expiry moves to the new
        Days). https://docs.aws.amazon.com/AmazonS3/latest/API/API_RestoreObject.html"""
        bucket, key = params["Bucket"], params["Key"]
        obj = self.core.current_object(bucket, key, params.get("VersionId"))
        request = params.get("RestoreRequest") or {}
        if request.get("Type") == "SELECT":
            raise ServiceError("NotImplemented", "Conveyor does not offer restores of the SELECT type.", 501)
        storage_class = archive.class_of(obj)
        if storage_class not in archive.ARCHIVED:
            raise ServiceError("InvalidObjectState", "The operation is not valid for the object's storage class",
                               403, extra={"StorageClass": storage_class})
        days = request.get("Days")
        if not isinstance(days, int) or days < 1:
            raise malformed_xml()
        now = self.core.clock.now()
        was_restored = archive.readable(obj, now)
        # The copy stays until the midnight UTC after `days` days.
        until = math.ceil((now + days * _DAY) / _DAY) * _DAY
        if was_restored:  # a new expiry for the copy already there: no restore starts, no event
            await self.core.update_object_meta(bucket, key, obj.version_id, {EXPIRY: until})
            return {"__status": 200}

        def completed(meta: dict[str, Any]) -> dict[str, Any]:
            return {**meta, EXPIRY: until}

        # The restore starts and completes at once: both events are committed with the restored copy, so that
        # a crash leaves either neither or both (never a Post without its Completed).
        await self.versions.change_meta(bucket, key, obj.version_id, completed, [
            ("s3:ObjectRestore:Post", self.core.requester(ctx), None),
            ("s3:ObjectRestore:Completed", _s3_itself(), (until, storage_class))])
        return {"__status": 202}


async def expire_restores(core: Core, versions: Versions) -> None:
    """The restored copies whose Days are over are removed (the object is archived again), each with its
    s3:ObjectRestore:Delete event. Run by the midnight sweep (conveyor.services.s3.lifecycle_sweep)."""
    now = core.clock.now()

    def expired(meta: dict[str, Any]) -> dict[str, Any] | None:
        until = meta.get(EXPIRY)
        if until is None or float(until) > now:
            return None  # restored again since, or already expired
        return {k: v for k, v in meta.items() if k != EXPIRY}

    for bucket, key, version_id in core.store.restores_expired(now):
        try:
            await versions.change_meta(bucket, key, version_id, expired, [("s3:ObjectRestore:Delete", _s3_itself(), None)])
        except ServiceError:
            continue  # the bucket is gone meanwhile
