"""Kinesis's tags: the stream operations (AddTagsToStream...) and the resource ones (TagResource...).

https://docs.aws.amazon.com/kinesis/latest/APIReference/API_AddTagsToStream.html: up to 10 tags a call,
50 per stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conveyor.services.kinesis import errors
from conveyor.services.kinesis.lookup import Directory
from conveyor.services.kinesis.streams import Stream
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_kinesis.type_defs import (
        AddTagsToStreamInputTypeDef,
        ListTagsForResourceInputTypeDef,
        ListTagsForStreamInputTypeDef,
        RemoveTagsFromStreamInputTypeDef,
        TagResourceInputTypeDef,
        UntagResourceInputTypeDef,
    )

Out = dict[str, Any]
MAX_TAGS = 50
MAX_TAGS_PER_CALL = 10
LIST_LIMIT = 10  # ListTagsForStream's default Limit


def check_new_tags(current: Mapping[str, str], new: Mapping[str, str]) -> None:
    if len({**current, **new}) > MAX_TAGS:
        raise errors.invalid(f"Failed to add tags to stream because a given stream cannot have more than {MAX_TAGS} "
                             "tags.")


class TagOperations:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    async def _retag(self, stream: Stream, tags: dict[str, str]) -> None:
        import json

        await self.directory.catalog.store.set_stream(stream.id, "tags", json.dumps(tags))
        stream.tags = tags

    def _by_resource(self, arn: str) -> Stream:
        stream = self.directory.by_arn(arn)
        if stream is None:
            name = arn.rpartition("/")[2]
            raise errors.stream_not_found(name, self.directory.account)
        return stream

    async def _add(self, stream: Stream, tags: Mapping[str, str]) -> Out:
        if len(tags) > MAX_TAGS_PER_CALL:
            raise errors.invalid(f"Failed to add tags to stream {stream.name} under account {self.directory.account} "
                                 f"because more than {MAX_TAGS_PER_CALL} tags were specified in one call.")
        check_new_tags(stream.tags, tags)
        await self._retag(stream, {**stream.tags, **tags})
        return {}

    async def AddTagsToStream(self, ctx: RequestContext, params: AddTagsToStreamInputTypeDef) -> Out:
        return await self._add(self.directory.find(ctx.region, params), params["Tags"])

    async def TagResource(self, ctx: RequestContext, params: TagResourceInputTypeDef) -> Out:
        return await self._add(self._by_resource(params["ResourceARN"]), params["Tags"])

    async def RemoveTagsFromStream(self, ctx: RequestContext, params: RemoveTagsFromStreamInputTypeDef) -> Out:
        stream = self.directory.find(ctx.region, params)
        await self._retag(stream, {k: v for k, v in stream.tags.items() if k not in params["TagKeys"]})
        return {}

    async def UntagResource(self, ctx: RequestContext, params: UntagResourceInputTypeDef) -> Out:
        stream = self._by_resource(params["ResourceARN"])
        await self._retag(stream, {k: v for k, v in stream.tags.items() if k not in params["TagKeys"]})
        return {}

    async def ListTagsForStream(self, ctx: RequestContext, params: ListTagsForStreamInputTypeDef) -> Out:
        stream = self.directory.find(ctx.region, params)
        keys = sorted(stream.tags)
        start = params.get("ExclusiveStartTagKey")
        if start:
            keys = [k for k in keys if k > start]
        limit = params.get("Limit") or LIST_LIMIT
        return {"Tags": [{"Key": k, "Value": stream.tags[k]} for k in keys[:limit]], "HasMoreTags": len(keys) > limit}

    async def ListTagsForResource(self, ctx: RequestContext, params: ListTagsForResourceInputTypeDef) -> Out:
        stream = self._by_resource(params["ResourceARN"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(stream.tags.items())]}
