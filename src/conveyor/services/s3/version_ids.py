"""Version ids as S3 makes and checks them.

S3's version ids have a structure of their own: a string that does not decode as one of its ids is refused
with InvalidArgument "Invalid version id specified" (400) by every object operation taking a `versionId`
(GET, HEAD, DELETE, tagging, ACLs, retention, legal hold, attributes, restore, the copy source) and by
ListObjectVersions' `version-id-marker`, even when it looks like one (32 characters of the same alphabet);
only an id S3 could have made, whose version is gone or belongs to another key, is NoSuchVersion (404).
Recorded AWS answers: https://github.com/versity/versitygw/issues/1630 (object operations) and a
`list-object-versions --version-id-marker Eyn7lxdGE1WU1SU6QTbW1X6cbSIIRY0R` run answered InvalidArgument.
A bucket that was never versioned knows only the `null` version: any other id is InvalidArgument there
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html: objects
stored before versioning have the version id `null`; https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).

Conveyor's ids are 24 bytes in URL-safe base64 (32 characters): 18 random bytes and a 6-byte tag of them,
so that an id Conveyor did not make is told apart without a lookup. Ids made before the tag (24 random
bytes) still name their versions: a version found is never refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re

from conveyor.wire import ServiceError

NULL = "null"
_SHAPE = re.compile(r"[A-Za-z0-9_-]{32}")
_NONCE = 18


def _tag(nonce: bytes) -> bytes:
    return hashlib.blake2b(nonce, digest_size=24 - _NONCE, person=b"s3-version-id").digest()


def new() -> str:
    nonce = os.urandom(_NONCE)
    return base64.urlsafe_b64encode(nonce + _tag(nonce)).decode()


def shaped(version_id: str) -> bool:
    """Whether the id has the shape of Conveyor's ids (its characters are safe to echo in a header)."""
    return version_id == NULL or _SHAPE.fullmatch(version_id) is not None


def made_here(version_id: str) -> bool:
    """Whether Conveyor could have made the id: `null`, or 32 characters whose tag matches."""
    if version_id == NULL:
        return True
    if not _SHAPE.fullmatch(version_id):
        return False
    try:
        raw = base64.urlsafe_b64decode(version_id)
    except (binascii.Error, ValueError):
        return False
    return _tag(raw[:_NONCE]) == raw[_NONCE:]


def invalid(version_id: str, argument: str = "versionId") -> ServiceError:
    return ServiceError("InvalidArgument", "Invalid version id specified", 400,
                        extra={"ArgumentName": argument, "ArgumentValue": version_id})


def check_shape(version_id: str, versioning: str, argument: str = "versionId") -> None:
    """Refuse, before any lookup, an id no version of this bucket can have: an empty one, one of another
    shape, or any but `null` in a bucket never versioned (`versioning` is "" there)."""
    if not version_id:
        raise ServiceError("InvalidArgument", "Version id cannot be the empty string", 400,
                           extra={"ArgumentName": argument, "ArgumentValue": ""})
    if not shaped(version_id) or (not versioning and version_id != NULL):
        raise invalid(version_id, argument)
