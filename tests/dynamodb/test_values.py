"""DynamoDB's attribute values in process: AWS's validation messages, canonical numbers, sizes, key order."""

from __future__ import annotations

import copy
import random
from decimal import Decimal

import pytest

from conveyor.services.dynamodb.values import (
    canonical_item,
    check_item_size,
    compare,
    item_size,
    key_bytes,
    normalize_number,
    sized_item,
    validate_item,
    validate_value,
    values_equal,
)
from conveyor.wire import ServiceError

INVALID = "One or more parameter values were invalid: "


def message(value: dict[str, object]) -> str:
    with pytest.raises(ServiceError) as caught:
        validate_value(value)
    assert caught.value.code == "ValidationException"
    return caught.value.message


@pytest.mark.parametrize(("value", "expected"), [
    ({}, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"),
    ({"S": "a", "N": "1"}, "Supplied AttributeValue has more than one datatypes set, "
                           "must contain exactly one of the supported datatypes"),
    ({"NULL": False}, INVALID + "Null attribute value types must have the value of true"),
    ({"SS": []}, INVALID + "An string set  may not be empty"),
    ({"NS": []}, INVALID + "An number set  may not be empty"),
    ({"BS": []}, INVALID + "Binary sets should not be empty"),
    ({"SS": ["a", "a"]}, INVALID + "Input collection [a, a] contains duplicates."),
    ({"BS": [b"b", b"b"]}, INVALID + "Input collection [Yg==, Yg==]of type BS contains duplicates."),
    ({"NS": ["1", "1.0"]}, "Input collection contains duplicates"),
    ({"S": "a", "N": ""}, "The parameter cannot be converted to a numeric value"),
    ({"S": "a", "N": "b"}, "The parameter cannot be converted to a numeric value: b"),
    ({"NS": ["1", "b"]}, "The parameter cannot be converted to a numeric value: b"),
    ({"N": "NaN"}, "The parameter cannot be converted to a numeric value: NaN"),
    ({"N": "Infinity"}, "The parameter cannot be converted to a numeric value: Infinity"),
    ({"N": "1_000"}, "The parameter cannot be converted to a numeric value: 1_000"),
    ({"N": " 1"}, "The parameter cannot be converted to a numeric value:  1"),
    ({"N": "123456789012345678901234567890123456789"},
     "Attempting to store more than 38 significant digits in a Number"),
    ({"N": "-1.23456789012345678901234567890123456789"},
     "Attempting to store more than 38 significant digits in a Number"),
    ({"N": "1e126"}, "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ({"N": "-1e126"}, "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ({"N": "1e-131"}, "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
    ({"N": "-1e-131"},
     "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
    ({"M": {"a": {"L": [{"S": "x"}, {"SS": []}]}}}, INVALID + "An string set  may not be empty"),
])
def test_invalid_values_get_aws_messages(value: dict[str, object], expected: str) -> None:
    assert message(value) == expected


def test_valid_values_pass() -> None:
    validate_item({
        "s": {"S": ""}, "b": {"B": b""}, "n": {"N": "-9.9999999999999999999999999999999999999E+125"},
        "tiny": {"N": "1E-130"}, "many": {"N": "12345678901234567890123456789012345678000"},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"a", b"b"]},
        "m": {"M": {"x": {"NULL": True}, "y": {"BOOL": False}}}, "l": {"L": []},
    })


def test_nesting_beyond_32_levels_is_refused() -> None:
    value: dict[str, object] = {"S": "leaf"}
    for _ in range(31):
        value = {"L": [value]}
    validate_value(value)  # 32 levels
    assert message({"M": {"a": value}}) == "Nesting Levels have exceeded supported limits"


@pytest.mark.parametrize(("text", "canonical"), [
    ("1.50", "1.5"), ("-0", "0"), ("0.000", "0"), ("1e2", "100"), ("+7", "7"), ("00012.3400", "12.34"),
    ("-.5", "-0.5"), ("1E-130", "0." + "0" * 129 + "1"), ("123E-2", "1.23"),
])
def test_numbers_come_back_canonical(text: str, canonical: str) -> None:
    assert normalize_number(text) == canonical


def test_canonical_item_rewrites_nested_numbers() -> None:
    item = {"a": {"M": {"b": {"L": [{"N": "1.0"}]}}}, "c": {"NS": ["2.50"]}}
    assert canonical_item(item) == {"a": {"M": {"b": {"L": [{"N": "1"}]}}}, "c": {"NS": ["2.5"]}}


def test_item_size_counts_as_aws_does() -> None:
    # names and strings by their UTF-8 bytes
    assert item_size({"ab": {"S": "héllo"}}) == 2 + 6
    assert item_size({"b": {"B": b"\x00\x01\x02"}}) == 1 + 3
    assert item_size({"t": {"BOOL": True}, "n": {"NULL": True}}) == 4
    # numbers: one byte per two significant digits (pairs aligned on the decimal point) plus one
    assert item_size({"n": {"N": "1"}}) == 1 + 2
    assert item_size({"n": {"N": "12"}}) == 1 + 2
    assert item_size({"n": {"N": "123"}}) == 1 + 3
    assert item_size({"n": {"N": "1.1"}}) == 1 + 3
    assert item_size({"n": {"N": "1000000"}}) == 1 + 2
    assert item_size({"n": {"N": "-1"}}) == 1 + 3
    assert item_size({"n": {"N": "0"}}) == 1 + 1
    # lists and maps: 3 bytes plus 1 per element
    assert item_size({"l": {"L": []}}) == 1 + 3
    assert item_size({"l": {"L": [{"S": "ab"}, {"BOOL": True}]}}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert item_size({"m": {"M": {"xy": {"S": "z"}}}}) == 1 + 3 + 1 + 2 + 1
    assert item_size({"s": {"SS": ["a", "bc"]}}) == 1 + 3


def test_sized_item_is_canonical_item_and_item_size_in_one_pass() -> None:
    """PutItem's one pass (with its shortcuts for strings, integers and string sets) agrees with the full
    check on every item, names and strings beyond ASCII included, refuses what it refuses with the same
    message, and leaves the item it was given as it was."""
    rng = random.Random(20)
    scalars = [{"S": "héllo"}, {"S": "😀"}, {"SS": ["ü", "😀x"]}, {"S": ""}, {"N": "12"}, {"N": "-0"}, {"N": "1.50"}, {"N": "007"}, {"N": "1e3"},
               {"SS": ["a", "bé"]}, {"SS": ["a", "a"]}, {"SS": []}, {"NS": ["1", "1.0"]}, {"NS": ["2", "3.5"]},
               {"B": b"\x00"}, {"BS": [b"\x01"]}, {"BOOL": True}, {"NULL": True}, {"NULL": False},
               {"L": [{"N": "1.0"}, {"SS": ["x"]}]}, {"M": {"k": {"N": "10"}}}, {"S": "a", "N": "1"}, {}]
    for _ in range(300):
        item = {f"{rng.choice(('a', 'é', '😀'))}{n}": rng.choice(scalars) for n in range(rng.randint(1, 5))}
        given = copy.deepcopy(item)
        try:
            expected = canonical_item(item)
        except ServiceError as refused:
            with pytest.raises(ServiceError) as caught:
                sized_item(item)
            assert caught.value.message == refused.message
            continue
        out, size, plain = sized_item(item)
        assert out == expected and size == item_size(expected) and item == given
        assert plain == all(next(iter(v)) in ("S", "N", "SS", "NS", "BOOL", "NULL") for v in expected.values())


def test_item_size_limit_messages() -> None:
    check_item_size({"a": {"S": "x" * (400 * 1024 - 1)}})
    with pytest.raises(ServiceError) as caught:
        check_item_size({"ab": {"S": "x" * (400 * 1024 - 1)}})
    assert caught.value.message == "Item size has exceeded the maximum allowed size"
    with pytest.raises(ServiceError) as caught:
        check_item_size({"ab": {"S": "x" * (400 * 1024 - 1)}}, updating=True)
    assert caught.value.message == "Item size to update has exceeded the maximum allowed size"


def test_number_key_bytes_sort_by_value() -> None:
    rng = random.Random(20)
    texts = ["0", "1", "-1", "1.2", "1.23", "-1.2", "-1.23", "10", "9.99", "-10", "-9.99", "1E-130",
             "-1E-130", "9.9999999999999999999999999999999999999E+125", "-9.9999999999999999999999999999999999999E+125",
             "0.001", "-0.001", "100", "99", "101", "-100", "-99", "-101"]
    for _ in range(300):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 38)))
        texts.append(f"{rng.choice(['', '-'])}{digits}E{rng.randint(-92, 87)}")
    by_bytes = sorted(texts, key=lambda t: key_bytes({"N": t}))
    by_value = sorted(texts, key=Decimal)
    assert [Decimal(t) for t in by_bytes] == [Decimal(t) for t in by_value]
    assert key_bytes({"N": "1.50"}) == key_bytes({"N": "1.5"})


def test_integers_written_plainly_encode_and_size_as_in_any_other_notation() -> None:
    # Plain integers ("1200") take a shortcut that skips Decimal; the same number in exponent notation
    # ("1.2E3") takes the general route: both must agree on key bytes (hence order) and size.
    rng = random.Random(38)
    samples = ["1", "7", "10", "100", "1200", "-1", "-10", "-1200", "99", "-99", "9" * 38, "1" + "0" * 37]
    for _ in range(500):
        width = rng.randint(1, 38)
        digits = str(rng.randint(10 ** (width - 1), 10 ** width - 1)).rstrip("0") or "1"
        zeros = rng.randint(0, 38 - len(digits))
        samples.append(rng.choice(["", "-"]) + digits + "0" * zeros)
    for text in samples:
        sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
        exponent_form = f"{sign}{digits[0]}.{digits[1:] or '0'}E{len(digits) - 1}"
        assert key_bytes({"N": text}) == key_bytes({"N": exponent_form}), text
        assert item_size({"n": {"N": text}}) == item_size({"n": {"N": exponent_form}}), text
    by_bytes = sorted(samples + ["0.5", "-0.5", "1.5", "1199.99"], key=lambda t: key_bytes({"N": t}))
    assert [Decimal(t) for t in by_bytes] == sorted(Decimal(t) for t in by_bytes)


def test_string_and_binary_key_bytes_sort_as_dynamodb() -> None:
    strings = ["", "a", "ab", "b", "Z", "é", "\U0001f600", "\uffff"]  # UTF-8 order, not UTF-16's
    assert sorted(strings, key=lambda s: key_bytes({"S": s})) == sorted(strings, key=lambda s: s.encode())
    assert key_bytes({"B": b"\xff"}) > key_bytes({"B": b"\x00\xff"})


def test_compare_and_equality() -> None:
    assert compare({"N": "10"}, {"N": "9"}) == 1
    assert compare({"N": "1.0"}, {"N": "1"}) == 0
    assert compare({"S": "a"}, {"S": "b"}) == -1
    assert compare({"S": "\uffff"}, {"S": "\U0001f600"}) == -1  # by UTF-8 bytes
    assert compare({"B": b"\x01"}, {"B": b"\x01\x00"}) == -1
    assert compare({"S": "1"}, {"N": "1"}) is None
    assert compare({"SS": ["a"]}, {"SS": ["a"]}) is None
    assert values_equal({"NS": ["1", "2.0"]}, {"NS": ["2", "1"]})
    assert values_equal({"M": {"a": {"L": [{"N": "1"}]}}}, {"M": {"a": {"L": [{"N": "1.00"}]}}})
    assert not values_equal({"L": [{"N": "1"}]}, {"L": [{"N": "1"}, {"N": "1"}]})
    assert not values_equal({"S": "1"}, {"N": "1"})
