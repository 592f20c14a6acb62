"""PartiQL statements as the expressions of the item operations: conditions become ConditionExpression
text with `#n`/`:v` placeholders, SET/REMOVE an UpdateExpression, and the WHERE of a write the item's key.

Translating into DynamoDB's own expression language keeps one evaluator (conveyor.services.dynamodb.
expressions) for both APIs, with its type rules and messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from conveyor.services.dynamodb import errors
from conveyor.services.dynamodb.partiql import syntax as q
from conveyor.services.dynamodb.partiql.syntax import malformed

AttributeValue = dict[str, Any]


@dataclass
class Placeholders:
    """The ExpressionAttributeNames and ExpressionAttributeValues one request's expressions use."""

    parameters: Sequence[AttributeValue]
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, AttributeValue] = field(default_factory=dict)
    _by_name: dict[str, str] = field(default_factory=dict)

    def name(self, name: str) -> str:
        placeholder = self._by_name.get(name)
        if placeholder is None:
            placeholder = self._by_name[name] = f"#n{len(self._by_name)}"
            self.names[placeholder] = name
        return placeholder

    def value(self, value: AttributeValue) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def path(self, path: q.Path) -> str:
        text = ""
        for part in path.parts:
            text += f"[{part}]" if isinstance(part, int) else (("." if text else "") + self.name(part))
        return text

    def expression_params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = self.names
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out


# -- values ----------------------------------------------------------------------------------------------


def value_of(operand: q.Operand, parameters: Sequence[AttributeValue]) -> AttributeValue:
    """The attribute value a literal, a parameter or a document/list/set of them stands for."""
    if isinstance(operand, q.Param):
        return dict(parameters[operand.index])
    if isinstance(operand, q.Literal):
        if operand.kind == "S":
            return {"S": operand.text}
        if operand.kind == "N":
            return {"N": operand.text}
        if operand.kind == "BOOL":
            return {"BOOL": operand.text == "true"}
        if operand.kind == "NULL":
            return {"NULL": True}
        raise errors.validation("Unsupported operation: MISSING is not a value")
    if isinstance(operand, q.Document):
        return {"M": {key: value_of(item, parameters) for key, item in operand.entries}}
    if isinstance(operand, q.ListValue):
        return {"L": [value_of(item, parameters) for item in operand.items]}
    if isinstance(operand, q.SetValue):
        members = [value_of(item, parameters) for item in operand.items]
        kinds = {next(iter(m)) for m in members}
        if len(kinds) != 1 or not kinds <= {"S", "N", "B"}:
            raise errors.validation("Unsupported operation: a set holds strings, numbers or binaries of one type")
        kind = kinds.pop()
        return {kind + "S": [m[kind] for m in members]}
    raise malformed("a value is expected, not an attribute path")


def is_value(operand: q.Operand) -> bool:
    return isinstance(operand, q.Param | q.Literal | q.Document | q.ListValue | q.SetValue)


def operand_text(operand: q.Operand, ph: Placeholders) -> str:
    if isinstance(operand, q.Path):
        return ph.path(operand)
    if isinstance(operand, q.Call):
        return f"{operand.name}({', '.join(operand_text(a, ph) for a in operand.args)})"
    if isinstance(operand, q.Arithmetic):
        return f"{operand_text(operand.left, ph)} {operand.op} {operand_text(operand.right, ph)}"
    return ph.value(value_of(operand, ph.parameters))


# -- conditions ------------------------------------------------------------------------------------------


def condition_text(condition: q.Condition, ph: Placeholders) -> str:
    """The condition in DynamoDB's syntax; junctions inside others are parenthesised, nothing else is (the
    expression language refuses doubled parentheses as redundant)."""
    if isinstance(condition, q.Junction):
        return f" {condition.op} ".join(term_text(c, ph) for c in condition.operands)
    if isinstance(condition, q.Not):
        return f"NOT {term_text(condition.operand, ph)}"
    if isinstance(condition, q.Compare):
        return f"{operand_text(condition.left, ph)} {condition.op} {operand_text(condition.right, ph)}"
    if isinstance(condition, q.Between):
        return (f"{operand_text(condition.subject, ph)} BETWEEN {operand_text(condition.low, ph)} AND "
                f"{operand_text(condition.high, ph)}")
    if isinstance(condition, q.In):
        if not condition.items:
            raise malformed("IN needs at least one value")
        return f"{operand_text(condition.subject, ph)} IN ({', '.join(operand_text(i, ph) for i in condition.items)})"
    if isinstance(condition, q.Is):
        subject = operand_text(condition.subject, ph)
        if condition.what == "MISSING":
            return f"attribute_exists({subject})" if condition.negated else f"attribute_not_exists({subject})"
        # NULL: an attribute of type NULL (a missing one is not NULL in DynamoDB's PartiQL).
        null = f"attribute_type({subject}, {ph.value({'S': 'NULL'})})"
        return f"NOT {null}" if condition.negated else null
    return operand_text(condition.call, ph)


def term_text(condition: q.Condition, ph: Placeholders) -> str:
    """A condition to combine with others: in parentheses when it is itself a junction."""
    text = condition_text(condition, ph)
    return f"({text})" if isinstance(condition, q.Junction) else text


def all_of(terms: Sequence[str]) -> str:
    return " AND ".join(terms)


def conjuncts(condition: q.Condition | None) -> list[q.Condition]:
    if condition is None:
        return []
    if isinstance(condition, q.Junction) and condition.op == "AND":
        return [c for operand in condition.operands for c in conjuncts(operand)]
    return [condition]


def _equality(condition: q.Condition, attribute: str) -> q.Operand | None:
    """The value `attribute = value` (either way round) pins, if the condition is that."""
    if not isinstance(condition, q.Compare) or condition.op != "=":
        return None
    for one, other in ((condition.left, condition.right), (condition.right, condition.left)):
        if isinstance(one, q.Path) and one.parts == (attribute,) and is_value(other):
            return other
    return None


def pinned_values(where: q.Condition | None, attribute: str, parameters: Sequence[AttributeValue]
                  ) -> list[AttributeValue] | None:
    """The values of `attribute` the WHERE limits the statement to (an equality or IN among its AND terms,
    or an OR of equalities), else None: a SELECT without them scans the table.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.select.html"""
    for term in conjuncts(where):
        value = _equality(term, attribute)
        if value is not None:
            return [value_of(value, parameters)]
        if isinstance(term, q.In) and isinstance(term.subject, q.Path) and term.subject.parts == (attribute,) \
                and all(is_value(i) for i in term.items):
            return _distinct([value_of(i, parameters) for i in term.items])
        if isinstance(term, q.Junction) and term.op == "OR":
            values = [_equality(c, attribute) for c in term.operands]
            if all(v is not None for v in values):
                return _distinct([value_of(v, parameters) for v in values if v is not None])
    return None


def _distinct(values: list[AttributeValue]) -> list[AttributeValue]:
    out: list[AttributeValue] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def split_key(where: q.Condition, key_names: Sequence[str], parameters: Sequence[AttributeValue]
              ) -> tuple[AttributeValue, list[q.Condition]]:
    """The item a write's WHERE names (an equality on every key attribute among its AND terms) and the
    rest of its terms, or AWS's error when it does not name one item.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-reference.update.html"""
    key: AttributeValue = {}
    rest: list[q.Condition] = []
    for term in conjuncts(where):
        named = next(((n, v) for n in key_names if n not in key and (v := _equality(term, n)) is not None), None)
        if named is None:
            rest.append(term)
        else:
            key[named[0]] = value_of(named[1], parameters)
    if len(key) != len(key_names):
        raise errors.validation("Where clause does not contain a mandatory equality on all key attributes")
    return key, rest


# -- updates ---------------------------------------------------------------------------------------------


def update_text(statement: q.Update, ph: Placeholders) -> str:
    """SET and REMOVE as an UpdateExpression; set_add and set_delete are its ADD and DELETE."""
    sets: list[str] = []
    adds: list[str] = []
    deletes: list[str] = []
    for target, value in statement.sets:
        if isinstance(value, q.Call) and value.name in ("set_add", "set_delete"):
            if len(value.args) != 2 or value.args[0] != target:
                raise malformed(f"{value.name} takes the attribute being set and a set")
            (adds if value.name == "set_add" else deletes).append(
                f"{ph.path(target)} {operand_text(value.args[1], ph)}")
        else:
            sets.append(f"{ph.path(target)} = {operand_text(value, ph)}")
    clauses = []
    if sets:
        clauses.append("SET " + ", ".join(sets))
    if statement.removes:
        clauses.append("REMOVE " + ", ".join(ph.path(p) for p in statement.removes))
    if adds:
        clauses.append("ADD " + ", ".join(adds))
    if deletes:
        clauses.append("DELETE " + ", ".join(deletes))
    return " ".join(clauses)


RETURN_VALUES = {"ALL OLD": "ALL_OLD", "MODIFIED OLD": "UPDATED_OLD", "ALL NEW": "ALL_NEW",
                 "MODIFIED NEW": "UPDATED_NEW"}


# -- IAM -------------------------------------------------------------------------------------------------

_ACTIONS = {q.Select: "PartiQLSelect", q.Insert: "PartiQLInsert", q.Update: "PartiQLUpdate",
            q.Delete: "PartiQLDelete", q.Exists: "PartiQLSelect"}


def iam_targets(statement_texts: Sequence[str]) -> list[tuple[str, str, str | None]]:
    """What PartiQL statements ask IAM for: (dynamodb:PartiQL* action, table, index) per statement that
    reads as one; the others fail when run, so they ask nothing here.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ql-iam.html"""
    out: list[tuple[str, str, str | None]] = []
    for text in statement_texts:
        try:
            statement = q.parse(text).statement
        except Exception:  # noqa: BLE001 - refused with its own error when the statement runs
            continue
        source = statement.select.source if isinstance(statement, q.Exists) else (
            statement.source if isinstance(statement, q.Select) else q.Source(statement.table))
        target = (f"dynamodb:{_ACTIONS[type(statement)]}", source.table, source.index)
        if target not in out:
            out.append(target)
    return out
