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
from conveyor.services.dynamodb import throughput as warm_throughput
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


def key_schema(schema: Sequence[Mapping[str, Any]], defs: Mapping[str, str], path: str = "keySchema"
               ) -> tuple[KeyAttr, KeyAttr | None]:
    """The (hash, range) of a table's or a local index's KeySchema: one HASH, then at most one RANGE."""
    hashes, ranges = _key_parts(schema, defs, path=path, most=1)
    return hashes[0], ranges[0] if ranges else None


MAX_KEY_PARTS = 4  # attributes of a global index's partition key, and of its sort key


def gsi_key_schema(schema: Sequence[Mapping[str, Any]], defs: Mapping[str, str], path: str
                   ) -> tuple[list[KeyAttr], list[KeyAttr]]:
    """The partition and sort key attributes of a global index's KeySchema: up to four HASH elements,
    then up to four RANGE elements (multi-attribute keys).
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.MultiAttributeKeys"""
    return _key_parts(schema, defs, path=path, most=MAX_KEY_PARTS)


def _schema_text(schema: Sequence[Mapping[str, Any]]) -> str:
    """A KeySchema as AWS's constraint messages print it (Java's toString of the list)."""
    elements = ", ".join(f"KeySchemaElement(attributeName={k['AttributeName']}, keyType={k['KeyType']})"
                         for k in schema)
    return f"[{elements}]"


def _key_parts(schema: Sequence[Mapping[str, Any]], defs: Mapping[str, str], *, path: str, most: int
               ) -> tuple[list[KeyAttr], list[KeyAttr]]:
    if len(schema) > 2 * most:
        # A table's KeySchema has at most two elements (the model's constraint, checked first).
        # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html#DDB-CreateTable-request-KeySchema
        raise errors.validation(f"1 validation error detected: Value '{_schema_text(schema)}' at '{path}' failed to "
                                f"satisfy constraint: Member must have length less than or equal to {2 * most}")
    names = [k["AttributeName"] for k in schema]
    if len(names) > len(defs):
        raise errors.validation("Invalid KeySchema: Some index key attribute have no definition")
    if any(n not in defs for n in names):
        raise errors.invalid(f"Some index key attributes are not defined in AttributeDefinitions. "
                             f"Keys: [{', '.join(names)}], AttributeDefinitions: [{', '.join(defs)}]")
    if len(set(names)) != len(names):
        raise errors.validation("Both the Hash Key and the Range Key element in the KeySchema have the same name"
                                if len(names) == 2 else "The KeySchema contains multiple key attributes with the same name")
    if schema[0]["KeyType"] != "HASH":
        raise errors.validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    kinds = [k["KeyType"] for k in schema]
    first_range = kinds.index("RANGE") if "RANGE" in kinds else len(kinds)
    if most == 1 and len(schema) == 2 and kinds[1] != "RANGE":
        raise errors.validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
    # The words of a multi-attribute key's rules are DynamoDB's as a catalogue of its answers records them
    # (the developer guide states the rules, not the messages).
    if any(kind != "RANGE" for kind in kinds[first_range:]):
        raise errors.invalid("All HASH key attributes must precede RANGE key attributes in the KeySchema")
    hashes = [KeyAttr(n, defs[n]) for n in names[:first_range]]
    ranges = [KeyAttr(n, defs[n]) for n in names[first_range:]]
    for part, attrs in (("HASH", hashes), ("RANGE", ranges)):
        if len(attrs) > most:
            raise errors.invalid(f"The KeySchema exceeds the maximum allowed number of {part} key attributes")
    return hashes, ranges


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
          table_hash: KeyAttr, position: int = 1, creating_table: bool = True) -> Index:
    """One index of CreateTable or (`creating_table` False) of UpdateTable's Create; `position` is its place
    in its list, for the constraint messages. The two operations word the throughput rules differently."""
    name = raw["IndexName"]
    check_table_name(name, "indexName")
    if is_global:
        hashes, ranges = gsi_key_schema(raw["KeySchema"], defs,
                                        f"globalSecondaryIndexes.{position}.member.keySchema")
    else:
        hash_key, range_key = key_schema(raw["KeySchema"], defs, f"localSecondaryIndexes.{position}.member.keySchema")
        hashes, ranges = [hash_key], [range_key] if range_key else []
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
            raise errors.invalid(f"ProvisionedThroughput should not be specified for index: {name} when BillingMode "
                                 "is PAY_PER_REQUEST" if creating_table else
                                 f"Neither ReadCapacityUnits nor WriteCapacityUnits can be specified for index: {name} "
                                 "when BillingMode is PAY_PER_REQUEST")
        if mode == "PROVISIONED":
            if not throughput:
                raise errors.invalid(f"ProvisionedThroughput {'is not' if creating_table else 'must be'} specified "
                                     f"for index: {name}")
            read, write = _units(throughput)
    found = Index(name, is_global, hashes, ranges, kind, non_key, read, write)
    if is_global:
        found.warm_read, found.warm_write = warm_throughput.requested(
            raw.get("WarmThroughput"), warm_throughput.base(mode, read, write), mode, f"index {name}")
        found.on_demand = warm_throughput.on_demand(raw.get("OnDemandThroughput"), None, mode, f"index : {name}")
    return found


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
        for position, raw in enumerate(lsis, 1):
            found.append(index(raw, defs, is_global=False, mode=mode, table_hash=table_hash, position=position))
            _unique(found[-1].name, names)
        if len(lsis) > MAX_LSIS:
            raise errors.invalid(f"Number of LocalSecondaryIndexes exceeds per-table limit of {MAX_LSIS}")
    if gsis is not None:
        if not gsis:
            raise errors.invalid("List of GlobalSecondaryIndexes is empty")
        for position, raw in enumerate(gsis, 1):
            found.append(index(raw, defs, is_global=True, mode=mode, table_hash=table_hash, position=position))
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
