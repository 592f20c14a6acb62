"""Where a distribution is reached: its host name, or Conveyor's path for clients that cannot resolve one.

    http(s)://{id}.cloudfront.localhost:{port}/{path}               (`*.localhost` is loopback)
    http(s)://127.0.0.1:{port}/_aws/cloudfront/{id}/{path}          (any host)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conveyor.wire import HttpRequest

PATH_PREFIX = "/_aws/cloudfront/"
_HOST_MARK = ".cloudfront.localhost"
_HOST = re.compile(r"^([a-z0-9]{1,64})\.cloudfront\.localhost\.?(?::\d+)?$")


@dataclass(frozen=True)
class EdgeTarget:
    distribution_id: str  # upper-case, as the API names it
    path: str  # the percent-encoded path the distribution serves: "/processed/a.png"
    prefix: str  # what comes before `path` in the URL the viewer used ("" or "/_aws/cloudfront/{id}")


def edge_target(request: HttpRequest) -> EdgeTarget | None:
    """The distribution a request is addressed to, if any; cheap for every other request."""
    host = request.headers.get("host") or ""
    if _HOST_MARK in host:
        match = _HOST.match(host.lower())
        if match is not None:
            return EdgeTarget(match.group(1).upper(), request.path or "/", "")
    if request.path.startswith(PATH_PREFIX):
        distribution_id, _, rest = request.path[len(PATH_PREFIX):].partition("/")
        return EdgeTarget(distribution_id.upper(), "/" + rest, PATH_PREFIX + distribution_id)
    return None
