"""On-demand backups and point-in-time recovery: CreateBackup, DescribeBackup, ListBackups, DeleteBackup,
RestoreTableFromBackup, UpdateContinuousBackups, RestoreTableToPointInTime.

A backup copies the table's settings, items and index entries in one commit; a restore makes a new table
from them in one commit. As AWS does, a restored table has no stream, TTL, tags or policy of its source
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Restore.Tutorial.html). A point-in-time
restore makes the table as it was at RestoreDateTime, from the history point-in-time recovery keeps
(conveyor.services.dynamodb.pitr). https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateBackup.html,
API_RestoreTableToPointInTime.html, API_UpdateContinuousBackups.html
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

from conveyor.services.dynamodb import errors, pitr, table_rules
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.catalog import storage_rules, table_name
from conveyor.services.dynamodb.history_store import RestoredItem
from conveyor.services.dynamodb.keys import index_entries, segment
from conveyor.services.dynamodb.store import BackupRow
from conveyor.services.dynamodb.stored import load_item
from conveyor.services.dynamodb.tables import Table, sse_description
from conveyor.services.dynamodb.values import item_size
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        CreateBackupInputTypeDef,
        DeleteBackupInputTypeDef,
        DescribeBackupInputTypeDef,
        ListBackupsInputTypeDef,
        RestoreTableFromBackupInputTypeDef,
        RestoreTableToPointInTimeInputTypeDef,
        UpdateContinuousBackupsInputTypeDef,
    )

Out = dict[str, Any]
SYSTEM_BACKUP_DAYS = 35


def _when(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _seconds(value: Any) -> float:
    """A timestamp member as the codec gives it (a datetime), in epoch seconds."""
    return float(value.timestamp()) if isinstance(value, dt.datetime) else float(value)


def _backup_not_found(arn: str) -> ServiceError:
    return ServiceError("BackupNotFoundException", f"Backup not found: {arn}")


def _table_already_exists(name: str) -> ServiceError:
    return ServiceError("TableAlreadyExistsException", f"Table already exists: {name}")


class BackupOperations:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def _table(self, ctx: RequestContext, name: str) -> Table:
        table = self.backend.catalog.tables.get((ctx.region, table_name(name)))
        if table is None:
            raise errors.table_not_found_by_backups(table_name(name))
        return table

    def _details(self, backup: BackupRow, status: str = "AVAILABLE") -> Out:
        out = {"BackupArn": backup.arn, "BackupName": backup.name, "BackupSizeBytes": backup.size,
               "BackupStatus": status, "BackupType": backup.kind, "BackupCreationDateTime": _when(backup.created)}
        if backup.kind == "SYSTEM":
            out["BackupExpiryDateTime"] = _when(backup.created + SYSTEM_BACKUP_DAYS * pitr.DAY)
        return out

    def _description(self, backup: BackupRow, status: str = "AVAILABLE") -> Out:
        source = Table.from_row(0, backup.region, backup.table_name, backup.table_created, backup.spec)
        account = self.backend.account
        return {"BackupDetails": self._details(backup, status), "SourceTableDetails": {
            "TableName": source.name, "TableArn": source.arn(account),
            "TableId": source.describe(account, 0, 0)["TableId"], "TableSizeBytes": backup.size,
            "KeySchema": source.key_schema(), "TableCreationDateTime": _when(source.created),
            "ProvisionedThroughput": {"ReadCapacityUnits": source.read_units, "WriteCapacityUnits": source.write_units},
            "ItemCount": backup.item_count, "BillingMode": source.billing_mode}}

    async def CreateBackup(self, ctx: RequestContext, params: CreateBackupInputTypeDef) -> Out:
        table = self._table(ctx, params["TableName"])
        if table.status == "CREATING":  # (as UpdateContinuousBackups: its backups are not on yet)
            raise errors.backups_being_enabled(table.name)
        now = self.backend.now()
        catalog = self.backend.catalog
        row = BackupRow(backup_arn(table, self.backend.account, now, params["BackupName"]), table.region,
                        params["BackupName"], now, table.name, table.created, table.to_spec())
        async with catalog.mutex:
            row = await catalog.store.create_backup(row, table.id)
            catalog.backups[row.arn] = row
        return {"BackupDetails": self._details(row)}

    def _backup(self, arn: str) -> BackupRow:
        backup = self.backend.catalog.backups.get(arn)
        if backup is None:
            raise _backup_not_found(arn)
        return backup

    async def DescribeBackup(self, ctx: RequestContext, params: DescribeBackupInputTypeDef) -> Out:
        return {"BackupDescription": self._description(self._backup(params["BackupArn"]))}

    async def DeleteBackup(self, ctx: RequestContext, params: DeleteBackupInputTypeDef) -> Out:
        catalog = self.backend.catalog
        async with catalog.mutex:
            backup = self._backup(params["BackupArn"])
            await catalog.store.delete_backup(backup.arn)
            catalog.backups.pop(backup.arn, None)
        return {"BackupDescription": self._description(backup, "DELETED")}

    async def ListBackups(self, ctx: RequestContext, params: ListBackupsInputTypeDef) -> Out:
        kind = params.get("BackupType") or "USER"
        backups = sorted((b for b in self.backend.catalog.backups.values() if b.region == ctx.region
                          and kind in (b.kind, "ALL")), key=lambda b: (b.created, b.arn))
        if params.get("TableName"):
            backups = [b for b in backups if b.table_name == table_name(params["TableName"])]
        low, high = params.get("TimeRangeLowerBound"), params.get("TimeRangeUpperBound")
        if low is not None:
            backups = [b for b in backups if b.created >= _seconds(low)]
        if high is not None:
            backups = [b for b in backups if b.created <= _seconds(high)]
        start = params.get("ExclusiveStartBackupArn")
        if start:
            arns = [b.arn for b in backups]
            backups = backups[arns.index(start) + 1:] if start in arns else backups
        limit = params.get("Limit") or 100
        summaries = []
        for b in backups[:limit]:
            details = self._description(b)["SourceTableDetails"]
            summaries.append({"TableName": b.table_name, "TableId": details["TableId"], "TableArn": details["TableArn"],
                              **self._details(b)})
        out: Out = {"BackupSummaries": summaries}
        if len(backups) > limit:
            out["LastEvaluatedBackupArn"] = backups[limit - 1].arn
        return out

    async def _restore(self, ctx: RequestContext, target: str, source: Table, restored_from: Out, *,
                       backup: str | None, params: Any, at: float | None = None) -> Out:
        catalog, now = self.backend.catalog, self.backend.now()
        async with catalog.mutex:
            if (ctx.region, target) in catalog.tables:
                raise _table_already_exists(target)
            table = self._restored_table(ctx, target, source, restored_from, params)
            rows = catalog.store.backup_items(backup) if backup is not None else \
                await pitr.items_at(catalog.store, source, now if at is None else at)
            # Index entries are made anew, for the restored table's indexes (overrides included).
            items = [_restored_item(table, hk, rk, text) for hk, rk, text in rows]
            await catalog.store.history.create_with_items(table.id, table.region, table.name, table.created,
                                                          table.to_spec(), items)
            catalog.tables[(table.region, table.name)] = table
        count, size = catalog.store.counts(table.id)
        return {"TableDescription": table.describe(self.backend.account, count, size,
                                                   catalog.store.index_counts(table.id))}

    def _restored_table(self, ctx: RequestContext, target: str, source: Table, restored_from: Out,
                        params: Any) -> Table:
        catalog, now = self.backend.catalog, self.backend.now()
        table = copy.deepcopy(source)
        table.id, table.region, table.name, table.created = catalog.next_id(), ctx.region, target, now
        table.stream_enabled, table.stream_view_type, table.stream_label = False, "", ""
        table.ttl_enabled, table.ttl_attribute, table.tags, table.policy = False, "", {}, ""
        table.deletion_protection, table.pitr_since = False, 0.0
        _override(table, params, ctx.region, self.backend.account)
        table.restored_from = {"RestoreDateTime": now, **restored_from, "RestoreInProgress": False}
        return table

    async def RestoreTableFromBackup(self, ctx: RequestContext, params: RestoreTableFromBackupInputTypeDef) -> Out:
        backup = self._backup(params["BackupArn"])
        source = Table.from_row(0, backup.region, backup.table_name, backup.table_created, backup.spec)
        return await self._restore(ctx, params["TargetTableName"], source,
                                   {"SourceBackupArn": backup.arn, "SourceTableArn": source.arn(self.backend.account),
                                    "RestoreDateTime": backup.created},
                                   backup=backup.arn, params=params)

    async def RestoreTableToPointInTime(self, ctx: RequestContext, params: RestoreTableToPointInTimeInputTypeDef
                                        ) -> Out:
        name = params.get("SourceTableName") or table_name(params.get("SourceTableArn") or "")
        source = self.backend.catalog.tables.get((ctx.region, name))
        if source is None:
            raise ServiceError("SourceTableNotFoundException", f"Source table not found: {name}")
        if (ctx.region, params["TargetTableName"]) in self.backend.catalog.tables:  # named before recovery's state
            raise _table_already_exists(params["TargetTableName"])
        if not source.pitr_since:
            raise ServiceError("PointInTimeRecoveryUnavailableException",
                               f"Point in time recovery is not enabled for table '{name}'")
        now = self.backend.now()
        at = now
        when = params.get("RestoreDateTime")
        if when is not None and not params.get("UseLatestRestorableTime"):
            at = _seconds(when)
            if not pitr.restorable(source, at, now):
                # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_RestoreTableToPointInTime.html#API_RestoreTableToPointInTime_Errors
                raise ServiceError("InvalidRestoreTimeException",
                                   "An invalid restore time was specified. RestoreDateTime must be between "
                                   "EarliestRestorableDateTime and LatestRestorableDateTime.")
        return await self._restore(ctx, params["TargetTableName"], source,
                                   {"SourceTableArn": source.arn(self.backend.account), "RestoreDateTime": at},
                                   backup=None, params=params, at=at)

    async def UpdateContinuousBackups(self, ctx: RequestContext, params: UpdateContinuousBackupsInputTypeDef) -> Out:
        spec = params["PointInTimeRecoverySpecification"]
        catalog = self.backend.catalog
        async with catalog.mutex:
            was = self._table(ctx, params["TableName"])
            if was.status == "CREATING":
                raise errors.backups_being_enabled(was.name)
            table = copy.deepcopy(was)
            if spec["PointInTimeRecoveryEnabled"]:
                # Without RecoveryPeriodInDays, enabling means 35 days; an enabled table keeps its period.
                # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PointInTimeRecoverySpecification.html
                table.pitr_days = spec.get("RecoveryPeriodInDays") or (table.pitr_days if table.pitr_since else 35)
                table.pitr_since = table.pitr_since or self.backend.now()
            else:
                table.pitr_since = 0.0
            # Turned on or off, recovery changes what each write stores (its history row): the table's writes
            # wait for the change, then are made under it (Catalog.commit).
            with catalog.changing_table(table.id) if storage_rules(table) != storage_rules(was) else \
                    contextlib.nullcontext():
                if table.pitr_since:
                    await catalog.store.update_table(table.id, table.to_spec())
                else:
                    await catalog.store.history.forget(table.id, table.to_spec())  # its history goes with it
                catalog.tables[(table.region, table.name)] = table
        return {"ContinuousBackupsDescription": continuous_backups(table, self.backend.now())}


def backup_arn(table: Table, account: str, now: float, name: str) -> str:
    digest = hashlib.sha256(f"{table.arn(account)}:{now}:{name}".encode())
    return f"{table.arn(account)}/backup/{int(now * 1000):017d}-{digest.hexdigest()[:8]}"


def system_backup(table: Table, account: str, now: float) -> BackupRow | None:
    """The backup DeleteTable keeps of a table with point-in-time recovery enabled (BackupType SYSTEM,
    for 35 days); None for another table.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/PointInTimeRecovery_Howitworks.html"""
    if not table.pitr_since:
        return None
    name = f"{table.name}$DeletedTableBackup"
    return BackupRow(backup_arn(table, account, now, name), table.region, name, now, table.name, table.created,
                     table.to_spec(), kind="SYSTEM")


def continuous_backups(table: Table, now: float) -> Out:
    """DescribeContinuousBackups' answer: continuous backups are always on; point-in-time recovery as set."""
    if not table.pitr_since:
        return {"ContinuousBackupsStatus": "ENABLED",
                "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}
    earliest, latest = pitr.window(table, now)
    return {"ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": {
        "PointInTimeRecoveryStatus": "ENABLED", "RecoveryPeriodInDays": table.pitr_days,
        "EarliestRestorableDateTime": _when(earliest), "LatestRestorableDateTime": _when(latest)}}


def _override(table: Table, params: Any, region: str, account: str) -> None:
    """A restore's overrides of its source's settings: billing mode and throughput, secondary indexes (each
    list keeps those of the source's it names, with their projection and throughput as given, and leaves
    out the others), encryption. OnDemandThroughputOverride is
    accepted as CreateTable's OnDemandThroughput is: capacity never throttles here.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_RestoreTableFromBackup.html"""
    if params.get("BillingModeOverride"):
        table.billing_mode = params["BillingModeOverride"]
    throughput = params.get("ProvisionedThroughputOverride")
    if table.billing_mode == "PAY_PER_REQUEST":
        table.read_units = table.write_units = 0
    elif throughput:
        table.read_units, table.write_units = table_rules.billing(
            {"BillingMode": "PROVISIONED", "ProvisionedThroughput": throughput})[1:]
    defs = {a.name: a.type for a in table.attributes}
    for member, is_global in (("GlobalSecondaryIndexOverride", True), ("LocalSecondaryIndexOverride", False)):
        given = params.get(member)
        if given is None:
            continue
        kept = [i for i in table.indexes if i.is_global != is_global]
        made = table_rules.indexes({"GlobalSecondaryIndexes" if is_global else "LocalSecondaryIndexes": given},
                                   defs, table.billing_mode, table.hash, table.range) if given else []
        for index in made:
            source = table.index(index.name)
            if source is None or source.is_global != is_global or source.key_schema() != index.key_schema():
                raise errors.invalid(f"{member} can only keep or leave out the source table's indexes: "
                                     f"{index.name} is not one of them")
        table.indexes = kept + made
    if params.get("SSESpecificationOverride") is not None:
        table.sse = sse_description(dict(params["SSESpecificationOverride"]), region, account)


def _restored_item(table: Table, hk: bytes, rk: bytes, text: str) -> RestoredItem:
    """A restored table's row for an item, with the entries of the restored table's indexes (an index whose
    key attribute the item holds with another type leaves it out, as a new index's backfill does)."""
    item = load_item(text)
    entries = []
    for index in table.indexes:
        probe = copy.copy(table)
        probe.indexes = [index]
        try:
            entries += [(e.index_name, e.ihk, e.irk, e.seg) for e in index_entries(probe, item)]
        except ServiceError:
            continue
    return RestoredItem(hk, rk, segment(hk), text, item_size(item), entries)
