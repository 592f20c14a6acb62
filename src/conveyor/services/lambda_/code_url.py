"""GetFunction's `Code.Location`: a presigned URL that downloads the deployment package for 10 minutes.

AWS answers with a SigV4-presigned S3 URL valid for ten minutes
(https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html, "a link to download the deployment
package that's valid for 10 minutes"; https://docs.aws.amazon.com/lambda/latest/api/API_FunctionCodeLocation.html).
Conveyor presigns a URL on its own endpoint the same way, scoped to the `lambda` service, with the
server's credential and clock: the gateway routes it here by that scope and checks it like any other
presigned request (its expiry always, its signature under `--auth sigv4`).

    GET /snapshots/ACCOUNT/FUNCTION-SHA256HEX?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...
    GET /snapshots/ACCOUNT/layers/LAYER/VERSION-SHA256HEX?...          (GetLayerVersion's Content.Location)

The signature follows https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
for a GET whose only signed header is Host and whose body is empty (a presigned non-S3 request signs the
hash of its empty body).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from conveyor.services.lambda_.functions import not_found
from conveyor.wire import HttpResponse, RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.services.lambda_.registry import Registry

EXPIRES = 600
PREFIX = "/snapshots/"
_PATH = re.compile(r"/snapshots/(\d{12})/([a-zA-Z0-9_-]+)-([0-9a-f]{64})")
_LAYER_PATH = re.compile(r"/snapshots/(\d{12})/layers/([a-zA-Z0-9_-]+)/(\d+)-([0-9a-f]{64})")
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def presigned_location(ctx: RequestContext, access_key: str, secret_key: str, function_name: str,
                       code_hex: str) -> str:
    # Names and digests are [A-Za-z0-9_-]: the path needs no encoding, so its canonical form is itself.
    return presign(ctx, access_key, secret_key, f"{PREFIX}{ctx.account_id}/{function_name}-{code_hex}")


def layer_location(ctx: RequestContext, access_key: str, secret_key: str, layer_name: str, version: int,
                   code_hex: str) -> str:
    """GetLayerVersion's Content.Location, presigned the same way."""
    return presign(ctx, access_key, secret_key, f"{PREFIX}{ctx.account_id}/layers/{layer_name}/{version}-{code_hex}")


def presign(ctx: RequestContext, access_key: str, secret_key: str, path: str) -> str:
    now = dt.datetime.fromtimestamp(ctx.clock.now(), dt.UTC)
    amz_date, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{date}/{ctx.region}/lambda/aws4_request"
    params = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(EXPIRES),
        "X-Amz-SignedHeaders": "host",
    }
    query = "&".join(f"{k}={quote(v, safe='-_.~')}" for k, v in sorted(params.items()))
    canonical = "\n".join(["GET", path, query, f"host:{ctx.host}\n", "host", _EMPTY_SHA256])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in (date, ctx.region, "lambda", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{ctx.base_url}{path}?{query}&X-Amz-Signature={signature}"


async def download(ctx: RequestContext, registry: Registry,
                   layer_has: Callable[[str, str, int, str], bool] | None = None) -> HttpResponse:
    """The package a `Code.Location` URL names, while a version of that function still runs it; or the
    content of a layer version (`layer_has(region, name, version, digest)`: whether it still exists)."""
    layer = _LAYER_PATH.fullmatch(ctx.request.path)
    if layer is not None and ctx.request.method in ("GET", "HEAD"):
        account, layer_name, number, code_hex = layer.groups()
        if account != ctx.account_id or layer_has is None or not layer_has(ctx.region, layer_name, int(number),
                                                                            code_hex):
            raise not_found("The resource you requested does not exist.")
        body = await asyncio.to_thread(registry.code.read, code_hex)
        return HttpResponse(200, [("Content-Type", "application/zip")], body)
    match = _PATH.fullmatch(ctx.request.path)
    if ctx.request.method not in ("GET", "HEAD") or match is None:
        raise ServiceError("UnknownOperationException",
                           f"No operation matches {ctx.request.method} {ctx.request.path}.", 404)
    account, name, code_hex = match.groups()
    fn = registry.functions.get(name)
    configs = [fn.config, *fn.versions.values()] if fn is not None else []
    if account != ctx.account_id or not any(c["_CodeHex"] == code_hex for c in configs):
        raise not_found(f"Function not found: arn:aws:lambda:{ctx.region}:{account}:function:{name}")
    body = await asyncio.to_thread(registry.code.read, code_hex)
    return HttpResponse(200, [("Content-Type", "application/zip")], body)  # HEAD: the server sends the head only
