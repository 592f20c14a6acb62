"""ExecuteStatement, BatchExecuteStatement and ExecuteTransaction: PartiQL, run as the item operations.

A statement is parsed (partiql.syntax), translated into the expressions of the operation it amounts to
(partiql.plans) and run by that operation, so both APIs share one set of rules, messages and locks:
- SELECT queries each partition its WHERE pins by an equality or IN on the partition key (else it scans),
  keeps the items the whole WHERE holds for, and projects them; `Limit` and `NextToken` page it.
- INSERT is PutItem on condition that the key is new (DuplicateItemException otherwise); UPDATE is
  UpdateItem of an item that must exist and satisfy the rest of the WHERE; DELETE is DeleteItem, a no-op
  for a missing item (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.html).
- BatchExecuteStatement answers each statement on its own; ExecuteTransaction runs reads as
  TransactGetItems and writes as TransactWriteItems.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

from conveyor.services.dynamodb import errors
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.expressions import (
    Condition,
    ExpressionContext,
    compile_condition,
    compile_projection,
)
from conveyor.services.dynamodb.item_api import ItemOperations
from conveyor.services.dynamodb.partiql import plans
from conveyor.services.dynamodb.partiql import syntax as q
from conveyor.services.dynamodb.partiql.plans import Placeholders
from conveyor.services.dynamodb.read_api import ReadOperations
from conveyor.services.dynamodb.tables import Table
from conveyor.services.dynamodb.transact_api import TransactOperations
from conveyor.wire import RequestContext, ServiceError

Out = dict[str, Any]
AttributeValue = dict[str, Any]


def _parsed(text: str, parameters: Sequence[AttributeValue] | None) -> q.Parsed:
    parsed = q.parse(text)
    if parsed.parameters != len(parameters or ()):
        raise errors.validation("Number of parameters in request and statement don't match.")
    return parsed


def _duplicate() -> ServiceError:
    return ServiceError("DuplicateItemException", "Duplicate primary key exists in table")


class PartiQLOperations:
    def __init__(self, backend: Backend, items: ItemOperations, reads: ReadOperations,
                 transact: TransactOperations) -> None:
        self.backend = backend
        self.items = items
        self.reads = reads
        self.transact = transact

    def _table(self, ctx: RequestContext, name: str) -> Table:
        return self.backend.catalog.find(ctx.region, name)

    # -- ExecuteStatement --------------------------------------------------------------------------------
    async def ExecuteStatement(self, ctx: RequestContext, params: Mapping[str, Any]) -> Out:
        parameters = list(params.get("Parameters") or ())
        statement = _parsed(params["Statement"], parameters).statement
        if isinstance(statement, q.Select):
            return await self._select(ctx, statement, parameters, params)
        if isinstance(statement, q.Exists):
            raise errors.validation("EXISTS is only supported within ExecuteTransaction")
        attributes = await self._write(ctx, statement, parameters)
        return {"Items": [attributes] if attributes else []}

    async def _select(self, ctx: RequestContext, select: q.Select, parameters: list[AttributeValue],
                      params: Mapping[str, Any]) -> Out:
        table = self._table(ctx, select.source.table)
        index = None
        if select.source.index is not None:
            index = table.index(select.source.index)
            if index is None:
                raise errors.validation("The table does not have the specified index")
        keys = index if index is not None else table
        hashes, ranges = keys.hash_attrs(), keys.range_attrs()
        # A multi-attribute index key is read by scanning the index (its partitions need every attribute).
        hash_name = hashes[0].name if len(hashes) == 1 else None
        range_name = ranges[0].name if len(ranges) == 1 else None
        ph = Placeholders(parameters)
        condition = self._condition(select.where, ph) if select.where is not None else None
        projection = None
        if select.projection is not None:
            names = Placeholders(parameters)
            text = ", ".join(names.path(p) for p in select.projection)
            projection = compile_projection(text, ExpressionContext(names.names, None))
        partitions = plans.pinned_values(select.where, hash_name, parameters) if hash_name else None
        forward = True
        for key, descending in select.order:
            if partitions is None:
                raise errors.validation("Must have WHERE clause in the statement when using ORDER BY clause.")
            if key.parts not in ((hash_name,), (range_name,) if range_name else ()):
                raise errors.validation(f"Order by key must be a hash or range key of the table or index: "
                                        f"{key.name}")
            forward = not descending if range_name and key.parts == (range_name,) else forward
        limit = params.get("Limit")
        position, start = _position(params.get("NextToken"))
        found: list[AttributeValue] = []
        evaluated = 0
        sources: list[AttributeValue | None] = list(partitions) if partitions is not None else [None]
        while position < len(sources):
            request: dict[str, Any] = {"TableName": table.name, "ConsistentRead": bool(params.get("ConsistentRead"))}
            if index is not None:
                request["IndexName"] = index.name
            if start is not None:
                request["ExclusiveStartKey"] = start
            if limit is not None:
                request["Limit"] = limit - evaluated
            partition = sources[position]
            if partition is None:
                page = await self.reads.scan(ctx, request)  # type: ignore[arg-type]
            else:
                request.update(KeyConditionExpression="#k = :k", ExpressionAttributeNames={"#k": hash_name},
                               ExpressionAttributeValues={":k": partition}, ScanIndexForward=forward)
                page = await self.reads.query(ctx, request)  # type: ignore[arg-type]
            items = page.get("Items") or []
            evaluated += len(items)
            for item in items:
                if condition is None or condition.matches(item):
                    found.append(projection.apply(item) if projection is not None else item)
            start = page.get("LastEvaluatedKey")
            if start is None:
                position += 1
            if limit is not None and evaluated >= limit:
                break
        out: Out = {"Items": found}
        if position < len(sources):
            out["NextToken"] = _token(position, start)
        return out

    def _condition(self, where: q.Condition, ph: Placeholders) -> Condition:
        text = plans.condition_text(where, ph)
        return compile_condition(text, ExpressionContext(ph.names, ph.values), what="FilterExpression")

    # -- writes --------------------------------------------------------------------------------------------
    def _write_request(self, ctx: RequestContext, statement: q.Statement, parameters: list[AttributeValue]
                       ) -> tuple[str, dict[str, Any]]:
        """The single-item write a statement amounts to: (PutItem | UpdateItem | DeleteItem, its request)."""
        if isinstance(statement, q.Insert):
            table = self._table(ctx, statement.table)
            value = plans.value_of(statement.value, parameters)
            if "M" not in value:
                raise errors.validation("Unsupported operation: Inserting an item that is not a document")
            return "PutItem", {"TableName": table.name, "Item": value["M"], "ConditionExpression":
                               "attribute_not_exists(#k)", "ExpressionAttributeNames": {"#k": table.hash.name}}
        if isinstance(statement, q.Update):
            table = self._table(ctx, statement.table)
            key, rest = plans.split_key(statement.where, table.key_names(), parameters)
            ph = Placeholders(parameters)
            update = plans.update_text(statement, ph)
            condition = plans.all_of([f"attribute_exists({ph.name(table.hash.name)})",
                                      *(plans.term_text(c, ph) for c in rest)])
            request = {"TableName": table.name, "Key": key, "UpdateExpression": update,
                       "ConditionExpression": condition, **ph.expression_params()}
            if statement.returning:
                request["ReturnValues"] = plans.RETURN_VALUES[statement.returning]
            return "UpdateItem", request
        if isinstance(statement, q.Delete):
            table = self._table(ctx, statement.table)
            key, rest = plans.split_key(statement.where, table.key_names(), parameters)
            ph = Placeholders(parameters)
            request = {"TableName": table.name, "Key": key}
            if rest:  # judged on the item when there is one; deleting a missing item does nothing
                terms = plans.all_of([plans.term_text(c, ph) for c in rest])
                if len(rest) > 1:
                    terms = f"({terms})"
                request.update(ConditionExpression=f"attribute_not_exists({ph.name(table.hash.name)}) OR {terms}",
                               **ph.expression_params())
            if statement.returning:
                request["ReturnValues"] = "ALL_OLD"
            return "DeleteItem", request
        raise errors.validation("Unsupported operation: a SELECT where a write is expected")

    async def _write(self, ctx: RequestContext, statement: q.Statement, parameters: list[AttributeValue]
                     ) -> AttributeValue | None:
        operation, request = self._write_request(ctx, statement, parameters)
        try:
            answer = await getattr(self.items, operation)(ctx, request)
        except ServiceError as error:
            if error.code == "ConditionalCheckFailedException" and operation == "PutItem":
                raise _duplicate() from None
            raise
        attributes: AttributeValue | None = answer.get("Attributes")
        return attributes

    # -- BatchExecuteStatement -----------------------------------------------------------------------------
    async def BatchExecuteStatement(self, ctx: RequestContext, params: Mapping[str, Any]) -> Out:
        statements = params.get("Statements") or []
        if len(statements) > 25:
            raise errors.validation("Member must have length less than or equal to 25")
        return {"Responses": [await self._batch_one(ctx, entry) for entry in statements]}

    async def _batch_one(self, ctx: RequestContext, entry: Mapping[str, Any]) -> Out:
        """One statement of a batch: its answer, or its error as an entry (the batch goes on).
        https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchStatementResponse.html"""
        table_name: str | None = None
        try:
            parameters = list(entry.get("Parameters") or ())
            statement = _parsed(entry["Statement"], parameters).statement
            if isinstance(statement, q.Select):
                table = self._table(ctx, statement.source.table)
                table_name = table.name
                request = self._get_request(statement, table, parameters, "BatchExecuteStatement")
                got = await self.items.get_item(ctx, request)  # type: ignore[arg-type]
                return {"TableName": table.name, **({"Item": got["Item"]} if "Item" in got else {})}
            if isinstance(statement, q.Exists):
                raise errors.validation("EXISTS is only supported within ExecuteTransaction")
            table_name = self._table(ctx, statement.table).name
            await self._write(ctx, statement, parameters)
            return {"TableName": table_name}
        except ServiceError as error:
            code = {"ConditionalCheckFailedException": "ConditionalCheckFailed",
                    "DuplicateItemException": "DuplicateItem", "ResourceNotFoundException": "ResourceNotFound",
                    "ValidationException": "ValidationError"}.get(error.code, error.code.removesuffix("Exception"))
            failed: Out = {"Error": {"Code": code, "Message": error.message}}
            if table_name is not None:
                failed["TableName"] = table_name
            return failed

    def _get_request(self, select: q.Select, table: Table, parameters: list[AttributeValue], where: str
                     ) -> dict[str, Any]:
        """A SELECT that must name one item (in a batch or a transaction): its GetItem request."""
        if select.source.index is not None or select.where is None:
            raise errors.validation(f"Select statements within {where} must specify the primary key in the "
                                    f"where clause.")
        try:
            key, rest = plans.split_key(select.where, table.key_names(), parameters)
        except ServiceError:
            raise errors.validation(f"Select statements within {where} must specify the primary key in the "
                                    f"where clause.") from None
        if rest:
            raise errors.validation(f"Select statements within {where} must specify only the primary key in "
                                    f"the where clause.")
        request: dict[str, Any] = {"TableName": table.name, "Key": key}
        if select.projection is not None:
            ph = Placeholders(parameters)
            request.update(ProjectionExpression=", ".join(ph.path(p) for p in select.projection),
                           ExpressionAttributeNames=ph.names)
        return request

    # -- ExecuteTransaction --------------------------------------------------------------------------------
    async def ExecuteTransaction(self, ctx: RequestContext, params: Mapping[str, Any]) -> Out:
        entries = params.get("TransactStatements") or []
        if len(entries) > 100:
            raise errors.validation("Member must have length less than or equal to 100")
        parsed = [(_parsed(e["Statement"], e.get("Parameters")).statement, list(e.get("Parameters") or ()))
                  for e in entries]
        reads = [isinstance(s, q.Select) for s, _ in parsed]
        if any(reads) and not all(reads):
            raise errors.validation("Transaction must contain either all read statements or all write statements")
        if all(reads):
            gets = []
            for statement, parameters in parsed:
                assert isinstance(statement, q.Select)
                table = self._table(ctx, statement.source.table)
                gets.append({"Get": self._get_request(statement, table, parameters, "ExecuteTransaction")})
            answer = await self.transact.TransactGetItems(ctx, {"TransactItems": gets})  # type: ignore[typeddict-item]
            return {"Responses": [{"Item": r["Item"]} if "Item" in r else {} for r in answer.get("Responses") or []]}
        items = []
        inserts = []
        for statement, parameters in parsed:
            inserts.append(isinstance(statement, q.Insert))
            if isinstance(statement, q.Exists):
                items.append({"ConditionCheck": self._check_request(ctx, statement.select, parameters)})
                continue
            operation, request = self._write_request(ctx, statement, parameters)
            request.pop("ReturnValues", None)
            items.append({{"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}[operation]: request})
        request_out: dict[str, Any] = {"TransactItems": items}
        if params.get("ClientRequestToken"):
            request_out["ClientRequestToken"] = params["ClientRequestToken"]
        try:
            await self.transact.TransactWriteItems(ctx, request_out)  # type: ignore[arg-type]
        except ServiceError as error:
            if error.code != "TransactionCanceledException":
                raise
            # An INSERT whose key exists is a DuplicateItem, as DynamoDB reports it for PartiQL.
            reasons = [({"Code": "DuplicateItem", "Message": "Duplicate primary key exists in table"}
                        if inserted and reason.get("Code") == "ConditionalCheckFailed" else reason)
                       for reason, inserted in zip(error.extra.get("CancellationReasons") or [], inserts,
                                                   strict=False)]
            codes = ", ".join(r.get("Code", "None") for r in reasons)
            raise ServiceError("TransactionCanceledException", f"Transaction cancelled, please refer cancellation "
                               f"reasons for specific reasons [{codes}]",
                               extra={"CancellationReasons": reasons}) from None
        return {}

    def _check_request(self, ctx: RequestContext, select: q.Select, parameters: list[AttributeValue]
                       ) -> dict[str, Any]:
        """EXISTS(SELECT ... WHERE key = ... [AND ...]): a ConditionCheck that the item exists and holds."""
        table = self._table(ctx, select.source.table)
        if select.where is None:
            raise errors.validation("Where clause does not contain a mandatory equality on all key attributes")
        key, rest = plans.split_key(select.where, table.key_names(), parameters)
        ph = Placeholders(parameters)
        condition = plans.all_of([f"attribute_exists({ph.name(table.hash.name)})",
                                  *(plans.term_text(c, ph) for c in rest)])
        return {"TableName": table.name, "Key": key, "ConditionExpression": condition, **ph.expression_params()}


def _token(position: int, start: AttributeValue | None) -> str:
    return base64.b64encode(json.dumps({"p": position, "k": start}).encode()).decode()


def _position(token: str | None) -> tuple[int, AttributeValue | None]:
    if not token:
        return 0, None
    try:
        data = json.loads(base64.b64decode(token, validate=True))
        return int(data["p"]), data["k"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.validation("Invalid NextToken") from None
