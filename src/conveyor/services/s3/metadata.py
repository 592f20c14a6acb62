"""An object's stored metadata (content headers, user metadata, tags, ACL, storage class, checksums) and
the response members it becomes on GET and HEAD."""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import parse_qsl

from conveyor.services.s3 import acl, archive, encryption, objectlock
from conveyor.services.s3.schema import ObjectRow
from conveyor.wire import ServiceError

if TYPE_CHECKING:
    from typing_extensions import ReadOnly

    class ObjectSettings(TypedDict, total=False):
        """What PutObject, CopyObject (REPLACE), CreateMultipartUpload and POST forms say about the object
        (None: not said)."""

        CacheControl: ReadOnly[str | None]
        ContentDisposition: ReadOnly[str | None]
        ContentEncoding: ReadOnly[str | None]
        ContentLanguage: ReadOnly[str | None]
        Expires: ReadOnly[dt.datetime | str | None]  # a string: S3 keeps it as sent (conveyor.services.s3.codec)
        Metadata: ReadOnly[Mapping[str, str] | None]
        Tagging: ReadOnly[str | None]
        ACL: ReadOnly[str | None]
        GrantFullControl: ReadOnly[str]
        GrantRead: ReadOnly[str]
        GrantReadACP: ReadOnly[str]
        GrantWriteACP: ReadOnly[str]
        StorageClass: ReadOnly[str | None]
        WebsiteRedirectLocation: ReadOnly[str | None]

    class ReadOverrides(TypedDict, total=False):
        """GET and HEAD: the response-* overrides, the part asked for and whether to show checksums."""

        ResponseCacheControl: ReadOnly[str]
        ResponseContentDisposition: ReadOnly[str]
        ResponseContentEncoding: ReadOnly[str]
        ResponseContentLanguage: ReadOnly[str]
        ResponseContentType: ReadOnly[str]
        ResponseExpires: ReadOnly[dt.datetime | str]
        PartNumber: ReadOnly[int]
        ChecksumMode: ReadOnly[str]

CONTENT_FIELDS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "Expires")
CHECKSUM_MEMBERS = {"CRC32": "ChecksumCRC32", "CRC32C": "ChecksumCRC32C", "CRC64NVME": "ChecksumCRC64NVME",
                    "SHA1": "ChecksumSHA1", "SHA256": "ChecksumSHA256"}
_OVERRIDES = (("ResponseCacheControl", "CacheControl"), ("ResponseContentDisposition", "ContentDisposition"),
              ("ResponseContentEncoding", "ContentEncoding"), ("ResponseContentLanguage", "ContentLanguage"),
              ("ResponseContentType", "ContentType"), ("ResponseExpires", "Expires"))


_NOT_IN_A_HEADER = re.compile(r"[^\t\x20-\x7e\x80-\xff]")


def header_value(member: str, value: Any) -> Any:
    """A response-* override goes out as a header: a CR or LF would split the response, a character outside
    ISO-8859-1 cannot be sent. S3 refuses both with this InvalidArgument."""
    if isinstance(value, str) and _NOT_IN_A_HEADER.search(value):
        name = "response-" + re.sub(r"(?<!^)(?=[A-Z])", "-", member[len("Response"):]).lower()
        raise ServiceError("InvalidArgument", "Header value cannot be represented using ISO-8859-1.", 400,
                           extra={"ArgumentName": name, "ArgumentValue": value})
    return value


# User metadata outside US-ASCII: S3 decodes RFC 2047 encoded words (and raw UTF-8) before storing a value,
# and encodes a value that is not US-ASCII as RFC 2047 before returning it.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#UserMetadata
def decode_user_value(value: str) -> str:
    if not value.isascii():
        try:  # headers arrive as ISO-8859-1 text: bytes that were UTF-8 are read back as UTF-8
            return value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return value
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return value


def encode_user_value(value: str) -> str:
    if value.isascii():
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode("utf-8")).decode() + "?="


def tag_set(tagging: str) -> list[dict[str, str]]:
    """The x-amz-tagging header (a URL-encoded query string) as a TagSet."""
    tags = [{"Key": k, "Value": v} for k, v in parse_qsl(tagging, keep_blank_values=True)]
    check_tags(tags)
    return tags


def _invalid_tag(message: str) -> ServiceError:
    return ServiceError("InvalidTag", message, 400)


def check_tags(tags: Sequence[Mapping[str, object]], bucket: bool = False) -> None:
    """A tag set as S3 accepts it: unique keys of at most 128 characters, values of at most 256, no `aws:`
    keys (S3's own). https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html"""
    keys = [str(tag.get("Key") or "") for tag in tags]
    if len(set(keys)) != len(keys):
        raise _invalid_tag("Cannot provide multiple Tags with the same key")
    for tag in tags:
        key, value = str(tag.get("Key") or ""), str(tag.get("Value") or "")
        if key.lower().startswith("aws:"):
            raise _invalid_tag("System tags cannot be added/updated by requester" if bucket
                               else "Your TagKey cannot be prefixed with aws:")
        if not key or len(key) > 128:
            raise _invalid_tag("The TagKey you have provided is invalid" if not key
                               else "The TagKey you have provided is too long, max 128")
        if len(value) > 256:
            raise _invalid_tag("The TagValue you have provided is too long, max 256")


def object_meta(settings: ObjectSettings, content_type: str | None) -> dict[str, Any]:
    """The metadata stored with a new object (JSON in its row)."""
    meta: dict[str, Any] = {"ContentType": content_type or "binary/octet-stream"}
    for name in CONTENT_FIELDS:
        value = settings.get(name)
        if value is not None:
            meta[name] = value  # Expires too: kept as sent (see conveyor.services.s3.codec)
    if "ContentEncoding" in meta:
        enc = ",".join(p for p in meta["ContentEncoding"].split(",") if p.strip() != "aws-chunked")
        if enc:
            meta["ContentEncoding"] = enc
        else:
            del meta["ContentEncoding"]
    if settings.get("Metadata"):
        meta["Metadata"] = {name: decode_user_value(value) for name, value in (settings.get("Metadata") or {}).items()}
    tagging = settings.get("Tagging")
    if tagging:
        meta["Tags"] = tag_set(tagging)
    grants = acl.header_grants(settings)
    if grants:
        meta["ACL"] = {"Grants": grants}
    elif settings.get("ACL"):
        meta["ACL"] = settings.get("ACL")
    archive.check_class(settings.get("StorageClass"))
    for name in ("StorageClass", "WebsiteRedirectLocation"):
        if settings.get(name):
            meta[name] = settings.get(name)
    return meta


def checksum_members(meta: dict[str, Any], suffixed: bool = True) -> dict[str, Any]:
    """An object's checksum and its ChecksumType (FULL_OBJECT, or COMPOSITE for a multipart upload's checksum
    of its parts' checksums, shown with its "-N" part count except by GetObjectAttributes).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html"""
    sums = meta.get("Checksums") or {}
    out: dict[str, Any] = {}
    for algo, value in sums.items():
        if algo in CHECKSUM_MEMBERS:
            out[CHECKSUM_MEMBERS[algo]] = value if suffixed else value.partition("-")[0]
    if out:
        out["ChecksumType"] = meta.get("ChecksumType") or "FULL_OBJECT"
    return out


def version_members(version_id: str, bucket_versioning: str) -> dict[str, Any]:
    """VersionId in a response: on a bucket that has had versioning, or for a version that is not "null"."""
    return {"VersionId": version_id} if bucket_versioning or version_id != "null" else {}


def object_members(obj: ObjectRow, params: ReadOverrides, versioning: str) -> dict[str, Any]:
    """The response members of GET and HEAD an object's metadata makes."""
    meta = obj.meta
    out: dict[str, Any] = {
        "ETag": obj.quoted_etag, "LastModified": obj.last_modified, "ContentLength": obj.size,
        "AcceptRanges": "bytes", "ContentType": meta.get("ContentType"),
        **version_members(obj.version_id, versioning),
    }
    for name in CONTENT_FIELDS:
        if name in meta:
            out[name] = meta[name]
    if meta.get("Metadata"):
        out["Metadata"] = {name: encode_user_value(value) for name, value in meta["Metadata"].items()}
    if meta.get("Tags"):
        out["TagCount"] = len(meta["Tags"])
    if meta.get("PartsCount") and params.get("PartNumber"):
        out["PartsCount"] = meta["PartsCount"]
    if meta.get("StorageClass") and meta["StorageClass"] != "STANDARD":
        out["StorageClass"] = meta["StorageClass"]
    if "WebsiteRedirectLocation" in meta:
        out["WebsiteRedirectLocation"] = meta["WebsiteRedirectLocation"]
    out.update(encryption.response_members(meta))
    out.update(objectlock.response_members(meta))
    out.update(archive.restore_header(obj))
    if meta.get("ReplicationStatus"):  # conveyor.services.s3.replication
        out["ReplicationStatus"] = meta["ReplicationStatus"]
    if (params.get("ChecksumMode") or "").upper() == "ENABLED":
        out.update(checksum_members(meta))
    for override, member in _OVERRIDES:
        value = params.get(override)
        if value is not None:
            out[member] = header_value(override, value)
    return out
