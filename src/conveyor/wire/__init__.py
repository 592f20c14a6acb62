"""The wire types every layer shares: HTTP request and response, AWS-shaped errors, the request context.

A leaf: it imports nothing else of Conveyor's, so protocols, the gateway and services can all use it.
"""

from conveyor.wire.caller import Caller, CallerKind
from conveyor.wire.context import Now, RequestContext
from conveyor.wire.errors import ServiceError, internal_failure, temporarily_unavailable, validation_error
from conveyor.wire.http import ClientDisconnected, Headers, HttpRequest, HttpResponse
from conveyor.wire.signature import ChunkVerifier, Signature, SigV4Error

__all__ = [
    "Caller", "CallerKind", "ChunkVerifier", "ClientDisconnected", "Headers", "HttpRequest", "HttpResponse", "Now",
    "RequestContext", "ServiceError", "SigV4Error", "Signature", "internal_failure",
    "temporarily_unavailable", "validation_error",
]
