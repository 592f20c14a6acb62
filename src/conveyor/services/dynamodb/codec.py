"""DynamoDB's JSON 1.0 codec, which also speaks DynamoDB Streams.

DynamoDB Streams is a model of its own (`DynamoDBStreams_20120810.*`) signed with DynamoDB's signing name
`dynamodb`, so its requests reach this service by their signature; the X-Amz-Target prefix says which of
the two models names the operation. Both are JSON 1.0, so parsing and serializing are the same; an error
is typed with the model of the request's operation.
https://docs.aws.amazon.com/amazondynamodbstreams/latest/APIReference/Welcome.html
"""

from __future__ import annotations

import json

from botocore.model import OperationModel, ServiceModel

from conveyor.protocol.json_rpc import JsonCodec
from conveyor.wire import HttpResponse, RequestContext, ServiceError


class DynamoJsonCodec(JsonCodec):
    def __init__(self, model: ServiceModel, streams: ServiceModel) -> None:
        super().__init__(model)
        self.streams = JsonCodec(streams)
        self.streams_prefix = f"{streams.metadata['targetPrefix']}."

    def _is_streams(self, ctx: RequestContext) -> bool:
        return (ctx.request.headers.get("x-amz-target") or "").startswith(self.streams_prefix)

    async def route(self, ctx: RequestContext) -> OperationModel:
        if self._is_streams(ctx):
            return await self.streams.route(ctx)
        return await super().route(ctx)

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        if self._is_streams(ctx):
            return self.streams.serialize_error(ctx, error)
        response = super().serialize_error(ctx, error)
        if "Item" in error.extra:
            # A failed condition that returns the item (ReturnValuesOnConditionCheckFailure ALL_OLD) says
            # "Message", not "message", beside it, as AWS's answer does.
            body = json.loads(response.body)
            body["Message"] = body.pop("message")
            response.body = json.dumps(body).encode()
        return response
