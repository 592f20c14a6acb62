"""Browser POST uploads: multipart/form-data to the bucket URL with a signed policy document.

https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html
The form is parsed as a stream: fields before the `file` part are small and kept, the file content is
streamed straight into a blob; fields after `file` are ignored, as AWS does.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from conveyor.authz import Need
from conveyor.ports import Ports, find_credential
from conveyor.services.s3 import checksums, encryption
from conveyor.services.s3 import policy as access
from conveyor.services.s3.access import check_write_acl
from conveyor.services.s3.blobs import BlobInfo
from conveyor.services.s3.core import Core
from conveyor.services.s3.metadata import object_meta
from conveyor.services.s3.objects import MAX_OBJECT
from conveyor.services.s3.versions import Versions
from conveyor.wire import Caller, HttpResponse, RequestContext, ServiceError
from conveyor.wire.caller import another_account

if TYPE_CHECKING:
    from conveyor.config import Config
    from conveyor.services.s3.metadata import ObjectSettings

MAX_FIELDS = 64 * 1024


def _policy_error(message: str) -> ServiceError:
    return ServiceError("AccessDenied", f"Invalid according to Policy: {message}", 403)


class _FormReader:
    """Minimal streaming multipart/form-data reader."""

    def __init__(self, source: AsyncIterator[bytes], boundary: bytes) -> None:
        self.source = source
        self.delim = b"\r\n--" + boundary
        self.buf = bytearray(b"\r\n")
        self.eof = False

    async def _more(self) -> bool:
        if self.eof:
            return False
        try:
            self.buf += await self.source.__anext__()
            return True
        except StopAsyncIteration:
            self.eof = True
            return False

    async def next_part(self) -> dict[str, str] | None:
        """Advance to the next part's headers; None at the closing boundary."""
        while True:
            idx = self.buf.find(self.delim)
            if idx >= 0:
                break
            if len(self.buf) > len(self.delim):
                del self.buf[: len(self.buf) - len(self.delim)]
            if not await self._more():
                return None
        del self.buf[: idx + len(self.delim)]
        while len(self.buf) < 2 and await self._more():
            pass
        if self.buf[:2] == b"--":
            return None
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            if len(self.buf) > MAX_FIELDS or not await self._more():
                raise _malformed_post()
        head = bytes(self.buf[:end]).decode("utf-8", "replace")
        del self.buf[: end + 4]
        headers = {}
        for line in head.split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        return headers

    async def body(self) -> AsyncIterator[bytes]:
        """The current part's content, up to the next boundary."""
        while True:
            idx = self.buf.find(self.delim)
            if idx >= 0:
                if idx:
                    yield bytes(self.buf[:idx])
                del self.buf[:idx]
                return
            keep = len(self.delim)
            if len(self.buf) > keep:
                out = bytes(self.buf[:-keep])
                del self.buf[:-keep]
                yield out
            if not await self._more():
                raise ServiceError("IncompleteBody", "The request body terminated unexpectedly", 400)


def _malformed_post() -> ServiceError:
    return ServiceError("MalformedPOSTRequest", "The body of your POST request is not well-formed "
                        "multipart/form-data.", 400)


def _object_key(fields: dict[str, str], filename: str) -> str:
    """The `key` field (which must come before the file), with `${filename}` replaced."""
    key = next((v for k, v in fields.items() if k.lower() == "key"), "")
    if not key:
        raise ServiceError("InvalidArgument", "Bucket POST must contain a field named 'key'.  If it is specified, "
                           "please check the order of the fields.", 400, extra={"ArgumentName": "key"})
    return key.replace("${filename}", filename)


def _disposition(value: str) -> dict[str, str]:
    out = {}
    for item in value.split(";")[1:]:
        if "=" in item:
            k, v = item.split("=", 1)
            out[k.strip().lower()] = v.strip().strip('"')
    return out


def _invalid_policy(message: str) -> ServiceError:
    return ServiceError("InvalidPolicyDocument", f"Invalid Policy: {message}", 400)


def _bound(value: Any) -> int:
    """A content-length-range bound: a JSON integer (or a string of digits, which S3 takes too)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise _invalid_policy("Invalid JSON.")


def _expiration(policy: dict[str, Any]) -> float:
    if "expiration" not in policy:
        raise _invalid_policy("Policy missing expiration.")
    text = policy["expiration"]
    if not isinstance(text, str):
        raise _invalid_policy("Invalid JSON.")
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid_policy(f"Invalid 'expiration' value: '{text}'")
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


def check_policy(policy: Any, fields: dict[str, str], size: int | None, now: float) -> tuple[int, int] | None:
    """Enforce the policy's expiration and conditions; returns the content-length-range if any.

    A document S3 cannot read is InvalidPolicyDocument with S3's wording; a form it does not satisfy is
    AccessDenied (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html)."""
    if not isinstance(policy, dict):
        raise _invalid_policy("Invalid JSON.")
    if now > _expiration(policy):
        raise _policy_error("Policy expired.")
    conditions = policy.get("conditions")
    if conditions is None:
        raise _invalid_policy("Policy missing conditions.")
    if not isinstance(conditions, list):
        raise _invalid_policy("Invalid 'conditions' value: must be a List.")
    length_range = None
    lower = {k.lower(): v for k, v in fields.items()}
    seen = set()
    for cond in conditions:
        if isinstance(cond, dict):
            if len(cond) != 1:
                raise _invalid_policy("Invalid Simple-Condition: Simple-Conditions must have exactly one property "
                                      "specified.")
            [(k, v)] = cond.items()
            if not isinstance(v, str):
                raise _invalid_policy("Invalid Simple-Condition: value must be a string.")
            name = k.lower().lstrip("$")
            seen.add(name)
            if lower.get(name) != v:
                raise _policy_error(f'Policy Condition failed: ["eq", "${name}", "{v}"]')
        elif isinstance(cond, list):
            if not cond or not isinstance(cond[0], str):
                raise _invalid_policy("Invalid Condition: missing operation identifier.")
            op = cond[0].lower()
            if op not in ("eq", "starts-with", "content-length-range"):
                raise _invalid_policy(f"Invalid Condition: unknown operation '{cond[0]}'.")
            if len(cond) != 3:
                raise _invalid_policy(f"Invalid {cond[0]}: wrong number of arguments.")
            if op == "content-length-range":
                length_range = (_bound(cond[1]), _bound(cond[2]))
                continue
            if not isinstance(cond[1], str) or not isinstance(cond[2], str):
                raise _invalid_policy("Invalid JSON.")
            name = cond[1].lower().lstrip("$")
            seen.add(name)
            value = lower.get(name, "")
            if op == "eq" and value != cond[2]:
                raise _policy_error(f'Policy Condition failed: ["eq", "${name}", "{cond[2]}"]')
            if op == "starts-with" and not value.startswith(cond[2]):
                raise _policy_error(f'Policy Condition failed: ["starts-with", "${name}", "{cond[2]}"]')
        else:
            raise _invalid_policy("Invalid condition test: must be a List or Object.")
    exempt = {"policy", "x-amz-signature", "signature", "awsaccesskeyid", "file", "x-amz-security-token", "bucket"}
    for name in lower:
        if name not in seen and name not in exempt and not name.startswith("x-ignore-"):
            raise _policy_error(f"Extra input fields: {name}")
    return length_range


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


class PostUploads:
    """Browser POST form uploads to a bucket's URL (S3Service.intercept routes them here)."""

    def __init__(self, core: Core, versions: Versions, config: Config, ports: Ports,
                 authorize: Callable[[RequestContext, list[Need]], None]) -> None:
        self.core = core
        self.versions = versions
        self.config = config
        self.ports = ports
        # IAM's judgement of the form's signer (`--iam report|enforce`), as of an operation's caller.
        self.authorize = authorize

    async def post_object(self, ctx: RequestContext, bucket: str) -> HttpResponse:
        brow = self.core.require_bucket(bucket)
        content_type = ctx.request.headers.get("content-type") or ""
        boundary = _disposition("x; " + content_type.split(";", 1)[1]).get("boundary") if ";" in content_type else None
        if not boundary:
            raise _malformed_post()
        reader = _FormReader(ctx.request.stream(), boundary.encode())
        fields: dict[str, str] = {}
        file_info: BlobInfo | None = None
        key = ""
        filename = ""
        total = 0
        while (headers := await reader.next_part()) is not None:
            disp = _disposition(headers.get("content-disposition", ""))
            name = disp.get("name", "")
            if name.lower() == "file":
                filename = disp.get("filename", "")
                if "content-type" in headers and not any(k.lower() == "content-type" for k in fields):
                    fields.setdefault("Content-Type", headers["content-type"])
                key = _object_key(fields, filename)
                policy = self._verify(ctx, fields)
                if ctx.authenticated:
                    limits = check_policy(policy, {**fields, "bucket": bucket}, None, self.core.clock.now())
                    # The upload is a PutObject of the key by whoever signed the policy (the signature
                    # authenticates the form as its signer's request: sigv4-authentication-HTTPPOST.html), and
                    # needs s3:PutObject as a PUT does (https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html).
                    self.authorize(ctx, [Need("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")])
                else:
                    # No policy: an anonymous upload, allowed only where anonymous PUTs are (bucket policy, ACL).
                    access.check_anonymous(self.core, ctx, "PutObject", bucket, key)
                    limits = None
                check_write_acl(brow, {"ACL": next((v for k, v in fields.items() if k.lower() == "acl"), None)})
                file_info = await self.core.blobs.write(reader.body(), [checksums.DEFAULT],
                                                        limit=limits[1] if limits else MAX_OBJECT, inline=True)
                if limits and file_info.size < limits[0]:
                    self.core.blobs.delete([file_info.blob_id])
                    raise ServiceError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed "
                                       "size", 400)
                break
            chunks = [c async for c in reader.body()]
            total += sum(map(len, chunks))
            if total > MAX_FIELDS:
                raise ServiceError("MaxPostPreDataLengthExceeded", "Your POST request fields preceeding the upload "
                                   "file was too large.", 400)
            try:
                fields[name] = b"".join(chunks).decode("utf-8")
            except UnicodeDecodeError:
                raise _malformed_post()
        if file_info is None:
            raise ServiceError("InvalidArgument", "POST requires exactly one file upload per request.", 400,
                               extra={"ArgumentName": "file", "ArgumentValue": "0"})
        lower = {k.lower(): v for k, v in fields.items()}
        settings: ObjectSettings = {
            "Metadata": {k[len("x-amz-meta-"):]: v for k, v in lower.items() if k.startswith("x-amz-meta-")},
            "CacheControl": lower.get("cache-control"), "ContentDisposition": lower.get("content-disposition"),
            "ContentEncoding": lower.get("content-encoding"), "ACL": lower.get("acl"), "Tagging": lower.get("tagging"),
        }
        meta = object_meta(settings, lower.get("content-type"))
        meta.update(encryption.object_encryption(brow, {"ServerSideEncryption": lower.get("x-amz-server-side-encryption")},
                                                 brow.region, self.core.account_id))
        meta["Checksums"], meta["ChecksumType"] = file_info.checksums, "FULL_OBJECT"
        version = await self.versions.put(ctx, bucket, key, file_info, file_info.md5.hex(), meta,
                                          "s3:ObjectCreated:Post")
        location = f"{ctx.base_url}/{bucket}/{quote(key)}"
        response_headers = [("ETag", version.quoted_etag), ("Location", location),
                            ("x-amz-server-side-encryption", meta["ServerSideEncryption"])]
        if brow.versioning:
            response_headers.append(("x-amz-version-id", version.version_id))
        redirect = lower.get("success_action_redirect") or lower.get("redirect")
        if redirect:
            sep = "&" if "?" in redirect else "?"
            target = f"{redirect}{sep}bucket={quote(bucket)}&key={quote(key)}&etag={quote(version.quoted_etag)}"
            # The redirect's Location replaces the object's.
            return HttpResponse(303, headers=[*[h for h in response_headers if h[0] != "Location"],
                                              ("Location", target)])
        status = lower.get("success_action_status") or "204"
        if status == "201":
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>{_x(location)}</Location>'
                    f"<Bucket>{_x(bucket)}</Bucket><Key>{_x(key)}</Key><ETag>{_x(version.quoted_etag)}</ETag>"
                    "</PostResponse>")
            return HttpResponse(201, headers=[*response_headers, ("Content-Type", "application/xml")],
                                body=body.encode())
        return HttpResponse(200 if status == "200" else 204, headers=response_headers)

    def _verify(self, ctx: RequestContext, fields: dict[str, str]) -> object:
        """Decode the policy and check its signature (when auth is on); None for an unsigned public upload."""
        lower = {k.lower(): v for k, v in fields.items()}
        text = lower.get("policy")
        if text is None:
            ctx.authenticated = False
            return None
        try:
            policy = json.loads(base64.b64decode(text))
        except ValueError:
            raise ServiceError("InvalidPolicyDocument", "Invalid Policy: Invalid JSON.", 400)
        credential = lower.get("x-amz-credential")
        if credential is None:
            # SigV2 form (what boto3 emits for s3 clients without an explicit signature version).
            access_key = lower.get("awsaccesskeyid", "")
            if not access_key:
                raise ServiceError("InvalidArgument", "Bucket POST must contain a field named 'AWSAccessKeyId'.  If it "
                                   "is specified, please check the order of the fields.", 400,
                                   extra={"ArgumentName": "AWSAccessKeyId"})
            secret = self._signer(ctx, access_key, lower)
            if secret is not None:
                expected = base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()
                if not hmac.compare_digest(expected, lower.get("signature", "")):
                    raise _signature_error()
        else:
            parts = credential.split("/")
            if len(parts) != 5:
                raise ServiceError("InvalidArgument", "Invalid X-Amz-Credential", 400,
                                   extra={"ArgumentName": "X-Amz-Credential", "ArgumentValue": credential})
            access_key, date, region, svc, _ = parts
            secret = self._signer(ctx, access_key, lower)
            if secret is not None:
                expected = hmac.new(_signing_key(secret, date, region, svc), text.encode(), hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, lower.get("x-amz-signature", "")):
                    raise _signature_error()
        ctx.authenticated = True
        ctx.access_key = access_key
        return policy

    def _signer(self, ctx: RequestContext, access_key: str, fields: dict[str, str]) -> str | None:
        """Who signed the form: its principal goes on the request (the root user for the configured keys, a
        user or role session for keys IAM or STS issued), as for a signed request; the secret to check the
        signature with, or None when signatures are not checked (auth off, where a key nobody issued is the
        root user's, as in the gateway)."""
        credential = find_credential(access_key, self.config.credentials, self.config.account_id,
                                     self.ports.credential_sources)
        if credential is None:
            if self.config.auth == "sigv4":
                raise ServiceError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our "
                                   "records.", 403)
            ctx.principal = another_account(access_key, self.config.account_id) or Caller.root(self.config.account_id)
            return None
        if credential.session_token is not None:
            # Temporary credentials sign a form with their token in the x-amz-security-token field.
            if fields.get("x-amz-security-token") != credential.session_token:
                raise ServiceError("InvalidToken", "The provided token is malformed or otherwise invalid.", 400)
            if credential.expiration is not None and self.core.clock.now() >= credential.expiration:
                raise ServiceError("ExpiredToken", "The provided token has expired.", 400)
        ctx.principal = credential.caller
        return credential.secret_key if self.config.auth == "sigv4" else None



def _x(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text)


def _signature_error() -> ServiceError:
    return ServiceError("SignatureDoesNotMatch", "The request signature we calculated does not match the signature "
                        "you provided. Check your key and signing method.", 403)
