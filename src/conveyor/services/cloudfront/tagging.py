"""Tags on distributions: TagResource, UntagResource, ListTagsForResource, by the distribution's ARN.
https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_TagResource.html (at most 50 tags; keys
1-128 characters, values up to 256, of letters, digits, spaces and `_ . : / = + - @`)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from conveyor.services.cloudfront.catalog import DISTRIBUTION, Catalog
from conveyor.services.cloudfront.errors import fault
from conveyor.services.cloudfront.store import Batch
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_cloudfront.type_defs import (
        ListTagsForResourceRequestTypeDef,
        TagResourceRequestTypeDef,
        UntagResourceRequestTypeDef,
    )

MAX_TAGS = 50
_TEXT = re.compile(r"^[\w\s.:/=+\-@]*$")


def check_tags(tags: list[dict[str, Any]]) -> None:
    if len(tags) > MAX_TAGS:
        raise fault("InvalidTagging", f"A resource can have at most {MAX_TAGS} tags.")
    for tag in tags:
        key, value = tag.get("Key") or "", tag.get("Value") or ""
        if not 1 <= len(key) <= 128 or len(value) > 256 or not _TEXT.match(key) or not _TEXT.match(value):
            raise fault("InvalidTagging", f"The tagging specified is not valid: {key!r}.")


class TagOperations:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _distribution(self, arn: str) -> dict[str, Any]:
        distribution_id = arn.rpartition(":distribution/")[2] if ":distribution/" in arn else ""
        record = self.catalog.distributions.get(distribution_id)
        if record is None or record["ARN"] != arn:
            raise fault("NoSuchResource", f"A resource that was specified is not valid: {arn}.")
        return record

    async def TagResource(self, ctx: RequestContext, params: TagResourceRequestTypeDef) -> dict[str, Any]:
        record = self._distribution(params["Resource"])
        tags = {tag["Key"]: tag.get("Value", "") for tag in record.get("Tags") or []}
        for tag in params["Tags"].get("Items") or []:
            tags[tag["Key"]] = tag.get("Value", "")
        merged = [{"Key": k, "Value": v} for k, v in tags.items()]
        check_tags(merged)
        await self.catalog.save(Batch().write(DISTRIBUTION, record["Id"], {**record, "Tags": merged}))
        return {}

    async def UntagResource(self, ctx: RequestContext, params: UntagResourceRequestTypeDef) -> dict[str, Any]:
        record = self._distribution(params["Resource"])
        gone = set(params["TagKeys"].get("Items") or [])
        kept = [tag for tag in record.get("Tags") or [] if tag["Key"] not in gone]
        await self.catalog.save(Batch().write(DISTRIBUTION, record["Id"], {**record, "Tags": kept}))
        return {}

    async def ListTagsForResource(self, ctx: RequestContext,
                                  params: ListTagsForResourceRequestTypeDef) -> dict[str, Any]:
        record = self._distribution(params["Resource"])
        return {"Tags": {"Items": list(record.get("Tags") or [])}}
