"""Serving function URLs: `https://{url-id}.lambda-url.{region}.on.aws/` (through /etc/hosts or curl
--resolve) and `http(s)://{url-id}.lambda-url.localhost:{port}/` (loopback), on Conveyor's port.

Unsigned requests are claimed by Host as a data plane, before any routing; SigV4-signed ones (AWS_IAM
URLs) take the gateway's usual path, so their signature is checked like any API call's (`--auth sigv4`),
and reach `serve` from the service's intercept hook with the caller known.

Access, as https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html describes it:
- AuthType NONE: the function's (or alias's) resource policy must allow everyone (`*`) both
  lambda:InvokeFunctionUrl (AddPermission --function-url-auth-type NONE) and, for URLs created since
  October 2025, lambda:InvokeFunction (AddPermission --invoked-via-function-url, or without condition).
- AuthType AWS_IAM: the request must be SigV4-signed; the caller is judged for lambda:InvokeFunctionUrl
  and lambda:InvokeFunction under `--iam report|enforce`.
Otherwise 403 with Lambda's body. A function that fails, or answers something no HTTP response can be
made of, is 502; a throttled one 429. CORS (the URL's Cors settings) is answered here: preflights without
invoking the function, and the function's own Access-Control-* headers replaced by the configured ones
(https://docs.aws.amazon.com/lambda/latest/dg/urls-configuration.html#urls-cors).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from conveyor.authz import Need
from conveyor.services.lambda_ import url_events
from conveyor.services.lambda_.invoke import MAX_SYNC_PAYLOAD, Invoker
from conveyor.services.lambda_.permissions import url_invoke_allowed
from conveyor.services.lambda_.url_configs import FunctionUrlOperations, url_id_of
from conveyor.wire import HttpRequest, HttpResponse, RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.authz.enforcer import Judged
    from conveyor.ports import Ports

log = logging.getLogger("conveyor.lambda.urls")

FORBIDDEN = ("Forbidden. For troubleshooting Function URL authorization issues, see: "
             "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html")


def forbidden(reason: str) -> ServiceError:
    """Lambda's 403 for a URL request it may not serve; `reason` goes to the log and `conveyor status`."""
    return ServiceError("AccessDeniedException", reason, 403)


def is_signed(request: HttpRequest) -> bool:
    return (request.headers.get("authorization") or "").startswith("AWS4-") or "X-Amz-Signature=" in request.query_string


class FunctionUrlPlane:
    """conveyor.services.base.DataPlane for unsigned URL requests; `serve` for signed ones too."""

    label = "lambda-url"

    def __init__(self, urls: FunctionUrlOperations, invoker: Invoker, ports: Ports, judged: Judged) -> None:
        self.urls = urls
        self.invoker = invoker
        self.ports = ports
        self.judged = judged  # the Lambda service, as IAM's enforcer words its denials

    # -- conveyor.services.base.DataPlane ------------------------------------------------------------
    def claims(self, request: HttpRequest) -> bool:
        return url_id_of(request.headers.get("host") or "") is not None and not is_signed(request)

    async def answer(self, ctx: RequestContext) -> HttpResponse:
        return await self.serve(ctx)

    def error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        if error.status == 403:
            body: Any = {"Message": FORBIDDEN}
        elif error.status == 429:
            body = {"Message": "Rate Exceeded."}
        elif error.status == 413:
            body = {"Message": error.message}
        elif error.status == 404:
            body = {"Message": "Not Found"}
        elif error.status == 503:
            body = {"Message": "Service Unavailable"}
        else:
            return HttpResponse(502 if error.status >= 500 else error.status,
                                [("Content-Type", "application/json"), ("x-amzn-RequestId", ctx.request_id)],
                                b"Internal Server Error")
        return HttpResponse(error.status, [("Content-Type", "application/json"), ("x-amzn-RequestId", ctx.request_id),
                                           ("x-amzn-ErrorType", error.code)], json.dumps(body).encode())

    # -- serving -------------------------------------------------------------------------------------
    async def serve_signed(self, ctx: RequestContext) -> HttpResponse:
        """A signed request, from the service's intercept hook: errors in the URL's own shape too."""
        try:
            return await self.serve(ctx)
        except ServiceError as exc:
            return self.error(ctx, exc)

    async def serve(self, ctx: RequestContext) -> HttpResponse:
        request = ctx.request
        ctx.operation_name = "InvokeFunctionUrl"
        url_id = url_id_of(request.headers.get("host") or "")
        found = self.urls.find(url_id) if url_id else None
        if found is None or url_id is None:
            raise ServiceError("ResourceNotFoundException", f"no function URL {url_id}", 404)
        fn, qualifier = found
        outages = self.ports.outages
        if outages is not None and outages.is_down(fn.region):
            raise ServiceError("ServiceUnavailable", f"region {fn.region} is down (an outage drill)", 503)
        doc = fn.urls[qualifier]
        arn = f"{fn.arn}:{qualifier}" if qualifier else fn.arn
        self._authorize(ctx, doc["AuthType"], fn, qualifier, arn)
        cors = doc.get("Cors")
        if cors and request.method == "OPTIONS" and request.headers.get("origin") \
                and request.headers.get("access-control-request-method"):
            return _preflight(cors, request, ctx.request_id)
        request.max_body = MAX_SYNC_PAYLOAD
        body = await request.body()
        signed = doc["AuthType"] == "AWS_IAM" and ctx.principal is not None
        facts = url_events.UrlRequest(url_id, ctx.principal.account_id if signed and ctx.principal else None,
                                      ctx.principal if signed else None, ctx.access_key, ctx.request_id,
                                      ctx.clock.now())
        payload = json.dumps(url_events.event(request, body, facts)).encode()
        if len(payload) > MAX_SYNC_PAYLOAD:
            raise ServiceError("RequestTooLargeException",
                               f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction "
                               "operation", 413)
        result = await self.invoker.invoke(fn, qualifier or None, payload, wait=False, request_id=ctx.request_id)
        if result.function_error:
            log.warning("function URL of %s: the function failed: %s", arn, result.payload[:500].decode(errors="replace"))
            raise ServiceError("FunctionError", f"{arn} failed", 502)
        try:
            response = url_events.response(result.payload)
        except url_events.BadResponse as exc:
            log.warning("function URL of %s: malformed response: %s", arn, exc)
            raise ServiceError("BadResponse", f"{arn} returned a malformed response: {exc}", 502)
        if cors:
            _decorate(cors, request, response)
        response.headers.append(("x-amzn-RequestId", ctx.request_id))
        return response

    def _authorize(self, ctx: RequestContext, auth_type: str, fn: Any, qualifier: str, arn: str) -> None:
        if auth_type == "NONE":
            if not url_invoke_allowed(fn, qualifier or None):
                raise forbidden(f"the resource policy of {arn} does not let everyone invoke it through its URL: "
                                "it needs lambda:InvokeFunctionUrl (add-permission --principal '*' "
                                "--function-url-auth-type NONE) and lambda:InvokeFunction (add-permission "
                                "--principal '*' --invoked-via-function-url)")
            return
        if ctx.principal is None:
            raise forbidden(f"the URL of {arn} has AuthType AWS_IAM: requests must be SigV4-signed")
        access = self.ports.access
        if access is not None:
            context = {"lambda:FunctionUrlAuthType": "AWS_IAM", "lambda:InvokedViaFunctionUrl": "true"}
            try:
                access.authorize_needs(ctx, self.judged, [Need("lambda:InvokeFunctionUrl", arn, context),
                                                          Need("lambda:InvokeFunction", arn, context)])
            except ServiceError as exc:
                raise forbidden(exc.message)


# -- CORS ---------------------------------------------------------------------------------------------
def _allowed_origin(cors: dict[str, Any], origin: str) -> str | None:
    origins = [o.lower() for o in cors.get("AllowOrigins") or []]
    if origin.lower() in origins:
        return origin
    if "*" in origins:
        return origin if cors.get("AllowCredentials") else "*"
    return None


def _preflight(cors: dict[str, Any], request: HttpRequest, request_id: str) -> HttpResponse:
    """Answered without the function: the allowed origin, methods, headers and max age, when the origin
    and method are allowed (else a 200 without them, which the browser refuses)."""
    headers: list[tuple[str, str]] = [("x-amzn-RequestId", request_id)]
    origin = _allowed_origin(cors, request.headers.get("origin") or "")
    method = (request.headers.get("access-control-request-method") or "").upper()
    methods = [m.upper() for m in cors.get("AllowMethods") or []]
    if origin is not None and ("*" in methods or method in methods):
        headers.append(("Access-Control-Allow-Origin", origin))
        headers.append(("Access-Control-Allow-Methods", ",".join(methods) if "*" not in methods else method))
        asked = request.headers.get("access-control-request-headers")
        allowed = cors.get("AllowHeaders") or []
        if asked and allowed:
            headers.append(("Access-Control-Allow-Headers", asked if "*" in allowed else ",".join(allowed)))
        if cors.get("AllowCredentials"):
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if cors.get("MaxAge") is not None:
            headers.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
        if origin != "*":
            headers.append(("Vary", "Origin"))
    return HttpResponse(200, headers, b"")


def _decorate(cors: dict[str, Any], request: HttpRequest, response: HttpResponse) -> None:
    """The configured CORS headers replace any the function set itself."""
    response.headers = [(n, v) for n, v in response.headers if not n.lower().startswith("access-control-")]
    origin_header = request.headers.get("origin")
    origin = _allowed_origin(cors, origin_header) if origin_header else None
    if origin is None:
        return
    response.headers.append(("Access-Control-Allow-Origin", origin))
    if cors.get("ExposeHeaders"):
        response.headers.append(("Access-Control-Expose-Headers", ",".join(cors["ExposeHeaders"])))
    if cors.get("AllowCredentials"):
        response.headers.append(("Access-Control-Allow-Credentials", "true"))
    if origin != "*":
        response.headers.append(("Vary", "Origin"))
