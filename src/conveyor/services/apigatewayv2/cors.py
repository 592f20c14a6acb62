"""An HTTP API's CORS configuration, checked when it is set and applied to the requests it covers.

https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html: with CORS configured,
API Gateway answers preflight OPTIONS requests itself (even without an OPTIONS route), adds the configured
headers to the responses of integrations, and ignores CORS headers the integration returns. A request gets
CORS headers only if it has an `Origin` header; a preflight also needs `Access-Control-Request-Method`.
Allowed origins are exact, `*`, or a scheme wildcard (`https://*`, `http://*`).
"""

from __future__ import annotations

from typing import Any

from conveyor.services.apigatewayv2.records import bad_request
from conveyor.wire import HttpRequest, HttpResponse

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*"})


def check(cors: dict[str, Any]) -> dict[str, Any]:
    """A configuration as CreateApi/UpdateApi keep it; BadRequestException for one API Gateway refuses."""
    for method in cors.get("AllowMethods") or []:
        if method.upper() not in _METHODS:
            raise bad_request(f"Invalid CORS configuration: {method!r} is not an HTTP method.")
    origins = cors.get("AllowOrigins") or []
    for origin in origins:
        if origin != "*" and "://" not in origin:
            raise bad_request(f"Invalid CORS configuration: {origin!r} is not an origin (scheme://host[:port]).")
    if cors.get("AllowCredentials") and "*" in origins:
        # Browsers refuse credentials with a wildcard origin, and API Gateway refuses the combination.
        raise bad_request("Invalid CORS configuration: allowCredentials cannot be true when allowOrigins "
                          "contains '*'.")
    return cors


def is_preflight(request: HttpRequest) -> bool:
    headers = request.headers
    return request.method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def _allowed_origin(cors: dict[str, Any], origin: str) -> str | None:
    """The Access-Control-Allow-Origin value for `origin`, or None when it is not allowed."""
    for allowed in cors.get("AllowOrigins") or []:
        if allowed == "*":
            return "*"
        if allowed.endswith("://*") and origin.lower().startswith(allowed[:-1].lower()):
            return origin
        if allowed.lower() == origin.lower():
            return origin
    return None


def preflight(cors: dict[str, Any], request: HttpRequest) -> HttpResponse:
    """API Gateway's own answer to a preflight: 204, with the CORS headers when the origin is allowed."""
    response = HttpResponse(204, [])
    origin = request.headers.get("origin") or ""
    allowed = _allowed_origin(cors, origin)
    if allowed is None:
        return response
    headers = [("access-control-allow-origin", allowed)]
    if cors.get("AllowMethods"):
        headers.append(("access-control-allow-methods", ",".join(cors["AllowMethods"])))
    if cors.get("AllowHeaders"):
        headers.append(("access-control-allow-headers", ",".join(cors["AllowHeaders"])))
    if cors.get("MaxAge") is not None:
        headers.append(("access-control-max-age", str(cors["MaxAge"])))
    if cors.get("AllowCredentials"):
        headers.append(("access-control-allow-credentials", "true"))
    if cors.get("ExposeHeaders"):
        headers.append(("access-control-expose-headers", ",".join(cors["ExposeHeaders"])))
    if allowed != "*":
        headers.append(("vary", "origin"))
    response.headers.extend(headers)
    return response


def decorate(cors: dict[str, Any], request: HttpRequest, response: HttpResponse) -> None:
    """Replace the integration's CORS headers with the configured ones (for a request with an Origin)."""
    response.headers = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
    origin = request.headers.get("origin")
    if origin is None:
        return
    allowed = _allowed_origin(cors, origin)
    if allowed is None:
        return
    response.headers.append(("access-control-allow-origin", allowed))
    if cors.get("AllowCredentials"):
        response.headers.append(("access-control-allow-credentials", "true"))
    if cors.get("ExposeHeaders"):
        response.headers.append(("access-control-expose-headers", ",".join(cors["ExposeHeaders"])))
    if allowed != "*":
        response.headers.append(("vary", "origin"))
