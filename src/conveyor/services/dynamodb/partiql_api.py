"""ExecuteStatement, BatchExecuteStatement and ExecuteTransaction: PartiQL statements answered by the
operations they stand for (conveyor.services.dynamodb.partiql), so that their rules, durability and
errors are those operations' own.
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ExecuteStatement.html,
API_BatchExecuteStatement.html, API_ExecuteTransaction.html
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from conveyor.services.dynamodb import errors, partiql
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.item_api import ItemOperations
from conveyor.services.dynamodb.read_api import ReadOperations
from conveyor.services.dynamodb.stored import dump_item, load_item
from conveyor.services.dynamodb.transact_api import TransactOperations
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        BatchExecuteStatementInputTypeDef,
        ExecuteStatementInputTypeDef,
        ExecuteTransactionInputTypeDef,
    )

Out = dict[str, Any]
MAX_BATCH = 25


class PartiqlOperations:
    def __init__(self, backend: Backend, items: ItemOperations, reads: ReadOperations,
                 transactions: TransactOperations) -> None:
        self.backend = backend
        self.items, self.reads, self.transactions = items, reads, transactions

    def _translate(self, ctx: RequestContext, statement: str, parameters: Any, *, by_key: bool = False
                   ) -> partiql.Translated:
        def key_names(table: str, index: str | None) -> tuple[str, str | None] | None:
            found = self.backend.catalog.tables.get((ctx.region, table))
            if found is None:
                raise errors.not_found()
            keys = found if index is None else found.index(index)
            if keys is None:
                raise errors.validation(f"The table does not have the specified index: {index}")
            return keys.hash.name, keys.range.name if keys.range else None

        return partiql.parse(statement, list(parameters or []), key_names, by_key=by_key)

    async def _run(self, ctx: RequestContext, translated: partiql.Translated, extra: Out) -> Out:
        params = {**translated.params, **extra}
        if translated.operation == "PutItem":
            try:
                await self.items.PutItem(ctx, params)  # type: ignore[arg-type]
            except ServiceError as failure:
                if failure.code == "ConditionalCheckFailedException":
                    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.insert.html
                    raise ServiceError("DuplicateItemException", "Duplicate primary key exists in table") from None
                raise
            return {"Items": []}
        if translated.operation == "UpdateItem":
            await self.items.UpdateItem(ctx, params)  # type: ignore[arg-type]
            return {"Items": []}
        if translated.operation == "DeleteItem":
            await self.items.DeleteItem(ctx, params)  # type: ignore[arg-type]
            return {"Items": []}
        if translated.operation == "GetItem":
            found = await self.items.GetItem(ctx, params)  # type: ignore[arg-type]
            return {"Items": [found["Item"]] if "Item" in found else []}
        if translated.operation == "Query":
            page = await self.reads.Query(ctx, params)  # type: ignore[arg-type]
        else:
            page = await self.reads.Scan(ctx, params)  # type: ignore[arg-type]
        out: Out = {"Items": page.get("Items", [])}
        if "LastEvaluatedKey" in page:
            out["LastEvaluatedKey"] = page["LastEvaluatedKey"]
        return out

    async def ExecuteStatement(self, ctx: RequestContext, params: ExecuteStatementInputTypeDef) -> Out:
        translated = self._translate(ctx, params["Statement"], params.get("Parameters"))
        extra: Out = {}
        if translated.operation in ("Query", "Scan"):
            if params.get("Limit"):
                extra["Limit"] = params["Limit"]
            if params.get("ConsistentRead"):
                extra["ConsistentRead"] = True
            if params.get("NextToken"):
                try:
                    extra["ExclusiveStartKey"] = load_item(base64.urlsafe_b64decode(params["NextToken"]).decode())
                except (ValueError, TypeError, AttributeError):
                    raise errors.validation("Invalid NextToken") from None
        out = await self._run(ctx, translated, extra)
        last = out.pop("LastEvaluatedKey", None)
        if last is not None:
            out["NextToken"] = base64.urlsafe_b64encode(dump_item(last).encode()).decode()
            out["LastEvaluatedKey"] = last
        return out

    async def BatchExecuteStatement(self, ctx: RequestContext, params: BatchExecuteStatementInputTypeDef) -> Out:
        statements = params["Statements"]
        if len(statements) > MAX_BATCH:
            raise errors.validation("Too many items requested for the BatchExecuteStatement call")
        responses: list[Out] = []
        for request in statements:
            try:
                translated = self._translate(ctx, request["Statement"], request.get("Parameters"), by_key=True)
                answer = await self._run(ctx, translated, {})
            except ServiceError as failure:
                code = failure.code.removesuffix("Exception")
                responses.append({"Error": {"Code": code, "Message": failure.message}})
                continue
            response: Out = {"TableName": translated.table}
            if answer.get("Items"):
                response["Item"] = answer["Items"][0]
            responses.append(response)
        return {"Responses": responses}

    async def ExecuteTransaction(self, ctx: RequestContext, params: ExecuteTransactionInputTypeDef) -> Out:
        translated = [self._translate(ctx, s["Statement"], s.get("Parameters"), by_key=True)
                      for s in params["TransactStatements"]]
        reads = [t.operation == "GetItem" for t in translated]
        if any(reads) and not all(reads):
            raise errors.validation("Transaction must contain either all reads or all writes")
        if all(reads):
            request_get: Any = {"TransactItems": [{"Get": t.params} for t in translated]}
            got = await self.transactions.TransactGetItems(ctx, request_get)
            return {"Responses": got["Responses"]}
        kinds = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}
        request: Out = {"TransactItems": [{kinds[t.operation]: t.params} for t in translated]}
        if params.get("ClientRequestToken"):
            request["ClientRequestToken"] = params["ClientRequestToken"]
        await self.transactions.TransactWriteItems(ctx, request)  # type: ignore[arg-type]
        return {}
