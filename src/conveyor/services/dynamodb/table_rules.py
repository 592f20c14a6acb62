"""CreateTable's and UpdateTable's rules: key schemas, attribute definitions, billing, indexes.

The messages are DynamoDB's, in the order it checks them (https://docs.aws.amazon.com/amazondynamodb/
latest/APIReference/API_CreateTable.html; the limits: https://docs.aws.amazon.com/amazondynamodb/latest/
developerguide/ServiceQuotas.html — 20 GSIs and 5 LSIs per table, 100 projected non-key attributes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from conveyor.services.dynamodb import errors
from conveyor.services.dynamodb.tables import Index, KeyAttr

MAX_GSIS = 20
MAX_LSIS = 5
MAX_PROJECTED = 100
MAX_UNITS = 1_000_000_000_000
_NAME = re.compile(r"[a-zA-Z0-9_.-]+")


def check_table_name(name: str, member: str = "tableName") -> None:
    """Table and index names: 3 to 255 of [a-zA-Z0-9_.-] (the model allows ARNs up to 1024 characters).
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html"""
    problems = []
    if len(name) < 3:
        problems.append(f"Value '{name}' at '{member}' failed to satisfy constraint: "
                        "Member must have length greater than or equal to 3")
    if len(name) > 255:
        problems.append(f"Value '{name}' at '{member}' failed to satisfy constraint: "
                        "Member must have length less than or equal to 255")
    if not _NAME.fullmatch(name):
        problems.append(f"Value '{name}' at '{member}' failed to satisfy constraint: "
                        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
    if problems:
        count = len(problems)
        raise errors.validation(f"{count} validation error{'s' if count > 1 else ''} detected: "
                                + "; ".join(problems))


def definitions(params: Mapping[str, Any]) -> dict[str, str]:
    defs: dict[str, str] = {}
    for item in params.get("AttributeDefinitions") or []:
        if item["AttributeName"] in defs:
            raise errors.validation("Cannot have two attributes with the same name")
        defs[item["AttributeName"]] = item["AttributeType"]
    return defs


def key_schema(schema: Sequence[Mapping[str, Any]], defs: Mapping[str, str]) -> tuple[KeyAttr, KeyAttr | None]:
    """The (hash, range) of a table's or index's KeySchema."""
    names = [k["AttributeName"] for k in schema]
    if len(names) > len(defs):
        raise errors.validation("Invalid KeySchema: Some index key attribute have no definition")
    if any(n not in defs for n in names):
        raise errors.invalid(f"Some index key attributes are not defined in AttributeDefinitions. "
                             f"Keys: [{', '.join(names)}], AttributeDefinitions: [{', '.join(defs)}]")
    if len(names) == 2 and names[0] == names[1]:
        raise errors.validation("Both the Hash Key and the Range Key element in the KeySchema have the same name")
    if schema[0]["KeyType"] != "HASH":
        raise errors.validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    if len(schema) == 2 and schema[1]["KeyType"] != "RANGE":
        raise errors.validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
    hash_key = KeyAttr(names[0], defs[names[0]])
    range_key = KeyAttr(names[1], defs[names[1]]) if len(names) == 2 else None
    return hash_key, range_key


def billing(params: Mapping[str, Any], *, default: str = "PROVISIONED") -> tuple[str, int, int]:
    """(mode, read units, write units) of CreateTable's BillingMode and ProvisionedThroughput."""
    mode = params.get("BillingMode") or default
    throughput = params.get("ProvisionedThroughput")
    if mode == "PAY_PER_REQUEST":
        if throughput:
            raise errors.invalid("Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when "
                                 "BillingMode is PAY_PER_REQUEST")
        return mode, 0, 0
    if not throughput:
        raise errors.invalid("ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode "
                             "is PROVISIONED")
    read, write = _units(throughput)
    return mode, read, write


def _units(throughput: Mapping[str, Any]) -> tuple[int, int]:
    read, write = int(throughput["ReadCapacityUnits"]), int(throughput["WriteCapacityUnits"])
    for name, value in (("ReadCapacityUnits", read), ("WriteCapacityUnits", write)):
        if value < 1:
            raise errors.validation(f"1 validation error detected: Value '{value}' at 'provisionedThroughput."
                                    f"{name[0].lower() + name[1:]}' failed to satisfy constraint: Member must "
                                    "have value greater than or equal to 1")
        if value > MAX_UNITS:
            raise errors.validation(f"Given value {value} for {name} is out of bounds")
    return read, write


def projection(index_name: str, raw: Mapping[str, Any]) -> tuple[str, list[str]]:
    kind = raw.get("ProjectionType")
    non_key = list(raw.get("NonKeyAttributes") or [])
    if kind is None:
        raise errors.invalid("Unknown ProjectionType: null")
    if raw.get("NonKeyAttributes") is not None and kind != "INCLUDE":
        raise errors.invalid(f"ProjectionType is {kind}, but NonKeyAttributes is specified")
    if kind == "INCLUDE" and not non_key:
        raise errors.invalid("ProjectionType is INCLUDE, but NonKeyAttributes is not specified")
    return kind, non_key


def index(raw: Mapping[str, Any], defs: Mapping[str, str], *, is_global: bool, mode: str,
          table_hash: KeyAttr) -> Index:
    name = raw["IndexName"]
    check_table_name(name, "indexName")
    hash_key, range_key = key_schema(raw["KeySchema"], defs)
    if not is_global:
        if range_key is None:
            raise errors.invalid(f"Index KeySchema does not have a range key for index: {name}")
        if hash_key.name != table_hash.name:
            raise errors.invalid(f"Index KeySchema does not have the same leading hash key as table KeySchema "
                                 f"for index: {name}. index hash key: {hash_key.name}, table hash key: "
                                 f"{table_hash.name}")
    kind, non_key = projection(name, raw["Projection"])
    read = write = 0
    throughput = raw.get("ProvisionedThroughput")
    if is_global:
        if mode == "PAY_PER_REQUEST" and throughput:
            raise errors.invalid(f"ProvisionedThroughput should not be specified for index: {name} when "
                                 "BillingMode is PAY_PER_REQUEST")
        if mode == "PROVISIONED":
            if not throughput:
                raise errors.invalid(f"ProvisionedThroughput must be specified for index: {name}")
            read, write = _units(throughput)
    return Index(name, is_global, hash_key, range_key, kind, non_key, read, write)


def indexes(params: Mapping[str, Any], defs: Mapping[str, str], mode: str, table_hash: KeyAttr,
            table_range: KeyAttr | None) -> list[Index]:
    found: list[Index] = []
    names: set[str] = set()
    lsis, gsis = params.get("LocalSecondaryIndexes"), params.get("GlobalSecondaryIndexes")
    if lsis is not None:
        if not lsis:
            raise errors.invalid("List of LocalSecondaryIndexes is empty")
        if table_range is None:
            raise errors.invalid("Table KeySchema does not have a range key, which is required when specifying "
                                 "a LocalSecondaryIndex")
        for raw in lsis:
            found.append(index(raw, defs, is_global=False, mode=mode, table_hash=table_hash))
            _unique(found[-1].name, names)
        if len(lsis) > MAX_LSIS:
            raise errors.invalid(f"Number of LocalSecondaryIndexes exceeds per-table limit of {MAX_LSIS}")
    if gsis is not None:
        if not gsis:
            raise errors.invalid("List of GlobalSecondaryIndexes is empty")
        for raw in gsis:
            found.append(index(raw, defs, is_global=True, mode=mode, table_hash=table_hash))
            _unique(found[-1].name, names)
        if len(gsis) > MAX_GSIS:
            raise errors.invalid(f"GlobalSecondaryIndex count exceeds the per-table limit of {MAX_GSIS}")
    projected = {a for i in found for a in i.non_key_attributes}
    if len(projected) > MAX_PROJECTED:
        raise errors.invalid(f"The sum of distinct NonKeyAttributes across all secondary indexes exceeds the "
                             f"limit of {MAX_PROJECTED}")
    return found


def _unique(name: str, seen: set[str]) -> None:
    if name in seen:
        raise errors.invalid(f"Duplicate index name: {name}")
    seen.add(name)


def used_definitions(defs: Mapping[str, str], hash_key: KeyAttr, range_key: KeyAttr | None,
                     found: Sequence[Index]) -> None:
    """Every AttributeDefinition must be a key of the table or of an index."""
    used = {hash_key.name} | ({range_key.name} if range_key else set())
    for i in found:
        used.update(i.key_names())
    if set(defs) - used:
        if not found:
            raise errors.invalid("Number of attributes in KeySchema does not exactly match number of attributes "
                                 "defined in AttributeDefinitions")
        raise errors.invalid("Some AttributeDefinitions are not used. AttributeDefinitions: "
                             f"[{', '.join(defs)}], keys used: [{', '.join(sorted(used))}]")


def stream_spec(spec: Mapping[str, Any] | None) -> tuple[bool, str]:
    """(enabled, view type) of a StreamSpecification.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_StreamSpecification.html"""
    if not spec:
        return False, ""
    enabled = bool(spec.get("StreamEnabled"))
    view = spec.get("StreamViewType") or ""
    if enabled and not view:
        raise errors.validation("1 validation error detected: Value null at 'streamSpecification.streamViewType'"
                                " failed to satisfy constraint: Member must not be null")
    if not enabled and view:
        raise errors.validation("One or more parameter values were invalid: StreamViewType cannot be specified "
                                "when StreamEnabled is false")
    return enabled, view
