"""Storage classes, and the archived ones' restores (RestoreObject).

An object may be written in any storage class of a general purpose bucket; an unknown one is
InvalidStorageClass (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html). Objects in
S3 Glacier Flexible Retrieval (GLACIER) and Deep Archive are not readable (GetObject: InvalidObjectState;
as a copy source: ObjectNotInActiveTierError) until RestoreObject makes a temporary copy readable for
its Days (https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects.html). Conveyor has no
archive to fetch from, so a restore completes at once (`ongoing-request="false"` on the first HEAD),
where AWS takes minutes to hours; the restored copy expires at the midnight UTC after its Days, on the
service clock, as on AWS. RestoreObject and the restore events are conveyor.services.s3.restores'.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from conveyor.services.s3.schema import ObjectRow
from conveyor.wire import ServiceError

CLASSES = ("STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
           "DEEP_ARCHIVE", "GLACIER_IR")
ARCHIVED = ("GLACIER", "DEEP_ARCHIVE")


def check_class(storage_class: str | None) -> None:
    if storage_class is not None and storage_class not in CLASSES:
        raise ServiceError("InvalidStorageClass", "The storage class you specified is not valid", 400,
                           extra={"StorageClassRequested": storage_class})


def class_of(obj: ObjectRow) -> str:
    return str(obj.meta.get("StorageClass") or "STANDARD")


def restored_until(obj: ObjectRow) -> float | None:
    until = obj.meta.get("RestoreExpiry")
    return float(until) if until is not None else None


def readable(obj: ObjectRow, now: float) -> bool:
    """Whether the object's bytes may be read: not archived, or restored and not yet expired."""
    if class_of(obj) not in ARCHIVED:
        return True
    until = restored_until(obj)
    return until is not None and until > now


def check_readable(obj: ObjectRow, now: float) -> None:
    """GetObject of an archived object that is not restored. https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html"""
    if not readable(obj, now):
        raise ServiceError("InvalidObjectState", "The operation is not valid for the object's storage class", 403,
                           extra={"StorageClass": class_of(obj)})


def check_copy_source(obj: ObjectRow, now: float) -> None:
    """https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html (ObjectNotInActiveTierError)"""
    if not readable(obj, now):
        raise ServiceError("ObjectNotInActiveTierError", "The source object of the COPY action is not in the active "
                           "tier and is only stored in Amazon Glacier.", 403)


def restore_header(obj: ObjectRow) -> dict[str, Any]:
    """The x-amz-restore member of HEAD and GET for a restored object (until its copy expires)."""
    until = restored_until(obj)
    if until is None:
        return {}
    expiry = format_datetime(datetime.fromtimestamp(until, UTC), usegmt=True)
    return {"Restore": f'ongoing-request="false", expiry-date="{expiry}"'}
