"""The request pipeline: every request of every protocol takes the same steps, in this order.

    open endpoints (LocalStack's probes, the dashboard's browser requests) -> a data plane's claim (answered by it: API Gateway's
    invoke URLs) -> route (which service, which protocol) -> authenticate
    -> Conveyor's own API -> the service's intercept hook -> find the operation -> authorize hook
    -> parse -> validate against the model -> IAM (`--iam report|enforce`: the service's iam_requests
    hook names what the operation needs, conveyor.authz judges it) -> check hook -> dispatch -> serialize
    and, whichever step raised: the error in the service's own protocol; then the finish hook, the
    request id and the metrics.

A service plugs in with a model, its codecs (conveyor.protocol.registry) and the hooks of
conveyor.services.base.Service; nothing here names a service.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from conveyor import ids
from conveyor.gateway import access, sigv4, unserved
from conveyor.gateway.router import Router, ServiceDirectory
from conveyor.storage.disk import DiskFull
from conveyor.wire import (
    ClientDisconnected,
    HttpRequest,
    HttpResponse,
    RequestContext,
    ServiceError,
    SigV4Error,
    internal_failure,
    temporarily_unavailable,
)

if TYPE_CHECKING:
    from conveyor.authz import Enforcer
    from conveyor.clock import Clock
    from conveyor.config import Config
    from conveyor.metrics import Metrics
    from conveyor.ports import Outages
    from conveyor.protocol.base import Codec
    from conveyor.services.base import DataPlane, Service

log = logging.getLogger("conveyor.gateway")

INTERNAL_PREFIX = "/_conveyor/"
# The codecs and the validator (botocore's model classes) are imported by the first request that needs them:
# a server that has not been asked anything yet has not paid for them.
FORM = "application/x-www-form-urlencoded"
# An error answered before the body was read: a body this small is read and dropped so the connection
# can serve the next request; a larger one (or one the client waits to send) closes the connection.
_DISCARD_LIMIT = 1024 * 1024


class ControlApi(Protocol):
    """Conveyor's own endpoints, which the App answers (conveyor.internal_api)."""

    def may_answer_open(self, request: HttpRequest) -> bool:
        """Whether `open_answer` may answer the request (False: it would answer None), asked first so that
        the requests it has nothing to say about cost no coroutine."""
        ...

    async def open_answer(self, ctx: RequestContext) -> HttpResponse | None:
        """Endpoints answered before authentication (LocalStack's probes; the dashboard's browser requests,
        which it admits by its own session rules), or None."""
        ...

    async def answer(self, ctx: RequestContext) -> HttpResponse:
        """A request under /_conveyor/, once authenticated."""
        ...

    def error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        """An error of Conveyor's own API (plain JSON)."""
        ...


@dataclass
class _Target:
    """Who answers the request, once routing knows: the service and the codec of its protocol."""

    service: Service | None = None
    codec: Codec | None = None


class Gateway:
    def __init__(self, *, config: Config, clock: Clock, metrics: Metrics, services: ServiceDirectory,
                 keys: access.Keyring, control: ControlApi, enforcer: Enforcer | None = None,
                 outages: Outages | None = None) -> None:
        self.config = config
        self.clock = clock
        self.metrics = metrics
        self.services = services
        self.router = Router(services)
        self.keys = keys
        self.control = control
        # Told about every answered request, after the metrics (the dashboard follows uploads this way).
        self.observers: list[Callable[[RequestContext, HttpResponse], None]] = []
        # Asked about every signed request: it judges callers' policies (`--iam report|enforce`) and, in
        # every mode, another account's callers by the resource's policy.
        self.enforcer = enforcer
        self.outages = outages

    async def handle(self, request: HttpRequest) -> HttpResponse:
        ctx = RequestContext(request=request, clock=self.clock, request_id=ids.uuid4(),
                             account_id=self.config.account_id, region=self.config.region)
        target = _Target()
        started = time.perf_counter()
        try:
            response = await self._serve(ctx, target)
        except ServiceError as error:
            response = await self._error(ctx, target, error)
        except ClientDisconnected:
            raise  # nobody is left to answer, and it is not a failure of ours: the connection ends quietly
        except DiskFull:
            service = target.service
            response = await self._error(ctx, target, service.unavailable_error() if service is not None
                                         else temporarily_unavailable())
        except Exception:
            log.exception("internal error handling %s %s", request.method, request.path)
            response = await self._error(ctx, target, internal_failure())
        if target.service is not None:
            target.service.finish(ctx, response)
        response.headers.append(("x-amz-request-id", ctx.request_id))
        elapsed = time.perf_counter() - started
        self.metrics.record(ctx.service or "-", ctx.operation_label, response.status, elapsed)
        for observer in self.observers:
            try:
                observer(ctx, response)
            except Exception:  # watching must never cost a request its answer
                log.exception("a request observer failed")
        if self.config.log_requests:
            log.info("%s %s %s.%s -> %d (%.1f ms)", request.method, request.path, ctx.service or "-",
                     ctx.operation_label, response.status, elapsed * 1000)
        return response

    # -- the steps -----------------------------------------------------------------------------------
    async def _serve(self, ctx: RequestContext, target: _Target) -> HttpResponse:
        if self.control.may_answer_open(ctx.request):
            answer = await self.control.open_answer(ctx)
            if answer is not None:
                return answer
        known, plane = self.router.started_plane_for(ctx.request)
        if not known:
            plane = await self.router.data_plane_for(ctx.request)
        if plane is not None:
            return await self._serve_data_plane(ctx, plane)
        await self._route(ctx, target)
        await access.authenticate(ctx, self.config, self.keys, lambda: _served_unsigned(ctx, target))
        if ctx.service == access.INTERNAL:
            return await self.control.answer(ctx)
        service, codec = target.service, target.codec
        assert service is not None and codec is not None
        if service.regional and self.outages is not None and self.outages.is_down(ctx.region):
            raise service.unavailable_error()  # a region-down drill: the answer of an outage
        hooks = _hooks(service)
        if hooks.intercept:
            answer = await service.intercept(ctx)
            if answer is not None:
                return answer
        operation = ctx.operation = await codec.route(ctx)
        if hooks.authorize:
            await service.authorize(ctx, operation)
        params = ctx.params = await codec.parse(ctx, operation)
        _validator().validate(operation.input_shape, params, service.validation_codes or _validator().DEFAULT_CODES)
        if self.enforcer is not None:
            own_account = self.enforcer.authorize(ctx, service, operation, params)
            if own_account is not None:  # another account's caller, answered over its own (empty) account
                return codec.serialize(ctx, operation, own_account)
        if hooks.check:
            await service.check(ctx, operation, params)
        handler = service.handler(operation.name)
        if handler is None:
            raise ServiceError("NotImplemented", f"{ctx.service} {operation.name} is not implemented by Conveyor.", 501)
        result = await handler(ctx, params)
        if isinstance(result, HttpResponse):
            return result
        return codec.serialize(ctx, operation, result or {})

    async def _serve_data_plane(self, ctx: RequestContext, plane: DataPlane) -> HttpResponse:
        """A request a data plane claimed: it answers everything, errors included, in its own shape. Under
        `--auth off` the Host rule still keeps rebound web pages out; whether a browser of another origin
        may read the answer is the data plane's own CORS decision."""
        ctx.service = plane.label
        try:
            if self.config.auth == "off":
                access.keep_rebinders_out(ctx.request, self.config)
            return await plane.answer(ctx)
        except ServiceError as exc:
            error = exc
        except ClientDisconnected:
            raise
        except Exception:
            log.exception("internal error handling %s %s", ctx.request.method, ctx.request.path)
            error = internal_failure()
        self.metrics.error(ctx.service, ctx.operation_label, error.code, error.message, error.status)
        response = plane.error(ctx, error)
        await _discard_unread_body(ctx.request, response)
        return response

    async def _route(self, ctx: RequestContext, target: _Target) -> None:
        """Which service and protocol: known before anything can fail, so every error is answered in the
        shape the client parses."""
        request = ctx.request
        try:
            ctx.signature = sigv4.parse(request)
        except SigV4Error as exc:  # reported by `authenticate`, once the protocol is known
            ctx.signature_error = exc
        signing_name = ctx.signature.service if ctx.signature is not None else (
            sigv4.scope_service(request) if ctx.signature_error is not None else None)
        if ctx.signature is not None:
            ctx.region = ctx.signature.region
        if request.path.startswith(INTERNAL_PREFIX) or request.path.rstrip("/") == INTERNAL_PREFIX.rstrip("/"):
            ctx.service = access.INTERNAL  # answered in plain JSON (no protocol), after `authenticate`
            return
        action = None
        if signing_name is None and not request.headers.get("x-amz-target"):
            content_type = request.headers.get("content-type") or ""
            if content_type.startswith(FORM) or "Action=" in request.query_string:
                ctx.protocol = "query"
                target.codec = unserved.stand_in_codec("conveyor", "query")  # a malformed form: query's XML
                from conveyor.protocol.query import form_fields

                action = (await form_fields(ctx)).get("Action")
        name = await self.router.service_for(request, signing_name, action)
        service = None
        if name and name in self.services.entries:
            # (A started service is at hand: no coroutine to await for it.)
            service = self.services[name] if self.services.started(name) else await self.services.use(name)
        if service is None:
            refusal = unserved.refusal(ctx, signing_name, name, sorted(self.services.names()))
            target.codec = refusal.codec
            raise refusal.error
        ctx.service = service.name
        ctx.protocol = service.protocol_for(ctx)
        target.service, target.codec = service, service.codecs[ctx.protocol]

    # -- errors ----------------------------------------------------------------------------------------
    async def _error(self, ctx: RequestContext, target: _Target, error: ServiceError) -> HttpResponse:
        self.metrics.error(ctx.service or "-", ctx.operation_label, error.code, error.message, error.status)
        if target.codec is not None:
            response = target.codec.serialize_error(ctx, error)
        else:
            response = self.control.error(ctx, error)
        await _discard_unread_body(ctx.request, response)
        return response


class _Hooks:
    """Which of the pipeline's hooks a service overrides, found out once per service: a hook it leaves as
    Service's does nothing, and awaiting it would cost a coroutine on every request."""

    __slots__ = ("intercept", "authorize", "check")

    def __init__(self, service: Service) -> None:
        from conveyor.services.base import Service

        kind = type(service)
        self.intercept = kind.intercept is not Service.intercept
        self.authorize = kind.authorize is not Service.authorize
        self.check = kind.check is not Service.check


_HOOKS: weakref.WeakKeyDictionary[Service, _Hooks] = weakref.WeakKeyDictionary()


def _hooks(service: Service) -> _Hooks:
    hooks = _HOOKS.get(service)
    if hooks is None:
        hooks = _HOOKS[service] = _Hooks(service)
    return hooks


def _validator() -> ModuleType:
    """conveyor.protocol.validate, imported by the first request that is validated (botocore's model classes
    come with it)."""
    global _VALIDATE
    if _VALIDATE is None:
        import conveyor.protocol.validate as module

        _VALIDATE = module
    return _VALIDATE


_VALIDATE: ModuleType | None = None


async def _served_unsigned(ctx: RequestContext, target: _Target) -> bool:
    """Operations AWS answers without a signature, as their model says (`authtype: none`): STS's
    AssumeRoleWithWebIdentity and AssumeRoleWithSAML, whose token or assertion is the proof.
    https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html"""
    if target.codec is None or ctx.service == access.INTERNAL:
        return False
    try:
        operation = await target.codec.route(ctx)
    except ServiceError:
        return False
    return operation.auth_type == "none"


async def _discard_unread_body(request: HttpRequest, response: HttpResponse) -> None:
    """An error answered before the body was read: read a small body so the connection can serve the next
    request, else close it (an unread body would be parsed as the next request)."""
    if not request.body_pending:
        return  # read already (or being read): the connection knows whether it all arrived
    headers = request.headers
    length = headers.get("content-length")
    if length is None and "transfer-encoding" not in headers:
        return  # no body at all (a GET, a DELETE...)
    if length is not None and (not length.isdigit() or int(length) > _DISCARD_LIMIT):
        response.set_header("Connection", "close")
        return
    if (headers.get("expect") or "").lower() == "100-continue" and length != "0":
        # The client waits for "100 Continue" before sending the body: refuse without asking for it.
        response.set_header("Connection", "close")
        return
    read = 0
    try:
        async for chunk in request.stream():
            read += len(chunk)
            if read > _DISCARD_LIMIT:  # a chunked body larger than is worth reading
                response.set_header("Connection", "close")
                return
    except Exception:
        response.set_header("Connection", "close")


__all__ = ["ControlApi", "Gateway"]
