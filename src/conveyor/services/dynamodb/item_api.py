"""PutItem, GetItem, UpdateItem and DeleteItem.

A write holds its item's lock from reading the committed item to the commit of its new state
(conveyor.services.dynamodb.catalog), so that its condition is judged against the state it replaces. Reads
are of committed state; a consistent and an eventually consistent read see the same (one copy).
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conveyor.services.dynamodb import answers, capacity, compiling, errors, mutations
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.keys import ItemKey, index_entries, key_of_item, key_of_request
from conveyor.services.dynamodb.tables import Table
from conveyor.services.dynamodb.values import Item, canonical_value, check_size, item_size, sized_item
from conveyor.wire import HttpResponse, RequestContext

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        DeleteItemInputTypeDef,
        GetItemInputTypeDef,
        PutItemInputTypeDef,
        UpdateItemInputTypeDef,
    )

Out = dict[str, Any]


def request_key(table: Table, key: Mapping[str, Any]) -> ItemKey:
    return key_of_request(table, {name: canonical_value(value) for name, value in key.items()})


def collection_metrics(table: Table, key: ItemKey, mode: str | None) -> Out | None:
    """ReturnItemCollectionMetrics SIZE: reported for tables with local secondary indexes only.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/LSI.html#LSI.ItemCollections"""
    if mode != "SIZE" or not table.lsis():
        return None
    return {"ItemCollectionKey": {table.hash.name: key.attributes[table.hash.name]}, "SizeEstimateRangeGB": [0.0, 1.0]}


def write_capacity(table: Table, mode: str | None, old: Item | None, new: Item | None) -> Out | None:
    if mode not in ("TOTAL", "INDEXES"):
        return None  # nothing to report: skip counting the images
    size = max(item_size(old) if old else 0, item_size(new) if new else 0)
    touched = [i.name for i in table.gsis() if any(n in (old or {}) or n in (new or {}) for n in i.key_names())]
    local = [i.name for i in table.lsis() if any(n in (old or {}) or n in (new or {}) for n in i.key_names())]
    return capacity.report(mode, table.name, capacity.write_units(size), touched, local=local)


def answer(attributes: Item | None, consumed: Out | None, metrics: Out | None) -> Out:
    out: Out = {}
    if attributes is not None:
        out["Attributes"] = attributes
    if consumed is not None:
        out["ConsumedCapacity"] = consumed
    if metrics is not None:
        out["ItemCollectionMetrics"] = metrics
    return out


class ItemOperations:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def PutItem(self, ctx: RequestContext, params: PutItemInputTypeDef) -> Out:
        mutations.check_return_values(params.get("ReturnValues"), ("NONE", "ALL_OLD"))
        compiled = compiling.for_write(params)  # a request's expressions are judged before its table
        table = self.backend.catalog.find(ctx.region, params["TableName"])
        item, size, plain = sized_item(params["Item"])  # type: ignore[arg-type]
        key = key_of_item(table, item)
        check_size(size)
        entries = index_entries(table, item)  # its index keys' types, checked before anything is read
        catalog = self.backend.catalog
        if catalog.locks.claimed(key.id):
            raise errors.transaction_conflict()
        consumed = params.get("ReturnConsumedCapacity")
        async with catalog.locks.hold([key.id]):
            old = None
            if mutations.needs_old(table, compiled, params.get("ReturnValues"), consumed):
                old = mutations.load(catalog.store, key)
                mutations.judge(compiled, old, params.get("ReturnValuesOnConditionCheckFailure"))
            await catalog.commit([table], [mutations.item_write(table, key, old, item, self.backend.now(), size=size,
                                                                  plain=plain, entries=entries)])
        return answer(mutations.returned(params.get("ReturnValues"), old, item),
                      write_capacity(table, consumed, old, item),
                      collection_metrics(table, key, params.get("ReturnItemCollectionMetrics")))

    async def GetItem(self, ctx: RequestContext, params: GetItemInputTypeDef) -> Out | HttpResponse:
        """The answer of a GetItem of a whole item, without its capacity, is the item as stored: the store
        keeps it as DynamoDB JSON writes it (answers.py), so it is sent as it is, never parsed and written
        again (two thirds of GetItem's own time). Anything else is answered by `get_item`."""
        compiled = compiling.for_read(params)
        if compiled.projection is None and params.get("ReturnConsumedCapacity") in (None, "NONE"):
            table = self.backend.catalog.find(ctx.region, params["TableName"])
            text = self.backend.store.get(*request_key(table, params["Key"]).id)
            if text is None:
                return answers.as_json(ctx, b"{}")
            if answers.verbatim(text):
                return answers.as_json(ctx, b'{"Item":%b}' % text.encode())
        return await self.get_item(ctx, params, compiled)

    async def get_item(self, ctx: RequestContext, params: GetItemInputTypeDef,
                       compiled: compiling.Compiled | None = None) -> Out:
        """GetItem's answer as a result for the codec (PartiQL's SELECT of one item reads it)."""
        if compiled is None:
            compiled = compiling.for_read(params)
        table = self.backend.catalog.find(ctx.region, params["TableName"])
        key = request_key(table, params["Key"])
        item = mutations.load(self.backend.store, key)
        out: Out = {}
        if item is not None:
            out["Item"] = compiled.projection.apply(item) if compiled.projection is not None else item
        mode = params.get("ReturnConsumedCapacity")
        if mode in ("TOTAL", "INDEXES"):  # the item is sized only when its capacity is reported
            units = capacity.read_units(item_size(item) if item else 0, bool(params.get("ConsistentRead")))
            out["ConsumedCapacity"] = capacity.report(mode, table.name, units)
        return out

    async def UpdateItem(self, ctx: RequestContext, params: UpdateItemInputTypeDef) -> Out:
        mutations.check_return_values(params.get("ReturnValues"), mutations.RETURN_VALUES)
        compiled = compiling.for_write(params, updating=True)
        table = self.backend.catalog.find(ctx.region, params["TableName"])
        key = request_key(table, params["Key"])
        catalog = self.backend.catalog
        if catalog.locks.claimed(key.id):
            raise errors.transaction_conflict()
        async with catalog.locks.hold([key.id]):
            old = mutations.load(catalog.store, key)
            mutations.judge(compiled, old, params.get("ReturnValuesOnConditionCheckFailure"))
            new = mutations.updated(table, key, old, compiled)
            await catalog.commit([table], [mutations.item_write(table, key, old, new, self.backend.now())])
        return answer(mutations.returned(params.get("ReturnValues"), old, new, compiled.update),
                      write_capacity(table, params.get("ReturnConsumedCapacity"), old, new),
                      collection_metrics(table, key, params.get("ReturnItemCollectionMetrics")))

    async def DeleteItem(self, ctx: RequestContext, params: DeleteItemInputTypeDef) -> Out:
        mutations.check_return_values(params.get("ReturnValues"), ("NONE", "ALL_OLD"))
        compiled = compiling.for_write(params)  # a request's expressions are judged before its table
        table = self.backend.catalog.find(ctx.region, params["TableName"])
        key = request_key(table, params["Key"])
        catalog = self.backend.catalog
        if catalog.locks.claimed(key.id):
            raise errors.transaction_conflict()
        async with catalog.locks.hold([key.id]):
            old = mutations.load(catalog.store, key)
            mutations.judge(compiled, old, params.get("ReturnValuesOnConditionCheckFailure"))
            if old is not None:
                await catalog.commit([table], [mutations.item_write(table, key, old, None, self.backend.now())])
        return answer(mutations.returned(params.get("ReturnValues"), old, None),
                      write_capacity(table, params.get("ReturnConsumedCapacity"), old, None),
                      collection_metrics(table, key, params.get("ReturnItemCollectionMetrics")))
