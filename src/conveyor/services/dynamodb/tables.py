"""Tables and their indexes in memory (they are few), changed only after their write commits.

A table is stored as one row whose `spec` is the JSON of `Table.to_spec()`: its key schema, attribute
definitions, billing, indexes, stream and TTL settings, tags. Items live only in the store.
DescribeTable's shape: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from conveyor.services.dynamodb import throughput

Out = dict[str, Any]


@dataclass(frozen=True)
class KeyAttr:
    name: str
    type: str  # "S", "N" or "B"


@dataclass
class Index:
    """A secondary index. A global one's partition and sort keys may each be made of up to four
    attributes (multi-attribute keys); a local one's are one attribute each.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.MultiAttributeKeys"""

    name: str
    is_global: bool
    hash_keys: list[KeyAttr]  # the partition key's attributes, in KeySchema order
    range_keys: list[KeyAttr]  # the sort key's attributes, in KeySchema order (none: no sort key)
    projection_type: str  # ALL, KEYS_ONLY, INCLUDE
    non_key_attributes: list[str] = field(default_factory=list)
    read_units: int = 0
    write_units: int = 0
    status: str = "ACTIVE"
    warm_read: int = 0  # warm throughput set or reached (see throughput.py; 0: its base)
    warm_write: int = 0
    on_demand: Out | None = None  # its OnDemandThroughput, if one was given

    def hash_attrs(self) -> list[KeyAttr]:
        return list(self.hash_keys)

    def range_attrs(self) -> list[KeyAttr]:
        return list(self.range_keys)

    def key_names(self) -> list[str]:
        return [a.name for a in self.hash_keys + self.range_keys]

    def key_schema(self) -> list[Out]:
        return ([{"AttributeName": a.name, "KeyType": "HASH"} for a in self.hash_keys]
                + [{"AttributeName": a.name, "KeyType": "RANGE"} for a in self.range_keys])

    def projection(self) -> Out:
        out: Out = {"ProjectionType": self.projection_type}
        if self.projection_type == "INCLUDE":
            out["NonKeyAttributes"] = list(self.non_key_attributes)
        return out


@dataclass
class Table:
    id: int
    region: str
    name: str
    created: float  # seconds since the epoch
    hash: KeyAttr
    range: KeyAttr | None
    attributes: list[KeyAttr]  # AttributeDefinitions, in the order given
    billing_mode: str = "PROVISIONED"
    read_units: int = 0
    write_units: int = 0
    indexes: list[Index] = field(default_factory=list)
    stream_enabled: bool = False
    stream_view_type: str = ""
    stream_label: str = ""  # the latest stream's label (kept once streams are disabled)
    sse: Out | None = None
    deletion_protection: bool = False
    table_class: str = "STANDARD"
    ttl_attribute: str = ""
    ttl_enabled: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "ACTIVE"
    policy: str = ""  # its resource-based policy (JSON), if any
    policy_revision: str = ""
    pitr_since: float = 0.0  # when point-in-time recovery was enabled (0: it is not)
    pitr_days: int = 35
    restored_from: Out | None = None  # RestoreSummary of a restored table (its times in epoch seconds)
    warm_read: int = 0  # warm throughput set or reached (see throughput.py; 0: its base)
    warm_write: int = 0
    on_demand: Out | None = None  # its OnDemandThroughput, if one was given
    pay_per_request_since: float = 0.0  # when it last became on-demand (0: at its creation, if it is)
    class_updated: float = 0.0  # when UpdateTable last changed its table class (0: never)

    # -- identity ----------------------------------------------------------------------------------------
    def arn(self, account: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{account}:table/{self.name}"

    def stream_arn(self, account: str) -> str:
        return f"{self.arn(account)}/stream/{self.stream_label}"

    def key_names(self) -> list[str]:
        return [self.hash.name] + ([self.range.name] if self.range else [])

    def hash_attrs(self) -> list[KeyAttr]:
        return [self.hash]

    def range_attrs(self) -> list[KeyAttr]:
        return [self.range] if self.range else []

    def index(self, name: str) -> Index | None:
        return next((i for i in self.indexes if i.name == name), None)

    def gsis(self) -> list[Index]:
        return [i for i in self.indexes if i.is_global]

    def lsis(self) -> list[Index]:
        return [i for i in self.indexes if not i.is_global]

    # -- persistence -------------------------------------------------------------------------------------
    def to_spec(self) -> str:
        import json

        data = asdict(self)
        for name in ("id", "region", "name", "created"):
            data.pop(name)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_row(cls, id: int, region: str, name: str, created: float, spec: str) -> Table:
        import json

        data = json.loads(spec)
        for member, default in (("policy", ""), ("policy_revision", ""), ("pitr_since", 0.0), ("pitr_days", 35),
                                ("restored_from", None)):  # settings newer than the table's row
            data.setdefault(member, default)
        data["hash"] = KeyAttr(**data["hash"])
        data["range"] = KeyAttr(**data["range"]) if data["range"] else None
        data["attributes"] = [KeyAttr(**a) for a in data["attributes"]]
        indexes = []
        for raw in data["indexes"]:
            if "hash" in raw:  # an index stored before multi-attribute keys: one hash, at most one range
                raw["hash_keys"] = [raw.pop("hash")]
                single_range = raw.pop("range")
                raw["range_keys"] = [single_range] if single_range else []
            raw["hash_keys"] = [KeyAttr(**a) for a in raw["hash_keys"]]
            raw["range_keys"] = [KeyAttr(**a) for a in raw["range_keys"]]
            indexes.append(Index(**raw))
        data["indexes"] = indexes
        return cls(id=id, region=region, name=name, created=created, **data)

    # -- DescribeTable -----------------------------------------------------------------------------------
    def key_schema(self) -> list[Out]:
        schema: list[Out] = [{"AttributeName": self.hash.name, "KeyType": "HASH"}]
        if self.range:
            schema.append({"AttributeName": self.range.name, "KeyType": "RANGE"})
        return schema

    def throughput(self, read: int, write: int) -> Out:
        # On-demand tables report zero units (and no decrease history).
        # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ProvisionedThroughputDescription.html
        return {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": read, "WriteCapacityUnits": write}

    def describe(self, account: str, item_count: int, size_bytes: int,
                 index_counts: dict[str, tuple[int, int]] | None = None) -> Out:
        created = dt.datetime.fromtimestamp(self.created, dt.UTC)
        out: Out = {
            "AttributeDefinitions": [{"AttributeName": a.name, "AttributeType": a.type} for a in self.attributes],
            "TableName": self.name,
            "KeySchema": self.key_schema(),
            "TableStatus": self.status,
            "CreationDateTime": created,
            "ProvisionedThroughput": self.throughput(self.read_units, self.write_units),
            "TableSizeBytes": size_bytes,
            "ItemCount": item_count,
            "TableArn": self.arn(account),
            "TableId": _table_id(self.region, self.name, self.created),
            "DeletionProtectionEnabled": self.deletion_protection,
        }
        if self.billing_mode == "PAY_PER_REQUEST" or self.pay_per_request_since:
            # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BillingModeSummary.html
            since = dt.datetime.fromtimestamp(self.pay_per_request_since, dt.UTC) if self.pay_per_request_since \
                else created
            out["BillingModeSummary"] = {"BillingMode": self.billing_mode, "LastUpdateToPayPerRequestDateTime": since}
        out["WarmThroughput"] = throughput.describe(self.warm())
        if self.on_demand:
            out["OnDemandThroughput"] = dict(self.on_demand)
        counts = index_counts or {}
        lsis = [self._describe_index(i, account, counts) for i in self.lsis()]
        gsis = [self._describe_index(i, account, counts) for i in self.gsis()]
        if lsis:
            out["LocalSecondaryIndexes"] = lsis
        if gsis:
            out["GlobalSecondaryIndexes"] = gsis
        if self.stream_enabled:
            out["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream_view_type}
        if self.stream_label:
            out["LatestStreamLabel"] = self.stream_label
            out["LatestStreamArn"] = self.stream_arn(account)
        if self.sse is not None:
            out["SSEDescription"] = self.sse
        if self.restored_from is not None:
            summary = dict(self.restored_from)
            summary["RestoreDateTime"] = dt.datetime.fromtimestamp(summary["RestoreDateTime"], dt.UTC)
            out["RestoreSummary"] = summary
        if self.table_class != "STANDARD" or self.class_updated:
            # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableClassSummary.html
            out["TableClassSummary"] = {"TableClass": self.table_class}
            if self.class_updated:
                out["TableClassSummary"]["LastUpdateDateTime"] = dt.datetime.fromtimestamp(self.class_updated, dt.UTC)
        return out

    def _describe_index(self, index: Index, account: str, counts: dict[str, tuple[int, int]]) -> Out:
        item_count, size = counts.get(index.name, (0, 0))
        out: Out = {"IndexName": index.name, "KeySchema": index.key_schema(), "Projection": index.projection(),
                    "IndexSizeBytes": size, "ItemCount": item_count,
                    "IndexArn": f"{self.arn(account)}/index/{index.name}"}
        if index.is_global:
            out["IndexStatus"] = index.status
            out["ProvisionedThroughput"] = self.throughput(index.read_units, index.write_units)
            out["WarmThroughput"] = throughput.describe(self.index_warm(index))
            if index.on_demand:
                out["OnDemandThroughput"] = dict(index.on_demand)
        return out

    def warm(self) -> tuple[int, int]:
        """The table's warm throughput now."""
        return throughput.current((self.warm_read, self.warm_write), self.billing_mode, self.read_units,
                                  self.write_units)

    def index_warm(self, index: Index) -> tuple[int, int]:
        return throughput.current((index.warm_read, index.warm_write), self.billing_mode, index.read_units,
                                  index.write_units)


def _table_id(region: str, name: str, created: float) -> str:
    """A stable UUID-shaped TableId for the table's name and creation time."""
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dynamodb:{region}:{name}:{created}"))


def sse_description(spec: Out | None, region: str, account: str) -> Out | None:
    """SSESpecification echoed as DescribeTable's SSEDescription: Enabled with KMS is the AWS managed key
    unless one is named. https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_SSEDescription.html"""
    if not spec or not spec.get("Enabled"):
        return None
    key = spec.get("KMSMasterKeyId") or f"arn:aws:kms:{region}:{account}:key/aws/dynamodb"
    if not key.startswith("arn:"):
        key = f"arn:aws:kms:{region}:{account}:key/{key}"
    return {"Status": "ENABLED", "SSEType": spec.get("SSEType") or "KMS", "KMSMasterKeyArn": key}
