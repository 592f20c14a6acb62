"""Table settings beside the table itself: TTL, tags, limits, endpoints, continuous backups.

https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html,
API_TagResource.html, API_DescribeLimits.html, API_DescribeEndpoints.html,
API_DescribeContinuousBackups.html.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.services.dynamodb import errors
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.backup_api import continuous_backups
from conveyor.services.dynamodb.catalog import table_name
from conveyor.services.dynamodb.stored import load_item
from conveyor.services.dynamodb.stream_records import expiry
from conveyor.services.dynamodb.tables import Table
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        DescribeContinuousBackupsInputTypeDef,
        DescribeTimeToLiveInputTypeDef,
        ListTagsOfResourceInputTypeDef,
        TagResourceInputTypeDef,
        UntagResourceInputTypeDef,
        UpdateTimeToLiveInputTypeDef,
    )

Out = dict[str, Any]
TAGS_PAGE = 10  # ListTagsOfResource answers 10 tags a page, then a NextToken
MAX_TAGS = 50  # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Tagging.html
# The account's default quotas. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
LIMITS = {"AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
          "TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000}


def _expiry_of(table: Table) -> Callable[[str], float | None]:
    """A stored item's expiry under the table's TTL (run by the store's writer, inside the setting's commit)."""
    def expiry_of(text: str) -> float | None:
        return expiry(table, load_item(text))

    return expiry_of


class SettingsOperations:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def _save(self, table: Table) -> None:
        catalog = self.backend.catalog
        await catalog.store.update_table(table.id, table.to_spec())
        catalog.tables[(table.region, table.name)] = table

    # -- TTL -------------------------------------------------------------------------------------------
    async def UpdateTimeToLive(self, ctx: RequestContext, params: UpdateTimeToLiveInputTypeDef) -> Out:
        spec = params["TimeToLiveSpecification"]
        catalog = self.backend.catalog
        async with catalog.mutex:
            table = copy.deepcopy(catalog.find(ctx.region, params["TableName"], control=True))
            errors.refuse_while_creating(table)
            enabled = bool(spec["Enabled"])
            if enabled and table.ttl_enabled:
                raise errors.validation("TimeToLive is already enabled")
            if not enabled and not table.ttl_enabled:
                raise errors.validation("TimeToLive is already disabled")
            if not enabled and spec["AttributeName"] != table.ttl_attribute:
                raise errors.validation("TimeToLive is active on a different AttributeName: current "
                                        f"AttributeName is {table.ttl_attribute}")
            table.ttl_enabled, table.ttl_attribute = enabled, spec["AttributeName"]
            # Each item's expiry under the new setting, stored with it (the sweeper finds expired items by it),
            # computed inside the setting's commit; the table's writes wait for it (Catalog.commit).
            with catalog.changing_table(table.id):
                await catalog.store.set_expiries(table.id, table.to_spec(), _expiry_of(table) if enabled else None)
                catalog.tables[(table.region, table.name)] = table
        return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": spec["AttributeName"]}}

    async def DescribeTimeToLive(self, ctx: RequestContext, params: DescribeTimeToLiveInputTypeDef) -> Out:
        table = self.backend.catalog.find(ctx.region, params["TableName"], control=True)
        if not table.ttl_enabled:
            return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        return {"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": table.ttl_attribute}}

    # -- tags ------------------------------------------------------------------------------------------
    def _by_arn(self, ctx: RequestContext, arn: str) -> Table:
        prefix = f"arn:aws:dynamodb:{ctx.region}:{self.backend.account}:table/"
        name = arn[len(prefix):] if arn.startswith(prefix) else ""
        table = self.backend.catalog.tables.get((ctx.region, name)) if name and "/" not in name else None
        # A table being created (ImportTable) has no tags to read or change yet: DynamoDB answers as for a
        # table that does not exist ("its status might not be ACTIVE").
        # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TagResource.html#API_TagResource_Errors
        if table is None or table.status == "CREATING":
            raise errors.not_found(f"Requested resource not found: ResourcArn: {arn} not found")
        return table

    async def TagResource(self, ctx: RequestContext, params: TagResourceInputTypeDef) -> Out:
        catalog = self.backend.catalog
        async with catalog.mutex:
            table = copy.deepcopy(self._by_arn(ctx, params["ResourceArn"]))
            table.tags.update({t["Key"]: t["Value"] for t in params["Tags"]})
            if len(table.tags) > MAX_TAGS:
                raise errors.limit_exceeded("The number of tags exceeds the limit for this resource.")
            await self._save(table)
        return {}

    async def UntagResource(self, ctx: RequestContext, params: UntagResourceInputTypeDef) -> Out:
        catalog = self.backend.catalog
        async with catalog.mutex:
            table = copy.deepcopy(self._by_arn(ctx, params["ResourceArn"]))
            for key in params["TagKeys"]:
                table.tags.pop(key, None)
            await self._save(table)
        return {}

    async def ListTagsOfResource(self, ctx: RequestContext, params: ListTagsOfResourceInputTypeDef) -> Out:
        table = self._by_arn(ctx, params["ResourceArn"])
        tags = [{"Key": k, "Value": v} for k, v in table.tags.items()]
        start = int(params["NextToken"]) if (params.get("NextToken") or "").isdigit() else 0
        out: Out = {"Tags": tags[start:start + TAGS_PAGE]}
        if start + TAGS_PAGE < len(tags):
            out["NextToken"] = str(start + TAGS_PAGE)
        return out

    # -- account and endpoints -------------------------------------------------------------------------
    async def DescribeLimits(self, ctx: RequestContext, params: Out) -> Out:
        return dict(LIMITS)

    async def DescribeEndpoints(self, ctx: RequestContext, params: Out) -> Out:
        return {"Endpoints": [{"Address": f"dynamodb.{ctx.region}.amazonaws.com", "CachePeriodInMinutes": 1440}]}

    async def DescribeContinuousBackups(self, ctx: RequestContext, params: DescribeContinuousBackupsInputTypeDef
                                        ) -> Out:
        name = params["TableName"]
        table = self.backend.catalog.tables.get((ctx.region, table_name(name)))
        if table is None:
            raise errors.table_not_found_by_backups(table_name(name))
        return {"ContinuousBackupsDescription": continuous_backups(table, self.backend.now())}
