"""ImportTable, DescribeImport, ListImports: a new table (with its global secondary indexes) made from the
objects under an S3 prefix, in DynamoDB JSON, Ion or CSV, compressed with GZIP or ZSTD or not at all.

The table exists at once in CREATING status and becomes ACTIVE when the import ends; the items are put in
the background, a batch a commit. A record that is not an item of the table (malformed, a key missing or of
the wrong type, too large) is skipped and counted in ErrorCount, with a line in the CloudWatch log group
`/aws-dynamodb/imports`; an import with errors ends FAILED (its table keeps the items that were imported),
one without COMPLETED. A bucket that does not exist fails the import (S3NoSuchBucket) and the table goes.
Items with the same key overwrite one another, as AWS's do.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataImport.HowItWorks.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataImport.Validation.html,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ImportTable.html
"""

from __future__ import annotations

import copy
import secrets
from typing import TYPE_CHECKING, Any

from conveyor.ports import LogSink
from conveyor.services.dynamodb import errors, mutations, table_rules
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.import_formats import decompress, records
from conveyor.services.dynamodb.keys import index_entries, key_of_item
from conveyor.services.dynamodb.store import TableRow
from conveyor.services.dynamodb.tables import KeyAttr, Table, sse_description
from conveyor.services.dynamodb.transfers import Out, Transfers, public, s3_failure
from conveyor.services.dynamodb.values import Item, canonical_item, check_item_size
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb.type_defs import (
        DescribeImportInputTypeDef,
        ImportTableInputTypeDef,
        ListImportsInputTypeDef,
    )

LOG_GROUP = "/aws-dynamodb/imports"
BATCH = 100  # items put in one commit


class ImportOperations:
    def __init__(self, backend: Backend, transfers: Transfers, logs: Callable[[], LogSink | None]) -> None:
        self.backend = backend
        self.transfers = transfers
        self.logs = logs
        transfers.jobs["import"] = self._import

    # -- the API ---------------------------------------------------------------------------------------
    async def ImportTable(self, ctx: RequestContext, params: ImportTableInputTypeDef) -> Out:
        creation: Any = params["TableCreationParameters"]
        existing = self._same_request(params)
        if existing is not None:
            return {"ImportTableDescription": public(existing)}
        table = self._table(ctx, creation)
        if params.get("InputFormatOptions") and params["InputFormat"] != "CSV":
            raise errors.validation("InputFormatOptions can only be specified for the CSV InputFormat")
        now = self.backend.now()
        catalog = self.backend.catalog
        async with catalog.mutex:
            if (ctx.region, table.name) in catalog.tables:
                raise errors.table_exists(table.name)
            table.id, table.created = catalog.next_id(), now
            await catalog.store.create_table(TableRow(table.id, table.region, table.name, table.created,
                                                      table.to_spec()))
            catalog.tables[(table.region, table.name)] = table
        import_id = f"{int(now * 1000):014d}-{secrets.token_hex(4)}"
        account = self.backend.account
        description: Out = {
            "_kind": "import", "_region": ctx.region, "_table_id": table.id, "_request": _fingerprint(params),
            "ImportArn": f"{table.arn(account)}/import/{import_id}", "ImportStatus": "IN_PROGRESS",
            "TableArn": table.arn(account), "TableId": table.describe(account, 0, 0)["TableId"],
            "S3BucketSource": dict(params["S3BucketSource"]), "ErrorCount": 0,
            "CloudWatchLogGroupArn": f"arn:aws:logs:{ctx.region}:{account}:log-group:{LOG_GROUP}:*",
            "InputFormat": params["InputFormat"], "InputCompressionType": params.get("InputCompressionType") or "NONE",
            "TableCreationParameters": creation, "StartTime": now, "ProcessedSizeBytes": 0,
            "ProcessedItemCount": 0, "ImportedItemCount": 0,
        }
        for member in ("ClientToken", "InputFormatOptions"):
            if params.get(member):
                description[member] = params[member]
        await self.transfers.save(description)
        self.transfers.start(description)
        return {"ImportTableDescription": public(description)}

    def _table(self, ctx: RequestContext, creation: Any) -> Table:
        """The new table as CreateTable would make it (its rules and messages), in CREATING status."""
        name = creation["TableName"]
        table_rules.check_table_name(name)
        defs = table_rules.definitions(creation)
        hash_key, range_key = table_rules.key_schema(creation["KeySchema"], defs)
        mode, read, write = table_rules.billing(creation)
        found = table_rules.indexes(creation, defs, mode, hash_key, range_key)
        table_rules.used_definitions(defs, hash_key, range_key, found)
        return Table(0, ctx.region, name, 0.0, hash_key, range_key, [KeyAttr(n, t) for n, t in defs.items()], mode,
                     read, write, found, status="CREATING",
                     sse=sse_description(dict(creation.get("SSESpecification") or {}), ctx.region,
                                         self.backend.account))

    def _same_request(self, params: ImportTableInputTypeDef) -> Out | None:
        """An import with the same ClientToken: the same request answers it, another conflicts.
        https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ImportTable.html#DDB-ImportTable-request-ClientToken"""
        token = params.get("ClientToken")
        if not token:
            return None
        for earlier in self.transfers.descriptions.values():
            if earlier["_kind"] == "import" and earlier.get("ClientToken") == token:
                if earlier["_request"] != _fingerprint(params):
                    raise ServiceError("ImportConflictException", "There was a conflict when importing from the "
                                       "specified S3 source. This can occur when the current import conflicts with "
                                       "a previous import request that had the same client token.")
                return earlier
        return None

    async def DescribeImport(self, ctx: RequestContext, params: DescribeImportInputTypeDef) -> Out:
        found = self.transfers.descriptions.get(params["ImportArn"])
        if found is None or found["_kind"] != "import":
            raise ServiceError("ImportNotFoundException", f"Import not found: {params['ImportArn']}")
        return {"ImportTableDescription": public(found)}

    async def ListImports(self, ctx: RequestContext, params: ListImportsInputTypeDef) -> Out:
        page, token = self.transfers.listed("import", ctx.region, params.get("TableArn"), params.get("PageSize"),
                                            params.get("NextToken"))
        members = ("ImportArn", "ImportStatus", "TableArn", "S3BucketSource", "CloudWatchLogGroupArn", "InputFormat",
                   "StartTime", "EndTime")
        out: Out = {"ImportSummaryList": [public({k: d[k] for k in members if k in d}) for d in page]}
        if token is not None:
            out["NextToken"] = token
        return out

    # -- the job ---------------------------------------------------------------------------------------
    def _current(self, description: Out) -> Table | None:
        """The import's table, while the import is of the current generation (conveyor...transfers)."""
        if not self.transfers.current(description):
            return None
        return next((t for t in self.backend.catalog.tables.values() if t.id == description["_table_id"]), None)

    async def _import(self, description: Out) -> None:
        table = self._current(description)
        if table is None:
            await self.transfers.fail(description, "TableNotFound", "The table was deleted during the import")
            return
        source, region = description["S3BucketSource"], str(description["_region"])
        try:
            keys = await self._keys(region, source)
        except ServiceError as error:
            # Nothing was imported: the table goes, as AWS's does, before the import is seen FAILED (a client
            # that waits for the import's end must not find its table still there).
            await self._drop(description)
            await self.transfers.fail(description, *s3_failure(error))
            return
        counts = {"ProcessedSizeBytes": 0, "ProcessedItemCount": 0, "ImportedItemCount": 0, "ErrorCount": 0}
        types = {a.name: a.type for a in table.attributes}
        for key in keys:
            if self._current(description) is None:
                return  # stopping (it runs again at the next start), or wiped by a reset
            try:
                data = await self.transfers.read(source["S3Bucket"], key)
                counts["ProcessedSizeBytes"] += len(data)
                text = decompress(data, description["InputCompressionType"]).decode("utf-8")
            except ServiceError as error:  # the object went, or S3 refused it: the items so far stay
                await self._activate(description)
                await self.transfers.fail(description, *s3_failure(error))
                return
            except (ValueError, UnicodeDecodeError) as exc:
                counts["ErrorCount"] += 1
                self._log(description, f"{key}: {exc}")
                continue
            batch: list[Item] = []
            for record in records(text, description["InputFormat"],
                                  (description.get("InputFormatOptions") or {}).get("Csv"), types):
                counts["ProcessedItemCount"] += 1
                item, problem = (record.item, record.error) if record.item is None else self._checked(table, record.item)
                if item is None:
                    counts["ErrorCount"] += 1
                    self._log(description, f"{key}: record {counts['ProcessedItemCount']}: {problem}")
                    continue
                batch.append(item)
                if len(batch) >= BATCH:
                    counts["ImportedItemCount"] += await self._put(description, table, batch)
                    batch = []
            counts["ImportedItemCount"] += await self._put(description, table, batch)
        await self._finish(description, counts)

    async def _keys(self, region: str, source: Out) -> list[str]:
        """The keys of the objects under the prefix, in S3's order, from a bucket S3BucketOwner (if given)
        owns."""
        keys: list[str] = []
        params: Out = {"Bucket": source["S3Bucket"], "Prefix": source.get("S3KeyPrefix") or ""}
        if source.get("S3BucketOwner"):
            params["ExpectedBucketOwner"] = source["S3BucketOwner"]
        while True:
            page = await self.transfers.api.call("s3", "ListObjectsV2", params, region)
            keys += [o["Key"] for o in page.get("Contents") or [] if not o["Key"].endswith("/")]
            if not page.get("IsTruncated"):
                return keys
            params["ContinuationToken"] = page["NextContinuationToken"]

    @staticmethod
    def _checked(table: Table, raw: Item) -> tuple[Item | None, str | None]:
        """The item as PutItem would store it, or why it cannot be."""
        try:
            item = canonical_item(raw)
            key_of_item(table, item)
            check_item_size(item)
            index_entries(table, item)
        except ServiceError as error:
            return None, error.message
        return item, None

    async def _put(self, description: Out, table: Table, items: list[Item]) -> int:
        """Put a batch in one commit (the last of two items with one key wins); how many were put. Nothing
        once the import is no longer current (a reset wiped it, the server stops)."""
        if not items or self._current(description) is None:
            return 0
        catalog, now = self.backend.catalog, self.backend.now()
        latest = {key_of_item(table, item).id: item for item in items}
        keys = {key_of_item(table, item).id: key_of_item(table, item) for item in latest.values()}
        async with catalog.locks.hold(list(keys)):
            # Asked again once the locks are held: nothing awaits between this and the write's queueing, which
            # a reset's wipe follows. The table as it is now (its settings may have changed since the import
            # began), and through the catalog as every write (conveyor.services.dynamodb.catalog).
            current = self._current(description)
            if current is None:
                return 0
            writes = []
            for item_id, item in latest.items():
                key = keys[item_id]
                writes.append(mutations.item_write(current, key, mutations.load(catalog.store, key), item, now))
            await catalog.commit([current], writes)
        return len(items)

    def _log(self, description: Out, message: str) -> None:
        """An item's error, in the import's log stream (when CloudWatch Logs is served)."""
        sink = self.logs()
        if sink is not None:
            import_id = str(description["ImportArn"]).rsplit("/", 1)[1]
            sink.write(str(description["_region"]), LOG_GROUP, f"{import_id}/error",
                       [(self.backend.now(), message)])

    async def _finish(self, description: Out, counts: dict[str, int]) -> None:
        if not self.transfers.current(description):
            return  # stopping (the import runs again at the next start), or wiped
        await self._activate(description)
        done: Out = {**description, **counts, "EndTime": self.backend.now()}
        if counts["ErrorCount"]:
            done.update({"ImportStatus": "FAILED", "FailureCode": "ItemValidationError",
                         "FailureMessage": "Some of the items failed validation checks and were not imported. "
                                           f"Please check CloudWatch error logs ({LOG_GROUP}) for more details."})
        else:
            done["ImportStatus"] = "COMPLETED"
        await self.transfers.save(done)

    async def _activate(self, description: Out) -> None:
        """The import's table becomes ACTIVE (with what was imported)."""
        catalog = self.backend.catalog
        async with catalog.mutex:
            current = self._current(description)
            if current is not None and current.status != "ACTIVE":
                active = copy.deepcopy(current)
                active.status = "ACTIVE"
                await catalog.store.update_table(active.id, active.to_spec())
                catalog.tables[(active.region, active.name)] = active

    async def _drop(self, description: Out) -> None:
        catalog = self.backend.catalog
        async with catalog.mutex:
            table = self._current(description)
            if table is not None:
                await catalog.store.delete_table(table.id)
                catalog.tables.pop((table.region, table.name), None)


def _fingerprint(params: Any) -> str:
    import json

    return json.dumps({k: v for k, v in params.items() if k != "ClientToken"}, sort_keys=True, default=str)
