"""AWS Signature Version 4: parsing the credential scope and verifying header and presigned signatures.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import posixpath
import re
from collections.abc import Sequence
from urllib.parse import quote, unquote

from conveyor.wire import HttpRequest, Signature, SigV4Error

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"  # also the prefix of the -TRAILER form
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# The signing name of Conveyor's own API (/_conveyor/*): `conveyor` signs its calls with it, e.g.
# botocore's SigV4Auth(credentials, "conveyor", region).
CONVEYOR_SERVICE = "conveyor"
# Requests signed more than 15 minutes from the server's time are refused.
# https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
MAX_SKEW = 15 * 60
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600

_AUTH_RE = re.compile(r"(\w+)=([^,]*)")
# The Authorization header as SDKs write it; what `_AUTH_RE.findall` makes of such a header, in one match.
_AUTH_AS_SIGNED = re.compile(r" Credential=([^,]*), ?SignedHeaders=([^,]*), ?Signature=([^,]*)")


def parse(request: HttpRequest) -> Signature | None:
    """The SigV4 parameters of a request, or None if it is not SigV4-signed (anonymous)."""
    header = request.headers.get("authorization")
    if header:
        if not header.startswith(ALGORITHM):
            raise SigV4Error("malformed", "Only AWS4-HMAC-SHA256 signatures are supported.")
        well_formed = _AUTH_AS_SIGNED.fullmatch(header, len(ALGORITHM))
        if well_formed is not None:  # as every SDK writes it: the fields in one match
            credential, signed, signature = well_formed.groups()
        else:
            fields = dict(_AUTH_RE.findall(header[len(ALGORITHM):]))
            try:
                credential = fields["Credential"]
                signed = fields["SignedHeaders"]
                signature = fields["Signature"]
            except KeyError as missing:
                raise SigV4Error("malformed", f"Authorization header requires '{missing.args[0]}' parameter.")
        amz_date = request.headers.get("x-amz-date") or ""
        if not amz_date:
            date_header = request.headers.get("date")
            if date_header:
                amz_date = _http_date_to_amz(date_header)
        return _signature(credential, signed, signature, amz_date, presigned=False)
    query = request.query_dict()
    if "X-Amz-Credential" in query and "X-Amz-Signature" in query:
        if query.get("X-Amz-Algorithm") != ALGORITHM:
            raise SigV4Error("malformed", "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"", presigned=True)
        try:
            expires = int(query.get("X-Amz-Expires", "0"))
        except ValueError:
            raise SigV4Error("malformed", "X-Amz-Expires should be a number", presigned=True)
        if not 0 < expires <= MAX_PRESIGN_EXPIRES:
            raise SigV4Error("malformed", "X-Amz-Expires must be between 1 and 604800 seconds", presigned=True)
        sig = _signature(
            query["X-Amz-Credential"],
            query.get("X-Amz-SignedHeaders", "host"),
            query["X-Amz-Signature"],
            query.get("X-Amz-Date", ""),
            presigned=True,
        )
        sig.expires = expires
        return sig
    return None


_SCOPE_SERVICE = re.compile(r"Credential=[^/,\s]*/[^/,\s]*/[^/,\s]*/([^/,\s]+)/")


def scope_service(request: HttpRequest) -> str | None:
    """The service named by a signature too malformed to parse, so that its refusal is answered in
    that service's protocol."""
    header = request.headers.get("authorization") or ""
    match = _SCOPE_SERVICE.search(header) or _SCOPE_SERVICE.search(
        "Credential=" + (request.query_dict().get("X-Amz-Credential") or ""))
    return match.group(1) if match else None


_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")


def _signature(credential: str, signed: str, signature: str, amz_date: str, *, presigned: bool) -> Signature:
    parts = _scope_parts(credential)
    if parts is None:
        raise SigV4Error("malformed", f"Invalid credential scope {credential!r}: expected KEY/DATE/REGION/SERVICE/aws4_request",
                         presigned=presigned)
    if not _valid_stamp(amz_date):
        raise SigV4Error("malformed", "The request must carry a valid X-Amz-Date (yyyyMMddTHHmmssZ).",
                         presigned=presigned)
    return Signature(parts[0], parts[1], parts[2], parts[3], amz_date, _signed_names(signed), signature, presigned)


# A client signs every request with the same credential scope and (per kind of request) the same signed
# headers: both are split once and remembered.
@functools.lru_cache(maxsize=256)
def _scope_parts(credential: str) -> tuple[str, ...] | None:
    """KEY/DATE/REGION/SERVICE/aws4_request split in five, or None when it is not that."""
    parts = credential.split("/")
    return tuple(parts) if len(parts) == 5 and parts[4] == "aws4_request" else None


@functools.lru_cache(maxsize=256)
def _signed_names(signed: str) -> tuple[str, ...]:
    return tuple(signed.lower().split(";"))


@functools.lru_cache(maxsize=256)
def _name_set(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(names)


# The payload declaration is checked against the body itself (and is part of the canonical request), so
# S3 accepts it outside SignedHeaders; every other x-amz-* header must be signed.
_MAY_BE_UNSIGNED = frozenset({"x-amz-content-sha256"})


def check_scope(sig: Signature, service: str | None = None) -> None:
    """The credential scope must be for the day of X-Amz-Date (and, when given, for `service`).
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html
    """
    day = sig.amz_date[:8]
    if sig.date != day:
        raise SigV4Error("scope_date", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                         f"of date from HTTP: '{sig.date}' != '{day}', from '{sig.amz_date}'.",
                         presigned=sig.presigned)
    if service is not None and sig.service != service:
        raise SigV4Error("scope_service", f"Credential should be scoped to correct service: '{service}'.",
                         presigned=sig.presigned)


def check_signed_headers(request: HttpRequest, sig: Signature) -> None:
    """Host and every x-amz-* header the request carries must be among the signed headers, or whoever
    relays a signed request could add `x-amz-acl: public-read` or change `X-Amz-Target` unnoticed.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
    ("The CanonicalHeaders list must include ... HTTP host header ... Any x-amz-* headers that you plan
    to include in your request")
    """
    signed = _name_set(sig.signed_headers)
    unsigned: list[str] = []
    if "host" not in signed and ":authority" not in signed:
        unsigned.append("host")
    for name in request.headers.lowered():
        if name.startswith("x-amz-") and name not in signed and name not in _MAY_BE_UNSIGNED:
            unsigned.append(name)
    if unsigned:
        first = "'Host' or ':authority'" if unsigned[0] == "host" else f"'{_title(unsigned[0])}'"
        raise SigV4Error("unsigned", f"{first} must be a 'SignedHeader' in the AWS Authorization.",
                         headers=tuple(unsigned), presigned=sig.presigned)


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _http_date_to_amz(value: str) -> str:
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    except (TypeError, ValueError):
        return ""


@functools.lru_cache(maxsize=64)
def _stamp_seconds(amz_date: str) -> float | None:
    """The time a YYYYMMDDTHHMMSSZ stamp names, in seconds since the epoch; None when it is not one (a
    letter out of place, month 13). Sliced rather than strptime'd, and remembered: every signed request
    asks, and the requests of one second share their stamp."""
    if not _AMZ_DATE.fullmatch(amz_date):
        return None
    try:
        return dt.datetime(int(amz_date[0:4]), int(amz_date[4:6]), int(amz_date[6:8]), int(amz_date[9:11]),
                           int(amz_date[11:13]), int(amz_date[13:15]), tzinfo=dt.UTC).timestamp()
    except ValueError:
        return None


def _valid_stamp(amz_date: str) -> bool:
    return _stamp_seconds(amz_date) is not None


def signed_at(sig: Signature) -> float:
    at = _stamp_seconds(sig.amz_date)
    if at is None:
        raise ValueError(f"no such time: {sig.amz_date}")
    return at


def check_time(sig: Signature, now: float) -> None:
    """Presigned URLs expire; header signatures must be fresh."""
    at = signed_at(sig)
    if sig.presigned:
        if now > at + sig.expires:
            raise SigV4Error("expired", "Request has expired", presigned=True)
        if at - now > MAX_SKEW:
            raise SigV4Error("skewed", "Request is not valid yet", presigned=True)
    elif abs(now - at) > MAX_SKEW:
        stamp = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        raise SigV4Error("skewed", f"Signature expired: {sig.amz_date} is now earlier than {stamp} (15 min skew).")


def verify(request: HttpRequest, sig: Signature, secret: str, payload_hash: str, *, s3: bool) -> None:
    expected = compute(request, sig, secret, payload_hash, s3=s3)
    if not hmac.compare_digest(expected, sig.signature):
        raise SigV4Error(
            "mismatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )


def compute(request: HttpRequest, sig: Signature, secret: str, payload_hash: str, *, s3: bool) -> str:
    canonical = canonical_request(request, sig, payload_hash, s3=s3)
    to_sign = "\n".join(
        [ALGORITHM, sig.amz_date, sig.scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    return hmac_sha256_hex(signing_key(secret, sig.date, sig.region, sig.service), to_sign.encode())


@functools.lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The day's key for one region and service: four HMACs, the same for every request a client signs that
    day, so kept (a request names these four only after its signature parsed, and the secret is known)."""
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def hmac_sha256_hex(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 (RFC 2104) of `message` under a day's signing key, in hex: hmac.new's result, from the
    key's padded inner and outer SHA-256 states, hashed once per key and copied per message (hmac.new
    derives them anew on every call: 2.5 -> 1.0 us a signature)."""
    inner, outer = _padded_states(key)
    inner = inner.copy()
    inner.update(message)
    outer = outer.copy()
    outer.update(inner.digest())
    return outer.hexdigest()


@functools.lru_cache(maxsize=256)
def _padded_states(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    block = key.ljust(64, b"\0") if len(key) <= 64 else hashlib.sha256(key).digest().ljust(64, b"\0")
    return (hashlib.sha256(block.translate(_IPAD)), hashlib.sha256(block.translate(_OPAD)))


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class ChunkSigner:
    """The chained signatures of a signed aws-chunked upload: each chunk's signature covers the previous
    one, starting from the request's own signature, and a signed trailer ends the chain.
    https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
    https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
    """

    def __init__(self, key: bytes, sig: Signature) -> None:
        self.key, self.amz_date, self.scope, self.previous = key, sig.amz_date, sig.scope, sig.signature

    def _next(self, kind: str, *hashes: str) -> str:
        to_sign = "\n".join([kind, self.amz_date, self.scope, self.previous, *hashes])
        self.previous = hmac_sha256_hex(self.key, to_sign.encode())
        return self.previous

    def chunk(self, data_sha256: str) -> str:
        return self._next("AWS4-HMAC-SHA256-PAYLOAD", EMPTY_SHA256, data_sha256)

    def trailer(self, trailer_sha256: str) -> str:
        return self._next("AWS4-HMAC-SHA256-TRAILER", trailer_sha256)


def canonical_request(request: HttpRequest, sig: Signature, payload_hash: str, *, s3: bool) -> str:
    return "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.path, s3=s3),
            canonical_query(request.query_string, drop_signature=sig.presigned),
            canonical_headers(request, sig.signed_headers),
            ";".join(sig.signed_headers),
            payload_hash,
        ]
    )


# A path that normalising and encoding twice leave as it is: unreserved characters and single slashes, no
# `.` or `..` segment (most API paths: `/`, SQS's `/123456789012/queue`).
# (Segments are separated by one required slash, so the pattern cannot backtrack.)
_SEGMENT = r"(?!\.\.?(?:/|$))[A-Za-z0-9_~.\-]+"
_PLAIN_PATH = re.compile(rf"/?(?:{_SEGMENT}(?:/{_SEGMENT})*/?)?")


def canonical_uri(raw_path: str, *, s3: bool) -> str:
    if s3:
        # S3 signs the path exactly as sent: no normalisation, no second encoding.
        return raw_path or "/"
    if _PLAIN_PATH.fullmatch(raw_path):
        return raw_path or "/"
    path = unquote(raw_path) or "/"
    normalized = posixpath.normpath(path)
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    # Other services encode each segment twice: once for the URL, once for the canonical request.
    return quote(quote(normalized, safe="/~"), safe="/~")


def canonical_query(query_string: str, *, drop_signature: bool) -> str:
    pairs: list[tuple[str, str]] = []
    for pair in query_string.split("&") if query_string else []:
        if not pair:
            continue
        key, _, value = pair.partition("=")
        key = quote(unquote(key), safe="-_.~")
        if drop_signature and key == "X-Amz-Signature":
            continue
        pairs.append((key, quote(unquote(value), safe="-_.~")))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_headers(request: HttpRequest, signed: Sequence[str]) -> str:
    lines = []
    for name in signed:
        value = request.headers.get(name)
        if value is None:
            value = ""
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return "".join(lines)
