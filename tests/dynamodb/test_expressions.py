"""Condition, filter, projection and key condition expressions in process: grammar, evaluation on items,
and AWS's messages for each kind of mistake."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.services.dynamodb.expressions import (
    ExpressionContext,
    compile_condition,
    compile_key_condition,
    compile_projection,
)
from conveyor.wire import ServiceError

VALUES: dict[str, Any] = {":s": {"S": "x"}, ":n": {"N": "5"}, ":one": {"N": "1"}, ":ten": {"N": "10"},
                          ":l": {"L": [{"N": "1"}]}, ":t": {"S": "SS"}, ":b": {"B": b"\x01"}}
NAMES = {"#s": "status", "#dot": "a.b", "#c": "c"}
ITEM: dict[str, Any] = {
    "a": {"S": "xylophone"}, "n": {"N": "3"}, "status": {"S": "ok"}, "a.b": {"N": "7"},
    "tags": {"SS": ["x", "y"]}, "nums": {"NS": ["1", "2"]}, "bin": {"B": b"\x01\x02"},
    "m": {"M": {"k": {"L": [{"S": "z"}, {"N": "2"}, {"M": {"deep": {"BOOL": True}}}]}}},
    "blank": {"S": ""}, "nil": {"NULL": True},
}


def ctx() -> ExpressionContext:
    return ExpressionContext(dict(NAMES), dict(VALUES))


def matches(text: str, item: dict[str, Any] | None = ITEM) -> bool:
    return compile_condition(text, ctx()).matches(item)


def refusal(compile_: Any, text: str, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ServiceError) as caught:
        compile_(text, ctx(), *args, **kwargs)
    assert caught.value.code == "ValidationException"
    return caught.value.message


@pytest.mark.parametrize(("text", "expected"), [
    ("a = :s", False), ("n < :n", True), ("n <= :n", True), ("n > :one", True), ("n >= :ten", False),
    ("n <> :n", True), ("absent <> :n", True), ("absent = :n", False), ("absent < :n", False),
    ("a > :n", False),  # across types: false, not an error
    ("n BETWEEN :one AND :n", True), ("n BETWEEN :n AND :ten", False), ("absent BETWEEN :one AND :n", False),
    ("n IN (:one, :n, :s)", False), ("a IN (:s, :n)", False), ("#s IN (:s)", False),
    ("attribute_exists(m.k[2].deep)", True), ("attribute_exists(m.k[3])", False),
    ("attribute_not_exists(absent)", True), ("attribute_not_exists(a)", False),
    ("attribute_type(tags, :t)", True), ("attribute_type(a, :t)", False),
    ("begins_with(a, :s)", True), ("begins_with(bin, :b)", True), ("begins_with(n, :s)", False),
    ("contains(a, :s)", True), ("contains(tags, :s)", True), ("contains(nums, :one)", True),
    ("contains(m.k, :n)", False), ("contains(bin, :b)", True),
    ("size(a) = :ten", False), ("size(a) > :n", True), ("size(tags) < :n", True), ("size(m.k) = :n", False),
    ("size(absent) < :n", False),
    ("#dot = :n", False), ("#dot > :n", True),  # a placeholder names an attribute with a dot in its name
    ("NOT a = :s", True), ("NOT NOT a = :s", False),
    ("n < :n AND a = :s OR #s = :s", False), ("a = :s OR n < :n AND #s <> :s", True),
    ("a = :s AND (n < :n OR #s <> :s)", False), ("(a) = :s OR (n < :n)", True),
    ("NOT n < :n OR n < :n", True), ("NOT (n < :n OR n < :n)", False),
    ("size(blank) = :one OR attribute_exists(nil)", True),
])
def test_conditions_evaluate_as_dynamodb_does(text: str, expected: bool) -> None:
    assert matches(text) is expected


def test_conditions_tell_the_paths_they_read() -> None:
    condition = compile_condition("#s = :s AND (size(m.k[0]) > :n OR contains(tags, a))", ctx())
    assert condition.paths == [("status",), ("m", "k", 0), ("tags",), ("a",)]
    assert condition.top_level_names == {"status", "m", "tags", "a"}


def test_an_absent_item_has_no_attributes() -> None:
    assert matches("attribute_not_exists(a)", None)
    assert not matches("attribute_exists(a)", None)
    assert matches("a <> :s", None)


def test_keywords_match_any_case_and_functions_do_not() -> None:
    assert matches("n between :one and :n aNd not a = :s")
    message = refusal(compile_condition, "Begins_With(a, :s)")
    assert message == "Invalid ConditionExpression: Invalid function name; function: Begins_With"


@pytest.mark.parametrize(("text", "expected"), [
    ("a x b", 'Syntax error; token: "x", near: "a x b"'),
    ("a = ", 'Syntax error; token: "<EOF>", near: "= "'),
    ("attribute_type()", 'Syntax error; token: ")", near: "()"'),
    ("m.k[a] = :n", 'Syntax error; token: "a", near: "[a]"'),
    ("a = :s OR", 'Syntax error; token: "<EOF>", near: "OR"'),
    ("a @ b", 'Syntax error; token: "@", near: "a @ b"'),
    ("a = :s = :s", 'Syntax error; token: "=", near: ":s = :s"'),
    ("a BETWEEN :n", 'Syntax error; token: "<EOF>", near: ":n"'),
    ("a < b AND c", 'Syntax error; token: "<EOF>", near: "c"'),
    ("and = :n", 'Syntax error; token: "and", near: "and ="'),
    ("((a = :s))", "The expression has redundant parentheses;"),
    ("status = :s", "Attribute name is a reserved keyword; reserved keyword: status"),
    ("a.Size = :s", "Attribute name is a reserved keyword; reserved keyword: Size"),
    ("a = :nope", "An expression attribute value used in expression is not defined; attribute value: :nope"),
    ("#nope = :s", "An expression attribute name used in the document path is not defined; attribute name: #nope"),
    ("nope(a)", "Invalid function name; function: nope"),
    ("size(a)", "The function is not allowed to be used this way in an expression; function: size"),
    ("attribute_exists(a) = :s",
     "The function is not allowed to be used this way in an expression; function: attribute_exists"),
    ("attribute_exists(:s)", "Operator or function requires a document path; operator or function: attribute_exists"),
    ("begins_with(a)", "Incorrect number of operands for operator or function; operator or function: begins_with, "
                       "number of operands: 1"),
    ("begins_with(a, :n)", "Incorrect operand type for operator or function; operator or function: begins_with, "
                           "operand type: N"),
    ("size(:n) = :n", "Incorrect operand type for operator or function; operator or function: size, operand type: N"),
    ("attribute_type(a, :n)", "Incorrect operand type for operator or function; operator or function: "
                              "attribute_type, operand type: N"),
    ("attribute_type(a, :s)", "Invalid attribute type name found; type: x, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"),
    ("a = a", "The first operand must be distinct from the remaining operands for this operator or function; "
              "operator: =, first operand: [a]"),
    ("n BETWEEN :n AND :s", "The BETWEEN operator requires same data type for lower and upper bounds; "
                            "lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {S:x}"),
    ("n BETWEEN :ten AND :n", "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
                              "lower bound operand: AttributeValue: {N:10}, upper bound operand: AttributeValue: {N:5}"),
])
def test_mistakes_get_aws_messages(text: str, expected: str) -> None:
    assert refusal(compile_condition, text) == f"Invalid ConditionExpression: {expected}"


def test_problems_are_reported_in_aws_order_not_text_order() -> None:
    # A reserved word is reported before an undefined value, wherever each sits.
    assert refusal(compile_condition, "a = :nope AND status = :s").endswith("reserved keyword: status")
    # Redundant parentheses come first of all.
    assert refusal(compile_condition, "nope(a) OR ((a = :s))").endswith("redundant parentheses;")


def test_filter_expressions_name_themselves() -> None:
    message = refusal(compile_condition, "", what="FilterExpression")
    assert message == "Invalid FilterExpression: The expression can not be empty;"


def test_size_and_operator_limits() -> None:
    at_limit = "a = :s" + " " * (4096 - 6)
    compile_condition(at_limit, ctx())
    message = refusal(compile_condition, at_limit + " ", what="FilterExpression")
    assert message == ("Invalid FilterExpression: Expression size has exceeded the maximum allowed size; "
                       "expression size: 4097")
    # 150 comparisons joined by 149 ANDs are 299 operators; one more pair is 301
    allowed = " AND ".join(["n < :n"] * 150)
    compile_condition(allowed, ctx())
    message = refusal(compile_condition, allowed + " AND n < :n")
    assert message == "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"


def test_unused_and_malformed_placeholders() -> None:
    context = ExpressionContext({"#a": "a", "#b": "b"}, {":v": {"S": "x"}, ":w": {"S": "y"}})
    compile_condition("#a = :v", context)
    with pytest.raises(ServiceError) as caught:
        context.check_all_used()
    assert caught.value.message == "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
    compile_condition("#b = :v", context)
    with pytest.raises(ServiceError) as caught:
        context.check_all_used()
    assert caught.value.message == "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"
    for names, values, expected in [
        ({}, None, "ExpressionAttributeNames must not be empty"),
        (None, {}, "ExpressionAttributeValues must not be empty"),
        ({"a": "a"}, None, 'ExpressionAttributeNames contains invalid key: Syntax error; key: "a"'),
        (None, {"b": {"S": "a"}}, 'ExpressionAttributeValues contains invalid key: Syntax error; key: "b"'),
        (None, {":b": {"SS": []}}, "ExpressionAttributeValues contains invalid value: One or more parameter values "
                                    "were invalid: An string set  may not be empty for key :b"),
        (None, {":b": {"N": "x"}}, "ExpressionAttributeValues contains invalid value: The parameter cannot be "
                                    "converted to a numeric value: x for key :b"),
    ]:
        with pytest.raises(ServiceError) as caught:
            ExpressionContext(names, values)
        assert caught.value.message == expected


def test_projections_keep_nested_parts() -> None:
    def project(text: str) -> dict[str, Any]:
        return compile_projection(text, ctx()).apply(ITEM)

    assert project("a, n") == {"a": ITEM["a"], "n": ITEM["n"]}
    assert project("m.k[2].deep, absent") == {"m": {"M": {"k": {"L": [{"M": {"deep": {"BOOL": True}}}]}}}}
    assert project("m.k[1], m.k[0]") == {"m": {"M": {"k": {"L": [{"S": "z"}, {"N": "2"}]}}}}
    assert project("m.k[7], a.b") == {}  # neither an index past the end nor a key inside a string
    assert project("#dot, #s") == {"a.b": ITEM["a.b"], "status": ITEM["status"]}
    assert compile_projection("a, m.k[0]", ctx()).top_level_names == {"a", "m"}


@pytest.mark.parametrize(("text", "expected"), [
    ("", "The expression can not be empty;"),
    ("a, a", "Two document paths overlap with each other; must remove or rewrite one of these paths; "
             "path one: [a], path two: [a]"),
    ("m.k, m", "Two document paths overlap with each other; must remove or rewrite one of these paths; "
               "path one: [m, k], path two: [m]"),
    ("m.k, m[0]", "Two document paths conflict with each other; must remove or rewrite one of these paths; "
                  "path one: [m, k], path two: [m, [0]]"),
    ("a,", 'Syntax error; token: "<EOF>", near: ","'),
    ("status", "Attribute name is a reserved keyword; reserved keyword: status"),
    ("#zz", "An expression attribute name used in the document path is not defined; attribute name: #zz"),
])
def test_projection_mistakes(text: str, expected: str) -> None:
    assert refusal(compile_projection, text) == f"Invalid ProjectionExpression: {expected}"


def key(text: str, **kwargs: Any) -> Any:
    condition = compile_key_condition(text, ctx(), "h", "r", **kwargs)
    condition.hash_value  # a refused shape raises when the condition is read  # noqa: B018
    return condition


def test_key_conditions() -> None:
    only_hash = key("h = :s")
    assert only_hash.hash_value == {"S": "x"} and only_hash.range is None
    flipped = key(":n < r AND h = :s")  # a value first reads the other way round
    assert flipped.range is not None and flipped.range.op == ">"
    assert flipped.range.matches({"N": "6"}) and not flipped.range.matches({"N": "5"})
    between = key("h = :s AND r BETWEEN :one AND :n").range
    assert between is not None and between.matches({"N": "5"}) and not between.matches({"N": "5.1"})
    prefix = key("h = :s AND begins_with(r, :s)").range
    assert prefix is not None and prefix.matches({"S": "xy"}) and not prefix.matches({"S": "yx"})
    assert not prefix.matches({"N": "1"})


@pytest.mark.parametrize(("text", "expected"), [
    ("h = :s OR r = :s", "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR"),
    ("h = :s AND NOT r = :s", "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: NOT"),
    ("h IN (:s)", "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: IN"),
    ("h <> :s", "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: <>"),
    ("attribute_exists(h)",
     "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: attribute_exists"),
    ("size(h) = :n", "Invalid KeyConditionExpression: KeyConditionExpressions cannot contain nested operations"),
    ("h.x = :s", "Invalid KeyConditionExpression: KeyConditionExpressions cannot have conditions on nested attributes"),
    ("h = r", "Invalid KeyConditionExpression: Invalid condition in KeyConditionExpression: "
              "Multiple attribute names used in one condition"),
    (":s = :n", "Invalid KeyConditionExpression: Invalid condition in KeyConditionExpression: No key attribute specified"),
    ("begins_with(:s, h)", "Invalid KeyConditionExpression: Invalid condition in KeyConditionExpression: "
                           "begins_with operator must have the key attribute as its first operand"),
    ("h = :s AND h = :s", "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition per key"),
    ("h = :s AND r = :s AND z = :s", "Conditions can be of length 1 or 2 only"),
    ("h > :s", "Query key condition not supported"),
    ("r = :s", "Query condition missed key schema element: h"),
    ("z = :s AND r = :s", "Query condition missed key schema element: h"),
    ("h = :s AND z = :s", "Query condition missed key schema element: r"),
    ("h = :s AND r BETWEEN :n AND :one",
     "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower "
     "bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}"),
])
def test_key_condition_mistakes(text: str, expected: str) -> None:
    with pytest.raises(ServiceError) as caught:
        key(text)
    assert caught.value.message == expected


def test_key_condition_types_and_tables_without_range_keys() -> None:
    with pytest.raises(ServiceError) as caught:
        key("h = :n", key_types={"h": "S"})
    assert caught.value.message == ("One or more parameter values were invalid: "
                                    "Condition parameter type does not match schema type")
    with pytest.raises(ServiceError) as caught:
        compile_key_condition("h = :s AND r = :s", ctx(), "h", None).range  # noqa: B018
    assert caught.value.message == "Query key condition not supported"


def test_a_refused_key_condition_shape_comes_after_unused_placeholders() -> None:
    """AWS reports an unused name before a key condition it cannot use."""
    context = ExpressionContext({"#0": "h", "#count": "count"}, None)
    compile_key_condition("(#0 = x)", context, "h", None)
    with pytest.raises(ServiceError) as caught:
        context.check_all_used()
    assert caught.value.message == "Value provided in ExpressionAttributeNames unused in expressions: keys: {#count}"
    context = ExpressionContext({"#0": "h"}, None)
    compile_key_condition("(#0 = x)", context, "h", None)
    with pytest.raises(ServiceError) as caught:
        context.check_all_used()
    assert caught.value.message == ("Invalid KeyConditionExpression: Invalid condition in KeyConditionExpression: "
                                    "Multiple attribute names used in one condition")
    # a syntax error is not deferred
    with pytest.raises(ServiceError) as caught:
        compile_key_condition("h = ", ExpressionContext(None, None), "h", None)
    assert caught.value.message == 'Invalid KeyConditionExpression: Syntax error; token: "<EOF>", near: "= "'
