"""rest-json as API Gateway speaks it: errors are `{"message": ...}` (NotFoundException adds `resourceType`)
with the code in `x-amzn-ErrorType`, and model validation failures are BadRequestException.
https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis.html (the error shapes of every resource)

API Gateway's REST APIs (v1, `aws apigateway ...`) sign with the same name, `apigateway`, so they reach this
service too; their paths are not under /v2/ and they are told so, in their own shape.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.model import OperationModel

from conveyor.protocol.rest_json import RestJsonCodec
from conveyor.protocol.validate import ValidationCodes
from conveyor.wire import HttpResponse, RequestContext, ServiceError


class ApiGatewayCodec(RestJsonCodec):
    async def route(self, ctx: RequestContext) -> OperationModel:
        if not ctx.request.path.startswith("/v2/"):
            raise ServiceError("UnknownOperationException", "Conveyor does not serve the service 'apigateway' (REST "
                               "APIs): it serves API Gateway's HTTP APIs, `aws apigatewayv2 ...`.", 404)
        return await super().route(ctx)

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        body: dict[str, Any] = {"message": error.message}
        body.update(error.extra)
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", ctx.request_id),
                   ("x-amzn-ErrorType", error.code)]
        headers.extend(error.headers.items())
        return HttpResponse(error.status, headers, json.dumps(body).encode())


class ApiGatewayValidationCodes(ValidationCodes):
    missing = invalid = "BadRequestException"
    serialization = "BadRequestException"

    def missing_error(self, path: str) -> ServiceError:
        return ServiceError(self.missing, f"Invalid input: '{_json_path(path)}' is required.")

    def invalid_error(self, path: str, value: Any, reason: str) -> ServiceError:
        return ServiceError(self.invalid, f"Invalid input for '{_json_path(path)}': {reason}.")


def _json_path(path: str) -> str:
    """Member names as the JSON names them (`CorsConfiguration.MaxAge` -> `corsConfiguration.maxAge`)."""
    return ".".join(part[:1].lower() + part[1:] for part in path.split("."))
