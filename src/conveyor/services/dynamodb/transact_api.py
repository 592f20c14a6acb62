"""TransactWriteItems and TransactGetItems: all or nothing.

A write transaction takes the locks of all its items (in one order), judges every condition against the
committed items, and commits every change in one SQLite transaction: it is applied whole or not at all,
across a crash too. When any condition fails nothing is written and TransactionCanceledException lists a
reason per item, in request order. A ClientRequestToken makes the call idempotent for 10 minutes (on the
server's clock): the same token with the same request succeeds again without applying anything twice;
with another request it is IdempotentParameterMismatchException.
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.services.dynamodb import capacity, compiling, errors, mutations
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.catalog import ItemId
from conveyor.services.dynamodb.compiling import Compiled
from conveyor.services.dynamodb.item_api import request_key
from conveyor.services.dynamodb.keys import ItemKey, key_of_item
from conveyor.services.dynamodb.store import landing_of
from conveyor.services.dynamodb.stored import load_item
from conveyor.services.dynamodb.tables import Table
from conveyor.services.dynamodb.values import Item, check_size, item_size, sized_item
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactGetItemsInputTypeDef, TransactWriteItemsInputTypeDef

Out = dict[str, Any]
TOKEN_SECONDS = 600


@dataclass
class Step:
    kind: str  # Put, Update, Delete, ConditionCheck
    table: Table
    key: ItemKey
    compiled: Compiled
    item: Item | None  # Put's item
    on_failure: str | None


def _digest(params: Any) -> str:
    body = {k: v for k, v in params.items() if k != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=repr).encode()).hexdigest()


def _cancelled(reasons: list[Out]) -> ServiceError:
    codes = ", ".join(r["Code"] for r in reasons)
    return ServiceError("TransactionCanceledException",
                        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                        extra={"CancellationReasons": reasons})


def _conflicts(ids: list[ItemId], conflicting: Callable[[ItemId], bool]) -> ServiceError:
    """A transaction cancelled for items another request in flight is writing: their reason is
    TransactionConflict, the others' None.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CancellationReason.html"""
    return _cancelled([{"Code": "TransactionConflict", "Message": errors.CONFLICT_MESSAGE} if conflicting(key)
                       else {"Code": "None"} for key in ids])


class TransactOperations:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def _plan(self, ctx: RequestContext, entry: Any) -> Step:
        kinds = [k for k in ("ConditionCheck", "Put", "Delete", "Update") if entry.get(k) is not None]
        if len(kinds) != 1:
            raise errors.validation("TransactItems can only contain one of Check, Put, Update or Delete")
        kind = kinds[0]
        body = entry[kind]
        table = self.backend.catalog.find(ctx.region, body["TableName"])
        if kind == "ConditionCheck" and body.get("ConditionExpression") is None:
            raise errors.validation("The ConditionExpression is required for ConditionCheck")
        compiled = compiling.for_write(body, updating=kind == "Update")
        item = None
        if kind == "Put":
            item, size, _ = sized_item(body["Item"])
            key = key_of_item(table, item)
            check_size(size)
        else:
            key = request_key(table, body["Key"])
        return Step(kind, table, key, compiled, item, body.get("ReturnValuesOnConditionCheckFailure"))

    async def TransactWriteItems(self, ctx: RequestContext, params: TransactWriteItemsInputTypeDef) -> Out:
        catalog = self.backend.catalog
        steps = [self._plan(ctx, entry) for entry in params["TransactItems"]]
        if len({s.key.id for s in steps}) != len(steps):
            raise errors.validation("Transaction request cannot include multiple operations on one item")
        token = params.get("ClientRequestToken")
        now = self.backend.now()
        digest = _digest(params)
        mode = params.get("ReturnConsumedCapacity")
        ids = [s.key.id for s in steps]
        if token is not None and token in catalog.tokens_in_flight:
            raise errors.transaction_in_progress()
        if catalog.locks.claim(ids):  # another transaction in flight writes some of these items
            raise _conflicts(ids, catalog.locks.claimed)
        if token is not None:
            catalog.tokens_in_flight.add(token)
        def done(*_: object) -> None:
            catalog.locks.unclaim(ids)
            if token is not None:
                catalog.tokens_in_flight.discard(token)

        landing = None
        try:
            return await self._write(steps, token, digest, now, mode)
        except asyncio.CancelledError as cancelled:
            landing = landing_of(cancelled)
            raise
        finally:
            if landing is not None and not landing.done():
                # Cancelled while its writes waited for their commit: they land all the same, and the
                # transaction is in flight (its items claimed, its token in progress) until they have.
                landing.add_done_callback(done)
            else:
                done()

    async def _write(self, steps: list[Step], token: str | None, digest: str, now: float, mode: str | None) -> Out:
        catalog = self.backend.catalog
        async with catalog.locks.hold([s.key.id for s in steps]):
            if token is not None:
                seen = catalog.store.token(token, now - TOKEN_SECONDS)
                if seen is not None:
                    if seen != digest:
                        raise errors.idempotent_mismatch()
                    return self._answer(steps, [None] * len(steps), [None] * len(steps), mode)
            olds = [mutations.load(catalog.store, s.key) for s in steps]
            news: list[Item | None] = []
            reasons: list[Out] = []
            for step, old in zip(steps, olds, strict=True):
                reason: Out = {"Code": "None"}
                new: Item | None = old
                try:
                    mutations.judge(step.compiled, old, step.on_failure)
                    if step.kind == "Put":
                        new = step.item
                    elif step.kind == "Delete":
                        new = None
                    elif step.kind == "Update":
                        new = mutations.updated(step.table, step.key, old, step.compiled)
                except ServiceError as failure:
                    if failure.code == "ConditionalCheckFailedException":
                        reason = {"Code": "ConditionalCheckFailed", "Message": failure.message}
                        if "Item" in failure.extra:
                            reason["Item"] = failure.extra["Item"]
                    else:
                        reason = {"Code": "ValidationError", "Message": failure.message}
                reasons.append(reason)
                news.append(new)
            if any(r["Code"] != "None" for r in reasons):
                raise _cancelled(reasons)
            writes = [mutations.item_write(s.table, s.key, old, new, now)
                      for s, old, new in zip(steps, olds, news, strict=True) if s.kind != "ConditionCheck"]
            await catalog.commit([s.table for s in steps], writes, (token, digest, now) if token is not None else None)
        return self._answer(steps, olds, news, mode)

    def _answer(self, steps: list[Step], olds: list[Item | None], news: list[Item | None], mode: str | None) -> Out:
        out: Out = {}
        if mode in ("TOTAL", "INDEXES"):
            reports = []
            for step, old, new in zip(steps, olds, news, strict=True):
                size = max(item_size(old) if old else 0, item_size(new) if new else 0)
                checking = step.kind == "ConditionCheck"
                units = (capacity.read_units(size, True, transactional=True) if checking
                         else capacity.write_units(size, transactional=True))
                reports.append(capacity.report(mode, step.table.name, units, split="Read" if checking else "Write"))
            out["ConsumedCapacity"] = capacity.merge(reports)
        return out

    async def TransactGetItems(self, ctx: RequestContext, params: TransactGetItemsInputTypeDef) -> Out:
        catalog = self.backend.catalog
        planned = []
        for entry in params["TransactItems"]:
            body = entry["Get"]
            table = catalog.find(ctx.region, body["TableName"])
            planned.append((table, request_key(table, body["Key"]), compiling.for_read(body)))
        if len({key.id for _, key, _ in planned}) != len(planned):
            raise errors.validation("Transaction request cannot include multiple operations on one item")
        ids = [key.id for _, key, _ in planned]
        if any(catalog.locks.busy(key) for key in ids):  # a write in flight on one of the items
            raise _conflicts(ids, catalog.locks.busy)
        texts = catalog.store.get_many([key.id for _, key, _ in planned])
        responses: list[Out] = []
        reports = []
        for (table, _, compiled), text in zip(planned, texts, strict=True):
            item = load_item(text) if text is not None else None
            if item is None:
                responses.append({})
            else:
                responses.append({"Item": compiled.projection.apply(item) if compiled.projection else item})
            units = capacity.read_units(item_size(item) if item else 0, True, transactional=True)
            reports.append(capacity.report(params.get("ReturnConsumedCapacity"), table.name, units, split="Read"))
        out: Out = {"Responses": responses}
        if params.get("ReturnConsumedCapacity") in ("TOTAL", "INDEXES"):
            out["ConsumedCapacity"] = capacity.merge(reports)
        return out
