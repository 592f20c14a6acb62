"""The pre-expression parameters older SDK code still sends (Expected, QueryFilter, ScanFilter,
KeyConditions, AttributesToGet, AttributeUpdates, ConditionalOperator), compiled to the same objects as
expressions, with AWS's messages for their mistakes.

https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/LegacyConditionalParameters.html
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Condition.html
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, cast

from conveyor.services.dynamodb.expressions.conditions import (
    Between,
    Comparison,
    Condition,
    FunctionCondition,
    In,
    Logical,
    Node,
    Not,
)
from conveyor.services.dynamodb.expressions.key_conditions import (
    KeyClause,
    KeyCondition,
    KeyNames,
    RangeOp,
    key_condition_from,
    key_names,
)
from conveyor.services.dynamodb.expressions.paths import copy_value
from conveyor.services.dynamodb.expressions.projections import Projection
from conveyor.services.dynamodb.expressions.syntax import FunctionOperand, PathOperand, ValueOperand
from conveyor.services.dynamodb.expressions.updates import Action, Update
from conveyor.services.dynamodb.values import (
    INVALID,
    NUMBER_CONTEXT,
    AttributeValue,
    Item,
    canonical_value,
    check_number,
    compare,
    format_number,
    validation,
)

# How many values each ComparisonOperator takes (IN: one or more), and of which types.
ARGUMENTS = {"EQ": 1, "NE": 1, "LE": 1, "LT": 1, "GE": 1, "GT": 1, "NOT_NULL": 0, "NULL": 0, "CONTAINS": 1,
             "NOT_CONTAINS": 1, "BEGINS_WITH": 1, "IN": -1, "BETWEEN": 2}
SCALARS = ("S", "N", "B")
VALID_TYPES: dict[str, tuple[str, ...]] = {
    "LE": SCALARS, "LT": SCALARS, "GE": SCALARS, "GT": SCALARS, "CONTAINS": SCALARS, "NOT_CONTAINS": SCALARS,
    "IN": SCALARS, "BETWEEN": SCALARS, "BEGINS_WITH": ("S", "B")}
KEY_OPERATORS = {"EQ": "=", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">", "BETWEEN": "BETWEEN",
                 "BEGINS_WITH": "begins_with"}
COMPARATORS = {"EQ": "=", "NE": "<>", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}

# The parameters of each kind, in the order AWS lists them when a request mixes the two.
EXPRESSIONS = ("UpdateExpression", "ConditionExpression", "ProjectionExpression", "FilterExpression",
               "KeyConditionExpression")
NON_EXPRESSIONS = ("AttributesToGet", "AttributeUpdates", "Expected", "QueryFilter", "ScanFilter",
                   "ConditionalOperator", "KeyConditions")
# The expressions each operation takes (for "ExpressionAttributeValues can only be specified when using
# expressions: FilterExpression and KeyConditionExpression are null").
OPERATION_EXPRESSIONS = {
    "GetItem": ("ProjectionExpression",), "BatchGetItem": ("ProjectionExpression",),
    "PutItem": ("ConditionExpression",), "DeleteItem": ("ConditionExpression",),
    "UpdateItem": ("UpdateExpression", "ConditionExpression"),
    "Scan": ("ProjectionExpression", "FilterExpression"),
    "Query": ("ProjectionExpression", "FilterExpression", "KeyConditionExpression"),
}


def refuse_mixed(params: Mapping[str, Any], operation: str = "") -> None:
    """Expression and non-expression parameters may not meet in one request, and placeholders need an
    expression to be used in. KeyConditions may go with the other expressions when there is no
    KeyConditionExpression."""
    allowed = OPERATION_EXPRESSIONS.get(operation, EXPRESSIONS)
    used = [name for name in allowed if params.get(name) is not None]
    if used:
        legacy = [name for name in NON_EXPRESSIONS if params.get(name) is not None
                  and not (name == "KeyConditions" and params.get("KeyConditionExpression") is None)]
        if legacy:
            raise validation("Can not use both expression and non-expression parameters in the same request: "
                             f"Non-expression parameters: {{{', '.join(legacy)}}} "
                             f"Expression parameters: {{{', '.join(used)}}}")
    if params.get("ExpressionAttributeNames") is not None and not used:
        raise validation("ExpressionAttributeNames can only be specified when using expressions")
    valued = [name for name in allowed if name != "ProjectionExpression"]
    if valued and params.get("ExpressionAttributeValues") is not None and not any(
            params.get(name) is not None for name in valued):
        raise validation("ExpressionAttributeValues can only be specified when using expressions: "
                         f"{' and '.join(valued)} {'are' if len(valued) > 1 else 'is'} null")


# -- conditions ---------------------------------------------------------------------------------------

def _values(entry: Mapping[str, Any]) -> list[AttributeValue]:
    return [canonical_value(value) for value in entry.get("AttributeValueList") or []]


def _check_arguments(operator: str, values: list[AttributeValue]) -> None:
    wanted = ARGUMENTS.get(operator)
    if wanted is None:
        raise validation(f"{INVALID}Unsupported operator on ComparisonOperator: {operator}")
    if (wanted == -1 and not values) or (wanted >= 0 and len(values) != wanted):
        raise validation(f"{INVALID}Invalid number of argument(s) for the {operator} ComparisonOperator")
    kinds = [next(iter(value)) for value in values]
    if len(set(kinds)) > 1:
        raise validation(f"{INVALID}AttributeValues inside AttributeValueList must be of same type")
    allowed = VALID_TYPES.get(operator)
    for kind in kinds:
        if allowed is not None and kind not in allowed:
            raise validation(f"{INVALID}ComparisonOperator {operator} is not valid for {kind} AttributeValue type")
    if operator == "BETWEEN" and (order := compare(values[0], values[1])) is not None and order > 0:
        raise validation("The BETWEEN condition was provided a range where the lower bound is greater than the "
                         "upper bound")


def _node(name: str, operator: str, values: list[AttributeValue]) -> Node:
    path = PathOperand((name,))
    operands = [ValueOperand(value, "") for value in values]
    if operator in COMPARATORS:
        return Comparison(COMPARATORS[operator], path, operands[0])
    if operator == "NULL":
        return FunctionCondition(FunctionOperand("attribute_not_exists", [path]))
    if operator == "NOT_NULL":
        return FunctionCondition(FunctionOperand("attribute_exists", [path]))
    if operator == "CONTAINS":
        return FunctionCondition(FunctionOperand("contains", [path, operands[0]]))
    if operator == "NOT_CONTAINS":
        return Not(FunctionCondition(FunctionOperand("contains", [path, operands[0]])))
    if operator == "BEGINS_WITH":
        return FunctionCondition(FunctionOperand("begins_with", [path, operands[0]]))
    if operator == "IN":
        return In(path, list(operands))
    return Between(path, operands[0], operands[1])


def _combine(nodes: list[Node], operator: str | None) -> Condition | None:
    if not nodes:
        return None
    if operator not in (None, "AND", "OR"):
        raise validation(f"{INVALID}Unsupported operator on ConditionalOperator: {operator}")
    joined = nodes[0]
    for node in nodes[1:]:
        joined = Logical(operator or "AND", joined, node)
    return Condition(joined)


def legacy_filter(conditions: Mapping[str, Any] | None, operator: str | None) -> Condition | None:
    """QueryFilter / ScanFilter: {attribute: {ComparisonOperator, AttributeValueList}}, joined by
    ConditionalOperator (AND when absent)."""
    nodes: list[Node] = []
    for name, entry in (conditions or {}).items():
        values = _values(entry)
        _check_arguments(entry.get("ComparisonOperator", ""), values)
        nodes.append(_node(name, entry["ComparisonOperator"], values))
    return _combine(nodes, operator)


def legacy_condition(expected: Mapping[str, Any] | None, operator: str | None) -> Condition | None:
    """Expected: each attribute either with ComparisonOperator and AttributeValueList, or with Value
    (equal to) and Exists (false: must be absent)."""
    nodes: list[Node] = []
    for name, entry in (expected or {}).items():
        if "ComparisonOperator" in entry and entry["ComparisonOperator"] is not None:
            if entry.get("Exists") is not None:
                raise validation(f"{INVALID}Exists and ComparisonOperator cannot be used together for Attribute: {name}")
            if entry.get("AttributeValueList") is not None and entry.get("Value") is not None:
                raise validation(f"{INVALID}Value and AttributeValueList cannot be used together for Attribute: {name}")
            values = _values(entry) if entry.get("Value") is None else [canonical_value(entry["Value"])]
            _check_arguments(entry["ComparisonOperator"], values)
            nodes.append(_node(name, entry["ComparisonOperator"], values))
            continue
        if entry.get("AttributeValueList") is not None:
            raise validation(f"{INVALID}AttributeValueList can only be used with a ComparisonOperator for Attribute: {name}")
        exists = entry.get("Exists")
        value = entry.get("Value")
        if exists is not False and value is None:
            shown = "null" if exists is None else "true"
            raise validation(f"{INVALID}Value must be provided when Exists is {shown} for Attribute: {name}")
        if exists is False and value is not None:
            raise validation(f"{INVALID}Value cannot be used when Exists is false for Attribute: {name}")
        nodes.append(_node(name, "NULL", []) if exists is False else _node(name, "EQ", [canonical_value(value)]))
    return _combine(nodes, operator)


def legacy_key_condition(key_conditions: Mapping[str, Any], hash_key: KeyNames, range_key: KeyNames | None, *,
                         key_types: dict[str, str] | None = None) -> KeyCondition:
    """KeyConditions: EQ on the hash key, optionally one of EQ, LE, LT, GE, GT, BEGINS_WITH, BETWEEN on
    the range key (on a multi-attribute key: EQ on each hash attribute, and the range attributes left to
    right, EQ but for the last)."""
    clauses: list[KeyClause] = []
    for name, entry in key_conditions.items():
        values = _values(entry)
        operator = entry.get("ComparisonOperator", "")
        _check_arguments(operator, values)
        clauses.append(KeyClause(name, cast(RangeOp, KEY_OPERATORS.get(operator, operator)), values))
    if len(clauses) not in range(1, max(2, len(key_names(hash_key)) + len(key_names(range_key))) + 1):
        raise validation("Conditions can be of length 1 or 2 only")
    if any(clause.op not in KEY_OPERATORS.values() for clause in clauses):
        raise validation("Attempted conditional constraint is not an indexable operation")
    return key_condition_from(clauses, hash_key, range_key, key_types)


def legacy_projection(attributes_to_get: list[str] | None) -> Projection | None:
    """AttributesToGet: top-level names, taken literally (a dot is part of the name)."""
    if attributes_to_get is None:
        return None
    seen: set[str] = set()
    for name in attributes_to_get:
        if name in seen:
            raise validation(f"{INVALID}Duplicate value in attribute name: {name}")
        seen.add(name)
    return Projection([(name,) for name in attributes_to_get])


# -- updates ------------------------------------------------------------------------------------------

class LegacyUpdate(Update):
    """AttributeUpdates: PUT (the default) sets, DELETE removes the attribute or, with a set, those
    members; ADD adds to a number, unites sets and appends to a list. A mismatched type is "Type mismatch
    for attribute to update". https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeValueUpdate.html
    """

    def __init__(self, updates: list[tuple[str, str, AttributeValue | None]]) -> None:
        super().__init__([Action(action, (name,)) for name, action, _ in updates])
        self.updates = updates

    def apply(self, item: Item) -> Item:
        new = copy_value(item)
        for name, action, value in self.updates:
            existing = new.get(name)
            if action == "PUT":
                assert value is not None
                new[name] = value
            elif action == "DELETE":
                if value is None or existing is None:
                    new.pop(name, None)
                    continue
                kind = next(iter(value))
                if kind not in existing:
                    raise validation("Type mismatch for attribute to update")
                key = Decimal if kind == "NS" else (lambda member: member)
                removed = {key(member) for member in value[kind]}
                remaining = [member for member in existing[kind] if key(member) not in removed]
                if remaining:
                    new[name] = {kind: remaining}
                else:
                    del new[name]
            else:
                assert value is not None
                new[name] = _add(existing, value)
        return new


def _add(existing: AttributeValue | None, value: AttributeValue) -> AttributeValue:
    if existing is None:
        return value
    kind = next(iter(value))
    if kind not in existing:
        raise validation("Type mismatch for attribute to update")
    if kind == "N":
        total = NUMBER_CONTEXT.add(Decimal(existing["N"]), Decimal(value["N"]))
        check_number(total)
        return {"N": format_number(total)}
    if kind == "L":
        return {"L": existing["L"] + value["L"]}
    key = Decimal if kind == "NS" else (lambda member: member)
    present = {key(member) for member in existing[kind]}
    return {kind: existing[kind] + [member for member in value[kind] if key(member) not in present]}


def legacy_update(attribute_updates: Mapping[str, Any]) -> Update:
    updates: list[tuple[str, str, AttributeValue | None]] = []
    for name, entry in attribute_updates.items():
        action = entry.get("Action") or "PUT"
        value = canonical_value(entry["Value"]) if entry.get("Value") is not None else None
        kind = next(iter(value)) if value is not None else None
        if value is None and action != "DELETE":
            raise validation(f"{INVALID}Only DELETE action is allowed when no attribute value is specified")
        if action == "DELETE" and kind is not None and kind not in ("SS", "NS", "BS"):
            raise validation(f"{INVALID}DELETE action with value is not supported for the type {kind}")
        if action == "ADD" and kind not in ("N", "SS", "NS", "BS", "L"):
            raise validation(f"{INVALID}ADD action is not supported for the type {kind}")
        updates.append((name, action, value))
    return LegacyUpdate(updates)
