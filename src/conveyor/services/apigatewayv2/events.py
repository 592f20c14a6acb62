"""Lambda proxy integrations: the event a request becomes, and the HTTP response a function's result becomes.

https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html

Payload format 2.0: header names lower-case and repeated headers joined with commas, cookies in their own
list (and not in `headers`), repeated query parameters joined with commas, `rawPath`/`rawQueryString` as
sent, fields without a value left out. The response may be a plain JSON value: without a `statusCode`,
API Gateway answers 200, `application/json`, with the function's JSON as the body.

Payload format 1.0: `headers`/`multiValueHeaders` and `queryStringParameters`/
`multiValueQueryStringParameters`, fields without a value as null; the response must name a statusCode.

Either way a body that is not text (by its content type) travels base64-encoded, and a response the
function cannot have meant (no JSON object where one is needed, a statusCode that is not a number, bad
base64) is API Gateway's 500 Internal Server Error.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from conveyor.wire import HttpRequest, HttpResponse

# Content types whose bodies reach the function as text; anything else is base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml", "application/ld+json")
_TEXT_SUFFIXES = ("+json", "+xml")
# Headers API Gateway sets itself on the answer: a function's copy is dropped.
_OWN_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive", "date"})
# Connection headers end at API Gateway: the function never sees them.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "te", "transfer-encoding", "upgrade", "proxy-connection"})
# With no content-type from the function, HTTP APIs answer this one (observed on AWS; not documented).
DEFAULT_CONTENT_TYPE = "text/plain; charset=utf-8"


class BadResponse(Exception):
    """The function's result is not a response API Gateway can send (answered 500)."""


@dataclass(frozen=True)
class RequestFacts:
    """What the data plane knows about a request beyond the request itself."""

    account_id: str
    api_id: str
    stage: str
    route_key: str
    resource_path: str  # the route's path ("/pets/{id}"), or "$default"
    raw_path: str  # as the client sent it, the stage included: "/prod/pets/7"
    path_parameters: dict[str, str]
    stage_variables: dict[str, str]
    request_id: str
    source_ip: str
    now: float  # the server's clock


def _is_text(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.startswith(_TEXT_TYPES) or kind.endswith(_TEXT_SUFFIXES)


def encode_body(body: bytes, content_type: str) -> tuple[str | None, bool]:
    """(body as the event carries it, whether base64-encoded); None when there is no body."""
    if not body:
        return None, False
    if _is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def added_headers(request: HttpRequest, facts: RequestFacts) -> dict[str, str]:
    """Headers API Gateway adds on the way to the integration."""
    host = request.headers.get("host") or ""
    port = host.rpartition(":")[2] if host.count(":") == 1 else ("443" if request.scheme == "https" else "80")
    forwarded = request.headers.get("x-forwarded-for")
    return {
        "x-forwarded-for": f"{forwarded}, {facts.source_ip}" if forwarded else facts.source_ip,
        "x-forwarded-port": port,
        "x-forwarded-proto": request.scheme,
        "x-amzn-trace-id": f"Root=1-{int(facts.now):08x}-{facts.request_id.encode().hex()[:24]:0<24}",
    }


def _clf_time(now: float) -> str:
    """`12/Mar/2020:19:03:58 +0000`, as requestContext.time is written."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))


def _domain(request: HttpRequest) -> tuple[str, str]:
    name = (request.headers.get("host") or "").rsplit(":", 1)[0] if ":" in (request.headers.get("host") or "") \
        else (request.headers.get("host") or "")
    return name, name.split(".", 1)[0]


def event_v2(request: HttpRequest, body: bytes, facts: RequestFacts) -> dict[str, Any]:
    headers = {k: v for k, v in request.headers.lowered().items() if k not in _HOP_BY_HOP}
    cookie_header = headers.pop("cookie", None)
    headers.update(added_headers(request, facts))
    domain, prefix = _domain(request)
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": facts.route_key, "rawPath": facts.raw_path,
        "rawQueryString": request.query_string,
    }
    if cookie_header:
        event["cookies"] = [c.strip() for c in cookie_header.replace(",", ";").split(";") if c.strip()]
    event["headers"] = headers
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.query_string, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": facts.account_id, "apiId": facts.api_id, "domainName": domain, "domainPrefix": prefix,
        "http": {"method": request.method, "path": facts.raw_path, "protocol": "HTTP/1.1",
                 "sourceIp": facts.source_ip, "userAgent": request.headers.get("user-agent") or ""},
        "requestId": facts.request_id, "routeKey": facts.route_key, "stage": facts.stage,
        "time": _clf_time(facts.now), "timeEpoch": int(facts.now * 1000),
    }
    text, encoded = encode_body(body, request.headers.get("content-type") or "")
    if text is not None:
        event["body"] = text
    if facts.path_parameters:
        event["pathParameters"] = dict(facts.path_parameters)
    event["isBase64Encoded"] = encoded
    if facts.stage_variables:
        event["stageVariables"] = dict(facts.stage_variables)
    return event


def event_v1(request: HttpRequest, body: bytes, facts: RequestFacts) -> dict[str, Any]:
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers.raw():
        if name.lower() not in _HOP_BY_HOP:
            multi_headers.setdefault(name.lower(), []).append(value)
    for name, value in added_headers(request, facts).items():
        multi_headers[name] = [value]
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.query_string, keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
    domain, prefix = _domain(request)
    text, encoded = encode_body(body, request.headers.get("content-type") or "")
    return {
        "version": "1.0", "resource": facts.resource_path, "path": facts.raw_path, "httpMethod": request.method,
        "headers": {k: v[-1] for k, v in multi_headers.items()}, "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "requestContext": {
            "accountId": facts.account_id, "apiId": facts.api_id, "domainName": domain, "domainPrefix": prefix,
            "extendedRequestId": facts.request_id, "httpMethod": request.method,
            "identity": {"accessKey": None, "accountId": None, "caller": None, "cognitoAuthenticationProvider": None,
                         "cognitoAuthenticationType": None, "cognitoIdentityId": None, "cognitoIdentityPoolId": None,
                         "principalOrgId": None, "sourceIp": facts.source_ip, "user": None,
                         "userAgent": request.headers.get("user-agent") or "", "userArn": None},
            "path": facts.raw_path, "protocol": "HTTP/1.1", "requestId": facts.request_id,
            "requestTime": _clf_time(facts.now), "requestTimeEpoch": int(facts.now * 1000), "resourceId": None,
            "resourcePath": facts.resource_path, "stage": facts.stage,
        },
        "pathParameters": dict(facts.path_parameters) or None,
        "stageVariables": dict(facts.stage_variables) or None,
        "body": text,
        "isBase64Encoded": encoded,
    }


# -- the function's result -> the HTTP response -------------------------------------------------------

def _status(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadResponse(f"statusCode {value!r} is not a number")
    try:
        status = int(value)
    except ValueError:
        raise BadResponse(f"statusCode {value!r} is not a number")
    if not 100 <= status <= 599:
        raise BadResponse(f"statusCode {status} is not an HTTP status")
    return status


def _body(value: Any, encoded: Any) -> bytes:
    if value is None:
        return b""
    text = value if isinstance(value, str) else json.dumps(value)
    if encoded is True:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise BadResponse("isBase64Encoded is true but the body is not base64")
    return text.encode()


def _header_items(value: Any, field: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise BadResponse(f"{field} must be an object")
    items: list[tuple[str, str]] = []
    for name, item in value.items():
        values = item if isinstance(item, list) else [item]
        for one in values:
            if isinstance(one, dict | list):
                raise BadResponse(f"{field}.{name} must be a string")
            items.append((str(name), "true" if one is True else "false" if one is False else str(one)))
    return [(k, v) for k, v in items if k.lower() not in _OWN_HEADERS]


def _finish(status: int, headers: list[tuple[str, str]], body: bytes) -> HttpResponse:
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", DEFAULT_CONTENT_TYPE))
    return HttpResponse(status, headers, body)


def response_v2(payload: bytes) -> HttpResponse:
    try:
        result = json.loads(payload) if payload.strip() else None
    except ValueError:
        raise BadResponse("the function's result is not JSON")
    if not isinstance(result, dict) or "statusCode" not in result:
        # Inferred: 200, application/json, the function's JSON itself as the body (a string as its text).
        body = result.encode() if isinstance(result, str) else payload
        return HttpResponse(200, [("Content-Type", "application/json")], body)
    headers = _header_items(result.get("headers"), "headers")
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise BadResponse("cookies must be a list")
    headers.extend(("Set-Cookie", str(c)) for c in cookies)
    return _finish(_status(result["statusCode"]), headers, _body(result.get("body"), result.get("isBase64Encoded")))


def response_v1(payload: bytes) -> HttpResponse:
    try:
        result = json.loads(payload) if payload.strip() else None
    except ValueError:
        raise BadResponse("the function's result is not JSON")
    if not isinstance(result, dict) or result.get("statusCode") is None:
        raise BadResponse("a payload format 1.0 response must be an object with a statusCode")
    headers = _header_items(result.get("multiValueHeaders"), "multiValueHeaders")
    seen = {(k.lower(), v) for k, v in headers}
    headers.extend(h for h in _header_items(result.get("headers"), "headers") if (h[0].lower(), h[1]) not in seen)
    return _finish(_status(result["statusCode"]), headers, _body(result.get("body"), result.get("isBase64Encoded")))
