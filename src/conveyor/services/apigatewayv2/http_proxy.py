"""HTTP_PROXY integrations: the request passed on to a URL, and its answer passed back.

https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-http.html: the
`$default` route sends the whole request path after the integration's URL; other routes send to the URL
itself, with `{name}` path variables filled in (`{proxy}` from a greedy `{proxy+}`). The query string
follows, and headers do but for the hop-by-hop ones; `IntegrationMethod` ANY keeps the request's method.
A URL that cannot be reached is 500 {"message":"Internal Server Error"}; one that does not answer within
the integration's timeout, 503 {"message":"Service Unavailable"}.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from typing import Any

from conveyor.wire import HttpRequest, HttpResponse, ServiceError

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                         "proxy-authorization", "proxy-authenticate", "host", "content-length"})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is the answer, passed back to the client as API Gateway does


_opener = urllib.request.build_opener(_NoRedirect)


def target_url(integration: dict[str, Any], route_key: str, path_after_stage: str,
               path_parameters: dict[str, str], query_string: str) -> str:
    url = str(integration["IntegrationUri"])
    if route_key == "$default":
        url = url.rstrip("/") + path_after_stage
    else:
        for name, value in path_parameters.items():
            url = url.replace("{" + name + "}", value).replace("{" + name + "+}", value)
    return f"{url}{'&' if '?' in url else '?'}{query_string}" if query_string else url


def _forward(method: str, url: str, headers: list[tuple[str, str]], body: bytes | None,
             timeout: float) -> HttpResponse:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with _opener.open(request, timeout=timeout) as answer:
            return HttpResponse(answer.status, _passed(answer.headers.items()), answer.read())
    except urllib.error.HTTPError as answer:
        return HttpResponse(answer.code, _passed(answer.headers.items()), answer.read())


def _passed(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP and k.lower() != "date"]


async def forward(request: HttpRequest, body: bytes, integration: dict[str, Any], url: str,
                  added: dict[str, str]) -> HttpResponse:
    method = request.method if integration.get("IntegrationMethod") in (None, "ANY") else integration[
        "IntegrationMethod"]
    headers = [(k, v) for k, v in request.headers.raw() if k.lower() not in _HOP_BY_HOP]
    headers.extend(added.items())
    timeout = int(integration.get("TimeoutInMillis", 30000)) / 1000
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_forward, method, url, headers, body or None, timeout), timeout + 1)
    except (TimeoutError, OSError) as exc:
        if isinstance(exc, TimeoutError) or "timed out" in str(exc):
            raise ServiceError("IntegrationTimeout", f"{url} did not answer within {timeout:g} s", 503)
        raise ServiceError("IntegrationFailure", f"{url} could not be reached: {exc}", 500)
