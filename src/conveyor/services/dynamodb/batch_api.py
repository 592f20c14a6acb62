"""BatchGetItem and BatchWriteItem.

A batch reads up to 100 keys (16 MB of items; the keys past that come back as UnprocessedKeys) or writes
up to 25 items, across tables. Its writes commit together (AWS applies them one by one, with no
atomicity promised either way) and are never left unprocessed here: nothing throttles.
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.services.dynamodb import capacity, compiling, errors, mutations
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.item_api import request_key, write_capacity
from conveyor.services.dynamodb.keys import ItemKey, index_entries, key_of_item
from conveyor.services.dynamodb.stored import load_item
from conveyor.services.dynamodb.tables import Table
from conveyor.services.dynamodb.values import Item, check_size, item_size, sized_item
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import BatchGetItemInputTypeDef, BatchWriteItemInputTypeDef

Out = dict[str, Any]
MAX_GET_KEYS = 100
MAX_WRITES = 25
MAX_GET_BYTES = 16 * 1024 * 1024


def _no_duplicates(keys: list[ItemKey]) -> None:
    if len({k.id for k in keys}) != len(keys):
        raise errors.validation("Provided list of item keys contains duplicates")


def _key_of_put(table: Table, item: Item) -> ItemKey:
    """A PutRequest's key: a missing key attribute or one of another type is BatchWriteItem's "The
    provided key element does not match the schema", not PutItem's words (as dynalite records DynamoDB)."""
    try:
        return key_of_item(table, item)
    except ServiceError as error:
        if error.message.startswith((errors.INVALID_PREFIX + "Missing the key",
                                     errors.INVALID_PREFIX + "Type mismatch for key")):
            raise errors.validation("The provided key element does not match the schema") from None
        raise


class BatchOperations:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def BatchGetItem(self, ctx: RequestContext, params: BatchGetItemInputTypeDef) -> Out:
        catalog = self.backend.catalog
        requests = dict(params["RequestItems"])
        if sum(len(r["Keys"]) for r in requests.values()) > MAX_GET_KEYS:
            raise errors.validation("Too many items requested for the BatchGetItem call")
        planned: list[tuple[str, Table, Any, list[ItemKey]]] = []
        compiled = {name: compiling.for_read(request) for name, request in requests.items()}  # expressions first
        for name, request in requests.items():
            table = catalog.find(ctx.region, name)
            keys = [request_key(table, k) for k in request["Keys"]]
            _no_duplicates(keys)
            planned.append((name, table, compiled[name], keys))
        responses: dict[str, list[Item]] = {}
        unprocessed: dict[str, Out] = {}
        reports = []
        total = 0
        for (name, table, compiled, keys), request in zip(planned, requests.values(), strict=True):
            found = responses.setdefault(name, [])
            read = 0
            for position, key in enumerate(keys):
                text = catalog.store.get(*key.id)
                if text is None:
                    continue
                item = load_item(text)
                size = item_size(item)
                if total + size > MAX_GET_BYTES:  # this one and the rest: for the next call
                    rest = {k: v for k, v in request.items() if k != "Keys"}
                    unprocessed[name] = {**rest, "Keys": [k.attributes for k in keys[position:]]}
                    break
                total += size
                read += size
                found.append(compiled.projection.apply(item) if compiled.projection is not None else item)
            units = capacity.read_units(read, bool(request.get("ConsistentRead")))
            reports.append(capacity.report(params.get("ReturnConsumedCapacity"), table.name, units))
        out: Out = {"Responses": responses, "UnprocessedKeys": unprocessed}
        if params.get("ReturnConsumedCapacity") in ("TOTAL", "INDEXES"):
            out["ConsumedCapacity"] = capacity.merge(reports)
        return out

    async def BatchWriteItem(self, ctx: RequestContext, params: BatchWriteItemInputTypeDef) -> Out:
        catalog = self.backend.catalog
        requests = dict(params["RequestItems"])
        if sum(len(r) for r in requests.values()) > MAX_WRITES:
            raise errors.validation("Too many items requested for the BatchWriteItem call")
        planned: list[tuple[Table, ItemKey, Item | None]] = []
        sizes: list[tuple[int | None, bool]] = []  # each put's size, and whether it is plain (values.sized_item)
        asked: list[tuple[str, Any]] = []  # each write as the request put it, under its table's name
        for name, writes in requests.items():
            table = catalog.find(ctx.region, name)
            keys = []
            for write in writes:
                put, delete = write.get("PutRequest"), write.get("DeleteRequest")
                if (put is None) == (delete is None):
                    raise errors.validation("Supplied AttributeValue has more than one datatypes set, must contain "
                                            "exactly one of the supported datatypes" if put and delete else
                                            "Supplied AttributeValue is empty, must contain exactly one of the "
                                            "supported datatypes")
                if put is not None:
                    item, size, plain = sized_item(put["Item"])  # type: ignore[arg-type]
                    key = _key_of_put(table, item)
                    sizes.append((check_size(size), plain))
                    planned.append((table, key, item))
                else:
                    assert delete is not None
                    key = request_key(table, delete["Key"])
                    planned.append((table, key, None))
                    sizes.append((None, False))
                keys.append(key)
                asked.append((name, write))
            _no_duplicates(keys)
        # Each put's index entries: its index keys' types are checked before anything is written.
        entries = [index_entries(target, written) if written is not None else None for target, _, written in planned]
        mode = params.get("ReturnConsumedCapacity")
        # Each put and delete of a batch is a write of its own, and a write of an item that a transaction in
        # flight holds is refused (PutItem's TransactionConflictException): the batch, which has no such
        # error, hands the refused ones back in UnprocessedItems and writes the others.
        # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-isolation
        # and #transaction-conflict-handling; UnprocessedItems:
        # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
        unprocessed: dict[str, list[Any]] = {}
        if any(catalog.locks.claimed(key.id) for _, key, _ in planned):
            kept = []
            for plan, sized, entry, (name, write) in zip(planned, sizes, entries, asked, strict=True):
                if catalog.locks.claimed(plan[1].id):
                    unprocessed.setdefault(name, []).append(write)
                else:
                    kept.append((plan, sized, entry))
            planned, sizes, entries = [k[0] for k in kept], [k[1] for k in kept], [k[2] for k in kept]
        async with catalog.locks.hold([key.id for _, key, _ in planned]):
            # The items replaced are read only when something needs them (a stream, point-in-time history,
            # the capacity reported): a batch has no conditions and returns no old images.
            olds = [mutations.load(catalog.store, key)
                    if mode in ("TOTAL", "INDEXES") or mutations.keeps_images(table) else None
                    for table, key, _ in planned]
            now = self.backend.now()
            if planned:
                await catalog.commit([table for table, _, _ in planned],
                                     [mutations.item_write(table, key, old, item, now, size=size, plain=plain,
                                                           entries=entry)
                                      for (table, key, item), old, (size, plain), entry in zip(planned, olds, sizes,
                                                                                               entries, strict=True)])
        out: Out = {"UnprocessedItems": unprocessed}
        if mode in ("TOTAL", "INDEXES"):
            out["ConsumedCapacity"] = capacity.merge(write_capacity(table, mode, old, item)
                                                     for (table, _, item), old in zip(planned, olds, strict=True))
        if params.get("ReturnItemCollectionMetrics") == "SIZE":
            metrics: dict[str, list[Out]] = {}
            for table, key, _ in planned:
                if table.lsis():
                    metrics.setdefault(table.name, []).append({
                        "ItemCollectionKey": {table.hash.name: key.attributes[table.hash.name]},
                        "SizeEstimateRangeGB": [0.0, 1.0]})
            out["ItemCollectionMetrics"] = metrics
        return out
