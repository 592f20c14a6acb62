"""Conditional requests and ranges: If-Match and friends on reads, writes and copy sources; `Range`.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conveyor.services.s3.errors import no_such_key, precondition_failed
from conveyor.wire import ServiceError

if TYPE_CHECKING:
    from conveyor.services.s3.schema import ObjectRow

# A timestamp as the codec hands it over: a datetime, or the text it was sent as for members S3 keeps
# verbatim (see conveyor.services.s3.codec).
Timestamp = dt.datetime | str


def etag_matches(header: str, etag: str) -> bool:
    """S3 compares ETags leniently: with or without their quotes (even one of them).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-requests.html"""
    return any(t.strip() == "*" or t.strip().strip('"') == etag for t in header.split(","))


def _seconds(value: Timestamp) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value)


def check_read(obj: ObjectRow, if_match: str | None, if_none_match: str | None,
               if_modified_since: Timestamp | None, if_unmodified_since: Timestamp | None) -> None:
    """RFC 7232 precedence as S3 applies it to GET and HEAD."""
    etag = obj.etag
    modified = int(obj.last_modified)
    if if_match is not None:
        if not etag_matches(if_match, etag):
            raise precondition_failed("If-Match")
    elif if_unmodified_since is not None and modified > _seconds(if_unmodified_since):
        raise precondition_failed("If-Unmodified-Since")
    if if_none_match is not None:
        if etag_matches(if_none_match, etag):
            raise ServiceError("NotModified", "Not Modified", 304, headers={"ETag": obj.quoted_etag})
    elif if_modified_since is not None and modified <= _seconds(if_modified_since):
        raise ServiceError("NotModified", "Not Modified", 304, headers={"ETag": obj.quoted_etag})


def check_copy_source(obj: ObjectRow, if_match: str | None, if_none_match: str | None,
                      if_modified_since: Timestamp | None, if_unmodified_since: Timestamp | None) -> None:
    """The x-amz-copy-source-if-* headers of CopyObject and UploadPartCopy: each failing one is a 412."""
    etag, modified = obj.etag, int(obj.last_modified)
    if if_match is not None and not etag_matches(if_match, etag):
        raise precondition_failed("x-amz-copy-source-If-Match")
    if if_none_match is not None and etag_matches(if_none_match, etag):
        raise precondition_failed("x-amz-copy-source-If-None-Match")
    if if_unmodified_since is not None and modified > _seconds(if_unmodified_since):
        raise precondition_failed("x-amz-copy-source-If-Unmodified-Since")
    if if_modified_since is not None and modified <= _seconds(if_modified_since):
        raise precondition_failed("x-amz-copy-source-If-Modified-Since")


@dataclass(frozen=True)
class WritePrecondition:
    """If-None-Match: * and If-Match on a PUT: judged inside the write, against the version it replaces,
    so that two racing conditional PUTs cannot both succeed."""

    key: str
    absent: bool = False  # If-None-Match: *
    if_match: str | None = None

    def check(self, current_etag: str | None) -> None:
        """`current_etag`: the ETag of the key's current version, None if it has none (or a delete marker)."""
        if self.absent and current_etag is not None:
            raise precondition_failed("If-None-Match")
        if self.if_match is not None:
            if current_etag is None:
                raise no_such_key(self.key)
            if not etag_matches(self.if_match, current_etag):
                raise precondition_failed("If-Match")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single `bytes=` range; None = serve the whole object."""
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            n = int(last)
            if n == 0:
                raise ValueError
            return max(0, size - n), size - 1
        start = int(first)
        end = int(last) if last else None
    except ValueError:
        if first == "" and last == "0":
            raise invalid_range(size, header)
        return None
    if end is not None and start > end:
        return None  # a backwards range is ignored: the whole object
    if start >= size:
        raise invalid_range(size, header)
    return start, size - 1 if end is None else min(end, size - 1)


def invalid_range(size: int, requested: str | None = None) -> ServiceError:
    """https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (InvalidRange: the object's size and
    the Range header as sent)."""
    return ServiceError("InvalidRange", "The requested range is not satisfiable", 416,
                        extra={"ActualObjectSize": size, "RangeRequested": requested})

