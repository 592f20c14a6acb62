"""Operands and functions of condition expressions, evaluated on an item.

https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html#Expressions.OperatorsAndFunctions.Functions
"""

from __future__ import annotations

from decimal import Decimal

from conveyor.services.dynamodb.expressions.paths import get_path
from conveyor.services.dynamodb.expressions.syntax import FunctionOperand, Operand, PathOperand, ValueOperand
from conveyor.services.dynamodb.values import AttributeValue, Item, values_equal


def operand_value(operand: Operand, item: Item) -> AttributeValue | None:
    """The operand's value, None when it names an attribute the item does not have."""
    if isinstance(operand, PathOperand):
        return get_path(item, operand.path)
    if isinstance(operand, ValueOperand):
        return operand.value
    if isinstance(operand, FunctionOperand):
        return function_value(operand, item)
    return None


def function_value(function: FunctionOperand, item: Item) -> AttributeValue | None:
    """size(path), the one function that yields a value: bytes of a string or binary (strings count their
    UTF-8 bytes), members of a set, elements of a list or map; no size for numbers, booleans, nulls."""
    if function.name != "size":
        return None
    value = operand_value(function.args[0], item)
    if value is None:
        return None
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return {"N": str(len(inner.encode()))}
    if kind in ("B", "SS", "NS", "BS", "L", "M"):
        return {"N": str(len(inner))}
    return None


def test_function(function: FunctionOperand, item: Item) -> bool:
    name, args = function.name, function.args
    if name == "attribute_exists":
        return operand_value(args[0], item) is not None
    if name == "attribute_not_exists":
        return operand_value(args[0], item) is None
    value = operand_value(args[0], item)
    if value is None:
        return False
    operand = operand_value(args[1], item)
    if operand is None:
        return False
    if name == "attribute_type":
        return "S" in operand and next(iter(value)) == operand["S"]
    if name == "begins_with":
        return _begins_with(value, operand)
    if name == "contains":
        return _contains(value, operand)
    return False


def _begins_with(value: AttributeValue, prefix: AttributeValue) -> bool:
    if "S" in value and "S" in prefix:
        return bool(value["S"].startswith(prefix["S"]))
    if "B" in value and "B" in prefix:
        return bool(bytes(value["B"]).startswith(bytes(prefix["B"])))
    return False


def _contains(value: AttributeValue, operand: AttributeValue) -> bool:
    """A substring of a string (or bytes of a binary), a member of a set of the operand's type, or an
    element of a list equal to the operand."""
    if "S" in value:
        return "S" in operand and operand["S"] in value["S"]
    if "B" in value:
        return "B" in operand and bytes(operand["B"]) in bytes(value["B"])
    if "SS" in value:
        return "S" in operand and operand["S"] in value["SS"]
    if "BS" in value:
        return "B" in operand and operand["B"] in value["BS"]
    if "NS" in value:
        return "N" in operand and Decimal(operand["N"]) in {Decimal(member) for member in value["NS"]}
    if "L" in value:
        return any(values_equal(element, operand) for element in value["L"])
    return False
