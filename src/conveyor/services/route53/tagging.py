"""Tags on hosted zones and health checks (at most 10 each).
https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeTagsForResource.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.services.route53 import errors
from conveyor.services.route53.catalog import Catalog
from conveyor.services.route53.store import Batch
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import (
        ChangeTagsForResourceRequestTypeDef,
        ListTagsForResourceRequestTypeDef,
        ListTagsForResourcesRequestTypeDef,
    )

MAX_TAGS = 10


class TagOperations:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _key(self, kind: str, resource_id: str) -> str:
        """The tag set's key, once the resource is known to exist. The id is the bare one: Route 53 finds no
        zone "/hostedzone/Z..." here (the SDKs strip that prefix from HostedZoneId parameters, not from
        ResourceId)."""
        if kind == "hostedzone" and resource_id not in self.catalog.zones:
            raise errors.no_such_hosted_zone(resource_id)
        if kind == "healthcheck" and resource_id not in self.catalog.health_checks:
            raise errors.no_such_health_check(resource_id)
        return f"{kind}/{resource_id}"

    def _tag_set(self, kind: str, resource_id: str) -> dict[str, Any]:
        tags = self.catalog.tags.get(self._key(kind, resource_id), {})
        return {"ResourceType": kind, "ResourceId": resource_id,
                "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}

    async def ChangeTagsForResource(self, ctx: RequestContext,
                                    params: ChangeTagsForResourceRequestTypeDef) -> dict[str, Any]:
        async with self.catalog.mutex:
            key = self._key(params["ResourceType"], params["ResourceId"])
            tags = dict(self.catalog.tags.get(key, {}))
            for name in params.get("RemoveTagKeys") or []:
                tags.pop(name, None)
            for tag in params.get("AddTags") or []:
                tags[tag.get("Key", "")] = tag.get("Value", "")
            if len(tags) > MAX_TAGS:
                raise errors.invalid_input(f"The number of tags on the resource would exceed the limit of {MAX_TAGS}.")
            await self.catalog.commit(Batch().write("tags", key, tags) if tags else Batch().remove("tags", key))
        return {}

    async def ListTagsForResource(self, ctx: RequestContext,
                                  params: ListTagsForResourceRequestTypeDef) -> dict[str, Any]:
        return {"ResourceTagSet": self._tag_set(params["ResourceType"], params["ResourceId"])}

    async def ListTagsForResources(self, ctx: RequestContext,
                                   params: ListTagsForResourcesRequestTypeDef) -> dict[str, Any]:
        kind = params["ResourceType"]
        return {"ResourceTagSets": [self._tag_set(kind, rid) for rid in params["ResourceIds"]]}
