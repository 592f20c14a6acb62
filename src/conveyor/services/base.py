"""What every service shares: the request context, AWS-shaped errors and the service interface."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.model import OperationModel, ServiceModel

    from conveyor.app import App
    from conveyor.caller import Caller
    from conveyor.clock import Clock
    from conveyor.config import Config
    from conveyor.gateway.http import HttpRequest, HttpResponse


class ServiceError(Exception):
    """An error the client sees with AWS's code, HTTP status and message.

    `query_code` is the legacy code the query protocol (and the `x-amzn-query-error` header) uses when
    it differs from the JSON `__type`, e.g. SQS's `QueueDoesNotExist` vs
    `AWS.SimpleQueueService.NonExistentQueue`.
    """

    def __init__(
        self,
        code: str,
        message: str = "",
        status: int = 400,
        *,
        sender_fault: bool = True,
        query_code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message or code)
        self.code = code
        self.message = message
        self.status = status
        self.sender_fault = sender_fault
        self.query_code = query_code
        self.headers = headers or {}
        self.extra = extra or {}


def temporarily_unavailable() -> ServiceError:
    """Retryable, and the request changed nothing: the error every AWS API shares for a temporary failure.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html"""
    return ServiceError("ServiceUnavailable", "The request has failed due to a temporary failure of the server.",
                        503, sender_fault=False)


def validation_error(message: str) -> ServiceError:
    return ServiceError("ValidationError", message)


@dataclass
class RequestContext:
    """Who is calling, where, and about what; built by the gateway for each request."""

    request: HttpRequest
    config: Config
    clock: Clock
    request_id: str
    service: str = ""
    app_service: Service | None = None
    protocol: str = ""
    operation: OperationModel | None = None
    account_id: str = ""
    region: str = ""
    access_key: str | None = None
    authenticated: bool = False
    # Who signed the request (set by the gateway for every request whose key it knows, verified or not
    # with `--auth off`); None for anonymous requests.
    principal: Caller | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def host(self) -> str:
        """The Host header the client used, so URLs we hand back work from where it asked."""
        return self.request.host

    @property
    def base_url(self) -> str:
        return f"{self.request.scheme}://{self.host}"


Handler = Callable[[RequestContext, dict[str, Any]], "Awaitable[dict[str, Any] | HttpResponse | None]"]


class Service:
    """A service answers the operations of one botocore model.

    Subclasses set `name` (the botocore service name, e.g. "sqs") and implement each operation as an
    `async def OperationName(self, ctx, params) -> dict` method whose input/output dicts follow the
    model's member names. A handler may also return an HttpResponse when it must control the wire
    (streamed bodies); the protocol layer serializes dicts.
    """

    name: str = ""
    # The SigV4 signing name if it differs from `name`.
    signing_name: str = ""
    model: ServiceModel
    # Error codes for model validation failures (see conveyor.protocol.validate.ValidationCodes).
    validation_codes: Any = None
    # XML namespace of query-protocol responses, when the model does not name one.
    xml_namespace: str = ""
    # Query `Action`s outside the model that `handle_raw` answers (e.g. SNS serving its certificate).
    extra_query_actions: frozenset[str] = frozenset()

    def __init__(self, app: App) -> None:
        # `app` gives access to config, clock and the other services (S3 notifies SQS, ...).
        self.app = app
        self.config = app.config
        self.clock = app.clock

    async def start(self) -> None:
        """Open storage and restore state; called once the event loop runs."""

    async def stop(self) -> None:
        """Flush and close; called on shutdown."""

    async def reset(self) -> None:
        """Wipe all state (POST /_conveyor/reset)."""

    def health(self) -> dict[str, Any]:
        return {"status": "running"}

    def unavailable_error(self) -> ServiceError:
        """The answer to a request that cannot be stored now (the data disk is full)."""
        return temporarily_unavailable()

    def handler(self, operation: str) -> Handler | None:
        fn = getattr(self, operation, None)
        return fn if callable(fn) and operation[:1].isupper() else None

    async def handle_raw(self, ctx: RequestContext) -> HttpResponse | None:
        """Hook for services that parse requests themselves before the generic codec (S3, presign...)."""
        return None
