"""Whatever text a client sends as an expression, and whatever the item holds, the answer is a compiled
expression or AWS's ValidationException: never another exception (which the service would turn into a
500). Hypothesis builds expressions from the language's own tokens, so most of them get deep into the
parsers, and from arbitrary characters."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.services.dynamodb.expressions import (
    ExpressionContext,
    compile_condition,
    compile_key_condition,
    compile_projection,
    compile_update,
)
from conveyor.services.dynamodb.partiql import plans
from conveyor.services.dynamodb.partiql import syntax as partiql
from conveyor.services.dynamodb.values import canonical_item, key_bytes
from conveyor.wire import ServiceError

TOKENS = ["a", "b", "c", "m", "l", "#n", "#m", ":s", ":n", ":l", ":ss", ":m", ":zz", "#zz", "0", "1", "7",
          "(", ")", "[", "]", ",", ".", "=", "<>", "<", "<=", ">", ">=", "+", "-", "AND", "OR", "NOT", "BETWEEN",
          "IN", "SET", "REMOVE", "ADD", "DELETE", "size", "contains", "begins_with", "attribute_exists",
          "attribute_not_exists", "attribute_type", "if_not_exists", "list_append", "status", "@", "  "]
VALUES: dict[str, Any] = {":s": {"S": "N"}, ":n": {"N": "2"}, ":l": {"L": [{"N": "1"}]}, ":ss": {"SS": ["x"]},
                          ":m": {"M": {"a": {"N": "1"}}}}
NAMES = {"#n": "n", "#m": "m"}
ITEMS: list[dict[str, Any]] = [
    {},
    {"a": {"S": "N"}, "b": {"N": "2"}, "c": {"SS": ["x", "y"]}, "n": {"L": [{"N": "1"}, {"S": "s"}]},
     "m": {"M": {"a": {"N": "1"}, "b": {"L": []}}}, "l": {"L": [{"M": {"a": {"N": "0"}}}]}},
    {"a": {"N": "99999999999999999999999999999999999999E+88"}, "b": {"B": b"\x00"}, "m": {"NULL": True},
     "l": {"BOOL": False}},
]

token_text = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14).map(" ".join)
any_text = st.one_of(token_text, st.text(max_size=40))


def ctx() -> ExpressionContext:
    return ExpressionContext(dict(NAMES), dict(VALUES))


def answered(compile_: Any, text: str) -> Any:
    try:
        return compile_(text)
    except ServiceError as error:
        assert error.code == "ValidationException" and error.message
        return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
def test_conditions_and_filters(text: str) -> None:
    condition = answered(lambda t: compile_condition(t, ctx(), what="FilterExpression"), text)
    if condition is not None:
        for item in ITEMS:
            assert condition.matches(item) in (True, False)
        assert condition.matches(None) in (True, False)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
def test_updates(text: str) -> None:
    update = answered(lambda t: compile_update(t, ctx()), text)
    if update is not None:
        for item in ITEMS:
            try:
                result = update.apply(item)
            except ServiceError as error:
                assert error.code == "ValidationException"
                continue
            canonical_item(result)  # whatever an update leaves is itself a valid item
            update.updated(result)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
def test_projections_and_key_conditions(text: str) -> None:
    projection = answered(lambda t: compile_projection(t, ctx()), text)
    if projection is not None:
        for item in ITEMS:
            projection.apply(item)
    key = answered(lambda t: compile_key_condition(t, ctx(), "a", "b"), text)
    range_condition = answered(lambda _: key.range, text) if key is not None else None
    if range_condition is not None:
        for value in ({"S": "x"}, {"N": "1"}, {"B": b"\x01"}):
            assert range_condition.matches(value) in (True, False)


PARTIQL_TOKENS = ["SELECT", "INSERT", "INTO", "UPDATE", "DELETE", "FROM", "WHERE", "VALUE", "SET", "REMOVE", "AND",
                  "OR", "NOT", "IS", "MISSING", "NULL", "IN", "BETWEEN", "*", "t", '"t"', '"t"."i"', "a", "b.c",
                  "a[0]", "'s'", "1", "-2.5", "?", "=", "<>", "<", "+", "-", ",", "(", ")", "[", "]", "{", "}",
                  ":", "<<", ">>", "set_add", "size", "begins_with", ";", "TRUE"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(st.sampled_from(PARTIQL_TOKENS), min_size=1, max_size=16).map(" ".join),
                 st.text(max_size=40)),
       st.integers(min_value=0, max_value=2))
def test_partiql_statements(text: str, parameter_count: int) -> None:
    """Any text is a statement or a ValidationException; a statement's WHERE, written in the expression
    language, compiles (or is refused as AWS refuses it) and judges every item true or false."""
    parsed = answered(partiql.parse, text)
    where = getattr(parsed.statement, "where", None) if parsed is not None else None
    if where is None or parsed.parameters != parameter_count:
        return
    ph = plans.Placeholders([{"S": "p"}] * parameter_count)
    condition = answered(lambda t: compile_condition(plans.condition_text(where, ph),
                                                     ExpressionContext(ph.names, ph.values)), text)
    if condition is not None:
        for item in ITEMS:
            assert condition.matches(item) in (True, False)


numbers = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: d == 0 or (-130 <= d.adjusted() <= 125 and len(d.normalize().as_tuple().digits) <= 38))


@settings(max_examples=300, deadline=None)
@given(st.lists(numbers, min_size=2, max_size=8))
def test_number_key_order_is_numeric_order(values: list[Any]) -> None:
    encoded = sorted(values, key=lambda d: key_bytes({"N": str(d)}))
    assert encoded == sorted(values)


def test_deep_nesting_is_refused_in_aws_terms_not_by_the_stack() -> None:
    """4 KB of text can nest two thousand levels; the parser stops at its own limit and answers with the
    error AWS gives for such text (too many operators, or redundant parentheses)."""
    def message(compile_: Any, text: str) -> str:
        try:
            compile_(text, ExpressionContext(None, {":v": {"N": "1"}}))
        except ServiceError as error:
            return error.message
        return "compiled"

    assert message(compile_condition, "(" * 1500 + "a = :v" + ")" * 1500) == (
        "Invalid ConditionExpression: The expression has redundant parentheses;")
    assert message(compile_condition, "NOT " * 900 + "a = :v") == (
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 901")
    assert message(compile_condition, "size(" * 600 + "a" + ")" * 600 + " = :v") == (
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 601")
    assert message(compile_update, "SET a = " + "(" * 1000 + ":v" + ")" * 1000) == (
        "Invalid UpdateExpression: The expression has redundant parentheses;")
    # nesting AWS accepts: 70 NOTs each in parentheses
    assert message(compile_condition, "(NOT " * 70 + "a = :v" + ")" * 70) == "compiled"
