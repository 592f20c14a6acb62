"""DynamoDB's JSON 1.0 codec, which also speaks DynamoDB Streams.

DynamoDB Streams is a model of its own (`DynamoDBStreams_20120810.*`) signed with DynamoDB's signing name
`dynamodb`, so its requests reach this service by their signature; the X-Amz-Target prefix says which of
the two models names the operation. Both are JSON 1.0, so parsing and serializing are the same; an error
is typed with the model of the request's operation.
https://docs.aws.amazon.com/amazondynamodbstreams/latest/APIReference/Welcome.html
"""

from __future__ import annotations

import json
from typing import Any

from botocore.model import OperationModel, ServiceModel

from conveyor.protocol.base import b64encode
from conveyor.protocol.json_reader import _SURROGATE, NOT_READ
from conveyor.protocol.json_rpc import JsonCodec
from conveyor.wire import HttpResponse, RequestContext, ServiceError


def wire_value(value: dict[str, Any]) -> dict[str, Any]:
    """An AttributeValue as JSON carries it: what the generic model walk writes (binary as base64, maps
    and lists member by member, every other member as it is), in one small pass: items are most of what
    GetItem, Query and Scan answer, and the walk cost a fifth of a Query's time."""
    if len(value) == 1:  # as every value the service holds is
        kind, inner = next(iter(value.items()))
        if kind not in _WALKED:
            return value if inner is not None else {}
    return {kind: _wire_member(kind, inner) for kind, inner in value.items() if inner is not None}


_WALKED = frozenset(("B", "BS", "M", "L"))


def _wire_member(kind: str, inner: Any) -> Any:
    if kind == "B":
        return _base64(inner)
    if kind == "BS":
        return [_base64(m) for m in inner]
    if kind == "M":
        return {k: wire_value(v) for k, v in inner.items()}
    if kind == "L":
        return [wire_value(v) for v in inner]
    return inner


def _base64(data: Any) -> str:
    return b64encode(data if isinstance(data, bytes) else str(data).encode())


WRITERS = {"AttributeValue": wire_value}


def read_value(value: Any) -> Any:
    """The scalar AttributeValues most items are made of ({"S": ...}, {"N": ...}, string sets, BOOL,
    NULL), read without the model walk; anything else (binary, maps, lists, a wrong type, a lone
    surrogate, more than one member) goes to the walk, which checks it and names what is wrong. The value
    is taken as it is: the request's JSON was parsed for this request alone. (An ASCII string holds no
    surrogate: the regular expression looks only at the others.)"""
    if type(value) is not dict or len(value) != 1:
        return NOT_READ
    kind, inner = next(iter(value.items()))
    if kind in ("S", "N"):
        if type(inner) is str and (inner.isascii() or not _SURROGATE.search(inner)):
            return value
    elif kind in ("SS", "NS"):
        if (type(inner) is list
                and all(type(m) is str and (m.isascii() or not _SURROGATE.search(m)) for m in inner)):
            return value
    elif kind in ("BOOL", "NULL") and type(inner) is bool:
        return value
    return NOT_READ


def read_attribute_map(value: Any) -> Any:
    """A map of AttributeValues (an Item, a Key, ExpressionAttributeValues) whose names and values
    read_value takes, read in one loop rather than an entry at a time by the walk; any other is left to
    the walk whole, which names what is wrong."""
    if type(value) is not dict:
        return NOT_READ
    for name, member in value.items():
        if (not name.isascii() and _SURROGATE.search(name)) or read_value(member) is NOT_READ:
            return NOT_READ
    return value


_WRITE_MEMBERS = {"PutRequest": "Item", "DeleteRequest": "Key"}


def read_write_requests(value: Any) -> Any:
    """A BatchWriteItem table's writes, each a PutRequest of an Item or a DeleteRequest of a Key (and
    nothing else) that read_attribute_map takes, read in one loop rather than two structures deep per
    write by the walk (which cost more than the items themselves); any other list is left to the walk
    whole, which drops unknown members and names what is wrong."""
    if type(value) is not list:
        return NOT_READ
    for write in value:
        if type(write) is not dict or len(write) != 1:
            return NOT_READ
        (kind, request), = write.items()
        member = _WRITE_MEMBERS.get(kind)
        if (member is None or type(request) is not dict or len(request) != 1
                or read_attribute_map(request.get(member)) is NOT_READ):
            return NOT_READ
    return value


READERS = {"AttributeValue": read_value, "PutItemInputAttributeMap": read_attribute_map, "Key": read_attribute_map,
           "ExpressionAttributeValueMap": read_attribute_map, "WriteRequests": read_write_requests}


class DynamoJsonCodec(JsonCodec):
    shape_writers = WRITERS
    shape_readers = READERS

    def __init__(self, model: ServiceModel, streams: ServiceModel) -> None:
        super().__init__(model)
        self.streams = JsonCodec(streams)
        self.streams.shape_writers = WRITERS  # stream records carry items too
        self.streams.shape_readers = READERS
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
