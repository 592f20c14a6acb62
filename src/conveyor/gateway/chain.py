"""The request pipeline: one explicit chain of small handlers, outermost first.

    request id -> metrics/logging -> errors -> LocalStack probes -> route -> auth -> internal API
    -> raw service hook -> parse -> validate -> dispatch -> serialize

Authentication comes before everything that acts, Conveyor's own API included (see gateway/access.py).

Each handler takes the context and the rest of the chain; reading this file top to bottom is reading
what happens to every request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from conveyor import ids
from conveyor.gateway import access, internal, localstack, sigv4, unserved
from conveyor.gateway.http import ClientDisconnected, HttpRequest, HttpResponse
from conveyor.gateway.router import bucket_from_host, protocol_for
from conveyor.protocol.base import Codec
from conveyor.protocol.json_rpc import JsonCodec
from conveyor.protocol.query import QueryCodec, form_fields
from conveyor.protocol.rest_json import RestJsonCodec
from conveyor.protocol.rest_xml import CODEC as REST_XML
from conveyor.protocol.validate import ValidationCodes, validate
from conveyor.services.base import RequestContext, ServiceError, temporarily_unavailable
from conveyor.storage.disk import DiskFull

if TYPE_CHECKING:
    from conveyor.app import App

log = logging.getLogger("conveyor.gateway")

Next = Callable[[RequestContext], Awaitable[HttpResponse]]
Step = Callable[[RequestContext, Next], Awaitable[HttpResponse]]

# Errors are serialized by the codec of the request's protocol whichever step raised them; services
# that parse their own requests (S3, Lambda) use the same codecs in their raw hooks.
CODECS: dict[str, Codec] = {"json": JsonCodec(), "query": QueryCodec(), "rest-json": RestJsonCodec(),
                            "rest-xml": REST_XML}
# Parsing through the generic chain; rest-xml and rest-json requests are parsed by their services.
_CHAIN_PARSES = ("json", "query")
_DEFAULT_CODES = ValidationCodes()
_FORM = "application/x-www-form-urlencoded"


class Gateway:
    def __init__(self, app: App) -> None:
        self.app = app
        self.steps: list[Step] = [
            self.metrics,
            self.errors,
            self.localstack_probes,
            self.route,
            self.authenticate,
            self.internal_api,
            self.raw_service,
            self.parse_and_validate,
        ]

    async def handle(self, request: HttpRequest) -> HttpResponse:
        ctx = RequestContext(
            request=request,
            config=self.app.config,
            clock=self.app.clock,
            request_id=ids.uuid4(),
            account_id=self.app.config.account_id,
            region=self.app.config.region,
        )
        response = await self._run(0, ctx)
        response.headers.append(("x-amz-request-id", ctx.request_id))
        return response

    def _run(self, index: int, ctx: RequestContext) -> Awaitable[HttpResponse]:
        if index == len(self.steps):
            return self.dispatch(ctx)
        return self.steps[index](ctx, lambda c: self._run(index + 1, c))

    # -- the steps, in order ---------------------------------------------------------------------
    async def metrics(self, ctx: RequestContext, call_next: Next) -> HttpResponse:
        started = time.perf_counter()
        response = await call_next(ctx)
        elapsed = time.perf_counter() - started
        operation = ctx.operation.name if ctx.operation is not None else ctx.extra.get("operation", "-")
        self.app.metrics.record(ctx.service or "-", operation, response.status, elapsed)
        if self.app.config.log_requests:
            log.info("%s %s %s.%s -> %d (%.1f ms)", ctx.request.method, ctx.request.path,
                     ctx.service or "-", operation, response.status, elapsed * 1000)
        return response

    async def errors(self, ctx: RequestContext, call_next: Next) -> HttpResponse:
        try:
            return await call_next(ctx)
        except ServiceError as error:
            return self.error_response(ctx, error)
        except ClientDisconnected:
            raise  # nobody is left to answer, and it is not a failure of ours: the connection ends quietly
        except DiskFull:
            service = ctx.app_service
            return self.error_response(ctx, service.unavailable_error() if service is not None
                                       else temporarily_unavailable())
        except Exception:
            log.exception("internal error handling %s %s", ctx.request.method, ctx.request.path)
            return self.error_response(
                ctx, ServiceError("InternalFailure", "The request processing has failed because of an unknown error.",
                                  500, sender_fault=False, query_code="InternalError"),
            )

    async def localstack_probes(self, ctx: RequestContext, call_next: Next) -> HttpResponse:
        """LocalStack's readiness endpoints (gateway/localstack.py): open, like GET /_conveyor/health."""
        if localstack.handles(ctx.request):
            ctx.service = access.INTERNAL
            return localstack.answer(self.app, ctx.request)
        return await call_next(ctx)

    async def route(self, ctx: RequestContext, call_next: Next) -> HttpResponse:
        request = ctx.request
        try:
            sig = sigv4.parse(request)
        except sigv4.SigV4Error as exc:  # reported by `authenticate`, once the protocol is known
            sig, ctx.extra["sig_error"] = None, exc
        ctx.extra["sig"] = sig
        if request.path.startswith(internal.PREFIX) or request.path.rstrip("/") == internal.PREFIX.rstrip("/"):
            ctx.service = access.INTERNAL  # answered in plain JSON (no protocol), after `authenticate`
            if sig is not None:
                ctx.region = sig.region
            return await call_next(ctx)
        action = None
        if sig is None and not request.headers.get("x-amz-target"):
            content_type = request.headers.get("content-type") or ""
            if content_type.startswith(_FORM) or "Action=" in request.query_string:
                ctx.protocol = "query"  # so a malformed form is answered in query's XML
                action = (await form_fields(ctx)).get("Action")
        signing_name = sigv4.scope_service(request) if "sig_error" in ctx.extra else None
        name = self.app.router.service_for(request, sig, action, signing_name)
        service = self.app.services.get(name) if name else None
        if service is None:
            unserved.refuse(self.app, ctx, sig.service if sig is not None else signing_name, name)
            raise ServiceError("InvalidAction", "Could not tell which service this request is for.")
        ctx.service = service.name
        ctx.app_service = service
        ctx.protocol = protocol_for(service, request)
        if sig is not None:
            ctx.region = sig.region
        if service.name == "s3" and (bucket := bucket_from_host(request.host)):
            ctx.extra["bucket_from_host"] = bucket
        return await call_next(ctx)

    async def authenticate(self, ctx: RequestContext, call_next: Next) -> HttpResponse:
        await access.authenticate(ctx, self.app.credential_for)  # configured keys, or keys IAM issued
        sig: sigv4.Signature | None = ctx.extra.get("sig")
        if sig is not None and ctx.authenticated:
            self.app.note_key_used(sig.access_key, sig.service, sig.region)  # for IAM's GetAccessKeyLastUsed
        return await call_next(ctx)

    async def internal_api(self, ctx: RequestContext, call_next: Next) -> HttpResponse:
        if ctx.service == access.INTERNAL:
            return await internal.handle(self.app, ctx)
        return await call_next(ctx)

    async def raw_service(self, ctx: RequestContext, call_next: Next) -> HttpResponse:
        assert ctx.app_service is not None
        response = await ctx.app_service.handle_raw(ctx)
        return response if response is not None else await call_next(ctx)

    async def parse_and_validate(self, ctx: RequestContext, call_next: Next) -> HttpResponse:
        service = ctx.app_service
        assert service is not None
        codec = CODECS.get(ctx.protocol) if ctx.protocol in _CHAIN_PARSES else None
        if codec is None:
            raise ServiceError("UnsupportedProtocol", f"Conveyor cannot parse {ctx.protocol} requests for {ctx.service}.")
        operation, params = await codec.parse(ctx, service)
        validate(operation.input_shape, params, service.validation_codes or _DEFAULT_CODES)
        ctx.extra["params"] = params
        return await call_next(ctx)

    async def dispatch(self, ctx: RequestContext) -> HttpResponse:
        service, operation = ctx.app_service, ctx.operation
        assert service is not None and operation is not None
        handler = service.handler(operation.name)
        if handler is None:
            raise ServiceError("NotImplemented", f"{ctx.service} {operation.name} is not implemented by Conveyor.", 501)
        result = await handler(ctx, ctx.extra["params"])
        if isinstance(result, HttpResponse):
            return result
        return CODECS[ctx.protocol].serialize(ctx, operation, result or {})

    # -- errors ----------------------------------------------------------------------------------
    def error_response(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        operation = ctx.operation.name if ctx.operation is not None else "-"
        self.app.metrics.error(ctx.service or "-", operation, error.code, error.message, error.status)
        codec = CODECS.get(ctx.protocol)
        if codec is None:
            return internal.plain_error(ctx, error)
        return codec.serialize_error(ctx, error)


__all__ = ["Gateway", "HttpRequest", "HttpResponse"]
