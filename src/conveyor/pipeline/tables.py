"""The pipeline's `tables:` section: DynamoDB tables the backend keeps its file metadata and job status in.

    tables:
      - name: jobs
        hash_key: job_id            # NAME or NAME:S|N|B (S when left out)
        range_key: created:N        # optional
        indexes:                    # optional global secondary indexes (every attribute projected)
          - name: by-status
            hash_key: status
            range_key: created:N
          - name: by-tenant             # a multi-attribute key: a list of up to four attributes each
            hash_key: [tenant, region]
            range_key: [priority:N, created:N]
        stream: NEW_AND_OLD_IMAGES  # optional: KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES
        ttl: expires_at             # optional: the attribute whose epoch seconds expire an item

An index's key attributes (a name or a list of up to four) become its KeySchema: every partition key
attribute (HASH) in order, then every sort key attribute (RANGE).
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.DesignPattern.MultiAttributeKeys.html

Tables are on-demand. Applying creates a missing table, adds missing indexes and sets its stream and TTL
as the file says; a table whose keys differ is reported as drift (keys cannot change: delete the table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conveyor.pipeline.spec import _Reader

STREAM_VIEWS = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
MAX_INDEX_KEY_ATTRIBUTES = 4  # per side: up to four partition key and four sort key attributes

Key = tuple[str, str]  # (attribute name, S|N|B)


@dataclass
class TableIndex:
    name: str
    hash_keys: list[Key]
    range_keys: list[Key] = field(default_factory=list)


@dataclass
class Table:
    name: str
    hash_key: tuple[str, str]
    range_key: tuple[str, str] | None = None
    indexes: list[TableIndex] = field(default_factory=list)
    stream: str | None = None
    ttl: str | None = None
    line: int = field(default=0, compare=False)


def _key(r: _Reader, node: Any, key: str, where: str, *, required: bool) -> tuple[str, str] | None:
    text = r.get(node, key, str, where, required=required)
    if text is None:
        return None
    return _key_text(r, node, key, f"{where}.{key}", text)


def _key_text(r: _Reader, node: Any, key: str, what: str, text: Any) -> Key:
    name, _, kind = text.partition(":") if isinstance(text, str) else ("", "", "")
    kind = kind or "S"
    if not name or kind not in ("S", "N", "B"):
        raise r.fail(node, key, f"{what} must be NAME or NAME:S, NAME:N or NAME:B, not {text!r}")
    return name, kind


def _index_keys(r: _Reader, node: Any, key: str, where: str, *, required: bool) -> list[Key]:
    """An index's partition or sort key: one attribute, or a list of up to four (a multi-attribute key)."""
    value = r.get(node, key, (str, list), where, required=required)
    if value is None:
        return []
    if isinstance(value, str):
        return [_key_text(r, node, key, f"{where}.{key}", value)]
    if not value:
        raise r.fail(node, key, f"{where}.{key} must name at least one attribute")
    if len(value) > MAX_INDEX_KEY_ATTRIBUTES:
        raise r.fail(node, key, f"{where}.{key} has {len(value)} attributes: an index's partition key and its "
                                f"sort key have at most {MAX_INDEX_KEY_ATTRIBUTES} each")
    return [_key_text(r, node, key, f"{where}.{key}[{i}]", text) for i, text in enumerate(value)]


def parse_table(r: _Reader, node: Any, where: str, parent: Any) -> Table:
    node = r.mapping(node, where, {"name", "hash_key", "range_key", "indexes", "stream", "ttl"}, parent, "tables")
    hash_key = _key(r, node, "hash_key", where, required=True)
    assert hash_key is not None
    table = Table(r.get(node, "name", str, where, required=True), hash_key,
                  _key(r, node, "range_key", where, required=False), line=node.line)
    for i, raw in enumerate(r.items(node, "indexes", where)):
        at = f"{where}.indexes[{i}]"
        raw = r.mapping(raw, at, {"name", "hash_key", "range_key"}, node, "indexes")
        index = TableIndex(r.get(raw, "name", str, at, required=True), _index_keys(r, raw, "hash_key", at, required=True),
                           _index_keys(r, raw, "range_key", at, required=False))
        names = [name for name, _ in index.hash_keys + index.range_keys]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise r.fail(raw, None, f"{at}: attribute {twice[0]} is in the index's key twice")
        table.indexes.append(index)
    table.stream = r.get(node, "stream", str, where)
    if table.stream is not None and table.stream not in STREAM_VIEWS:
        raise r.fail(node, "stream", f"{where}.stream must be one of {', '.join(STREAM_VIEWS)}")
    table.ttl = r.get(node, "ttl", str, where)
    keys: dict[str, str] = {}
    for name, kind in _all_keys(table):
        if keys.setdefault(name, kind) != kind:
            raise r.fail(node, None, f"{where}: attribute {name} is a key of two types ({keys[name]} and {kind})")
    return table


def _all_keys(table: Table) -> list[Key]:
    return [k for k in (table.hash_key, table.range_key) if k] + [
        k for i in table.indexes for k in i.hash_keys + i.range_keys]


def _schema(hash_keys: list[Key], range_keys: list[Key]) -> list[dict[str, str]]:
    """A KeySchema: the partition key attributes (HASH), then the sort key attributes (RANGE)."""
    return ([{"AttributeName": name, "KeyType": "HASH"} for name, _ in hash_keys]
            + [{"AttributeName": name, "KeyType": "RANGE"} for name, _ in range_keys])


def _table_schema(table: Table) -> list[dict[str, str]]:
    return _schema([table.hash_key], [table.range_key] if table.range_key else [])


def _definitions(table: Table) -> list[dict[str, str]]:
    return [{"AttributeName": n, "AttributeType": t} for n, t in dict(_all_keys(table)).items()]


def _gsi(index: TableIndex) -> dict[str, Any]:
    return {"IndexName": index.name, "KeySchema": _schema(index.hash_keys, index.range_keys),
            "Projection": {"ProjectionType": "ALL"}}


def apply_table(ddb: Any, table: Table, created: Any, drifted: Any) -> None:
    """Make the table as the pipeline says (`ddb`: a boto3 DynamoDB client of the pipeline's region)."""
    from botocore.exceptions import ClientError  # the server reads pipelines at start without botocore

    try:
        found = ddb.describe_table(TableName=table.name)["Table"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        found = None
    if found is None:
        extra: dict[str, Any] = {}
        if table.indexes:
            extra["GlobalSecondaryIndexes"] = [_gsi(i) for i in table.indexes]
        if table.stream:
            extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream}
        ddb.create_table(TableName=table.name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=_definitions(table),
                         KeySchema=_table_schema(table), **extra)
        if table.ttl:
            ddb.update_time_to_live(TableName=table.name, TimeToLiveSpecification={"Enabled": True,
                                                                                    "AttributeName": table.ttl})
        created(f"table {table.name}")
        return
    if found["KeySchema"] != _table_schema(table):
        drifted(f"table {table.name}: its keys differ from the pipeline's (keys cannot change: delete the table "
                "to have it made anew)")
        return
    present = {i["IndexName"] for i in found.get("GlobalSecondaryIndexes", [])}
    for index in table.indexes:
        if index.name not in present:
            ddb.update_table(TableName=table.name, AttributeDefinitions=_definitions(table),
                             GlobalSecondaryIndexUpdates=[{"Create": _gsi(index)}])
            drifted(f"table {table.name}: index {index.name} added")
    stream = found.get("StreamSpecification", {})
    current = stream.get("StreamViewType") if stream.get("StreamEnabled") else None
    if current != table.stream:
        if current is not None:
            ddb.update_table(TableName=table.name, StreamSpecification={"StreamEnabled": False})
        if table.stream is not None:
            ddb.update_table(TableName=table.name, StreamSpecification={"StreamEnabled": True,
                                                                        "StreamViewType": table.stream})
        drifted(f"table {table.name}: stream set to {table.stream or 'none'}")
    ttl = ddb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
    current_ttl = ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None
    if current_ttl != table.ttl:
        if current_ttl is not None:
            ddb.update_time_to_live(TableName=table.name, TimeToLiveSpecification={"Enabled": False,
                                                                                    "AttributeName": current_ttl})
        if table.ttl is not None:
            ddb.update_time_to_live(TableName=table.name, TimeToLiveSpecification={"Enabled": True,
                                                                                    "AttributeName": table.ttl})
        drifted(f"table {table.name}: TTL set to {table.ttl or 'none'}")


def template_resource(table: Table) -> dict[str, Any]:
    """The table as `conveyor export` writes it: AWS::DynamoDB::Table, on demand, with its indexes, stream and TTL.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-dynamodb-table.html"""
    properties: dict[str, Any] = {"TableName": table.name, "BillingMode": "PAY_PER_REQUEST",
                                  "AttributeDefinitions": _definitions(table),
                                  "KeySchema": _table_schema(table)}
    if table.indexes:
        properties["GlobalSecondaryIndexes"] = [_gsi(i) for i in table.indexes]
    if table.stream:
        properties["StreamSpecification"] = {"StreamViewType": table.stream}
    if table.ttl:
        properties["TimeToLiveSpecification"] = {"AttributeName": table.ttl, "Enabled": True}
    return {"Type": "AWS::DynamoDB::Table", "Properties": properties}
