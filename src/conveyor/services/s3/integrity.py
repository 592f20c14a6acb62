"""Bodies S3 reads whole (bucket policies, DeleteObjects, notification, CORS and other XML settings,
CompleteMultipartUpload) checked against everything the request declared about them before anything
acts on them: the signed `x-amz-content-sha256`, `Content-MD5`, `x-amz-checksum-*` headers or trailers,
and the checksum S3 requires for some operations. Object uploads stream, and are checked the same way
as they are stored (see uploads.py).

Without this, a body swapped after signing (a policy making a bucket public) would be accepted: the
signature covers only the declared hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from botocore.model import OperationModel

from conveyor.services.s3 import checksums
from conveyor.services.s3.chunked import ChunkedDecoder
from conveyor.services.s3.uploads import body_source, check_content_md5
from conveyor.wire import RequestContext, ServiceError


def reads_whole_body(op: OperationModel) -> bool:
    """Whether the codec reads this operation's payload whole (an XML document, a policy string...)."""
    found = _READS_WHOLE.get(id(op))
    if found is None:
        found = _READS_WHOLE[id(op)] = (op, _reads_whole_body(op))
    return found[1]


# id of the operation -> (the operation, kept so its id is not reused; whether its body is read whole): asked
# about every S3 request, answered from the model once per operation.
_READS_WHOLE: dict[int, tuple[OperationModel, bool]] = {}


def _reads_whole_body(op: OperationModel) -> bool:
    shape = op.input_shape
    payload = shape.serialization.get("payload") if shape is not None else None
    if shape is None or not payload:
        return False
    member = shape.members[payload]
    return not member.serialization.get("streaming") and member.type_name in ("string", "blob", "structure")


# The operations whose API reference says the integrity header is required ("The Content-MD5 request
# header is required for all Multi-Object Delete requests", API_DeleteObjects.html) or "must be used as
# a message integrity check" (API_PutBucketAcl, _PutBucketCors, _PutBucketReplication,
# _PutBucketRequestPayment, _PutBucketTagging, _PutBucketVersioning, _PutBucketWebsite, _PutObjectAcl).
# botocore marks more operations (PutBucketPolicy...) so that SDKs always send one, but their references
# call the header optional, and raw clients such as curl send none.
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
_INTEGRITY_HEADER_REQUIRED = frozenset({
    "DeleteObjects", "PutBucketAcl", "PutBucketCors", "PutBucketReplication", "PutBucketRequestPayment",
    "PutBucketTagging", "PutBucketVersioning", "PutBucketWebsite", "PutObjectAcl",
})


def checksum_required(op: OperationModel) -> bool:
    """S3 refuses these operations without Content-MD5 or an x-amz-checksum-* header (which the SDKs now
    send in its place)."""
    return op.name in _INTEGRITY_HEADER_REQUIRED


async def read_checked_body(ctx: RequestContext, op: OperationModel) -> None:
    """Read the body of `op` (decoding aws-chunked framing, whose chunk signatures are checked as it
    is read), check it, and keep it for the codec to parse."""
    if not reads_whole_body(op):
        return
    request = ctx.request
    source, decoder = body_source(ctx)
    chunks: list[bytes] = []
    size = 0
    async for chunk in source:
        size += len(chunk)
        if size > request.max_body:
            raise ServiceError("MaxMessageLengthExceeded", "Your request was too big.", 400)
        chunks.append(chunk)
    body = b"".join(chunks)
    request.keep_body(body)
    verify_whole_body(ctx, op, body, decoder)


def verify_whole_body(ctx: RequestContext, op: OperationModel, body: bytes, decoder: ChunkedDecoder | None) -> None:
    headers = ctx.request.headers
    declared = headers.get("x-amz-content-sha256") or ""
    if len(declared) == 64:  # what the signature covers, checked first
        actual = hashlib.sha256(body).hexdigest()
        if actual != declared.lower():
            # https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList
            raise ServiceError("XAmzContentSHA256Mismatch",
                               "The provided 'x-amz-content-sha256' header does not match what was computed.", 400,
                               extra={"ClientComputedContentSHA256": declared, "S3ComputedContentSHA256": actual})
    md5 = headers.get("content-md5")
    if md5 is not None:
        check_content_md5(md5, hashlib.md5(body).digest())
    trailers = decoder.trailers if decoder is not None else {}
    sent_checksum = False
    # x-amz-checksum-* describe the body only for operations with flexible request checksums; those of
    # CompleteMultipartUpload are the whole object's checksum, checked by the multipart code.
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
    for algorithm in checksums.ALGORITHMS if op.http_checksum else ():
        name = checksums.header_for(algorithm)
        given = trailers.get(name) or headers.get(name)
        if given is None:
            continue
        sent_checksum = True
        hasher = checksums.new(algorithm)
        assert hasher is not None
        hasher.update(body)
        digest = hasher.digest()
        try:
            valid = len(base64.b64decode(given, validate=True)) == len(digest)
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise ServiceError("InvalidRequest", f"Value for {name} header is invalid.", 400)
        if given != checksums.b64(digest):
            raise ServiceError("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.",
                               400)
    if md5 is None and not sent_checksum and checksum_required(op):
        # The error S3 has long answered a Multi-Object Delete without Content-MD5; an x-amz-checksum-*
        # header is accepted in its place, as the SDKs now send.
        raise ServiceError("InvalidRequest", "Missing required header for this request: Content-MD5", 400)
