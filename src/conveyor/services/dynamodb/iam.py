"""What each DynamoDB operation asks IAM for (`--iam report|enforce`).

https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html: actions are
named after their operations and act on the table `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME`, an index
`.../table/NAME/index/INDEX` (Query and Scan with IndexName) or a stream `.../table/NAME/stream/LABEL`.
A batch asks for its action on each table it names; a transaction asks, for each of its items, the action
of the single-item operation it performs (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
transaction-apis-iam.html). ListTables, DescribeLimits and DescribeEndpoints act on no table ("*").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.authz import Need
from conveyor.services.dynamodb.catalog import table_name
from conveyor.services.dynamodb.partiql.plans import iam_targets
from conveyor.wire import RequestContext

# What another account may do with a table at all, when the table's policy lets it: the data plane, a table's
# description, update and deletion, and its tags; PartiQL, backups, point-in-time recovery, exports and imports,
# TTL, Kinesis destinations, Contributor Insights and the resource policy itself are for the table's own account.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-iam-actions.html
CROSS_ACCOUNT = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
    "TransactGetItems", "TransactWriteItems", "DescribeTable", "UpdateTable", "DeleteTable",
    "TagResource", "UntagResource", "ListTagsOfResource",
})

# Item operations say only "Requested resource not found" of a missing table; the control plane names it.
ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                             "BatchWriteItem", "TransactGetItems", "TransactWriteItems"})


def caller_account(ctx: RequestContext) -> str:
    """The account a bare table name belongs to: the caller's own (another account's caller has none here)."""
    return ctx.principal.account_id if ctx.principal is not None else ctx.account_id


# PartiQL asks for dynamodb:PartiQLSelect/Insert/Update/Delete on each statement's table (or index).
_PARTIQL_STATEMENTS = {"ExecuteStatement": "", "BatchExecuteStatement": "Statements",
                       "ExecuteTransaction": "TransactStatements"}
_TRANSACT_WRITE_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                           "ConditionCheck": "ConditionCheckItem"}


def table_arn(region: str, account: str, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def needs(region: str, account: str, operation: str, params: Mapping[str, Any]) -> list[Need]:
    action = f"dynamodb:{operation}"
    if operation in ("ExportTableToPointInTime", "ImportTable"):
        return _transfer_needs(region, account, operation, params)
    if operation in ("BatchGetItem", "BatchWriteItem"):
        tables = params.get("RequestItems") or {}
        return [Need(action, table_arn(region, account, str(name))) for name in tables] or [Need(action)]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        found: list[Need] = []
        for entry in params.get("TransactItems") or []:
            for kind, body in entry.items():
                name = body.get("TableName") if isinstance(body, Mapping) else None
                if not isinstance(name, str):
                    continue
                single = "GetItem" if kind == "Get" else _TRANSACT_WRITE_ACTIONS.get(kind, kind)
                need = Need(f"dynamodb:{single}", table_arn(region, account, name))
                if need not in found:
                    found.append(need)
        return found or [Need(action)]
    if operation in _PARTIQL_STATEMENTS:
        texts = [params.get("Statement")] if operation == "ExecuteStatement" else [
            e.get("Statement") for e in params.get(_PARTIQL_STATEMENTS[operation]) or [] if isinstance(e, Mapping)]
        return [Need(action, table_arn(region, account, table) + (f"/index/{index}" if index else ""))
                for action, table, index in iam_targets([t for t in texts if isinstance(t, str)])] or [Need(action)]
    arn = (params.get("ResourceArn") or params.get("StreamArn") or params.get("TableArn") or params.get("ExportArn")
           or params.get("ImportArn"))
    if isinstance(arn, str) and arn.startswith("arn:"):
        return [Need(action, arn)]
    name = params.get("TableName")
    if isinstance(name, str) and name:
        resource = table_arn(region, account, table_name(name) if not name.startswith("arn:") else name)
        index = params.get("IndexName")
        if isinstance(index, str) and index and operation in ("Query", "Scan"):
            resource = f"{resource}/index/{index}"
        return [Need(action, resource)]
    return [Need(action)]


def _transfer_needs(region: str, account: str, operation: str, params: Mapping[str, Any]) -> list[Need]:
    """An export writes to S3, and an import reads from it, with the caller's permissions: the caller needs
    S3's actions on the bucket beside DynamoDB's own on the table.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport_Requesting.html,
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataImport.Requesting.html"""
    if operation == "ExportTableToPointInTime":
        found = [Need("dynamodb:ExportTableToPointInTime", str(params.get("TableArn") or "*"))]
        bucket, prefix = params.get("S3Bucket"), str(params.get("S3Prefix") or "").rstrip("/")
        if isinstance(bucket, str):
            found.append(Need("s3:PutObject", f"arn:aws:s3:::{bucket}/{prefix + '/' if prefix else ''}AWSDynamoDB/*"))
        return found
    creation = params.get("TableCreationParameters")
    name = creation.get("TableName") if isinstance(creation, Mapping) else None
    found = [Need("dynamodb:ImportTable", table_arn(region, account, name) if isinstance(name, str) else "*")]
    source = params.get("S3BucketSource")
    if isinstance(source, Mapping) and isinstance(source.get("S3Bucket"), str):
        bucket, prefix = source["S3Bucket"], str(source.get("S3KeyPrefix") or "")
        found += [Need("s3:ListBucket", f"arn:aws:s3:::{bucket}"), Need("s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}*")]
    return found
