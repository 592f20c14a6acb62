"""Kinesis resource-based policies on streams: PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy.

https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutResourcePolicy.html: the policy is what lets
another account's principals use a stream (conveyor.authz judges them by it, as an SQS queue's policy); a
new policy replaces the old one. Registered consumers are not served, so only streams carry policies.
- GetResourcePolicy of a stream without one answers the empty document `{}`; DeleteResourcePolicy of one
  answers ResourceNotFoundException "No resource policy found for resource ARN ARN." (the answers recorded
  by other emulators' tests against AWS; the API reference gives no wording).
- The document is stored with the stream's row, on disk before the call is answered, and goes with the
  stream when it is deleted.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from conveyor.policy import PolicyError, Use, check
from conveyor.services.kinesis import errors
from conveyor.services.kinesis.lookup import Directory
from conveyor.services.kinesis.streams import Stream
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_kinesis.type_defs import (
        DeleteResourcePolicyInputTypeDef,
        GetResourcePolicyInputTypeDef,
        PutResourcePolicyInputTypeDef,
    )

Out = dict[str, Any]


def _not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message)


class PolicyOperations:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def _stream(self, arn: str) -> Stream:
        stream = self.directory.by_arn(arn)
        if stream is None or arn != stream.arn(self.directory.account):
            raise errors.stream_not_found(arn.rpartition("/")[2], self.directory.account)
        return stream

    async def PutResourcePolicy(self, ctx: RequestContext, params: PutResourcePolicyInputTypeDef) -> Out:
        stream = self._stream(params["ResourceARN"])
        document = params["Policy"]
        try:
            check(document, Use.RESOURCE)
        except PolicyError as exc:
            raise errors.invalid(f"Invalid policy document: {exc}") from exc
        await self.directory.catalog.store.set_stream(stream.id, "policy", document)
        stream.policy = document
        return {}

    async def GetResourcePolicy(self, ctx: RequestContext, params: GetResourcePolicyInputTypeDef) -> Out:
        stream = self._stream(params["ResourceARN"])
        return {"Policy": stream.policy or json.dumps({})}

    async def DeleteResourcePolicy(self, ctx: RequestContext, params: DeleteResourcePolicyInputTypeDef) -> Out:
        arn = params["ResourceARN"]
        stream = self._stream(arn)
        if not stream.policy:
            raise _not_found(f"No resource policy found for resource ARN {arn}.")
        await self.directory.catalog.store.set_stream(stream.id, "policy", None)
        stream.policy = None
        return {}
