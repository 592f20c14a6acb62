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
from conveyor.services.dynamodb.expressions.tokens import invalid
from conveyor.services.dynamodb.values import AttributeValue, compare, validation
from conveyor.wire import ServiceError

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


class KeyCondition:
    """The partition key's values (one per partition key attribute), the values of the sort key
    attributes the query fixes with `=` before its last one, and the condition on that last one. A table
    or single-attribute index has one partition value and at most the range condition; a multi-attribute
    global index may have up to four of each.

    A key condition whose shape AWS refuses is reported only after the request's unused placeholders (as
    AWS orders its checks): its error waits in the ExpressionContext for check_all_used(), and reading
    the condition raises it too."""

    def __init__(self, hash_values: list[AttributeValue], range: RangeCondition | None, *,
                 sort_prefix: list[AttributeValue] | None = None, error: ServiceError | None = None) -> None:
        self._hash_values = hash_values
        self._sort_prefix = sort_prefix or []
        self._range = range
        self._error = error

    @property
    def hash_values(self) -> list[AttributeValue]:
        if self._error is not None:
            raise self._error
        return self._hash_values

    @property
    def hash_value(self) -> AttributeValue:
        """The value of a single-attribute partition key."""
        return self.hash_values[0]

    @property
    def sort_prefix(self) -> list[AttributeValue]:
        if self._error is not None:
            raise self._error
        return self._sort_prefix

    @property
    def range(self) -> RangeCondition | None:
        if self._error is not None:
            raise self._error
        return self._range

    def __repr__(self) -> str:
        return (f"KeyCondition({self._hash_values!r}, {self._range!r}, sort_prefix={self._sort_prefix!r}, "
                f"error={self._error!r})")


KeyNames = str | list[str]


def key_names(names: KeyNames | None) -> list[str]:
    """A key's attribute names: one name, a multi-attribute key's list of names, or none."""
    if names is None:
        return []
    return [names] if isinstance(names, str) else list(names)


@dataclass
class KeyClause:
    attribute: str
    op: RangeOp
    values: list[AttributeValue]


def _refused(message: str) -> ServiceError:
    """The shape checks of a KeyConditionExpression carry the expression's name before AWS's message
    ("Invalid KeyConditionExpression: KeyConditionExpressions cannot have conditions on nested attributes")."""
    return invalid(WHAT, message)


def _invalid_operator(name: str) -> ServiceError:
    return _refused(f"Invalid operator used in KeyConditionExpression: {name}")


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
            raise _refused("KeyConditionExpressions cannot contain nested operations")
        if isinstance(operand, PathOperand):
            if key is not None:
                raise _refused("Invalid condition in KeyConditionExpression: "
                               "Multiple attribute names used in one condition")
            if len(operand.path) > 1:
                raise _refused("KeyConditionExpressions cannot have conditions on nested attributes")
            key = str(operand.path[0])
    return key


def _values(operands: list[Operand]) -> list[AttributeValue]:
    return [operand.value for operand in operands if isinstance(operand, ValueOperand) and operand.value is not None]


def _clause(node: Node) -> KeyClause:
    if isinstance(node, Comparison):
        key = _walk([node.left, node.right])
        if key is None:
            raise _refused("Invalid condition in KeyConditionExpression: No key attribute specified")
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
        raise _refused(f"Invalid condition in KeyConditionExpression: {two_part} operator must have the key "
                       "attribute as its first operand")
    key = _walk([subject, *bounds])
    assert key is not None
    return KeyClause(key, two_part, _values(bounds))


def key_condition_from(clauses: list[KeyClause], hash_key: KeyNames, range_key: KeyNames | None,
                       key_types: dict[str, str] | None) -> KeyCondition:
    """The checks both KeyConditionExpression and legacy KeyConditions make, once their clauses are
    known: more conditions than key attributes is not supported; a missing partition key attribute, or
    an attribute that is not a sort key attribute, is a missed key schema element. On a multi-attribute
    key every partition key attribute takes `=`, and the sort key attributes are given left to right
    without a gap, all but the last with `=`.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.MultiAttributeKeys"""
    hashes, ranges = key_names(hash_key), key_names(range_key)
    multi = len(hashes) > 1 or len(ranges) > 1
    if not clauses or (not multi and len(clauses) > 2):
        raise validation("Conditions can be of length 1 or 2 only")
    if len(clauses) > len(hashes) + len(ranges):
        raise validation("Query key condition not supported")
    by_name = {clause.attribute: clause for clause in clauses}
    hash_clauses = []
    for name in hashes:
        clause = by_name.get(name)
        if clause is None:
            raise validation(f"Query condition missed key schema element: {name}")
        if clause.op != "=":
            raise validation("Query key condition not supported")
        hash_clauses.append(clause)
    if any(clause.attribute not in hashes and clause.attribute not in ranges for clause in clauses):
        missed = next((name for name in ranges if name not in by_name), None)
        raise validation(f"Query condition missed key schema element: {missed}")
    given = [name for name in ranges if name in by_name]
    for position, name in enumerate(given):
        if name != ranges[position]:
            # the message moto records from AWS for a skipped sort key attribute
            raise validation(f"RANGE key attributes {ranges[position]} must have equality conditions specified in "
                             f"the query because a condition is present on key attribute {name}")
    range_clauses = [by_name[name] for name in given]
    if any(clause.op != "=" for clause in range_clauses[:-1]):
        raise validation("Query key condition not supported")
    if key_types:
        for clause in clauses:
            expected = key_types.get(clause.attribute)
            if expected is not None and any(expected not in value for value in clause.values):
                raise validation("One or more parameter values were invalid: "
                                 "Condition parameter type does not match schema type")
    last = range_clauses[-1] if range_clauses else None
    return KeyCondition([clause.values[0] for clause in hash_clauses],
                        RangeCondition(last.op, last.values) if last else None,
                        sort_prefix=[clause.values[0] for clause in range_clauses[:-1]])


def compile_key_condition(text: str, ctx: ExpressionContext, hash_key: KeyNames, range_key: KeyNames | None, *,
                          key_types: dict[str, str] | None = None) -> KeyCondition:
    """`key_types` (attribute -> S, N or B, from the table's or index's definitions) adds AWS's check
    that the values have the key's type. Syntax and placeholder errors raise at once; errors in the
    condition's shape wait for ctx.check_all_used() (see KeyCondition)."""
    node = parse_condition(text, ctx, WHAT)
    try:
        clauses: list[KeyClause] = []
        for leaf in _leaves(node):
            clause = _clause(leaf)
            if any(earlier.attribute == clause.attribute for earlier in clauses):
                raise _refused("KeyConditionExpressions must only contain one condition per key")
            clauses.append(clause)
        return key_condition_from(clauses, hash_key, range_key, key_types)
    except ServiceError as error:
        ctx.defer(error)
        return KeyCondition([], None, error=error)
