"""The request context: who is calling, where, and about what; built by the gateway for each request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.wire.caller import Caller
from conveyor.wire.http import HttpRequest
from conveyor.wire.signature import ChunkVerifier, Signature, SigV4Error

if TYPE_CHECKING:
    from botocore.model import OperationModel


class Now(Protocol):
    """The server's clock as a request sees it (the injectable clock, so tests can move time)."""

    def now(self) -> float: ...


@dataclass
class RequestContext:
    request: HttpRequest
    clock: Now
    request_id: str
    account_id: str
    region: str
    service: str = ""  # the registry name of the service answering ("s3", "sqs", ...)
    protocol: str = ""  # the wire protocol of this request ("query", "json", "rest-xml", ...)
    operation: OperationModel | None = None
    operation_name: str = ""  # for requests outside the model (S3 POST forms, CORS preflights)
    params: dict[str, Any] = field(default_factory=dict)
    # Authentication: the parsed signature (or why it could not be parsed), then its verdict.
    signature: Signature | None = None
    signature_error: SigV4Error | None = None
    access_key: str | None = None
    authenticated: bool = False
    # Who signed the request (set by the gateway for every request whose key it knows, verified or not
    # with `--auth off`); None for anonymous requests.
    principal: Caller | None = None
    chunk_verifier: ChunkVerifier | None = None  # set for signed aws-chunked bodies
    # Items of a batch IAM refused (`--iam enforce`), each with its AccessDenied message, for a service
    # that answers item by item (S3's DeleteObjects); None when nothing was refused.
    denied_items: dict[str, str] | None = None
    # Protocol helpers: the query form once read, the bucket a virtual host names.
    form: dict[str, str] | None = None
    host_bucket: str | None = None

    @property
    def host(self) -> str:
        """The Host header the client used, so URLs we hand back work from where it asked."""
        return self.request.host

    @property
    def base_url(self) -> str:
        return f"{self.request.scheme}://{self.host}"

    @property
    def operation_label(self) -> str:
        return self.operation.name if self.operation is not None else (self.operation_name or "-")
