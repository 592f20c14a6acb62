"""Query and Scan, on tables and on their secondary indexes.

A page ends at `Limit` items evaluated (before the filter), at 1 MB of items read, or at the end; when it
ends early, LastEvaluatedKey names its last item: the table's keys, and on an index the index's keys too,
so that the next page starts right after it (ExclusiveStartKey). Items of one index partition come in
index sort key order, then the table's key order. Scan's Segment/TotalSegments split the partition key
hashes into disjoint ranges that together cover the table.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.ParallelScan
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from conveyor.services.dynamodb import answers, capacity, compiling, composite_keys, errors
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.compiling import Compiled
from conveyor.services.dynamodb.expressions import RangeCondition
from conveyor.services.dynamodb.keys import index_key_attributes, segment_range
from conveyor.services.dynamodb.store import Bound, PageRow
from conveyor.services.dynamodb.stored import load_item, wire_item
from conveyor.services.dynamodb.tables import Index, KeyAttr, Table
from conveyor.services.dynamodb.values import (
    AttributeValue,
    Item,
    canonical_value,
    key_bytes,
    kind_of,
)
from conveyor.wire import HttpResponse, RequestContext

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, ScanInputTypeDef

Out = dict[str, Any]
PAGE_BYTES = 1024 * 1024


def range_bounds(condition: RangeCondition | None) -> tuple[Bound | None, Bound | None]:
    if condition is None:
        return None, None
    encoded = [key_bytes(v) for v in condition.values]
    op = condition.op
    if op == "=":
        return Bound(encoded[0], True), Bound(encoded[0], True)
    if op == "<":
        return None, Bound(encoded[0], False)
    if op == "<=":
        return None, Bound(encoded[0], True)
    if op == ">":
        return Bound(encoded[0], False), None
    if op == ">=":
        return Bound(encoded[0], True), None
    if op == "BETWEEN":
        return Bound(encoded[0], True), Bound(encoded[1], True)
    high = composite_keys.successor(encoded[0])  # begins_with
    return Bound(encoded[0], True), Bound(high, False) if high is not None else None


def _check_type(attr: KeyAttr, value: AttributeValue, *, may_be_empty: bool = False) -> None:
    """A key condition's value has the key's type and, but for begins_with's prefix, is not empty: a
    key attribute's value never is.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html"""
    if kind_of(value) != attr.type:
        raise errors.invalid("Condition parameter type does not match schema type")
    if attr.type in ("S", "B") and not value[attr.type] and not may_be_empty:
        raise errors.validation("One or more parameter values are not valid. The AttributeValue for a key attribute "
                                f"cannot contain an empty {'string' if attr.type == 'S' else 'binary'} value. "
                                f"Key: {attr.name}")


class Reading:
    """What one Query or Scan reads: its table, index, compiled expressions and Select."""

    def __init__(self, backend: Backend, ctx: RequestContext, params: Any, *, scanning: bool) -> None:
        self.table: Table = backend.catalog.find(ctx.region, params["TableName"])
        self.index: Index | None = None
        if params.get("IndexName"):
            self.index = self.table.index(params["IndexName"])
            if self.index is None:
                raise errors.validation(f"The table does not have the specified index: {params['IndexName']}")
            if self.index.is_global and params.get("ConsistentRead"):
                raise errors.validation("Consistent reads are not supported on global secondary indexes")
        keys = self.index if self.index is not None else self.table
        if not scanning and params.get("KeyConditionExpression") is None and params.get("KeyConditions") is None:
            raise errors.validation("Either the KeyConditions or KeyConditionExpression parameter must be specified "
                                    "in the request.")
        self.hashes, self.ranges = keys.hash_attrs(), keys.range_attrs()
        key_types = {attr.name: attr.type for attr in self.hashes + self.ranges}
        self.compiled: Compiled = compiling.for_query(params, [a.name for a in self.hashes],
                                                      [a.name for a in self.ranges], scanning=scanning,
                                                      key_types=key_types)
        self.select = self._select(params)
        self.limit: int | None = params.get("Limit")

    def _select(self, params: Any) -> str:
        select = params.get("Select")
        projection = params.get("ProjectionExpression") is not None or params.get("AttributesToGet") is not None
        if select is None:
            if projection:
                return "SPECIFIC_ATTRIBUTES"
            return "ALL_PROJECTED_ATTRIBUTES" if self.index is not None else "ALL_ATTRIBUTES"
        if select == "SPECIFIC_ATTRIBUTES" and not projection:
            raise errors.validation("Must specify the AttributesToGet or ProjectionExpression when choosing to get "
                                    "SPECIFIC_ATTRIBUTES")
        if select != "SPECIFIC_ATTRIBUTES" and projection:
            what = "ProjectionExpression" if params.get("ProjectionExpression") is not None else "AttributesToGet"
            raise errors.validation(f"Cannot specify the {what} when choosing to get {select}")
        if select == "ALL_PROJECTED_ATTRIBUTES" and self.index is None:
            raise errors.validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
        if select == "ALL_ATTRIBUTES" and self.index is not None and self.index.is_global and \
                self.index.projection_type != "ALL":
            raise errors.invalid(f"Select type ALL_ATTRIBUTES is not supported for global secondary index "
                                 f"{self.index.name} because its projection type is not ALL")
        return str(select)

    def projected(self, item: Item) -> Item:
        """The item as the index holds it (its projection), then as the request asks for it."""
        if self.index is not None and self.index.projection_type != "ALL" and self.select != "ALL_ATTRIBUTES":
            keep = set(self.table.key_names()) | set(self.index.key_names()) | set(self.index.non_key_attributes)
            item = {k: v for k, v in item.items() if k in keep}
        if self.compiled.projection is not None:
            item = self.compiled.projection.apply(item)
        return item

    def start_key(self, params: Any) -> Item | None:
        """ExclusiveStartKey, checked to name the table's keys (and the index's, on an index)."""
        raw = params.get("ExclusiveStartKey")
        if raw is None:
            return None
        start = {k: canonical_value(v) for k, v in raw.items()}
        names = set(self.table.key_names()) | (set(self.index.key_names()) if self.index else set())
        attrs = {a.name: a for a in self._key_attrs()}
        if set(start) != names or any(kind_of(start[n]) != attrs[n].type for n in names):
            raise errors.validation("The provided starting key is invalid: The provided key element does not match "
                                    "the schema")
        return start

    def _key_attrs(self) -> list[KeyAttr]:
        attrs = self.table.hash_attrs() + self.table.range_attrs()
        if self.index is not None:
            attrs += self.index.hash_attrs() + self.index.range_attrs()
        return attrs

    def whole(self) -> bool:
        """Whether the page's items are answered whole, as stored: no filter judges them, no projection
        cuts them, and Select asks for their attributes."""
        return (self.compiled.filter is None and self.compiled.projection is None and self.select != "COUNT"
                and (self.index is None or self.index.projection_type == "ALL" or self.select == "ALL_ATTRIBUTES"))

    def page(self, rows: Iterator[PageRow], consistent: bool, mode: str | None, *, raw: bool = False) -> Out | bytes:
        """The page's answer. `raw`: it may be its JSON body, the items spliced in as stored
        (conveyor.services.dynamodb.answers), when they go whole and as the codec would write them. An item
        is decoded only when something reads it: the filter, the projection, the LastEvaluatedKey."""
        condition = self.compiled.filter
        texts: list[str] = []  # the items as stored, when no filter judges them
        items: list[Item] = []  # the items the filter keeps
        scanned = read_bytes = 0
        last_text: str | None = None
        for _, _, text, size in rows:
            scanned += 1
            read_bytes += size  # counted when the item was written
            if condition is None:
                texts.append(text)
            else:
                item = load_item(text)
                if condition.matches(item):
                    items.append(item)
            if (self.limit is not None and scanned >= self.limit) or read_bytes >= PAGE_BYTES:
                last_text = text
                break
        last_key: Item | None = None
        if last_text is not None:
            last = load_item(last_text)
            last_key = (index_key_attributes(self.table, self.index, last) if self.index
                        else {n: last[n] for n in self.table.key_names()})
        consumed = capacity.report(mode, self.table.name, capacity.read_units(read_bytes, consistent))
        if raw and self.whole():
            joined = ",".join(texts)
            if answers.verbatim(joined):
                rest: Out = {}
                if last_key is not None:
                    rest["LastEvaluatedKey"] = wire_item(last_key)
                if consumed is not None:
                    rest["ConsumedCapacity"] = consumed
                return answers.page_body(len(texts), scanned, joined, rest)
        if condition is None:
            items = [load_item(text) for text in texts] if self.select != "COUNT" else []
            count = len(texts)
        else:
            count = len(items)
        out: Out = {"Count": count, "ScannedCount": scanned}
        if self.select != "COUNT":
            out["Items"] = [self.projected(i) for i in items]
        if last_key is not None:
            out["LastEvaluatedKey"] = last_key
        if consumed is not None:
            out["ConsumedCapacity"] = consumed
        return out


class ReadOperations:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def Query(self, ctx: RequestContext, params: QueryInputTypeDef) -> Out | HttpResponse:
        """Answered with its items as stored when they go whole (conveyor.services.dynamodb.answers)."""
        return _answer(ctx, self._query(ctx, params, raw=True))

    async def query(self, ctx: RequestContext, params: QueryInputTypeDef) -> Out:
        """Query's answer as a result for the codec (PartiQL's SELECT reads it)."""
        return _result(self._query(ctx, params, raw=False))

    async def Scan(self, ctx: RequestContext, params: ScanInputTypeDef) -> Out | HttpResponse:
        return _answer(ctx, self._scan(ctx, params, raw=True))

    async def scan(self, ctx: RequestContext, params: ScanInputTypeDef) -> Out:
        return _result(self._scan(ctx, params, raw=False))

    def _query(self, ctx: RequestContext, params: QueryInputTypeDef, *, raw: bool) -> Out | bytes:
        reading = Reading(self.backend, ctx, params, scanning=False)
        table, index, condition = reading.table, reading.index, reading.compiled.key_condition
        assert condition is not None
        hashes, ranges = reading.hashes, reading.ranges
        hash_values = [canonical_value(v) for v in condition.hash_values]
        for attr, value in zip(hashes, hash_values, strict=True):
            _check_type(attr, value)
        sort_prefix = [canonical_value(v) for v in condition.sort_prefix]
        for attr, value in zip(ranges, sort_prefix, strict=False):
            _check_type(attr, value)
        if condition.range is not None and ranges:
            attr = ranges[len(sort_prefix)]
            for value in condition.range.values:
                _check_type(attr, value, may_be_empty=condition.range.op == "begins_with")
            if condition.range.op == "begins_with" and attr.type == "N":
                raise errors.validation("Invalid KeyConditionExpression: Incorrect operand type for operator or "
                                        "function; operator or function: begins_with, operand type: N")
        if len(ranges) > 1:
            low, high = composite_keys.sort_bounds(sort_prefix, condition.range)
        else:
            low, high = range_bounds(condition.range)
        partition = composite_keys.encode(hash_values)
        start = reading.start_key(params)
        forward = params.get("ScanIndexForward", True)
        if start is not None and composite_keys.encode([start[a.name] for a in hashes]) != partition:
            raise errors.validation("The provided starting key is outside query boundaries based on provided "
                                    "conditions")
        store = self.backend.store
        rows: Iterator[PageRow]
        if index is None and start is not None and table.range is None:
            rows = iter(())  # a partition of one item, already returned
        elif index is None:
            after = key_bytes(start[table.range.name]) if start is not None and table.range else None
            rows = store.partition(table.id, partition, low, high, forward, after)
        else:
            index_after = None
            if start is not None:
                index_after = (composite_keys.encode([start[a.name] for a in ranges]),
                               key_bytes(start[table.hash.name]),
                               key_bytes(start[table.range.name]) if table.range else b"")
            rows = store.index_partition(table.id, index.name, partition, low, high, forward, index_after)
        return reading.page(rows, bool(params.get("ConsistentRead")), params.get("ReturnConsumedCapacity"), raw=raw)

    def _scan(self, ctx: RequestContext, params: ScanInputTypeDef, *, raw: bool) -> Out | bytes:
        segment, total = params.get("Segment"), params.get("TotalSegments")
        if (segment is None) != (total is None):
            raise errors.validation("The TotalSegments parameter is required but was not present in the request when "
                                    "Segment parameter is present" if total is None else
                                    "The Segment parameter is required but was not present in the request when "
                                    "parameter TotalSegments is present")
        if segment is not None and total is not None and segment >= total:
            raise errors.validation(f"The Segment parameter is zero-based and must be less than parameter "
                                    f"TotalSegments: Segment: {segment} is not less than TotalSegments: {total}")
        reading = Reading(self.backend, ctx, params, scanning=True)
        table, index = reading.table, reading.index
        segments = segment_range(segment, total) if segment is not None and total is not None else (0, 65535)
        start = reading.start_key(params)
        store = self.backend.store
        rows: Iterator[PageRow]
        table_keys: tuple[bytes, bytes] | None = None
        if start is not None:
            table_keys = (key_bytes(start[table.hash.name]), key_bytes(start[table.range.name]) if table.range else b"")
        if index is None:
            rows = store.scan(table.id, segments, table_keys)
        else:
            after = None
            if start is not None and table_keys is not None:
                after = (composite_keys.encode([start[a.name] for a in index.hash_attrs()]),
                         composite_keys.encode([start[a.name] for a in index.range_attrs()]), *table_keys)
            rows = store.index_scan(table.id, index.name, segments, after)
        return reading.page(rows, bool(params.get("ConsistentRead")), params.get("ReturnConsumedCapacity"),
                            raw=raw)


def _answer(ctx: RequestContext, page: Out | bytes) -> Out | HttpResponse:
    return answers.as_json(ctx, page) if isinstance(page, bytes) else page


def _result(page: Out | bytes) -> Out:
    assert isinstance(page, dict), "a page asked for as a result is one"
    return page
