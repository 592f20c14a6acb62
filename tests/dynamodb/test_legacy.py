"""The legacy parameters in process: Expected, QueryFilter/ScanFilter, KeyConditions, AttributesToGet,
AttributeUpdates, and the refusal to mix them with expressions, with AWS's messages."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.services.dynamodb.legacy import (
    legacy_condition,
    legacy_filter,
    legacy_key_condition,
    legacy_projection,
    legacy_update,
    refuse_mixed,
)
from conveyor.wire import ServiceError

INVALID = "One or more parameter values were invalid: "
ITEM: dict[str, Any] = {"a": {"S": "apple"}, "n": {"N": "3"}, "tags": {"SS": ["x", "y"]},
                        "lst": {"L": [{"S": "p"}]}, "a.b": {"S": "dotted"}}


def message(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ServiceError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == "ValidationException"
    return caught.value.message


def filter_matches(conditions: dict[str, Any], operator: str | None = None, item: Any = ITEM) -> bool:
    condition = legacy_filter(conditions, operator)
    assert condition is not None
    return condition.matches(item)


@pytest.mark.parametrize(("conditions", "expected"), [
    ({"a": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "apple"}]}}, True),
    ({"tags": {"ComparisonOperator": "EQ", "AttributeValueList": [{"SS": ["y", "x"]}]}}, True),
    ({"a": {"ComparisonOperator": "NE", "AttributeValueList": [{"S": "apple"}]}}, False),
    ({"absent": {"ComparisonOperator": "NE", "AttributeValueList": [{"S": "apple"}]}}, True),
    ({"n": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "2.5"}]}}, True),
    ({"n": {"ComparisonOperator": "LE", "AttributeValueList": [{"N": "2.5"}]}}, False),
    ({"a": {"ComparisonOperator": "NOT_NULL"}}, True),
    ({"absent": {"ComparisonOperator": "NULL"}}, True),
    ({"a": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"S": "ppl"}]}}, True),
    ({"tags": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [{"S": "x"}]}}, False),
    ({"a": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "app"}]}}, True),
    ({"n": {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"N": "3"}]}}, True),
    ({"n": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "3"}, {"N": "4"}]}}, True),
    ({"a.b": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "dotted"}]}}, True),  # names are literal
])
def test_filters_evaluate(conditions: dict[str, Any], expected: bool) -> None:
    assert filter_matches(conditions) is expected


def test_conditional_operator_joins() -> None:
    both = {"a": {"ComparisonOperator": "NULL"}, "n": {"ComparisonOperator": "NOT_NULL"}}
    assert not filter_matches(both)
    assert not filter_matches(both, "AND")
    assert filter_matches(both, "OR")
    assert legacy_filter({}, None) is None and legacy_filter(None, None) is None


@pytest.mark.parametrize(("conditions", "expected"), [
    ({"a": {"ComparisonOperator": "EQ"}}, INVALID + "Invalid number of argument(s) for the EQ ComparisonOperator"),
    ({"a": {"ComparisonOperator": "NULL", "AttributeValueList": [{"S": "a"}]}},
     INVALID + "Invalid number of argument(s) for the NULL ComparisonOperator"),
    ({"a": {"ComparisonOperator": "IN", "AttributeValueList": []}},
     INVALID + "Invalid number of argument(s) for the IN ComparisonOperator"),
    ({"a": {"ComparisonOperator": "IN", "AttributeValueList": [{"S": "b"}, {"N": "1"}]}},
     INVALID + "AttributeValues inside AttributeValueList must be of same type"),
    ({"a": {"ComparisonOperator": "LT", "AttributeValueList": [{"BOOL": True}]}},
     INVALID + "ComparisonOperator LT is not valid for BOOL AttributeValue type"),
    ({"a": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"SS": ["a"]}]}},
     INVALID + "ComparisonOperator CONTAINS is not valid for SS AttributeValue type"),
    ({"a": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"N": "1"}]}},
     INVALID + "ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type"),
    ({"a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"S": "b"}, {"S": "a"}]}},
     "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound"),
    ({"a": {"ComparisonOperator": "EQ", "AttributeValueList": [{"SS": []}]}},
     INVALID + "An string set  may not be empty"),
])
def test_filter_mistakes(conditions: dict[str, Any], expected: str) -> None:
    assert message(legacy_filter, conditions, None) == expected


def test_expected() -> None:
    def holds(expected: dict[str, Any], item: Any = ITEM, operator: str | None = None) -> bool:
        condition = legacy_condition(expected, operator)
        assert condition is not None
        return condition.matches(item)

    assert holds({"a": {"Value": {"S": "apple"}}})
    assert holds({"a": {"Value": {"S": "apple"}, "Exists": True}})
    assert not holds({"a": {"Exists": False}})
    assert holds({"a": {"Exists": False}}, None)  # an absent item
    assert holds({"n": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "3"}]}})
    assert holds({"n": {"ComparisonOperator": "GE", "Value": {"N": "3"}}})
    assert holds({"a": {"Exists": False}, "n": {"Value": {"N": "3"}}}, operator="OR")
    assert legacy_condition(None, None) is None


@pytest.mark.parametrize(("expected", "text"), [
    ({"a": {"ComparisonOperator": "EQ", "Exists": True, "AttributeValueList": [{"S": "a"}]}},
     "Exists and ComparisonOperator cannot be used together for Attribute: a"),
    ({"a": {"ComparisonOperator": "EQ", "Value": {"S": "a"}, "AttributeValueList": [{"S": "a"}]}},
     "Value and AttributeValueList cannot be used together for Attribute: a"),
    ({"a": {"AttributeValueList": [{"S": "a"}]}},
     "AttributeValueList can only be used with a ComparisonOperator for Attribute: a"),
    ({"a": {}}, "Value must be provided when Exists is null for Attribute: a"),
    ({"a": {"Exists": True}}, "Value must be provided when Exists is true for Attribute: a"),
    ({"a": {"Exists": False, "Value": {"S": "a"}}}, "Value cannot be used when Exists is false for Attribute: a"),
])
def test_expected_mistakes(expected: dict[str, Any], text: str) -> None:
    assert message(legacy_condition, expected, None) == INVALID + text


def test_key_conditions() -> None:
    condition = legacy_key_condition({
        "h": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "k"}]},
        "r": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "5"}]},
    }, "h", "r")
    assert condition.hash_value == {"S": "k"}
    assert condition.range is not None and condition.range.op == "BETWEEN"
    assert condition.range.matches({"N": "5"}) and not condition.range.matches({"N": "6"})
    prefix = legacy_key_condition({"h": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "k"}]},
                                   "r": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "a"}]}},
                                  "h", "r").range
    assert prefix is not None and prefix.op == "begins_with" and prefix.matches({"S": "ab"})


@pytest.mark.parametrize(("conditions", "expected"), [
    ({}, "Conditions can be of length 1 or 2 only"),
    ({"h": {"ComparisonOperator": "NE", "AttributeValueList": [{"S": "k"}]}},
     "Attempted conditional constraint is not an indexable operation"),
    ({"h": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "k"}]}, "r": {"ComparisonOperator": "NULL"}},
     "Attempted conditional constraint is not an indexable operation"),
    ({"h": {"ComparisonOperator": "GT", "AttributeValueList": [{"S": "k"}]}}, "Query key condition not supported"),
    ({"r": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "k"}]}},
     "Query condition missed key schema element: h"),
])
def test_key_condition_mistakes(conditions: dict[str, Any], expected: str) -> None:
    assert message(legacy_key_condition, conditions, "h", "r") == expected


def test_attributes_to_get() -> None:
    projection = legacy_projection(["a.b", "n", "absent"])
    assert projection is not None
    assert projection.apply(ITEM) == {"a.b": ITEM["a.b"], "n": ITEM["n"]}
    assert legacy_projection(None) is None
    assert message(legacy_projection, ["a", "a"]) == INVALID + "Duplicate value in attribute name: a"


def test_attribute_updates() -> None:
    update = legacy_update({
        "a": {"Value": {"S": "pear"}},  # PUT by default
        "n": {"Action": "ADD", "Value": {"N": "2.5"}},
        "tags": {"Action": "DELETE", "Value": {"SS": ["x"]}},
        "lst": {"Action": "ADD", "Value": {"L": [{"N": "1"}]}},
        "a.b": {"Action": "DELETE"},
        "fresh": {"Action": "ADD", "Value": {"NS": ["1", "2"]}},
    })
    assert update.top_level_names == {"a", "n", "tags", "lst", "a.b", "fresh"}
    assert update.apply(ITEM) == {"a": {"S": "pear"}, "n": {"N": "5.5"}, "tags": {"SS": ["y"]},
                                  "lst": {"L": [{"S": "p"}, {"N": "1"}]}, "fresh": {"NS": ["1", "2"]}}
    emptied = legacy_update({"tags": {"Action": "DELETE", "Value": {"SS": ["x", "y"]}}}).apply(ITEM)
    assert "tags" not in emptied
    assert legacy_update({"n": {"Action": "ADD", "Value": {"N": "1"}}}).updated(ITEM) == {"n": ITEM["n"]}


@pytest.mark.parametrize(("updates", "expected"), [
    ({"a": {"Action": "PUT"}}, INVALID + "Only DELETE action is allowed when no attribute value is specified"),
    ({"a": {"Action": "ADD"}}, INVALID + "Only DELETE action is allowed when no attribute value is specified"),
    ({"a": {"Action": "DELETE", "Value": {"S": "a"}}},
     INVALID + "DELETE action with value is not supported for the type S"),
    ({"a": {"Action": "ADD", "Value": {"S": "a"}}}, INVALID + "ADD action is not supported for the type S"),
])
def test_attribute_update_mistakes(updates: dict[str, Any], expected: str) -> None:
    assert message(legacy_update, updates) == expected


@pytest.mark.parametrize("updates", [
    {"tags": {"Action": "DELETE", "Value": {"NS": ["1"]}}},
    {"n": {"Action": "DELETE", "Value": {"NS": ["1"]}}},
    {"tags": {"Action": "ADD", "Value": {"NS": ["1"]}}},
    {"tags": {"Action": "ADD", "Value": {"N": "1"}}},
])
def test_attribute_updates_of_the_wrong_type(updates: dict[str, Any]) -> None:
    assert message(legacy_update(updates).apply, ITEM) == "Type mismatch for attribute to update"


def test_mixing_expressions_and_legacy_parameters() -> None:
    query = {"QueryFilter": {}, "AttributesToGet": ["a"], "KeyConditions": {}, "ConditionalOperator": "OR",
             "FilterExpression": "", "ProjectionExpression": "", "KeyConditionExpression": ""}
    assert message(refuse_mixed, query, "Query") == (
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {AttributesToGet, QueryFilter, ConditionalOperator, KeyConditions} "
        "Expression parameters: {ProjectionExpression, FilterExpression, KeyConditionExpression}")
    without_key_expression = {key: value for key, value in query.items() if key != "KeyConditionExpression"}
    assert message(refuse_mixed, without_key_expression, "Query") == (
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {AttributesToGet, QueryFilter, ConditionalOperator} "
        "Expression parameters: {ProjectionExpression, FilterExpression}")
    assert message(refuse_mixed, {"Expected": {}, "ExpressionAttributeNames": {}}, "PutItem") == (
        "ExpressionAttributeNames can only be specified when using expressions")
    assert message(refuse_mixed, {"ScanFilter": {}, "ExpressionAttributeValues": {}}, "Query") == (
        "ExpressionAttributeValues can only be specified when using expressions: "
        "FilterExpression and KeyConditionExpression are null")
    refuse_mixed({"KeyConditions": {}, "FilterExpression": "a = :v", "ExpressionAttributeValues": {}}, "Query")
    refuse_mixed({"UpdateExpression": "SET a = :v", "ExpressionAttributeValues": {}}, "UpdateItem")
