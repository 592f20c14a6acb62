"""Where an HTTP API is invoked: its host name, or Conveyor's path for clients that cannot resolve one.

    http://{apiId}.execute-api.localhost:{port}/{stage}/{path}          (`*.localhost` is loopback)
    http://{apiId}.execute-api.{region}.amazonaws.com:{port}/...        (through /etc/hosts or curl --resolve)
    http://{apiId}.execute-api.localhost.localstack.cloud:{port}/...    (LocalStack's name for it)
    http://127.0.0.1:{port}/_aws/execute-api/{apiId}/{stage}/{path}     (any host: LocalStack's path form)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conveyor.wire import HttpRequest, RequestContext

PATH_PREFIX = "/_aws/execute-api/"
_HOST_MARK = ".execute-api."
_HOST = re.compile(r"^([a-z0-9]{1,64})\.execute-api\.(?:localhost|localhost\.localstack\.cloud"
                   r"|([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com)\.?(?::\d+)?$")


@dataclass(frozen=True)
class InvokeTarget:
    api_id: str
    region: str | None  # the region an AWS host name names; None for the local forms
    path: str  # the percent-encoded path after the API's part: "/prod/presign"
    by_host: bool  # addressed by host name (else by Conveyor's path)


def target(request: HttpRequest) -> InvokeTarget | None:
    """The API a request invokes, if it is addressed to one; cheap for every other request."""
    host = request.headers.get("host") or ""
    if _HOST_MARK in host:
        match = _HOST.match(host.lower())
        if match is not None:
            return InvokeTarget(match.group(1), match.group(2), request.path or "/", True)
    if request.path.startswith(PATH_PREFIX):
        api_id, _, rest = request.path[len(PATH_PREFIX):].partition("/")
        return InvokeTarget(api_id.lower(), None, "/" + rest, False)
    return None


def api_endpoint(ctx: RequestContext, api_id: str) -> str:
    """GetApi's ApiEndpoint: the API's host name on the port the caller reached Conveyor on."""
    host = ctx.host
    port = ""
    if host.startswith("["):
        port = host.partition("]")[2]
    elif host.count(":") == 1:
        port = ":" + host.rpartition(":")[2]
    return f"{ctx.request.scheme}://{api_id}.execute-api.localhost{port}"
