"""An upload's body as S3 reads it: aws-chunked decoding, the checksums the client asked for, and
checking what it declared (Content-MD5, x-amz-content-sha256, decoded length, trailing checksums)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator

from conveyor.services.s3 import checksums
from conveyor.services.s3.blobs import BlobInfo
from conveyor.services.s3.chunked import ChunkedDecoder
from conveyor.wire import RequestContext, ServiceError


def body_source(ctx: RequestContext) -> tuple[AsyncIterator[bytes], ChunkedDecoder | None]:
    """The request body, decoded from aws-chunked framing when the client used it."""
    if _aws_chunked(ctx):
        decoder = ChunkedDecoder(ctx.request.stream(), ctx.chunk_verifier)
        return decoder.chunks(), decoder
    return ctx.request.stream(), None


def arrived_body(ctx: RequestContext) -> bytes | None:
    """The body, if it has all arrived with the request and needs no decoding (HttpRequest.arrived_body):
    a small PUT's, taken without streaming it; None: read it from `body_source`."""
    return None if _aws_chunked(ctx) else ctx.request.arrived_body()


def _aws_chunked(ctx: RequestContext) -> bool:
    headers = ctx.request.headers
    sha = headers.get("x-amz-content-sha256") or ""
    return sha.startswith("STREAMING-") or "aws-chunked" in (headers.get("content-encoding") or "")


# (algorithm, its x-amz-checksum-* header), looked up in every upload's headers.
_CHECKSUM_HEADERS = tuple((a, checksums.header_for(a)) for a in checksums.ALGORITHMS)


def client_algorithms(ctx: RequestContext, algorithm: str | None) -> set[str]:
    """The checksum algorithms the client named (a header, a trailer, ChecksumAlgorithm): those it sees back."""
    headers = ctx.request.headers
    sent = headers.lowered()
    algos = {a for a, name in _CHECKSUM_HEADERS if name in sent}
    if algorithm:
        algos.add(algorithm.upper())
    for name in (sent.get("x-amz-trailer") or "").split(","):
        if name.strip().lower().startswith("x-amz-checksum-"):
            algos.add(name.strip().lower().removeprefix("x-amz-checksum-").upper())
    return algos


def requested_algorithms(ctx: RequestContext, algorithm: str | None) -> set[str]:
    """The checksums to compute while the body streams: those the client named, CRC64NVME (an object's
    checksum when its client named none), and SHA-256 when the signature covers the body's hash
    (x-amz-content-sha256), to check it."""
    algos = client_algorithms(ctx, algorithm) | {checksums.DEFAULT}
    sha = ctx.request.headers.get("x-amz-content-sha256") or ""
    if len(sha) == 64:
        algos.add("SHA256")
    return {a for a in algos if a in checksums.ALGORITHMS}


def check_content_md5(declared: str, actual: bytes) -> None:
    """https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html: InvalidDigest for a value that
    is not a base64 MD5, BadDigest for one that does not match the body."""
    try:
        expected = base64.b64decode(declared, validate=True)
    except (binascii.Error, ValueError):
        raise ServiceError("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)
    if len(expected) != 16:
        raise ServiceError("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)
    if expected != actual:
        raise ServiceError("BadDigest", "The Content-MD5 you specified did not match what we received.", 400)


def verify_body(ctx: RequestContext, info: BlobInfo, decoder: ChunkedDecoder | None) -> None:
    headers = ctx.request.headers
    md5 = headers.get("content-md5")
    if md5 is not None:
        check_content_md5(md5, info.md5)
    sha = headers.get("x-amz-content-sha256") or ""
    if len(sha) == 64 and "SHA256" in info.checksums:
        actual = base64.b64decode(info.checksums["SHA256"]).hex()
        if actual != sha.lower():
            raise ServiceError("XAmzContentSHA256Mismatch",
                               "The provided 'x-amz-content-sha256' header does not match what was computed.", 400,
                               extra={"ClientComputedContentSHA256": sha, "S3ComputedContentSHA256": actual})
    declared = headers.get("x-amz-decoded-content-length")
    if decoder is not None and declared is not None and declared.isdigit() and int(declared) != info.size:
        raise ServiceError("IncompleteBody", "You did not provide the number of bytes specified by the "
                           "Content-Length HTTP header", 400)
    trailers = decoder.trailers if decoder else {}
    for algo, actual in info.checksums.items():
        name = checksums.header_for(algo)
        given = trailers.get(name) or headers.get(name)
        if given is not None and given != actual:
            raise ServiceError("BadDigest", f"The {algo} you specified did not match the calculated checksum.", 400)


def stored_checksums(ctx: RequestContext, algorithm: str | None, info: BlobInfo) -> dict[str, str]:
    """The checksum an object keeps: the one its client sent or named, else CRC64NVME, which S3 computes
    for every object uploaded without one since December 2024
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html). SHA-256, computed
    to check a signed body, is kept only if the client asked for it."""
    named = client_algorithms(ctx, algorithm)
    kept = {a: v for a, v in info.checksums.items() if a in named}
    if not kept and checksums.DEFAULT in info.checksums:
        kept = {checksums.DEFAULT: info.checksums[checksums.DEFAULT]}
    return kept
