"""ConsumedCapacity as DynamoDB reports it (it never throttles here).

A read unit is one strongly consistent read of up to 4 KB (half for an eventually consistent one; a
transactional read costs two); a write unit is one write of up to 1 KB (two in a transaction). A write is
charged for the larger of the item's old and new sizes. TOTAL reports the units; INDEXES adds the table's
and each index's share. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

Out = dict[str, Any]


def read_units(size: int, consistent: bool, *, transactional: bool = False) -> float:
    units = float(max(1, math.ceil(size / 4096)))
    if transactional:
        return units * 2
    return units if consistent else units / 2


def write_units(size: int, *, transactional: bool = False) -> float:
    units = float(max(1, math.ceil(size / 1024)))
    return units * 2 if transactional else units


def report(mode: str | None, table: str, units: float, indexes: Iterable[str] = (), *,
           index_units: float | None = None, local: Iterable[str] = (), split: str | None = None) -> Out | None:
    """The ConsumedCapacity member for ReturnConsumedCapacity `mode` (None or NONE: none). A transaction's
    also splits its units into ReadCapacityUnits or WriteCapacityUnits (`split`: "Read" or "Write"), as
    DynamoDB answers TransactGetItems and TransactWriteItems (the AWS CLI reference's examples).
    https://docs.aws.amazon.com/cli/latest/reference/dynamodb/transact-get-items.html"""
    if mode not in ("TOTAL", "INDEXES"):
        return None
    global_names, local_names = list(indexes), list(local)
    each = units if index_units is None else index_units
    total = units + each * (len(global_names) + len(local_names))
    out: Out = {"TableName": table, "CapacityUnits": total}
    if split is not None:
        out[f"{split}CapacityUnits"] = total
    if mode == "INDEXES":
        out["Table"] = {"CapacityUnits": units}
        if split is not None:  # the table's share is split the same way
            out["Table"][f"{split}CapacityUnits"] = units
        if global_names:
            out["GlobalSecondaryIndexes"] = {n: {"CapacityUnits": each} for n in global_names}
        if local_names:
            out["LocalSecondaryIndexes"] = {n: {"CapacityUnits": each} for n in local_names}
    return out


def merge(reports: Iterable[Out | None]) -> list[Out]:
    """One ConsumedCapacity per table, the units of its requests summed (batches, transactions)."""
    by_table: dict[str, Out] = {}
    for found in reports:
        if found is None:
            continue
        current = by_table.get(found["TableName"])
        if current is None:
            by_table[found["TableName"]] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in found.items()}
            continue
        current["CapacityUnits"] += found["CapacityUnits"]
        for split in ("ReadCapacityUnits", "WriteCapacityUnits"):
            if split in found:
                current[split] = current.get(split, 0.0) + found[split]
        if "Table" in found:
            for member, value in found["Table"].items():
                current["Table"][member] = current["Table"].get(member, 0.0) + value
        for group in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            for name, value in found.get(group, {}).items():
                entry = current.setdefault(group, {}).setdefault(name, {"CapacityUnits": 0.0})
                entry["CapacityUnits"] += value["CapacityUnits"]
    return list(by_table.values())
