"""Warm throughput and on-demand maximum throughput of tables and global secondary indexes.

Warm throughput is what a table or index can serve at once. A new on-demand table or index starts at
12,000 read and 4,000 write units per second; a provisioned one at its provisioned units. It rises with
a larger provisioned throughput or on request (CreateTable's and UpdateTable's WarmThroughput, for the
table and for each global index) and never falls. Nothing here is throttled, so every value is ACTIVE
at once. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput.html,
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableWarmThroughputDescription.html

OnDemandThroughput caps an on-demand table's or index's request units (-1 removes a cap); it is kept
and described as given. https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_OnDemandThroughput.html

The refusals are in DynamoDB's words as a catalogue of its answers records them (the API reference
gives the rules, not the messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.services.dynamodb import errors

Out = dict[str, Any]

ON_DEMAND_READ = 12_000
ON_DEMAND_WRITE = 4_000


def base(mode: str, read_units: int, write_units: int) -> tuple[int, int]:
    """The warm throughput a table or index has without asking: on-demand's initial values, or its
    provisioned units."""
    if mode == "PAY_PER_REQUEST":
        return ON_DEMAND_READ, ON_DEMAND_WRITE
    return read_units, write_units


def requested(raw: Mapping[str, Any] | None, floor: tuple[int, int], mode: str, what: str) -> tuple[int, int]:
    """The warm throughput a request sets (its WarmThroughput, or none: 0, 0), refused below `floor`
    with DynamoDB's words. `what` is "table" or "index NAME"."""
    if not raw:
        return 0, 0
    read = int(raw.get("ReadUnitsPerSecond") or 0)
    write = int(raw.get("WriteUnitsPerSecond") or 0)
    for name, value, least, unit in (("ReadUnitsPerSecond", read, floor[0], "ReadCapacityUnits"),
                                     ("WriteUnitsPerSecond", write, floor[1], "WriteCapacityUnits")):
        if value and value < least:
            below = ("initial throughput for OnDemand" if mode == "PAY_PER_REQUEST"
                     else f"{unit} of ProvisionedThroughput")
            raise errors.invalid(f"Requested {name} for WarmThroughput for {what} is lower than {below}")
    return read, write


def current(stored: tuple[int, int], mode: str, read_units: int, write_units: int) -> tuple[int, int]:
    """The warm throughput now: what was set or reached, or more if the capacity is higher."""
    floor = base(mode, read_units, write_units)
    return max(stored[0], floor[0]), max(stored[1], floor[1])


def describe(values: tuple[int, int]) -> Out:
    return {"ReadUnitsPerSecond": values[0], "WriteUnitsPerSecond": values[1], "Status": "ACTIVE"}


def raised(raw: Mapping[str, Any] | None, now: tuple[int, int], what: str) -> tuple[int, int]:
    """UpdateTable's WarmThroughput for a table or index whose warm throughput is `now`: it may only rise."""
    if not raw:
        return now
    read = int(raw.get("ReadUnitsPerSecond") or now[0])
    write = int(raw.get("WriteUnitsPerSecond") or now[1])
    for name, value, current_value in (("ReadUnitsPerSecond", read, now[0]), ("WriteUnitsPerSecond", write, now[1])):
        if value < current_value:
            raise errors.invalid(f"Requested {name} for WarmThroughput for {what} is lower than current WarmThroughput, "
                                 "decreasing WarmThroughput is not supported")
    return read, write


def on_demand(raw: Mapping[str, Any] | None, previous: Out | None, mode: str, what: str, *,
              updating: bool = False) -> Out | None:
    """An OnDemandThroughput as kept: the members given replace the previous ones. Only an on-demand
    table has one; a value is at least 1, or -1 on UpdateTable to remove the cap. `what` is "table" or
    "index : NAME"."""
    if not raw:
        return previous
    given = [name for name in ("MaxReadRequestUnits", "MaxWriteRequestUnits") if raw.get(name) is not None]
    if given and mode != "PAY_PER_REQUEST":
        raise errors.invalid(f"{given[0]} for OnDemandThroughput cannot be specified when the table BillingMode is "
                             "PROVISIONED")
    kept: Out = dict(previous or {})
    for name in given:
        value = int(raw[name])
        if value < 1 and not (updating and value == -1):
            raise errors.invalid(f"Requested {name} for OnDemandThroughput for {what} is outside of valid range")
        kept[name] = value
    return kept or previous
