"""What a function URL hands the function, and how it turns the function's answer into the HTTP response.

Both follow https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html ("Request payload format",
"Response payload format"): API Gateway's payload format 2.0, with the keys URLs have no use for set to
their sentinel values (routeKey and stage `$default`, pathParameters and stageVariables null).

- Headers are lower-cased, repeated ones joined with commas; the Cookie header becomes `cookies`.
- queryStringParameters: decoded, repeated keys joined with commas; absent without a query string.
- The body is passed as text for textual content types, else base64 with isBase64Encoded true.
- requestContext.accountId is "anonymous" for AuthType NONE; with AWS_IAM the caller's account, and
  requestContext.authorizer.iam describes the caller.
- A response that is a JSON object with a statusCode is read as statusCode, headers, cookies, body and
  isBase64Encoded; any other valid JSON is the body of a 200 application/json response (Lambda "infers"
  the format); a statusCode that is no HTTP status makes the URL answer 502.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from conveyor.wire import Caller, HttpRequest, HttpResponse

_TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml", "application/xhtml+xml",
               "application/ld+json", "application/graphql")


@dataclass(frozen=True)
class UrlRequest:
    """What the event says about a request besides the request itself."""

    url_id: str
    account_id: str | None  # the caller's account with AWS_IAM; None: "anonymous"
    caller: Caller | None
    access_key: str | None
    request_id: str
    now: float


class BadResponse(ValueError):
    """The function's answer cannot be made into an HTTP response (Lambda answers 502)."""


def _is_text(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return kind.startswith(_TEXT_TYPES) or kind.endswith(("+json", "+xml"))


def _query_parameters(query_string: str) -> dict[str, str]:
    joined: dict[str, list[str]] = {}
    for part in query_string.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        joined.setdefault(unquote(key.replace("+", " ")), []).append(unquote(value.replace("+", " ")))
    return {k: ",".join(v) for k, v in joined.items()}


def event(request: HttpRequest, body: bytes, facts: UrlRequest) -> dict[str, Any]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers.items():
        lname = name.lower()
        if lname == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[lname] = f"{headers[lname]},{value}" if lname in headers else value
    source_ip = request.client[0] if request.client else "127.0.0.1"
    host = headers.get("host", "")
    domain = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    port = host.rsplit(":", 1)[1] if host.count(":") == 1 else ("443" if request.scheme == "https" else "80")
    headers.setdefault("x-forwarded-for", source_ip)
    headers.setdefault("x-forwarded-proto", request.scheme)
    headers.setdefault("x-forwarded-port", port)
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(facts.now):08x}-{facts.request_id.replace('-', '')[:24]}")
    when = dt.datetime.fromtimestamp(facts.now, dt.UTC)
    context: dict[str, Any] = {
        "accountId": facts.account_id or "anonymous",
        "apiId": facts.url_id,
        "domainName": domain,
        "domainPrefix": facts.url_id,
        "http": {"method": request.method, "path": unquote(request.path), "protocol": "HTTP/1.1",
                 "sourceIp": source_ip, "userAgent": headers.get("user-agent", "")},
        "requestId": facts.request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(facts.now * 1000),
    }
    if facts.caller is not None:
        caller = facts.caller
        context["authorizer"] = {"iam": {
            "accessKey": facts.access_key, "accountId": caller.account_id, "callerId": caller.user_id,
            "cognitoIdentity": None, "principalOrgId": None, "userArn": caller.arn, "userId": caller.user_id}}
    out: dict[str, Any] = {"version": "2.0", "routeKey": "$default", "rawPath": request.path,
                           "rawQueryString": request.query_string, "headers": headers}
    if cookies:
        out["cookies"] = cookies
    if request.query_string:
        out["queryStringParameters"] = _query_parameters(request.query_string)
    out["requestContext"] = context
    text = _is_text(headers.get("content-type", "text/plain") if body else "text/plain")
    if body:
        if text:
            try:
                out["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                text = False
        if not text:
            out["body"] = base64.b64encode(body).decode()
    out.update({"pathParameters": None, "isBase64Encoded": not text, "stageVariables": None})
    return out


def response(payload: bytes) -> HttpResponse:
    """The HTTP response a function's result stands for."""
    try:
        result = json.loads(payload) if payload.strip() else None
    except ValueError:
        raise BadResponse("the function's result is not JSON")
    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpResponse(200, [("Content-Type", "application/json")], payload)
    status = result.get("statusCode")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise BadResponse(f"statusCode {status!r} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    given = result.get("headers") or {}
    if not isinstance(given, dict):
        raise BadResponse("headers is not an object")
    for name, value in given.items():
        values = value if isinstance(value, list) else [value]
        headers.append((str(name), ",".join(_header_text(v) for v in values)))
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise BadResponse("cookies is not a list")
    headers.extend(("Set-Cookie", str(c)) for c in cookies)
    body = result.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        data = json.dumps(body).encode()
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            raise BadResponse("isBase64Encoded is true but the body is not base64")
    else:
        data = body.encode()
    if not any(n.lower() == "content-type" for n, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, data)


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
