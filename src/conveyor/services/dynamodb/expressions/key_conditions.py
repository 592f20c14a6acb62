"""Key condition expressions of Query: `hash = :v`, optionally AND one condition on the range key
(=, <, <=, >, >=, BETWEEN, begins_with), in AWS's words when the shape is wrong.

https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html#DDB-Query-request-KeyConditionExpression
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.KeyConditionExpressions.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from conveyor.services.dynamodb.expressions.conditions import (
    Between,
    Comparison,
    FunctionCondition,
    In,
    Logical,
    Node,
    Not,
    parse_condition,
)
from conveyor.services.dynamodb.expressions.context import ExpressionContext
from conveyor.services.dynamodb.expressions.syntax import FunctionOperand, Operand, PathOperand, ValueOperand
from conveyor.services.dynamodb.values import AttributeValue, compare, validation

WHAT = "KeyConditionExpression"
RangeOp = Literal["=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"]
_FLIPPED = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass
class RangeCondition:
    op: RangeOp
    values: list[AttributeValue]

    def matches(self, value: AttributeValue) -> bool:
        if self.op == "begins_with":
            prefix = self.values[0]
            if "S" in value and "S" in prefix:
                return bool(value["S"].startswith(prefix["S"]))
            if "B" in value and "B" in prefix:
                return bool(bytes(value["B"]).startswith(bytes(prefix["B"])))
            return False
        order = compare(value, self.values[0])
        if order is None:
            return False
        if self.op == "BETWEEN":
            upper = compare(value, self.values[1])
            return upper is not None and order >= 0 and upper <= 0
        return {"=": order == 0, "<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[self.op]


@dataclass
class KeyCondition:
    hash_value: AttributeValue
    range: RangeCondition | None


@dataclass
class KeyClause:
    attribute: str
    op: RangeOp
    values: list[AttributeValue]


def _invalid_operator(name: str) -> Exception:
    return validation(f"Invalid operator used in KeyConditionExpression: {name}")


def _leaves(node: Node) -> list[Node]:
    """The conditions joined by AND; any other operator is refused by name."""
    if isinstance(node, Logical):
        if node.op == "OR":
            raise _invalid_operator("OR")
        return _leaves(node.left) + _leaves(node.right)
    if isinstance(node, Not):
        raise _invalid_operator("NOT")
    if isinstance(node, In):
        raise _invalid_operator("IN")
    if isinstance(node, Comparison) and node.op == "<>":
        raise _invalid_operator("<>")
    if isinstance(node, FunctionCondition) and node.function.name != "begins_with":
        raise _invalid_operator(node.function.name)
    return [node]


def _walk(operands: list[Operand]) -> str | None:
    """AWS reads a clause's operands left to right: a function is a nested operation, the first path
    must be a top-level attribute, a second path is one name too many. Returns the key attribute."""
    key: str | None = None
    for operand in operands:
        if isinstance(operand, FunctionOperand):
            raise validation("KeyConditionExpressions cannot contain nested operations")
        if isinstance(operand, PathOperand):
            if key is not None:
                raise validation("Invalid condition in KeyConditionExpression: "
                                 "Multiple attribute names used in one condition")
            if len(operand.path) > 1:
                raise validation("KeyConditionExpressions cannot have conditions on nested attributes")
            key = str(operand.path[0])
    return key


def _values(operands: list[Operand]) -> list[AttributeValue]:
    return [operand.value for operand in operands if isinstance(operand, ValueOperand) and operand.value is not None]


def _clause(node: Node) -> KeyClause:
    if isinstance(node, Comparison):
        key = _walk([node.left, node.right])
        if key is None:
            raise validation("Invalid condition in KeyConditionExpression: No key attribute specified")
        # `:v < key` is `key > :v`
        op = node.op if isinstance(node.left, PathOperand) else _FLIPPED[node.op]
        return KeyClause(key, cast(RangeOp, op), _values([node.left, node.right]))
    two_part: RangeOp = "BETWEEN" if isinstance(node, Between) else "begins_with"
    if isinstance(node, Between):
        subject, bounds = node.subject, [node.low, node.high]
    else:
        assert isinstance(node, FunctionCondition)
        subject, bounds = node.function.args[0], node.function.args[1:]
    if not isinstance(subject, PathOperand):
        raise validation(f"Invalid condition in KeyConditionExpression: {two_part} operator must have the key "
                         "attribute as its first operand")
    key = _walk([subject, *bounds])
    assert key is not None
    return KeyClause(key, two_part, _values(bounds))


def key_condition_from(clauses: list[KeyClause], hash_key: str, range_key: str | None,
                       key_types: dict[str, str] | None) -> KeyCondition:
    """The checks both KeyConditionExpression and legacy KeyConditions make, once their clauses are known."""
    by_name = {clause.attribute: clause for clause in clauses}
    if len(by_name) != len(clauses):
        raise validation("KeyConditionExpressions must only contain one condition per key")
    if len(clauses) not in (1, 2):
        raise validation("Conditions can be of length 1 or 2 only")
    hash_clause = by_name.get(hash_key)
    if hash_clause is None:
        if len(clauses) == 1:
            raise validation(f"Query condition missed key schema element: {hash_key}")
        raise validation("Query key condition not supported")
    if hash_clause.op != "=":
        raise validation("Query key condition not supported")
    range_clause = next((clause for clause in clauses if clause is not hash_clause), None)
    if range_clause is not None and range_clause.attribute != range_key:
        if range_key is None:
            raise validation("Query key condition not supported")
        raise validation(f"Query condition missed key schema element: {range_key}")
    if key_types:
        for clause in clauses:
            expected = key_types.get(clause.attribute)
            if expected is not None and any(expected not in value for value in clause.values):
                raise validation("One or more parameter values were invalid: "
                                 "Condition parameter type does not match schema type")
    return KeyCondition(hash_clause.values[0],
                        RangeCondition(range_clause.op, range_clause.values) if range_clause else None)


def compile_key_condition(text: str, ctx: ExpressionContext, hash_key: str, range_key: str | None, *,
                          key_types: dict[str, str] | None = None) -> KeyCondition:
    """`key_types` (attribute -> S, N or B, from the table's or index's definitions) adds AWS's check
    that the values have the key's type."""
    node = parse_condition(text, ctx, WHAT)
    clauses = [_clause(leaf) for leaf in _leaves(node)]
    return key_condition_from(clauses, hash_key, range_key, key_types)
