"""A table's resource-based policy: PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy.

Each change gets a new revision id (increasing, compared as strings); putting the policy a table already
has changes nothing. ExpectedRevisionId guards a change against a concurrent one ("NO_POLICY": only if
the table has none). https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutResourcePolicy.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/access-control-resource-based.html
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from conveyor.services.dynamodb import errors
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.tables import Table
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        DeleteResourcePolicyInputTypeDef,
        GetResourcePolicyInputTypeDef,
        PutResourcePolicyInputTypeDef,
    )

Out = dict[str, Any]
PREFIX = "Resource-based policy not found for the provided ResourceArn: "


def _not_found(message: str) -> ServiceError:
    return ServiceError("PolicyNotFoundException", PREFIX + message)


def _check_revision(table: Table, expected: str | None) -> None:
    if expected is None:
        return
    if expected == "NO_POLICY":
        if table.policy:
            raise _not_found(f"Requested policy update expecting none to be present for table {table.name}, but a "
                             f"policy exists with revision id {table.policy_revision}.")
        return
    if expected != table.policy_revision:
        current = (f"the policy associated to target table {table.name} has revision id {table.policy_revision}"
                   if table.policy else f"there is no policy associated to target table {table.name}")
        raise _not_found(f"Requested update for policy with revision id {expected}, but {current}.")


class PolicyOperations:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def _table(self, ctx: RequestContext, arn: str) -> Table:
        name = arn.split(":table/", 1)[1].split("/", 1)[0] if ":table/" in arn else arn
        table = self.backend.catalog.tables.get((ctx.region, name))
        if table is None:
            raise errors.table_not_found(name)
        return table

    def _revision(self, table: Table) -> str:
        now = str(int(self.backend.now() * 1_000_000))
        previous = table.policy_revision
        if previous and (len(now), now) <= (len(previous), previous):
            now = str(int(previous) + 1)
        return now

    async def _save(self, table: Table) -> None:
        catalog = self.backend.catalog
        await catalog.store.update_table(table.id, table.to_spec())
        catalog.tables[(table.region, table.name)] = table

    async def PutResourcePolicy(self, ctx: RequestContext, params: PutResourcePolicyInputTypeDef) -> Out:
        async with self.backend.catalog.mutex:
            table = copy.deepcopy(self._table(ctx, params["ResourceArn"]))
            _check_revision(table, params.get("ExpectedRevisionId"))
            if table.policy == params["Policy"]:
                return {"RevisionId": table.policy_revision}
            table.policy, table.policy_revision = params["Policy"], self._revision(table)
            await self._save(table)
        return {"RevisionId": table.policy_revision}

    async def GetResourcePolicy(self, ctx: RequestContext, params: GetResourcePolicyInputTypeDef) -> Out:
        table = self._table(ctx, params["ResourceArn"])
        if not table.policy:
            raise _not_found(params["ResourceArn"])
        return {"Policy": table.policy, "RevisionId": table.policy_revision}

    async def DeleteResourcePolicy(self, ctx: RequestContext, params: DeleteResourcePolicyInputTypeDef) -> Out:
        async with self.backend.catalog.mutex:
            table = copy.deepcopy(self._table(ctx, params["ResourceArn"]))
            if not table.policy:
                raise _not_found(params["ResourceArn"])
            _check_revision(table, params.get("ExpectedRevisionId"))
            revision = table.policy_revision
            table.policy = ""
            await self._save(table)
        return {"RevisionId": revision}
