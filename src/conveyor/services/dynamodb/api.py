"""DynamoDB (JSON 1.0, `X-Amz-Target: DynamoDB_20120810.*`): tables, items, indexes, transactions.

    tables, table_rules   tables and indexes in memory, CreateTable's and UpdateTable's rules
    store, catalog        the SQL, and the per-item locks that order writes
    keys, stored          key extraction and encoding, items as stored
    control_api, settings_api, item_api, read_api, batch_api, transact_api, backup_api, export_api,
                          import_api (import_formats, ion)
                          the operations, found through `operation_groups`
    pitr, transfers       point-in-time history; exports to and imports from S3, run in the background

Every acknowledged write is committed (with its index entries) before the answer; reads see what is
committed. Capacity is reported (ReturnConsumedCapacity) but never throttles.
"""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Any

from conveyor.authz import Denial, Need
from conveyor.authz.needs import arn_account
from conveyor.ports import Ports
from conveyor.protocol.base import Codec
from conveyor.protocol.models import service_model
from conveyor.services.base import Environment, Handler, Result, Service
from conveyor.services.dynamodb import errors, iam
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.backup_api import BackupOperations
from conveyor.services.dynamodb.batch_api import BatchOperations
from conveyor.services.dynamodb.catalog import Catalog, table_name
from conveyor.services.dynamodb.codec import DynamoJsonCodec
from conveyor.services.dynamodb.control_api import ControlOperations
from conveyor.services.dynamodb.export_api import ExportOperations
from conveyor.services.dynamodb.import_api import ImportOperations
from conveyor.services.dynamodb.item_api import ItemOperations
from conveyor.services.dynamodb.partiql_api import PartiQLOperations
from conveyor.services.dynamodb.policy_api import PolicyOperations
from conveyor.services.dynamodb.read_api import ReadOperations
from conveyor.services.dynamodb.settings_api import SettingsOperations
from conveyor.services.dynamodb.store import DynamoStore
from conveyor.services.dynamodb.streams_api import StreamOperations
from conveyor.services.dynamodb.sweeper import Sweeper
from conveyor.services.dynamodb.table_streams import TableStreamReader
from conveyor.services.dynamodb.tables import Table
from conveyor.services.dynamodb.transact_api import TransactOperations
from conveyor.services.dynamodb.transfers import Transfers
from conveyor.storage.db import StoreBusy
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from botocore.model import OperationModel

# The control plane's changes: each commits a change, then applies it to what the server holds in memory
# (the tables, the backups), under the control plane's lock. A request cancelled between the two (its caller
# gone: an in-process caller such as CloudFormation stopping, a server stopping) would leave the commit
# landed without its in-memory update, and the running server would disagree with itself after a restart.
# Each runs as a task of its own that its request's cancellation does not reach (`_finished_once_begun`).
CONTROL_CHANGES = frozenset({
    "CreateTable", "UpdateTable", "DeleteTable", "UpdateTimeToLive", "TagResource", "UntagResource",
    "UpdateContinuousBackups", "CreateBackup", "DeleteBackup", "RestoreTableFromBackup", "RestoreTableToPointInTime",
    "PutResourcePolicy", "DeleteResourcePolicy", "ImportTable", "ExportTableToPointInTime",
})


class DynamoDBService(Service):
    name = "dynamodb"
    other_accounts_by_resource_policy = True  # another account's caller: by the resource's policy alone
    validation_codes = errors.VALIDATION

    @functools.cached_property
    def codecs(self) -> dict[str, Codec]:
        # One codec for DynamoDB and DynamoDB Streams (signed alike; conveyor.services.dynamodb.codec), read on
        # the first request as every service's.
        return {"json": DynamoJsonCodec(self.model, service_model("dynamodbstreams"))}

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.backend = Backend(self.clock, self.config.account_id)
        self._guarded: dict[str, Handler] = {}
        self.sweeper = Sweeper(self.backend, self.config.dynamodb_ttl_interval)
        self.stream_reader = TableStreamReader(self.backend)
        items, reads = ItemOperations(self.backend), ReadOperations(self.backend)
        transactions = TransactOperations(self.backend)
        self.transfers = Transfers(self.backend, lambda: self.ports.api, lambda: self.ports.objects)
        self.operation_groups = (ControlOperations(self.backend), SettingsOperations(self.backend), items, reads,
                                 BatchOperations(self.backend), transactions,
                                 PartiQLOperations(self.backend, items, reads, transactions),
                                 StreamOperations(self.backend), PolicyOperations(self.backend),
                                 BackupOperations(self.backend), ExportOperations(self.backend, self.transfers),
                                 ImportOperations(self.backend, self.transfers, lambda: self.ports.logs))

    def handler(self, operation: str) -> Handler | None:
        """The operation's method, answering a commit that found the store locked past its busy timeout
        (storage.db.StoreBusy: nothing of the request was written) as DynamoDB answers a request it could
        not serve for now, instead of an error of Conveyor's own."""
        found = self._guarded.get(operation)
        if found is None:
            plain = super().handler(operation)
            if plain is None:
                return None
            found = _answer_busy_as_aws(plain)
            if operation in CONTROL_CHANGES:
                found = _finished_once_begun(found)
            self._guarded[operation] = found
        return found

    def provide(self, ports: Ports) -> None:
        ports.table_streams = self.stream_reader
        ports.policy_holders["dynamodb"] = self  # tables' resource-based policies, for IAM's evaluation

    # -- conveyor.ports.PolicyHolder ------------------------------------------------------------------
    def _table_of(self, arn: str) -> Table | None:
        """The table an ARN names (`arn:aws:dynamodb:REGION:ACCOUNT:table/NAME`, or one of its indexes)."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or not parts[5].startswith("table/") or not self.backend.running:
            return None
        name, _, rest = parts[5].removeprefix("table/").partition("/")
        if rest and not rest.startswith("index/"):
            return None  # a stream: its own policy, which Conveyor does not keep
        return self.backend.catalog.tables.get((parts[3], name))

    def resource_exists(self, arn: str) -> bool:
        return self._table_of(arn) is not None

    def resource_policy(self, arn: str) -> str | None:
        """A table's policy governs its indexes too.
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/access-control-resource-based.html"""
        table = self._table_of(arn)
        return table.policy or None if table is not None else None

    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        # A table named without its ARN is one of the caller's own account.
        return iam.needs(ctx.region, iam.caller_account(ctx), operation.name, params)

    async def check(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> None:
        """Another account's caller, once a table's policy let it through (conveyor.authz): a table of its
        own account (a bare name, or an ARN with its account id) does not exist here; and it is refused what
        DynamoDB serves to a table's own account only (iam.CROSS_ACCOUNT)."""
        caller = ctx.principal
        if caller is None or caller.account_id == ctx.account_id or operation.name == "ListTables":
            return
        needs = self.iam_requests(ctx, operation, params)
        for need in needs:
            if arn_account(need.resource) == caller.account_id:
                name = table_name(need.resource)
                raise errors.table_not_found(None if operation.name in iam.ITEM_OPERATIONS else name)
        if operation.name not in iam.CROSS_ACCOUNT:
            raise self.access_denied(ctx, Denial(caller.arn, needs[0].action, needs[0].resource, False, None))

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        store = DynamoStore(self.config.service_dir("dynamodb") / "dynamodb.db", self.env.disk)
        store.on_stream = self.stream_reader.grown
        catalog = Catalog(store, self.clock.now)
        catalog.load()
        self.backend.catalog = catalog
        self.transfers.load()  # exports and imports a stop interrupted run again
        self.sweeper.start()

    async def stop(self) -> None:
        self.sweeper.stop()
        if self.backend.running:
            self.backend.store.close()
            self.backend.catalog = None

    async def reset(self) -> None:
        catalog = self.backend.catalog
        async with catalog.mutex:
            self.transfers.clear()  # first: a running export or import stores nothing from now on
            await catalog.store.wipe()
            catalog.clear()
        self.sweeper.start()

    def health(self) -> dict[str, Any]:
        running = self.backend.running
        return {"status": "running" if running else "stopped",
                "tables": len(self.backend.catalog.tables) if running else 0}

    def status(self) -> dict[str, Any]:
        if not self.backend.running:
            return {}
        store, account = self.backend.store, self.config.account_id
        tables = []
        for table in sorted(self.backend.catalog.tables.values(), key=lambda t: (t.region, t.name)):
            count, size = store.counts(table.id)
            tables.append({"name": table.name, "region": table.region, "arn": table.arn(account), "items": count,
                           "bytes": size, "billing_mode": table.billing_mode,
                           "indexes": [i.name for i in table.indexes],
                           "stream": table.stream_view_type if table.stream_enabled else None})
        return {"tables": tables}


def _answer_busy_as_aws(handler: Handler) -> Handler:
    async def guarded(ctx: RequestContext, params: dict[str, Any]) -> Result:
        try:
            return await handler(ctx, params)
        except StoreBusy:
            raise errors.internal_server_error() from None
    return guarded


def _finished_once_begun(handler: Handler) -> Handler:
    """The handler run to its end whatever happens to its request: a cancelled request stops waiting for it,
    the change goes on to its commit and its in-memory update (see CONTROL_CHANGES)."""
    async def shielded(ctx: RequestContext, params: dict[str, Any]) -> Result:
        change = asyncio.ensure_future(handler(ctx, params))
        change.add_done_callback(_settled)
        return await asyncio.shield(change)
    return shielded


def _settled(change: asyncio.Future[Result]) -> None:
    """A change whose request went away has nobody to tell its outcome (an error the request would have
    answered): read here, it is not reported as an error never retrieved."""
    if not change.cancelled():
        change.exception()
