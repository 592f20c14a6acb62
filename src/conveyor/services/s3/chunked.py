"""Decoding `Content-Encoding: aws-chunked` bodies (SigV4 streaming and unsigned-with-trailer uploads).

Wire format: `<hex-size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n` repeated, a zero-size chunk, then
optional trailer lines `name:value\\r\\n` and a final `\\r\\n`. See
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator

from conveyor.wire import ChunkVerifier, ServiceError

STREAMING_MODES = (
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
)


def _bad() -> ServiceError:
    return ServiceError("IncompleteBody", "The request body terminated unexpectedly", 400)


def _signature_error() -> ServiceError:
    return ServiceError("SignatureDoesNotMatch", "The request signature we calculated does not match the signature "
                        "you provided. Check your key and signing method.", 403)


class ChunkedDecoder:
    def __init__(self, source: AsyncIterator[bytes], signer: ChunkVerifier | None = None) -> None:
        self.source = source
        self.signer = signer
        self.trailers: dict[str, str] = {}
        self._buf = bytearray()
        self._eof = False

    async def _fill(self) -> bool:
        if self._eof:
            return False
        try:
            chunk = await self.source.__anext__()
        except StopAsyncIteration:
            self._eof = True
            return False
        self._buf += chunk
        return True

    async def _line(self) -> bytes:
        while True:
            idx = self._buf.find(b"\r\n")
            if idx >= 0:
                line = bytes(self._buf[:idx])
                del self._buf[: idx + 2]
                return line
            if len(self._buf) > 64 * 1024:
                raise _bad()
            if not await self._fill():
                if self._buf:
                    line = bytes(self._buf)
                    self._buf.clear()
                    return line
                raise EOFError

    async def chunks(self) -> AsyncIterator[bytes]:
        """The decoded body, chunk by chunk; the trailers are in `trailers` once it is exhausted."""
        while True:
            try:
                header = await self._line()
            except EOFError:
                raise _bad()
            size_text, _, ext = header.partition(b";")
            try:
                size = int(size_text.strip(), 16)
            except ValueError:
                raise _bad()
            given = ext.decode("latin-1").partition("chunk-signature=")[2].strip()
            digest = hashlib.sha256() if self.signer else None
            remaining = size
            while remaining:
                if not self._buf and not await self._fill():
                    raise _bad()
                take = min(remaining, len(self._buf))
                piece = bytes(self._buf[:take])
                if digest is not None:
                    digest.update(piece)
                yield piece
                del self._buf[:take]
                remaining -= take
            if self.signer is not None and digest is not None and not hmac.compare_digest(
                    self.signer.chunk(digest.hexdigest()), given):
                raise _signature_error()
            if size == 0:
                break
            while len(self._buf) < 2:
                if not await self._fill():
                    raise _bad()
            if self._buf[:2] != b"\r\n":
                raise _bad()
            del self._buf[:2]
        # Trailers, until an empty line or the end of the body.
        while True:
            try:
                line = await self._line()
            except EOFError:
                break
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            self.trailers[name.strip().lower()] = value.strip()
        given = self.trailers.pop("x-amz-trailer-signature", "")
        if self.signer is not None and self.trailers:
            canonical = "".join(f"{name}:{value}\n" for name, value in self.trailers.items())
            if not hmac.compare_digest(self.signer.trailer(hashlib.sha256(canonical.encode()).hexdigest()), given):
                raise _signature_error()
