"""Requests to load balancers: `{dns-name}:{port}` on Conveyor's own port (`*.elb.localhost` is loopback),
or `/_aws/elb/{name}/{path}` for clients that cannot set a Host. The listener is the load balancer's
listener of the request's scheme (HTTP or HTTPS), else its first; its rules choose the action.

As an Application Load Balancer answers (https://docs.aws.amazon.com/elasticloadbalancing/latest/
application/load-balancer-troubleshooting.html#http-502-issues and the 503/504 sections after it):
- 502 Bad Gateway: the target refused or closed the connection, answered malformed, or a Lambda target
  failed or answered malformed;
- 503 Service Temporarily Unavailable: no target to route to (no registered targets), or no listener;
- 504 Gateway Time-out: no answer within the idle timeout (idle_timeout.timeout_seconds);
- their bodies are the HTML pages ALB sends, with `Server: awselb/2.0`.
Requests to targets carry X-Forwarded-For (the client's address appended), X-Forwarded-Proto,
X-Forwarded-Port and X-Amzn-Trace-Id (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/
x-forwarded-headers.html); Network Load Balancers pass requests on unchanged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from conveyor.ports import Ports
from conveyor.services.elbv2 import function_targets
from conveyor.services.elbv2.catalog import BALANCER, TARGET_GROUP, Catalog, Resource
from conveyor.services.elbv2.checker import AddressOf
from conveyor.services.elbv2.conditions import RequestFacts
from conveyor.services.elbv2.routing import (
    GROUP_COOKIE,
    TARGET_COOKIE,
    RoundRobin,
    cookies,
    encode,
    select_group,
    select_rule,
)
from conveyor.services.elbv2.upstream import TargetUnreachable, Upstream
from conveyor.wire import HttpRequest, HttpResponse, RequestContext, ServiceError

log = logging.getLogger("conveyor.elbv2")

PATH_PREFIX = "/_aws/elb/"
_HOST = re.compile(r"^([a-z0-9-]+\.[a-z0-9-]+\.elb\.localhost)\.?(?::(\d+))?$")
_TITLES = {400: "400 Bad Request", 404: "404 Not Found", 413: "413 Request Entity Too Large",
           500: "500 Internal Server Error", 502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable",
           504: "504 Gateway Time-out"}
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
                         "proxy-authorization", "proxy-authenticate", "content-length"})
LAMBDA_MAX_BODY = 1024 * 1024  # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/lambda-functions.html


def page(status: int) -> HttpResponse:
    """ALB's own error page for a status."""
    title = _TITLES.get(status, f"{status}")
    body = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            "</body>\r\n</html>\r\n").encode()
    return HttpResponse(status, [("Server", "awselb/2.0"), ("Content-Type", "text/html")], body)


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"


class LoadBalancerTraffic:
    label = "elasticloadbalancing"

    def __init__(self, catalog: Callable[[], Catalog | None], ports: Ports, upstream: Upstream,
                 address_of: AddressOf) -> None:
        self._catalog = catalog
        self.ports = ports
        self.upstream = upstream
        self.address_of = address_of
        self.round_robin = RoundRobin()

    # -- conveyor.services.base.DataPlane ----------------------------------------------------------------
    def claims(self, request: HttpRequest) -> bool:
        host = request.headers.get("host") or ""
        return ".elb.localhost" in host.lower() or request.path.startswith(PATH_PREFIX)

    def error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        return page(error.status if error.status in _TITLES else 500)

    async def answer(self, ctx: RequestContext) -> HttpResponse:
        catalog = self._catalog()
        if catalog is None:
            return page(503)
        request = ctx.request
        balancer, path, port = self._balancer(catalog, request)
        if balancer is None:
            return page(404)
        ctx.operation_name = balancer.doc["LoadBalancerName"]
        outages = self.ports.outages
        if outages is not None and outages.is_down(balancer.region):
            # A region drill (conveyor drill region-down): on its own port a load balancer of a failed region
            # would refuse connections; on Conveyor's shared port it answers 503 without reaching a target.
            return page(503)
        listener = self._listener(catalog, balancer, request.scheme)
        if listener is None:
            return page(503)
        listen_port = port or int(listener.doc["Port"])
        facts = RequestFacts(request.method, (request.headers.get("host") or "").rsplit(":", 1)[0].lower(),
                             unquote(path), request.query_string, request.headers.lowered(),
                             request.client[0] if request.client else "127.0.0.1")
        rule = select_rule(catalog, listener, facts)
        if rule is None:
            return page(503)
        action = (rule.doc.get("Actions") or [{}])[-1]
        kind = action.get("Type")
        if kind == "fixed-response":
            config = action["FixedResponseConfig"]
            return HttpResponse(int(config["StatusCode"]), [("Server", "awselb/2.0"), ("Content-Type", config.get(
                "ContentType") or "text/plain")], str(config.get("MessageBody") or "").encode())
        if kind == "redirect":
            return self._redirect(action["RedirectConfig"], request, facts, path, listen_port)
        return await self._forward(catalog, balancer, action, request, path, listen_port)

    # -- the steps ---------------------------------------------------------------------------------------
    def _balancer(self, catalog: Catalog, request: HttpRequest) -> tuple[Resource | None, str, int | None]:
        balancers = [r for r in catalog.resources.values() if r.kind == BALANCER]
        match = _HOST.match((request.headers.get("host") or "").lower())
        if match is not None:
            name = match.group(1)
            found = next((b for b in balancers if str(b.doc["DNSName"]).lower() == name), None)
            return found, request.path or "/", int(match.group(2)) if match.group(2) else None
        if request.path.startswith(PATH_PREFIX):
            name, _, rest = request.path[len(PATH_PREFIX):].partition("/")
            found = next((b for b in balancers if b.doc["LoadBalancerName"] == name), None)
            return found, "/" + rest, None
        return None, request.path, None

    @staticmethod
    def _listener(catalog: Catalog, balancer: Resource, scheme: str) -> Resource | None:
        listeners = sorted(catalog.listeners_of(balancer.arn), key=lambda r: int(r.doc["Port"]))
        wanted = "HTTPS" if scheme == "https" else "HTTP"
        return next((r for r in listeners if r.doc["Protocol"] == wanted), listeners[0] if listeners else None)

    @staticmethod
    def _redirect(config: dict[str, Any], request: HttpRequest, facts: RequestFacts, path: str,
                  port: int) -> HttpResponse:
        """#{protocol}, #{host}, #{port}, #{path} (without its leading slash) and #{query} are the request's
        (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-action-types.html)."""
        values = {"#{protocol}": request.scheme, "#{host}": facts.host, "#{port}": str(port),
                  "#{path}": path.lstrip("/"), "#{query}": request.query_string}

        def fill(template: str) -> str:
            for key, value in values.items():
                template = template.replace(key, value)
            return template

        protocol = fill(str(config["Protocol"])).lower()
        location = f"{protocol}://{fill(str(config['Host']))}:{fill(str(config['Port']))}{fill(str(config['Path']))}"
        query = fill(str(config.get("Query") or ""))
        if query:
            location += "?" + query
        status = 301 if config["StatusCode"] == "HTTP_301" else 302
        return HttpResponse(status, [("Server", "awselb/2.0"), ("Location", location), ("Content-Type", "text/html")],
                            page(status).body if status in _TITLES else b"")

    async def _forward(self, catalog: Catalog, balancer: Resource, action: dict[str, Any], request: HttpRequest,
                       path: str, port: int) -> HttpResponse:
        sticky = cookies(request.headers.get("cookie"))
        group_arn = select_group(action, sticky)
        group = catalog.get(group_arn, TARGET_GROUP) if group_arn else None
        if group is None:
            return page(503)
        application = balancer.doc["Type"] == "application"
        client = request.client[0] if request.client else "127.0.0.1"
        added: list[tuple[str, str]] = []
        if application:
            forwarded = request.headers.get("x-forwarded-for")
            added = [("X-Forwarded-For", f"{forwarded}, {client}" if forwarded else client),
                     ("X-Forwarded-Proto", request.scheme), ("X-Forwarded-Port", str(port)),
                     ("X-Amzn-Trace-Id", request.headers.get("x-amzn-trace-id") or _trace_id())]
        target_path = path + (f"?{request.query_string}" if request.query_string else "")
        if group.doc["TargetType"] == "lambda":
            response = await self._invoke(catalog, group, request, path, added)
        else:
            target = self.round_robin.select(group, catalog.group_targets(group.arn), sticky,
                                             lambda t: self.address_of(group.region, group, t) is not None)
            if target is None:
                return page(503)
            address = self.address_of(group.region, group, target)
            if address is None:
                return page(502)
            headers = [(n, v) for n, v in request.headers.raw()
                       if n.lower() not in _HOP_BY_HOP and not (application and n.lower() in (
                           "x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-amzn-trace-id"))]
            body = await request.body()
            timeout = float(balancer.attributes.get("idle_timeout.timeout_seconds", "60"))
            try:
                answer = await self.upstream.fetch(address, target.port, request.method, target_path,
                                                   headers + added, body, timeout)
            except TimeoutError:
                log.info("target %s:%d of %s did not answer within %g s", address, target.port, group.arn, timeout)
                return page(504)
            except TargetUnreachable as exc:
                log.info("target of %s unreachable: %s", group.arn, exc)
                return page(502)
            response = HttpResponse(answer.status, [(n, v) for n, v in answer.headers
                                                    if n.lower() not in _HOP_BY_HOP], answer.body)
            if group.attributes.get("stickiness.enabled") == "true" and application:
                duration = group.attributes.get("stickiness.lb_cookie.duration_seconds", "86400")
                value = encode(group.arn, target.id, str(target.port))
                response.headers.append(("Set-Cookie", f"{TARGET_COOKIE}={value}; Max-Age={duration}; Path=/"))
                response.headers.append(("Set-Cookie", f"{TARGET_COOKIE}CORS={value}; Max-Age={duration}; Path=/; "
                                                       "SameSite=None"))
        stickiness = action["ForwardConfig"].get("TargetGroupStickinessConfig") or {}
        if stickiness.get("Enabled") and len(action["ForwardConfig"]["TargetGroups"]) > 1:
            duration = str(stickiness.get("DurationSeconds") or 3600)
            value = encode(group.arn)
            response.headers.append(("Set-Cookie", f"{GROUP_COOKIE}={value}; Max-Age={duration}; Path=/"))
            response.headers.append(("Set-Cookie", f"{GROUP_COOKIE}CORS={value}; Max-Age={duration}; Path=/; "
                                                   "SameSite=None"))
        return response

    async def _invoke(self, catalog: Catalog, group: Resource, request: HttpRequest, path: str,
                      added: list[tuple[str, str]]) -> HttpResponse:
        targets = [t for t in catalog.group_targets(group.arn).values() if t.draining_until is None]
        functions = self.ports.functions
        if not targets or functions is None:
            return page(503)
        request.max_body = LAMBDA_MAX_BODY
        try:
            body = await request.body()
        except ServiceError:
            return page(413)
        multi_value = group.attributes.get("lambda.multi_value_headers.enabled") == "true"
        payload = function_targets.event(request, path, body, group.arn, added, multi_value)
        invocation = await functions.invoke(targets[0].id, json.dumps(payload).encode())
        if invocation.status != 200 or invocation.function_error is not None:
            log.info("function %s failed for %s: %s", targets[0].id, group.arn,
                     invocation.error_code or invocation.payload[:200])
            return page(502)
        try:
            status, headers, data = function_targets.answer(invocation.payload, multi_value)
        except function_targets.BadAnswer as exc:
            log.info("function %s answered malformed for %s: %s", targets[0].id, group.arn, exc)
            return page(502)
        return HttpResponse(status, [(n, v) for n, v in headers if n.lower() not in _HOP_BY_HOP], data)
