"""TagResource, UntagResource and ListTags, on whatever a Lambda ARN names that takes tags: a function, an
event source mapping (`arn:aws:lambda:REGION:ACCOUNT:event-source-mapping:UUID`) or a code signing
configuration (https://docs.aws.amazon.com/lambda/latest/dg/tagging.html: "You can tag functions, event
source mappings and code signing configurations"). A mapping takes tags at creation too
(CreateEventSourceMapping's Tags)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from conveyor.services.lambda_.code_signing import CodeSigningConfigs
from conveyor.services.lambda_.esm import Mapping, Mappings
from conveyor.services.lambda_.functions import invalid, not_found
from conveyor.services.lambda_.registry import Registry
from conveyor.services.lambda_.stream_esm import StreamMapping, StreamMappings
from conveyor.services.lambda_.tag_rules import check_tags
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import (
        ListTagsRequestTypeDef,
        TagResourceRequestTypeDef,
        UntagResourceRequestTypeDef,
    )

_MAPPING = re.compile(r"arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):event-source-mapping:([0-9a-fA-F-]+)")
_SIGNING = re.compile(r"arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):code-signing-config:(csc-[a-z0-9]+)")
_NOT_FOUND = "The resource you requested does not exist."
# "You can add up to 50 tags to a resource" (https://docs.aws.amazon.com/lambda/latest/dg/tagging.html).
# Refusals in Lambda's words, as LocalStack's snapshot tests recorded them against AWS (test_tag_limits,
# test_tag_exceptions of its Lambda API suite).
TAG_LIMIT = 50
def within_tag_limit(tags: dict[str, str]) -> dict[str, str]:
    """The tags a resource would have, if Lambda lets it have that many."""
    if len(tags) > TAG_LIMIT:
        raise invalid("Number of tags exceeds resource tag limit.")
    return tags


class TagOperations:
    def __init__(self, registry: Registry, mappings: Mappings, stream_mappings: StreamMappings,
                 code_signing: CodeSigningConfigs) -> None:
        self.registry = registry
        self.mappings = mappings
        self.stream_mappings = stream_mappings
        self.code_signing = code_signing

    def _mapping(self, arn: str) -> Mapping | StreamMapping | None:
        match = _MAPPING.fullmatch(arn)
        if match is None:
            return None
        if match.group(2) != self.registry.account:
            raise not_found(_NOT_FOUND)
        uuid = match.group(3)
        found = self.stream_mappings.get(uuid) or self.mappings.by_uuid.get(uuid)
        if found is None:
            raise not_found(_NOT_FOUND)
        return found

    async def _retag(self, ctx: RequestContext, arn: str, change: Any, whole_function: bool = False) -> dict[str, str] | None:
        """Apply `change` (tags -> new tags, or None to only read) to what `arn` names; returns its tags.
        With `whole_function`, a version's or alias's ARN is refused: tags belong to the function."""
        mapping = self._mapping(arn)
        if mapping is not None:
            tags: dict[str, str] = change(dict(mapping.tags)) if change else mapping.tags
            if change and isinstance(mapping, StreamMapping):
                await self.stream_mappings.retag(mapping, tags)
            elif change and isinstance(mapping, Mapping):
                await self.mappings.retag(mapping, tags)
            return tags
        if _SIGNING.fullmatch(arn):
            config = self.code_signing.get(arn)
            tags = change(dict(config["_Tags"])) if change else config["_Tags"]
            if change:
                await self.code_signing.put({**config, "_Tags": tags})
            return tags
        fn, qualifier = self.registry.get(arn, ctx.region)
        if qualifier and whole_function:
            raise invalid("Tags on function aliases and versions are not supported. Please specify a function ARN.")
        if change:
            fn.tags = change(dict(fn.tags))
            await self.registry.save(fn)  # put back as it was if the write fails
        return fn.tags

    async def TagResource(self, ctx: RequestContext, params: TagResourceRequestTypeDef) -> dict[str, Any]:
        given = dict(params["Tags"])
        if not given:
            raise invalid("An error occurred and the request cannot be processed.")
        check_tags(given)
        await self._retag(ctx, params["Resource"], lambda tags: within_tag_limit({**tags, **given}),
                          whole_function=True)
        return {}

    async def UntagResource(self, ctx: RequestContext, params: UntagResourceRequestTypeDef) -> dict[str, Any]:
        keys = set(params["TagKeys"])
        await self._retag(ctx, params["Resource"], lambda tags: {k: v for k, v in tags.items() if k not in keys})
        return {}

    async def ListTags(self, ctx: RequestContext, params: ListTagsRequestTypeDef) -> dict[str, Any]:
        return {"Tags": await self._retag(ctx, params["Resource"], None) or {}}
