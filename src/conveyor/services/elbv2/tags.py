"""Tags on load balancers, target groups, listeners and rules: AddTags, RemoveTags, DescribeTags.

https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AddTags.html: at most 50 tags a
resource; a key given twice is DuplicateTagKeys; a resource not found is its kind's NotFound error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.services.elbv2 import errors
from conveyor.services.elbv2.catalog import BALANCER, LISTENER, RULE, TARGET_GROUP, Catalog, Resource
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_elbv2.type_defs import (
        AddTagsInputTypeDef,
        DescribeTagsInputTypeDef,
        RemoveTagsInputTypeDef,
    )

MAX_TAGS = 50


def check_tags(tags: list[dict[str, Any]]) -> list[dict[str, str]]:
    seen: set[str] = set()
    for tag in tags:
        key = str(tag.get("Key") or "")
        if key in seen:
            raise errors.duplicate_tag_keys(key)
        seen.add(key)
    if len(tags) > MAX_TAGS:
        raise errors.too_many_tags()
    return [{"Key": str(t["Key"]), "Value": str(t.get("Value") or "")} for t in tags]


def _not_found(arn: str) -> ServiceError:
    kind = arn.split(":", 5)[-1].split("/", 1)[0]
    return {"targetgroup": errors.target_group_not_found(), "listener": errors.listener_not_found(),
            "listener-rule": errors.rule_not_found()}.get(kind) or errors.load_balancer_not_found()


class TagOperations:
    def __init__(self, catalog: Callable[[], Catalog]) -> None:
        self._catalog = catalog

    def _resource(self, arn: str, region: str) -> Resource:
        found = self._catalog().resources.get(arn)
        if found is None or found.region != region or found.kind not in (BALANCER, TARGET_GROUP, LISTENER, RULE):
            raise _not_found(arn)
        return found

    async def AddTags(self, ctx: RequestContext, params: AddTagsInputTypeDef) -> dict[str, Any]:
        given = check_tags([dict(t) for t in params["Tags"]])
        changed = []
        for arn in params["ResourceArns"]:
            found = self._resource(arn, ctx.region)
            tags = {t["Key"]: t["Value"] for t in found.tags}
            tags.update({t["Key"]: t["Value"] for t in given})
            if len(tags) > MAX_TAGS:
                raise errors.too_many_tags()
            changed.append(Resource(found.arn, found.kind, found.region,
                                    {**found.doc, "_tags": [{"Key": k, "Value": v} for k, v in tags.items()]}))
        await self._catalog().save(*changed)
        return {}

    async def RemoveTags(self, ctx: RequestContext, params: RemoveTagsInputTypeDef) -> dict[str, Any]:
        keys = set(params["TagKeys"])
        changed = []
        for arn in params["ResourceArns"]:
            found = self._resource(arn, ctx.region)
            changed.append(Resource(found.arn, found.kind, found.region,
                                    {**found.doc, "_tags": [t for t in found.tags if t["Key"] not in keys]}))
        await self._catalog().save(*changed, grows=False)
        return {}

    async def DescribeTags(self, ctx: RequestContext, params: DescribeTagsInputTypeDef) -> dict[str, Any]:
        arns = list(params["ResourceArns"])
        if len(arns) > 20:
            raise errors.validation("1 validation error detected: Value '[...]' at 'resourceArns' failed to satisfy "
                                    "constraint: Member must have length less than or equal to 20")
        return {"TagDescriptions": [{"ResourceArn": arn, "Tags": self._resource(arn, ctx.region).tags}
                                    for arn in arns]}
