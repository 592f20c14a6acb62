"""Lambda functions as targets: the event an Application Load Balancer invokes a function with, and how
its answer becomes the HTTP response.

https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html
- The event: requestContext.elb.targetGroupArn, httpMethod, path, queryStringParameters (as sent: not
  URL-decoded), headers (lower-case names), body and isBase64Encoded; with the target group attribute
  lambda.multi_value_headers.enabled, multiValueHeaders and multiValueQueryStringParameters instead.
- The answer: statusCode, statusDescription, headers (or multiValueHeaders), body, isBase64Encoded. A
  function that fails, or answers what is not such a document, is a 502.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from conveyor.wire import HttpRequest

_TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml")


class BadAnswer(Exception):
    pass


def event(request: HttpRequest, path: str, body: bytes, group_arn: str, added: list[tuple[str, str]],
          multi_value: bool) -> dict[str, Any]:
    headers: dict[str, list[str]] = {}
    for name, value in [*request.headers.raw(), *added]:
        headers.setdefault(name.lower(), []).append(value)
    query: dict[str, list[str]] = {}
    for pair in request.query_string.split("&") if request.query_string else []:
        key, _, value = pair.partition("=")
        query.setdefault(key, []).append(value)
    content_type = (request.headers.get("content-type") or "").lower()
    textual = not body or (content_type.startswith(_TEXT_TYPES) and not request.headers.get("content-encoding"))
    try:
        text = body.decode("utf-8") if textual else None
    except UnicodeDecodeError:
        text = None
    out: dict[str, Any] = {"requestContext": {"elb": {"targetGroupArn": group_arn}}, "httpMethod": request.method,
                           "path": path}
    if multi_value:
        out["multiValueQueryStringParameters"] = query
        out["multiValueHeaders"] = headers
    else:
        out["queryStringParameters"] = {k: v[-1] for k, v in query.items()}
        out["headers"] = {k: v[-1] for k, v in headers.items()}
    out["body"] = text if text is not None else base64.b64encode(body).decode()
    out["isBase64Encoded"] = text is None
    return out


def answer(payload: bytes, multi_value: bool) -> tuple[int, list[tuple[str, str]], bytes]:
    try:
        document = json.loads(payload)
    except ValueError:
        raise BadAnswer("the function's answer is not JSON") from None
    if not isinstance(document, dict):
        raise BadAnswer("the function's answer is not an object")
    try:
        status = int(document.get("statusCode"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadAnswer("the function's answer has no statusCode") from None
    headers: list[tuple[str, str]] = []
    if multi_value:
        for name, values in (document.get("multiValueHeaders") or {}).items():
            headers += [(str(name), str(v)) for v in values]
    else:
        headers = [(str(k), str(v)) for k, v in (document.get("headers") or {}).items()]
    body = document.get("body") or ""
    if not isinstance(body, str):
        raise BadAnswer("the function's body is not a string")
    try:
        data = base64.b64decode(body) if document.get("isBase64Encoded") else body.encode()
    except ValueError:
        raise BadAnswer("the function's body is not base64") from None
    return status, headers, data
