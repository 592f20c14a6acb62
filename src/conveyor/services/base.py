"""What every service shares: its environment (settings, clock, disk, ports) and the service interface."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.authz import Denial, Need
from conveyor.links import Link
from conveyor.wire import HttpRequest, HttpResponse, RequestContext, ServiceError, temporarily_unavailable

if TYPE_CHECKING:
    from botocore.model import OperationModel, ServiceModel

    from conveyor.clock import Clock
    from conveyor.config import Config
    from conveyor.ports import Ports
    from conveyor.protocol.base import Codec
    from conveyor.protocol.validate import ValidationCodes
    from conveyor.storage.disk import DiskGuard


@dataclass
class Environment:
    """What the App gives each service: no service sees the App or another service's internals."""

    config: Config
    clock: Clock
    disk: DiskGuard
    ports: Ports
    # The URL local processes (functions, workers) reach this server at; set once it listens.
    endpoint: list[str] = field(default_factory=lambda: [""])
    # Ports a service not started yet holds from the start (Route 53's DNS port), by service name: the service
    # takes its own over when it starts.
    doors: dict[str, Any] = field(default_factory=dict)

    def local_endpoint(self) -> str:
        if self.endpoint[0]:
            return self.endpoint[0]
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "::") else self.config.host
        return f"http://{host}:{self.config.port}"


class DataPlane(Protocol):
    """Requests a service answers outside its API's wire protocol (API Gateway's execute-api endpoints),
    claimed by Host or path before any signature-based routing. The data plane authenticates (or not) and
    answers everything itself, its errors included, in its own shape."""

    # ctx.service of its requests, for metrics and logs (e.g. "execute-api").
    label: str

    def claims(self, request: HttpRequest) -> bool:
        """Whether the request is for this data plane: cheap, it is asked about every request."""
        ...

    async def answer(self, ctx: RequestContext) -> HttpResponse: ...

    def error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        """An error raised while answering (or by the gateway's checks), in the data plane's shape."""
        ...


@dataclass(frozen=True)
class PlaneHint:
    """Which requests a service's data plane may claim, known before its module is imported: those whose Host
    contains one of `hosts` (compared in lower case: host names are) or whose path starts with one of `paths`.
    A declared hint rather than a function, so that routing reads the Host once for every service's hint."""

    hosts: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    def matches(self, host: str, path: str) -> bool:
        """`host`: the request's Host header in lower case."""
        for part in self.hosts:
            if part in host:
                return True
        return bool(self.paths) and path.startswith(self.paths)


@dataclass(frozen=True)
class ServiceEntry:
    """What routing and start-up know of a service before its module is imported (conveyor.services.catalog)."""

    name: str  # the registry name (botocore's service name)
    path: str  # "module:Class"
    signing_names: tuple[str, ...] = ()  # the SigV4 names clients sign with; empty: the registry name
    target_prefix: str | None = None  # the model's targetPrefix (X-Amz-Target: Prefix.Operation)
    takes_unsigned: bool = False  # unsigned requests that name no service are its (S3)
    # Whether a request may be for its data plane (a superset of what the data plane claims: the service is
    # loaded and its data plane asked only when this says yes).
    may_claim: PlaneHint | None = None
    # Ports of other services it asks synchronously with no answer for an unused service (conveyor.lazy):
    # those services are started before it.
    needs: tuple[str, ...] = ()
    # Services started right after it, whose ports answer for its state (IAM's roles: STS's sessions of them).
    brings: tuple[str, ...] = ()
    # The directory under the data directory that holds its state (Config.service_dir).
    state_dir: str = ""
    # Ports (fields of conveyor.ports.Ports) it provides.
    provides: tuple[str, ...] = ()
    # The first path segment of its /_conveyor/ endpoints, if it has any.
    internal_prefix: str = ""
    # "module:function" that opens its door, called at start when it does not start then: a function of the
    # Environment and a callable that starts the service (conveyor.services.route53.dns_door.open_door).
    door: str = ""
    # Started with the server whatever its state (a service registered outside the catalog).
    eager: bool = False

    @property
    def directory(self) -> str:
        return self.state_dir or self.name

    @property
    def signs_as(self) -> tuple[str, ...]:
        return self.signing_names or (self.name,)


# IAM action prefixes that differ from the model's signing name.
# https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
_IAM_PREFIXES = {"monitoring": "cloudwatch"}
# Protocols whose AccessDenied error is "AccessDenied" (query and S3's XML); the JSON ones say
# "AccessDeniedException". https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
_XML_PROTOCOLS = ("query", "rest-xml", "ec2")

Result = dict[str, Any] | HttpResponse | None
# A resource's not-found error, from the request's context and the parameter that named it.
MissingError = Callable[[RequestContext, Any], ServiceError]
Handler = Callable[[RequestContext, dict[str, Any]], Awaitable[Result]]


class Service:
    """A service answers the operations of one botocore model.

    Subclasses set `name` (the botocore service name, e.g. "sqs"), override `codecs` (protocol name ->
    codec, one per wire protocol the service speaks) when the model's own protocols are not all, and
    implement each operation as an
    `async def OperationName(self, ctx, params) -> dict` method whose input/output dicts follow the
    model's member names, on the service itself or on the objects listed in `operation_groups`. A
    handler may also return an HttpResponse when it must control the wire (streamed bodies); the codec
    serializes dicts. Quirks are hooks, below, that the gateway calls at their step of the one request
    pipeline.
    """

    name: str = ""
    # The SigV4 signing name if it differs from `name`.
    signing_name: str = ""
    # Error codes for model validation failures (see conveyor.protocol.validate.ValidationCodes).
    validation_codes: ValidationCodes | None = None
    # Other signing names clients use for this service.
    signing_aliases: tuple[str, ...] = ()
    # Query `Action`s outside the model that `intercept` answers (e.g. SNS serving its certificate).
    extra_query_actions: frozenset[str] = frozenset()
    # False for a global service (IAM, CloudFront, Route 53): a region's outage drill leaves it answering.
    regional = True
    # Whether unsigned requests that name no service are this one's (S3: anonymous GETs, browser forms).
    takes_unsigned = False
    # Objects whose methods answer operations too, for a service that composes its operations in several
    # objects (IAM, Lambda) rather than writing them all on the Service; looked up in order.
    operation_groups: Sequence[object] = ()
    # Requests it answers outside its API, claimed before routing (API Gateway's invoke URLs).
    data_plane: DataPlane | None = None

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.config = env.config
        self.clock = env.clock
        self.ports = env.ports

    # The model and its codecs are read on the service's first request, not at start: the models of every
    # served service together weigh about 40 MiB and a quarter of a second (EC2's alone 15 MiB).
    @functools.cached_property
    def model(self) -> ServiceModel:
        from conveyor.protocol.models import service_model  # botocore: on the first request, not at start

        return service_model(self.name)

    @functools.cached_property
    def codecs(self) -> dict[str, Codec]:
        from conveyor.protocol.registry import codecs_for

        return codecs_for(self.model)

    # -- lifecycle -------------------------------------------------------------------------------------
    def provide(self, ports: Ports) -> None:
        """Offer this service's ports to the others (called once, before start)."""

    async def start(self) -> None:
        """Open storage and restore state; called once the event loop runs."""

    async def stop(self) -> None:
        """Flush and close; called on shutdown."""

    async def reset(self) -> None:
        """Wipe all state (POST /_conveyor/reset)."""

    def health(self) -> dict[str, Any]:
        return {"status": "running"}

    def status(self) -> dict[str, Any]:
        """This service's part of `conveyor status` (GET /_conveyor/status); empty when it has none."""
        return {}

    def links(self) -> list[Link]:
        """How this service's resources send to other resources (conveyor.links), from its live state:
        the dashboard draws the pipeline from them."""
        return []

    # The first path segment of this service's own endpoints under /_conveyor/ ("functions" for Lambda).
    internal_prefix: str = ""

    async def internal(self, ctx: RequestContext, parts: list[str]) -> Any:
        """/_conveyor/<internal_prefix>/<parts...>: this service's own endpoints (a JSON-able answer), or
        NotImplemented when it has none at that path."""
        return NotImplemented

    # -- the request pipeline's hooks, in the order they run ---------------------------------------------
    def owns_path(self, path: str) -> bool:
        """Whether an unsigned query request to `path` is this service's (SQS's queue URLs)."""
        return False

    def protocol_for(self, ctx: RequestContext) -> str:
        """Which of `codecs` this request speaks: rpc-v2-cbor when the client says so (smithy-protocol),
        json when it sends X-Amz-Target, query when it sends a form or ?Action=, else the model's
        preferred protocol."""
        request = ctx.request
        if request.headers.get("smithy-protocol") == "rpc-v2-cbor" and "smithy-rpc-v2-cbor" in self.codecs:
            return "smithy-rpc-v2-cbor"
        if request.headers.get("x-amz-target") and "json" in self.codecs:
            return "json"
        if "query" in self.codecs:
            content_type = request.headers.get("content-type") or ""
            if content_type.startswith("application/x-www-form-urlencoded") or "Action=" in request.query_string:
                return "query"
        return next(iter(self.codecs))

    async def intercept(self, ctx: RequestContext) -> HttpResponse | None:
        """Answer a request that is not an operation of the model (S3's CORS preflights and POST forms,
        SNS's signing certificate), after authentication; None lets the pipeline parse it."""
        return None

    async def authorize(self, ctx: RequestContext, operation: OperationModel) -> None:
        """Refuse a request the caller may not make, before its body is read (S3 judges anonymous callers
        by the bucket's policy); raise a ServiceError."""

    # The prefix of this service's IAM actions ("s3", "cloudwatch"); empty: the model's signing name.
    iam_prefix: str = ""
    # Whether another account's caller is judged by the resources' own policies, in every `--iam` mode
    # (conveyor.authz.Enforcer.authorize_other_account): the services whose resources carry them.
    other_accounts_by_resource_policy: bool = False
    # Whether another account's caller acts in its own account, which holds nothing of this service's here
    # (conveyor.authz.other_accounts, in every `--iam` mode): the services whose resources carry no policy.
    other_accounts_own_nothing: bool = False
    # Operations that read nothing of the account's (EC2's DescribeAvailabilityZones), served to another
    # account's caller as to the owner.
    account_free_operations: frozenset[str] = frozenset()
    # The parameters naming a resource within the caller's own account (IAM's RoleName), each with the
    # error the service answers for one that does not exist: another account's caller names nothing that
    # exists here. Operations in `other_account_creates` make the resource they name instead.
    other_account_names: tuple[tuple[str, MissingError], ...] = ()
    other_account_creates: frozenset[str] = frozenset()
    # Where resource policies decide: the operations another account's caller may make on a resource its
    # policy shares (Kinesis serves record reads and writes, not administration); None: whatever it grants.
    other_account_may: frozenset[str] | None = None

    def iam_action(self, operation: str) -> str:
        prefix = self.iam_prefix
        if not prefix:
            metadata = self.model.metadata
            name = str(metadata.get("signingName") or metadata.get("endpointPrefix") or self.name)
            prefix = self.iam_prefix = _IAM_PREFIXES.get(name, name)
        return f"{prefix}:{operation}"

    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        """What the parsed request asks IAM for (`--iam report|enforce`): each action on each resource, with
        the request's condition keys, as AWS's Service Authorization Reference lists them. The default is
        the action named after the operation on every resource ("*"); services override it for their
        resources and for actions named otherwise. An empty list: the operation needs no permission
        (sts:GetCallerIdentity)."""
        return [Need(self.iam_action(operation.name))]

    def access_denied(self, ctx: RequestContext, denial: Denial) -> ServiceError:
        """The error a request IAM refuses gets, in this service's words."""
        code = "AccessDenied" if ctx.protocol in _XML_PROTOCOLS else "AccessDeniedException"
        return ServiceError(code, denial.message(), 403)

    def account_free(self, operation: str, params: dict[str, Any]) -> bool:
        """Whether the request reads nothing of the account's (`account_free_operations`; IAM's AWS managed
        policies): served to another account's caller as to the owner."""
        return operation in self.account_free_operations

    def missing_for_other_account(self, ctx: RequestContext, operation: str,
                                  params: dict[str, Any]) -> ServiceError | None:
        """The error for the resource another account's caller names within its own account, which has
        none here (`other_account_names`); None when the request names none, or creates it."""
        if operation in self.other_account_creates:
            return None
        for param, missing in self.other_account_names:
            value = params.get(param)
            if value:
                return missing(ctx, value)
        return None

    def answer_for_other_account(self, ctx: RequestContext, operation: OperationModel,
                                 params: dict[str, Any]) -> dict[str, Any] | None:
        """Another account's answer over its own account, which holds nothing here, where an empty listing
        is not it (CloudWatch's GetMetricData: one empty result per query); None: the enforcer's rule."""
        return None

    def refusal_for_other_account(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any],
                                  denial: Denial) -> ServiceError:
        """The error another account's caller gets for naming or creating a resource (its own account holds
        nothing here): AccessDenied by default; services whose resources are named within the caller's
        own account answer as for a resource that does not exist."""
        return self.access_denied(ctx, denial)

    async def check(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> None:
        """Refuse a parsed request the model accepts but the service does not (S3's settings it would
        ignore); raise a ServiceError."""

    def finish(self, ctx: RequestContext, response: HttpResponse) -> None:
        """Last touches on every response of this service, errors included (S3's CORS headers)."""

    def unavailable_error(self) -> ServiceError:
        """The answer to a request that cannot be stored now (the data disk is full)."""
        return temporarily_unavailable()

    def handler(self, operation: str) -> Handler | None:
        """The method named after the operation, on the service or on one of its `operation_groups`."""
        if not operation[:1].isupper():
            return None
        for holder in (self, *self.operation_groups):
            found = getattr(holder, operation, None)
            if callable(found):
                handler: Handler = found
                return handler
        return None
