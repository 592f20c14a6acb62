"""The resources of an HTTP API as their Get* operations answer them, and the errors about them.

Each record keeps its document under the model's member names (what GetApi, GetRoute... return), so the
store keeps it as JSON and the codec serializes it as is; typed properties read what the rest of the
service needs. Keys starting with "_" are Conveyor's own (the API's region, a deployment's snapshot) and
never leave the service.
"""

from __future__ import annotations

import copy
import random
import string
from dataclasses import dataclass, field
from typing import Any

from conveyor.wire import ServiceError

_ID_ALPHABET = string.ascii_lowercase + string.digits
_rng = random.SystemRandom()

# Kinds of records, as the store names them.
API, ROUTE, INTEGRATION, STAGE, DEPLOYMENT = "api", "route", "integration", "stage", "deployment"
DEFAULT_STAGE = "$default"
DEFAULT_ROUTE = "$default"
# The only route selection expression an HTTP API has, and its API key selection expression, as CreateApi
# answers them: https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis.html
ROUTE_SELECTION = "$request.method $request.path"
API_KEY_SELECTION = "$request.header.x-api-key"


def new_id(length: int) -> str:
    """API ids have 10 characters, route and integration ids 7, deployment ids 6 (lower-case letters and
    digits), as API Gateway makes them."""
    return "".join(_rng.choice(_ID_ALPHABET) for _ in range(length))


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A record as the API answers it: a copy without Conveyor's own keys."""
    return {k: copy.deepcopy(v) for k, v in doc.items() if not k.startswith("_")}


@dataclass
class ApiState:
    """One HTTP API and everything in it."""

    doc: dict[str, Any]  # GetApi's answer, without ApiEndpoint (made per request), plus "_Region"
    routes: dict[str, dict[str, Any]] = field(default_factory=dict)
    integrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)  # with "_Snapshot"

    @property
    def api_id(self) -> str:
        return str(self.doc["ApiId"])

    @property
    def region(self) -> str:
        return str(self.doc["_Region"])

    @property
    def cors(self) -> dict[str, Any] | None:
        cors: dict[str, Any] | None = self.doc.get("CorsConfiguration")
        return cors

    def records(self, kind: str) -> dict[str, dict[str, Any]]:
        return {ROUTE: self.routes, INTEGRATION: self.integrations, STAGE: self.stages,
                DEPLOYMENT: self.deployments}[kind]

    def route_by_key(self, route_key: str) -> dict[str, Any] | None:
        return next((r for r in self.routes.values() if r["RouteKey"] == route_key), None)


def snapshot(routes: dict[str, dict[str, Any]], integrations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What a deployment freezes: the routes and integrations a stage serves until its next deployment."""
    return {"Routes": [public(r) for r in routes.values()], "Integrations": [public(i) for i in integrations.values()]}


def page(items: list[dict[str, Any]], params: Any) -> dict[str, Any]:
    """Get* listings: MaxResults (a string on the wire) items from the NextToken on."""
    try:
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or 100)
    except ValueError:
        raise bad_request("Invalid pagination token or maxResults.")
    if start < 0 or size < 1:
        raise bad_request("Invalid pagination token or maxResults.")
    out: dict[str, Any] = {"Items": items[start:start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


# -- errors, as API Gateway words them --------------------------------------------------------------

def bad_request(message: str) -> ServiceError:
    return ServiceError("BadRequestException", message, 400)


def conflict(message: str) -> ServiceError:
    return ServiceError("ConflictException", message, 409)


def not_found(message: str, resource_type: str) -> ServiceError:
    return ServiceError("NotFoundException", message, 404, extra={"resourceType": resource_type})


def unsupported(what: str) -> ServiceError:
    """A setting Conveyor does not act on is refused, never stored and ignored."""
    return bad_request(f"Conveyor does not support {what}.")
