"""What a SigV4 signature says about a request (parsed by the gateway, read by the services)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SigV4Error(Exception):
    """Why a signature was refused; the gateway turns `kind` into the service's own error code."""

    def __init__(self, kind: str, message: str, *, headers: tuple[str, ...] = (), presigned: bool = False) -> None:
        super().__init__(message)
        # malformed | missing | unknown_key | mismatch | expired | skewed | unsigned | scope_date | scope_service
        # | bad_token | expired_token (temporary credentials, see gateway/access.py)
        self.kind = kind
        self.message = message
        self.headers = headers  # `unsigned`: the header names that should have been signed
        self.presigned = presigned


@dataclass
class Signature:
    access_key: str
    date: str  # yyyymmdd of the scope
    region: str
    service: str
    amz_date: str  # yyyymmddThhmmssZ
    signed_headers: tuple[str, ...]  # lower case, in the order signed
    signature: str
    presigned: bool
    expires: int = 0

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


class ChunkVerifier(Protocol):
    """The chained signatures of a signed aws-chunked upload (the gateway's ChunkSigner)."""

    def chunk(self, data_sha256: str) -> str: ...

    def trailer(self, trailer_sha256: str) -> str: ...
