"""The control plane: CreateTable, DescribeTable, UpdateTable, DeleteTable, ListTables.

Tables are ACTIVE at once (AWS spends seconds in CREATING: clients that wait for ACTIVE see it at their
first DescribeTable), and so are new global secondary indexes, whose entries are written with the change
(the backfill reads the items inside that commit; conveyor.services.dynamodb.catalog keeps concurrent
writes in step with it).
ItemCount and TableSizeBytes are exact at every DescribeTable (AWS refreshes them about every six hours).
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.services.dynamodb import errors, table_rules, throughput, update_rules
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.backup_api import system_backup
from conveyor.services.dynamodb.catalog import storage_rules, table_name
from conveyor.services.dynamodb.keys import index_entries
from conveyor.services.dynamodb.store import IndexEntry, TableRow
from conveyor.services.dynamodb.stored import load_item
from conveyor.services.dynamodb.tables import Index, KeyAttr, Table, sse_description
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        CreateTableInputTypeDef,
        DeleteTableInputTypeDef,
        DescribeTableInputTypeDef,
        ListTablesInputTypeDef,
        UpdateTableInputTypeDef,
    )

Out = dict[str, Any]
LIST_LIMIT = 100  # ListTables answers at most 100 names a page


def stream_label(now: float) -> str:
    """A stream's label: the time it was enabled, as AWS writes it (2024-01-01T00:00:00.000)."""
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _backfill(table: Table, added: list[str]) -> Callable[[str], list[IndexEntry]]:
    """A stored item's entries in the new indexes (run by the store's writer, inside the change's commit)."""
    probe = copy.copy(table)
    probe.indexes = [i for i in table.indexes if i.name in added]

    def entries_of(text: str) -> list[IndexEntry]:
        try:
            return index_entries(probe, load_item(text))
        except Exception:  # an item whose attribute has another type stays out of the index
            return []

    return entries_of


class ControlOperations:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def describe(self, table: Table) -> Out:
        store = self.backend.store
        count, size = store.counts(table.id)
        index_counts = store.index_counts(table.id) if table.indexes else {}
        return table.describe(self.backend.account, count, size, index_counts)

    async def CreateTable(self, ctx: RequestContext, params: CreateTableInputTypeDef) -> Out:
        name = params["TableName"]
        table_rules.check_table_name(name)
        defs = table_rules.definitions(params)
        hash_key, range_key = table_rules.key_schema(params["KeySchema"], defs)
        mode, read, write = table_rules.billing(params)
        found = table_rules.indexes(params, defs, mode, hash_key, range_key)
        table_rules.used_definitions(defs, hash_key, range_key, found)
        warm = throughput.requested(params.get("WarmThroughput"), throughput.base(mode, read, write), mode, "table")
        on_demand = throughput.on_demand(params.get("OnDemandThroughput"), None, mode, "table")
        enabled, view = table_rules.stream_spec(params.get("StreamSpecification"))
        now = self.backend.now()
        catalog = self.backend.catalog
        async with catalog.mutex:
            if (ctx.region, name) in catalog.tables:
                raise errors.table_exists(name)
            table = Table(catalog.next_id(), ctx.region, name, now, hash_key, range_key,
                          [KeyAttr(n, t) for n, t in defs.items()], mode, read, write, found,
                          stream_enabled=enabled, stream_view_type=view, stream_label=stream_label(now) if enabled else "",
                          sse=sse_description(dict(params.get("SSESpecification") or {}), ctx.region,
                                              self.backend.account),
                          deletion_protection=bool(params.get("DeletionProtectionEnabled")),
                          table_class=params.get("TableClass") or "STANDARD",
                          tags={t["Key"]: t["Value"] for t in params.get("Tags") or []},
                          warm_read=warm[0], warm_write=warm[1], on_demand=on_demand)
            await catalog.store.create_table(TableRow(table.id, table.region, table.name, table.created,
                                                      table.to_spec()))
            catalog.tables[(ctx.region, name)] = table
        return {"TableDescription": table.describe(self.backend.account, 0, 0)}

    async def DescribeTable(self, ctx: RequestContext, params: DescribeTableInputTypeDef) -> Out:
        table = self.backend.catalog.find(ctx.region, params["TableName"], control=True)
        return {"Table": self.describe(table)}

    async def DeleteTable(self, ctx: RequestContext, params: DeleteTableInputTypeDef) -> Out:
        catalog = self.backend.catalog
        async with catalog.mutex:
            table = catalog.find(ctx.region, params["TableName"], control=True)
            errors.refuse_while_creating(table)
            if table.deletion_protection:
                # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithTables.Basics.html#WorkingWithTables.Basics.DeletionProtection
                raise errors.validation("Resource cannot be deleted as it is currently protected against deletion. "
                                        "Disable deletion protection first.")
            description = self.describe(table)
            # The table's writes asked meanwhile wait, then find it gone (Catalog.commit).
            with catalog.changing_table(table.id):
                kept = await catalog.store.delete_table(table.id, system_backup(table, self.backend.account,
                                                                                self.backend.now()))
                if kept is not None:  # point-in-time recovery keeps a backup of a deleted table
                    catalog.backups[kept.arn] = kept
                catalog.tables.pop((table.region, table.name), None)
        description["TableStatus"] = "DELETING"
        return {"TableDescription": description}

    async def ListTables(self, ctx: RequestContext, params: ListTablesInputTypeDef) -> Out:
        limit = params.get("Limit") or LIST_LIMIT
        start = params.get("ExclusiveStartTableName")
        # Another account's caller lists its own account's tables: none here.
        foreign = ctx.principal is not None and ctx.principal.account_id != ctx.account_id
        names = [] if foreign else [t.name for t in self.backend.catalog.in_region(ctx.region)]
        if start is not None:
            names = [n for n in names if n > table_name(start)]
        out: Out = {"TableNames": names[:limit]}
        if len(names) > limit:
            out["LastEvaluatedTableName"] = names[limit - 1]
        return out

    async def UpdateTable(self, ctx: RequestContext, params: UpdateTableInputTypeDef) -> Out:
        catalog = self.backend.catalog
        async with catalog.mutex:
            table = catalog.find(ctx.region, params["TableName"], control=True)
            errors.refuse_while_creating(table)
            changed = copy.deepcopy(table)
            dropped, added = self._update(changed, params)
            # Writes of the table wait from here until a change to what it stores beside its items (an
            # index, its stream) is stored (Catalog.commit), then write the new index's entries and stream
            # records themselves; the backfill runs inside the commit, after every write before.
            changes_storage = storage_rules(changed) != storage_rules(table)
            with catalog.changing_table(table.id) if changes_storage else contextlib.nullcontext():
                await catalog.store.update_table(table.id, changed.to_spec(), dropped, added,
                                                 _backfill(changed, added) if added else None)
                catalog.tables[(table.region, table.name)] = changed
        description = self.describe(changed)
        return {"TableDescription": description}

    def _update(self, table: Table, params: UpdateTableInputTypeDef) -> tuple[list[str], list[str]]:
        """Apply UpdateTable's changes to a copy of the table: (indexes dropped, indexes created)."""
        update_rules.check(params)
        self._hold_warm_throughput(table)
        if params.get("BillingMode") or params.get("ProvisionedThroughput"):
            mode = params.get("BillingMode") or table.billing_mode
            if mode == "PAY_PER_REQUEST" and table.billing_mode != mode:
                table.pay_per_request_since = self.backend.now()
            elif mode != table.billing_mode:  # leaving on-demand: the summary still says since when it was
                table.pay_per_request_since = table.pay_per_request_since or table.created
            raw: Out = {"BillingMode": mode}
            if params.get("ProvisionedThroughput"):
                raw["ProvisionedThroughput"] = params["ProvisionedThroughput"]
            elif mode == "PROVISIONED" and table.billing_mode == "PROVISIONED":
                raw["ProvisionedThroughput"] = {"ReadCapacityUnits": table.read_units,
                                                "WriteCapacityUnits": table.write_units}
            elif mode == "PROVISIONED":
                raise errors.invalid("ProvisionedThroughput must be specified when BillingMode is PROVISIONED")
            was = (table.billing_mode, table.read_units, table.write_units)
            table.billing_mode, table.read_units, table.write_units = table_rules.billing(raw)
            if params.get("ProvisionedThroughput") and was == (table.billing_mode, table.read_units,
                                                                 table.write_units):
                raise update_rules.unchanged("the table", was[1], was[2])
        table.warm_read, table.warm_write = throughput.raised(params.get("WarmThroughput"), table.warm(), "table")
        table.on_demand = throughput.on_demand(params.get("OnDemandThroughput"), table.on_demand, table.billing_mode,
                                               "table", updating=True)
        if params.get("DeletionProtectionEnabled") is not None:
            table.deletion_protection = bool(params["DeletionProtectionEnabled"])
        if params.get("TableClass") and params["TableClass"] != table.table_class:
            table.table_class, table.class_updated = params["TableClass"], self.backend.now()
        if params.get("SSESpecification"):
            table.sse = sse_description(dict(params["SSESpecification"]), table.region, self.backend.account)
        if params.get("StreamSpecification") is not None:
            self._update_stream(table, dict(params["StreamSpecification"]))
        defs = {a.name: a.type for a in table.attributes}
        for item in params.get("AttributeDefinitions") or []:
            defs[item["AttributeName"]] = item["AttributeType"]
        dropped: list[str] = []
        added: list[str] = []
        updates = params.get("GlobalSecondaryIndexUpdates") or []
        if sum(1 for u in updates if "Create" in u or "Delete" in u) > 1:
            # One index is created or deleted at a time; here each is done at once, but one request still
            # names only one. https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html
            raise errors.limit_exceeded("Subscriber limit exceeded: Only 1 online index can be created or deleted "
                                        "simultaneously per table")
        for update in updates:
            if "Create" in update:
                raw_index: Out = dict(update["Create"])
                name = str(raw_index["IndexName"])
                if table.index(name) is not None:
                    raise errors.validation("Attempting to create an index which already exists")
                new = table_rules.index(raw_index, defs, is_global=True, mode=table.billing_mode,
                                        table_hash=table.hash, creating_table=False)
                if len(table.gsis()) >= table_rules.MAX_GSIS:
                    raise errors.limit_exceeded(f"GlobalSecondaryIndex count exceeds the per-table limit of "
                                                f"{table_rules.MAX_GSIS}")
                table.indexes.append(new)
                added.append(name)
            elif "Delete" in update:
                name = update["Delete"]["IndexName"]
                found = table.index(name)
                if found is None or not found.is_global:
                    raise errors.not_found(f"Requested resource not found: Index: {name} not found")
                table.indexes.remove(found)
                dropped.append(name)
            elif "Update" in update:
                name = update["Update"]["IndexName"]
                found = table.index(name)
                if found is None or not found.is_global:
                    raise errors.not_found(f"Requested resource not found: Index: {name} not found")
                self._update_index(table, found, update["Update"])
        used = set(table.key_names()) | {n for i in table.indexes for n in i.key_names()}
        table.attributes = [KeyAttr(n, t) for n, t in defs.items() if n in used]
        return dropped, added

    @staticmethod
    def _hold_warm_throughput(table: Table) -> None:
        """Warm throughput never falls: what the table and its indexes have now stays when their capacity
        goes down. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput.html"""
        table.warm_read, table.warm_write = table.warm()
        for index in table.gsis():
            index.warm_read, index.warm_write = table.index_warm(index)

    @staticmethod
    def _update_index(table: Table, index: Index, update: Any) -> None:
        """An index's Update: its provisioned throughput (a provisioned table's only), warm throughput and
        on-demand maximum."""
        units = update.get("ProvisionedThroughput")
        if units and table.billing_mode == "PAY_PER_REQUEST":
            raise errors.invalid(f"The only Updates for index: {index.name} when TableThroughputMode is "
                                 "PAY_PER_REQUEST can be to OnDemandThroughput, WarmThroughput")
        if units:
            if (index.read_units, index.write_units) == (int(units["ReadCapacityUnits"]),
                                                         int(units["WriteCapacityUnits"])):
                raise update_rules.unchanged(f"the index {index.name}", index.read_units, index.write_units)
            index.read_units = int(units["ReadCapacityUnits"])
            index.write_units = int(units["WriteCapacityUnits"])
        index.warm_read, index.warm_write = throughput.raised(update.get("WarmThroughput"), table.index_warm(index),
                                                              f"index {index.name}")
        index.on_demand = throughput.on_demand(update.get("OnDemandThroughput"), index.on_demand, table.billing_mode,
                                               f"index : {index.name}", updating=True)

    def _update_stream(self, table: Table, spec: Out) -> None:
        """https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html#Streams.Enabling"""
        enabled, view = table_rules.stream_spec(spec)
        # (the words of DynamoDB's answers, as a catalogue of them records)
        if enabled and table.stream_enabled:
            raise errors.validation(f"Table already has an enabled stream: TableName: {table.name}")
        if not enabled and not table.stream_enabled:
            raise errors.validation(f"Table has no stream to disable: TableName: {table.name}")
        table.stream_enabled, table.stream_view_type = enabled, view
        if enabled:
            table.stream_label = stream_label(self.backend.now())

