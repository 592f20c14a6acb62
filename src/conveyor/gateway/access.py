"""Who may make a request: SigV4 verification for every service and for Conveyor's own API (/_conveyor/),
and what a loopback server with authentication off still refuses.

- `--auth sigv4`: every request must carry a valid signature from a configured credential, a key IAM
  issued or temporary credentials STS issued (with their session token, before they expire), except
  S3's anonymous requests (judged by bucket policy and Public Access Block, as on AWS), operations AWS
  serves unsigned (STS's AssumeRoleWithWebIdentity) and `GET /_conveyor/health`. Conveyor's own API is
  signed with the service name `conveyor`.
- Either way, the principal behind a known key goes on the request (`ctx.principal`): with `--auth off`
  unverified, as the key names it, so that GetCallerIdentity answers a function's role session; an
  unknown key of 12 digits there is the root user of that account (another account, for S3's
  cross-account rules).
- `--auth off` (loopback only): any local process may do anything the server's user can do, including
  running commands through worker pools. Web pages are kept out: requests a browser sends on behalf of
  another site (`Origin` of another host, `Sec-Fetch-Site: cross-site`) and requests addressed to a name
  a page could rebind to 127.0.0.1 (neither a loopback name nor an AWS host name) are refused, except by
  S3, whose buckets answer browsers under their own CORS configuration and bucket policy.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from conveyor.gateway import sigv4
from conveyor.ports import Credential
from conveyor.wire import Caller, HttpRequest, RequestContext, ServiceError, Signature, SigV4Error
from conveyor.wire.caller import another_account

if TYPE_CHECKING:
    from conveyor.config import Config

INTERNAL = "conveyor"  # ctx.service of requests for /_conveyor/*
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
# The values S3 accepts for x-amz-content-sha256 besides a hex SHA-256.
# https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
S3_PAYLOAD_MODES = frozenset({
    sigv4.UNSIGNED,
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
})
_BAD_PAYLOAD_HASH = (
    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or "
    "a valid sha256 value."
)


def is_open_endpoint(request: HttpRequest) -> bool:
    """`GET /_conveyor/health` answers anyone: it is how clients and scripts find out the server is up."""
    return request.method in ("GET", "HEAD") and request.path.rstrip("/") == "/_conveyor/health"


class Keyring(Protocol):
    """Who holds an access key: the configured credentials, or a key a service issued (IAM's
    CreateAccessKey); told when a key signed an accepted request (IAM's GetAccessKeyLastUsed)."""

    def credential_for(self, access_key: str) -> Credential | None: ...

    def note_used(self, access_key: str, service: str, region: str) -> None: ...


async def authenticate(ctx: RequestContext, config: Config, keys: Keyring,
                       served_unsigned: Callable[[], Awaitable[bool]]) -> None:
    """Raises a ServiceError (serialized in the protocol of ctx.service) when the request may not go on.
    `served_unsigned`: whether the operation is one AWS answers without a signature."""
    internal = ctx.service == INTERNAL
    s3 = ctx.service == "s3"
    if internal and is_open_endpoint(ctx.request):
        return
    if config.auth == "off" and not s3:
        keep_browsers_out(ctx.request, config)
    sig = ctx.signature
    try:
        if ctx.signature_error is not None:
            raise ctx.signature_error
        if sig is None:
            # S3 decides about anonymous callers by policy; a few operations are answered unsigned
            if config.auth == "sigv4" and not s3 and not await served_unsigned():
                raise SigV4Error("missing", "Request is missing Authentication Token")
            return
        ctx.access_key = sig.access_key
        if sig.presigned:  # presigned URLs expire whether or not signatures are checked
            sigv4.check_time(sig, ctx.clock.now())
        if config.auth == "sigv4":
            await _verify(ctx, sig, config, keys, s3=s3, internal=internal)
        elif not internal:
            ctx.principal = _identify(ctx, sig, keys) or another_account(sig.access_key, config.account_id)
        ctx.authenticated = True
        if not internal:
            keys.note_used(sig.access_key, sig.service, sig.region)
    except SigV4Error as exc:
        raise auth_error(exc, s3=s3)


async def _verify(ctx: RequestContext, sig: Signature, config: Config, keys: Keyring, *,
                  s3: bool, internal: bool) -> None:
    sigv4.check_scope(sig, sigv4.CONVEYOR_SERVICE if internal else None)
    sigv4.check_signed_headers(ctx.request, sig)
    credential: Credential | None = None
    if internal:  # Conveyor's own API (reset, workers) answers the configured credentials only
        secret = config.credentials.get(sig.access_key)
    else:
        credential = keys.credential_for(sig.access_key)
        if credential is not None:
            check_session(ctx.request, credential, ctx.clock.now())
        secret = credential.secret_key if credential is not None else None
    if secret is None:
        raise SigV4Error("unknown_key", "The security token included in the request is invalid.")
    if not sig.presigned:
        sigv4.check_time(sig, time.time())
    payload_hash = await _payload_hash(ctx, sig, s3)
    sigv4.verify(ctx.request, sig, secret, payload_hash, s3=s3)
    if s3 and payload_hash.startswith(sigv4.STREAMING_SIGNED):  # the S3 layer checks each chunk
        key = sigv4.signing_key(secret, sig.date, sig.region, sig.service)
        ctx.chunk_verifier = sigv4.ChunkSigner(key, sig)
    ctx.principal = credential.caller if credential is not None else Caller.root(config.account_id)


# -- temporary credentials -------------------------------------------------------------------------

_INVALID_TOKEN = "The security token included in the request is invalid."


def session_token(request: HttpRequest) -> str | None:
    """The session token a request carries: a header, or a presigned URL's query parameter.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_use-resources.html"""
    token = request.headers.get("x-amz-security-token")
    if token or not request.query_string:
        return token or None
    return request.query_dict().get("X-Amz-Security-Token")


def check_session(request: HttpRequest, credential: Credential, now: float) -> None:
    """Temporary credentials are valid only with their own session token and until they expire; a
    long-term key comes with no token at all. A temporary key without its token is unknown, as AWS
    reports it (S3: InvalidAccessKeyId)."""
    token = session_token(request)
    if credential.session_token is None:
        if token is not None:
            raise SigV4Error("bad_token", _INVALID_TOKEN)
        return
    if token is None:
        raise SigV4Error("unknown_key", _INVALID_TOKEN)
    if not hmac.compare_digest(token.encode(), credential.session_token.encode()):
        raise SigV4Error("bad_token", _INVALID_TOKEN)
    if credential.expiration is not None and now >= credential.expiration:
        raise SigV4Error("expired_token", "The security token included in the request is expired")


def _identify(ctx: RequestContext, sig: Signature, keys: Keyring) -> Caller | None:
    """With authentication off nothing is refused, but a key that is known (with its token, unexpired)
    still names its principal."""
    credential = keys.credential_for(sig.access_key)
    if credential is None:
        return None
    try:
        check_session(ctx.request, credential, ctx.clock.now())
    except SigV4Error:
        return None
    return credential.caller


async def _payload_hash(ctx: RequestContext, sig: Signature, s3: bool) -> str:
    """The payload hash of the canonical request.

    S3 streams bodies, so the signature covers the declared x-amz-content-sha256 and the S3 layer checks
    the body against it (every body S3 reads, not only objects). Every other service, presigned or not,
    signs the hash of the body itself: a presigned URL signs an empty body, so a body added to one no
    longer matches its signature, as on AWS (botocore moves the parameters of a presigned non-S3 request
    into the query string and signs the hash of the empty body).
    """
    declared = ctx.request.headers.get("x-amz-content-sha256")
    if not s3:
        return hashlib.sha256(await ctx.request.body()).hexdigest()
    if declared is None:
        if sig.presigned:  # https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
            return sigv4.UNSIGNED
        # https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html: "The
        # x-amz-content-sha256 header is required for all AWS Signature Version 4 requests".
        raise ServiceError("InvalidRequest", "Missing required header for this request: x-amz-content-sha256", 400)
    if declared not in S3_PAYLOAD_MODES and not _SHA256_HEX.fullmatch(declared):
        raise ServiceError("InvalidArgument", _BAD_PAYLOAD_HASH, 400,
                           extra={"ArgumentName": "x-amz-content-sha256", "ArgumentValue": declared})
    return declared


def auth_error(exc: SigV4Error, *, s3: bool) -> ServiceError:
    """SigV4 failures with the codes each family of services uses (S3's own, or the common ones).
    https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html
    """
    kind = exc.kind
    if kind == "expired_token":
        # https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html (ExpiredToken) and
        # https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html (ExpiredTokenException,
        # ExpiredToken in the query protocol's words)
        if s3:
            return ServiceError("ExpiredToken", "The provided token has expired.", 400)
        return ServiceError("ExpiredTokenException", exc.message, 403, query_code="ExpiredToken")
    if kind == "bad_token":
        if s3:
            return ServiceError("InvalidToken", "The provided token is malformed or otherwise invalid.", 400)
        return ServiceError("InvalidClientTokenId", exc.message, 403)
    if kind == "expired":
        return ServiceError("AccessDenied", exc.message, 403)
    if kind == "skewed":
        return ServiceError("RequestTimeTooSkewed" if s3 else "SignatureDoesNotMatch", exc.message, 403)
    if kind == "unknown_key":
        if s3:
            return ServiceError("InvalidAccessKeyId",
                                "The AWS Access Key Id you provided does not exist in our records.", 403)
        return ServiceError("InvalidClientTokenId", exc.message, 403)
    if kind == "unsigned" and s3:
        return ServiceError("AccessDenied", "There were headers present in the request which were not signed", 403,
                            extra={"HeadersNotSigned": ", ".join(exc.headers)})
    if kind == "scope_date" and s3:
        if exc.presigned:
            return ServiceError("AuthorizationQueryParametersError",
                                "Invalid credential date. Date is not the same as X-Amz-Date.", 400)
        return ServiceError("AuthorizationHeaderMalformed", "The authorization header is malformed; Invalid "
                            "credential date. Date is not the same as X-Amz-Date.", 400)
    if kind in ("mismatch", "unsigned", "scope_date", "scope_service"):
        return ServiceError("SignatureDoesNotMatch", exc.message, 403)
    if kind == "missing":
        return ServiceError("MissingAuthenticationToken", exc.message, 403)
    if s3:
        code = "AuthorizationQueryParametersError" if exc.presigned else "AuthorizationHeaderMalformed"
        return ServiceError(code, exc.message, 400)
    return ServiceError("IncompleteSignature", exc.message, 400)


# -- authentication off: local processes yes, web pages no ------------------------------------------

def keep_browsers_out(request: HttpRequest, config: Config) -> None:
    """With authentication off anything that reaches the port is trusted, so a web page must not reach it:
    a cross-site form or `fetch` (no preflight needed for a form POST) could otherwise create a worker
    pool running any command, or a function running any code. Browsers name the page's origin in `Origin`
    and `Sec-Fetch-Site`; a page that rebinds its own DNS name to 127.0.0.1 is same-origin, but its
    requests carry its name in `Host`."""
    keep_rebinders_out(request, config)
    host = request.headers.get("host")
    site = (request.headers.get("sec-fetch-site") or "").lower()
    origin = request.headers.get("origin")
    if site in ("cross-site", "same-site") or (origin is not None and not _same_origin(origin, host)):
        raise ServiceError(
            "AccessDenied", "With authentication off, Conveyor refuses requests a web browser makes on behalf "
            f"of another site (Origin {origin or '-'}); only S3 answers browsers, under each bucket's CORS "
            "configuration.", 403)


def keep_rebinders_out(request: HttpRequest, config: Config) -> None:
    """The Host rule alone: a page that rebinds its own DNS name to 127.0.0.1 is same-origin with what it
    reaches, but its requests name its host. Data planes meant for browsers (API Gateway's invoke URLs)
    keep this rule and leave cross-origin calls to their own CORS configuration."""
    host = request.headers.get("host")
    if host is not None and not is_trusted_name(host, config.host):
        raise ServiceError(
            "AccessDenied", f"With authentication off, Conveyor answers only requests addressed to a loopback "
            f"name (localhost, 127.0.0.1, [::1]) or an AWS host name, not {host!r}; serve other names with "
            "--auth sigv4.", 403)


# Names whose DNS no web page's author controls, so no page can rebind them to 127.0.0.1: AWS's own
# (pointed at Conveyor through /etc/hosts or `curl --resolve`, see conveyor.services.s3.hosts; `.on.aws`
# is where Lambda's function URLs live) and LocalStack's loopback name.
_TRUSTED_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn", ".on.aws", ".localhost.localstack.cloud")


@functools.lru_cache(maxsize=256)
def is_trusted_name(host_header: str, bound_host: str) -> bool:
    """A loopback name, the name the server was started on, or one of AWS's own host names. (Remembered:
    a client names the same Host in every request.)"""
    name = _hostname(host_header)
    if name in ("localhost", "localhost.localstack.cloud", bound_host.lower()) or name.endswith(".localhost"):
        return True
    if name.endswith(_TRUSTED_DOMAINS):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _hostname(host_header: str) -> str:
    """`Host` without its port, lower-case; `[::1]:4566` -> `::1`."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def _same_origin(origin: str, host: str | None) -> bool:
    try:
        netloc = urlsplit(origin).netloc.lower()
    except ValueError:
        return False
    return host is not None and netloc != "" and netloc == host.strip().lower()
