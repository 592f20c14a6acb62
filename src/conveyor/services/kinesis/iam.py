"""What each Kinesis operation asks IAM for (`--iam report|enforce`).

https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonkinesisdatastreams.html:
every action is named after its operation (`kinesis:PutRecords`, `kinesis:GetRecords`...) and acts on
the stream `arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`; ListStreams, DescribeLimits and the account
settings act on no stream ("*"). GetRecords names its stream through the shard iterator, a ListShards
page through its NextToken: both are read for the stream they name; one that names none (malformed,
expired, of a deleted stream) needs nothing here, and the operation answers it with its own error.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from conveyor.authz import Denial, Need
from conveyor.services.kinesis.iterators import decode
from conveyor.services.kinesis.lookup import Directory
from conveyor.wire import RequestContext, ServiceError

# What another account's principals may do with a stream, whatever its policy grants: reading and writing
# its records and describing it; its administration (deleting, resharding, retention, tags, the policy
# itself) stays with its own account.
# https://docs.aws.amazon.com/streams/latest/dev/resource-based-policy-examples.html
CROSS_ACCOUNT = frozenset({"DescribeStream", "DescribeStreamSummary", "GetRecords", "GetShardIterator", "ListShards",
                           "PutRecord", "PutRecords", "ListStreamConsumers", "RegisterStreamConsumer",
                           "DescribeStreamConsumer", "SubscribeToShard"})


def caller_account(ctx: RequestContext) -> str:
    return ctx.principal.account_id if ctx.principal is not None else ctx.account_id


def _stream_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:kinesis:{region}:{account}:stream/{name}"


def _by_id(directory: Directory, stream_id: int) -> str | None:
    for stream in directory.catalog.streams.values():
        if stream.id == stream_id:
            return _stream_arn(stream.region, directory.account, stream.name)
    return None


def _named_by_token(token: str) -> int | None:
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["s"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def needs(ctx: RequestContext, directory: Directory, operation: str, params: Mapping[str, Any]) -> list[Need]:
    action = f"kinesis:{operation}"
    for name in ("StreamARN", "ResourceARN", "ConsumerARN"):
        value = params.get(name)
        if isinstance(value, str) and value.startswith("arn:"):
            return [Need(action, value)]
    stream_name = params.get("StreamName")
    if isinstance(stream_name, str) and stream_name:  # a name: a stream of the caller's own account
        return [Need(action, _stream_arn(ctx.region, caller_account(ctx), stream_name))]
    stream_id: int | None = None
    if operation == "GetRecords" and isinstance(params.get("ShardIterator"), str):
        try:
            stream_id = decode(params["ShardIterator"], directory.now_ms()).stream_id
        except ServiceError:
            return []
    elif operation == "ListShards" and isinstance(params.get("NextToken"), str):
        stream_id = _named_by_token(params["NextToken"])
    if stream_id is not None:
        arn = _by_id(directory, stream_id)
        return [Need(action, arn)] if arn is not None else []
    if operation in ("GetRecords", "ListShards"):
        return []
    return [Need(action)]


def access_denied(denial: Denial) -> ServiceError:
    """Kinesis answers a denial with HTTP 400, as all its errors: "AccessDeniedException ... HTTP Status
    Code: 400" (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecord.html#API_PutRecord_Errors)."""
    return ServiceError("AccessDeniedException", denial.message(), 400)
