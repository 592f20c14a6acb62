"""DynamoDB's attribute values: validation with AWS's messages, sizes, canonical numbers, ordering.

An AttributeValue is the decoded wire form: exactly one of S, N, B, SS, NS, BS, M, L, NULL, BOOL, with
binary as bytes (the JSON codec decodes base64) and numbers as strings.

Sources: "Supported data types and naming rules"
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html):
numbers have up to 38 significant digits, positive 1E-130 to 9.9999999999999999999999999999999999999E+125,
leading and trailing zeros trimmed; sets are non-empty and unique; strings and binary sort by their
UTF-8 bytes / unsigned bytes. "Item sizes and formats"
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html) for sizes.
"""

from __future__ import annotations

import base64
import decimal
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from conveyor.wire import ServiceError

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

TYPES = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
MAX_ITEM_SIZE = 400 * 1024
MAX_NESTING = 32  # "Nested attribute depth": up to 32 levels
INVALID = "One or more parameter values were invalid: "

# Exact decimal arithmetic: a number holds 38 significant digits, but the exact sum of two of them may
# span 1E+125 to 1E-130 (256 digits) before it is checked against the limit, so nothing is ever rounded.
NUMBER_CONTEXT = decimal.Context(prec=300, Emax=999_999, Emin=-999_999, traps=[decimal.InvalidOperation])
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


# -- numbers ------------------------------------------------------------------------------------------

def parse_number(text: str) -> Decimal:
    """A number as AWS accepts it, or AWS's error. Python's Decimal alone would also take "NaN",
    "Infinity", spaces and underscores, which DynamoDB refuses."""
    if not text:
        raise validation("The parameter cannot be converted to a numeric value")
    if not _NUMBER.fullmatch(text):
        raise validation(f"The parameter cannot be converted to a numeric value: {text}")
    number = Decimal(text)
    check_number(number)
    return number


def check_number(number: Decimal) -> None:
    """The range and precision limits, on a number parsed or computed (the result of SET a = b + c)."""
    if number.is_zero():
        return
    if number.adjusted() > 125:
        raise validation("Number overflow. Attempting to store a number with magnitude larger than supported range")
    if number.adjusted() < -130:
        raise validation(
            "Number underflow. Attempting to store a number with magnitude smaller than supported range")
    if len(significant_digits(number)) > 38:
        raise validation("Attempting to store more than 38 significant digits in a Number")


def significant_digits(number: Decimal) -> tuple[int, ...]:
    """The digits without leading or trailing zeros (Decimal keeps trailing ones: 1.50 has three)."""
    digits = number.as_tuple().digits
    end = len(digits)
    while end > 1 and digits[end - 1] == 0:
        end -= 1
    return tuple(digits[:end])


def format_number(number: Decimal) -> str:
    """The canonical text DynamoDB returns: no exponent, no trailing zeros, no "-0"."""
    if number.is_zero():
        return "0"
    return format(number.normalize(NUMBER_CONTEXT), "f")


def normalize_number(text: str) -> str:
    """"1.50" -> "1.5", "-0" -> "0", "1e2" -> "100"; AWS's error for what is not a valid number."""
    return format_number(parse_number(text))


# -- validation ---------------------------------------------------------------------------------------

def _collection(members: Iterable[str]) -> str:
    """A set as AWS's messages print it (Java's List.toString): [a, b]."""
    return "[" + ", ".join(members) + "]"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def validate_value(value: AttributeValue) -> None:
    """One datatype per value, valid numbers, non-empty unique sets, NULL only true; nested values too."""
    _checked(value, 1)


def validate_item(item: Item) -> None:
    for value in item.values():
        _checked(value, 1)


def canonical_value(value: AttributeValue) -> AttributeValue:
    """A validated value with its numbers in canonical form ("1.50" is stored and returned as "1.5")."""
    return _checked(value, 1)


def canonical_item(item: Item) -> Item:
    return {name: _checked(value, 1) for name, value in item.items()}


def _checked(value: AttributeValue, depth: int) -> AttributeValue:
    """Validation and canonical numbers in one pass (the hot path of every write)."""
    if depth > MAX_NESTING:
        raise validation("Nesting Levels have exceeded supported limits")
    if not isinstance(value, dict) or not value:
        raise validation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
    if len(value) == 1:
        kind, inner = next(iter(value.items()))
        return _checked_member(kind, inner, value, depth)
    # AWS reports a bad member of any datatype before the "more than one datatypes" error.
    for kind, inner in value.items():
        _checked_member(kind, inner, value, depth)
    raise validation("Supplied AttributeValue has more than one datatypes set, "
                     "must contain exactly one of the supported datatypes")


_CANONICAL_INTEGER = re.compile(r"0|-?[1-9][0-9]{0,37}")


def _canonical_number(text: Any) -> str:
    if isinstance(text, str) and _CANONICAL_INTEGER.fullmatch(text):
        return text  # already as DynamoDB returns it: most numbers are small integers
    return format_number(parse_number(text))


def _checked_member(kind: str, inner: Any, value: AttributeValue, depth: int) -> AttributeValue:
    if kind == "N":
        return {"N": _canonical_number(inner)}
    if kind == "NULL" and inner is not True:
        raise validation(INVALID + "Null attribute value types must have the value of true")
    if kind == "SS":
        if not inner:
            raise validation(INVALID + "An string set  may not be empty")
        if len(set(inner)) != len(inner):
            raise validation(INVALID + f"Input collection {_collection(inner)} contains duplicates.")
    elif kind == "NS":
        if not inner:
            raise validation(INVALID + "An number set  may not be empty")
        members = [_canonical_number(member) for member in inner]
        if len({Decimal(member) for member in members}) != len(members):  # "1" and "1.0" are one number
            raise validation("Input collection contains duplicates")
        return {"NS": members}
    elif kind == "BS":
        if not inner:
            raise validation(INVALID + "Binary sets should not be empty")
        if len(set(inner)) != len(inner):
            # sic: AWS prints no space before "of type BS"
            raise validation(INVALID + f"Input collection {_collection(_b64(b) for b in inner)}of type BS contains duplicates.")
    elif kind == "M":
        return {"M": {name: _checked(member, depth + 1) for name, member in inner.items()}}
    elif kind == "L":
        return {"L": [_checked(member, depth + 1) for member in inner]}
    return value


def nesting_depth(value: AttributeValue) -> int:
    """Levels of a value: 1 for a scalar or set, one more for each list or map around it."""
    if "M" in value:
        return 1 + max((nesting_depth(member) for member in value["M"].values()), default=0)
    if "L" in value:
        return 1 + max((nesting_depth(member) for member in value["L"]), default=0)
    return 1


def check_nesting(value: AttributeValue, level: int) -> None:
    """A value placed `level` levels down (1: a top-level attribute) may reach 32 levels, no more."""
    if level - 1 + nesting_depth(value) > MAX_NESTING:
        raise validation("Nesting Levels have exceeded supported limits")


# -- sizes --------------------------------------------------------------------------------------------

def number_size(text: str) -> int:
    """Numbers are stored as base-100 digits (pairs aligned on the decimal point) after one exponent
    byte; negative numbers carry one more byte. "Item sizes and formats": about one byte per two
    significant digits, plus one."""
    if _CANONICAL_INTEGER.fullmatch(text):  # the common case, counted from the text (no Decimal)
        return _integer_size(text)
    number = Decimal(text)
    if number.is_zero():
        return 1
    pad = 1 if number.adjusted() % 2 == 0 else 0
    return 1 + (len(significant_digits(number)) + pad + 1) // 2 + (1 if number.is_signed() else 0)


def _integer_size(text: str) -> int:
    """number_size of a canonical integer (_CANONICAL_INTEGER)."""
    if text == "0":
        return 1
    digits = text.lstrip("-")
    pad = 1 if (len(digits) - 1) % 2 == 0 else 0
    return 1 + (len(digits.rstrip("0")) + pad + 1) // 2 + (1 if text[0] == "-" else 0)


def value_size(value: AttributeValue) -> int:
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner)
    if kind == "N":
        return number_size(inner)
    if kind == "SS":
        return sum(len(member.encode()) for member in inner)
    if kind == "BS":
        return sum(len(member) for member in inner)
    if kind == "NS":
        return sum(number_size(member) for member in inner)
    if kind in ("NULL", "BOOL"):
        return 1
    if kind == "L":  # 3 bytes for the list, 1 per element
        return 3 + sum(1 + value_size(member) for member in inner)
    if kind == "M":  # 3 bytes for the map, 1 per element, and each element's name and value
        return 3 + sum(1 + len(name.encode()) + value_size(member) for name, member in inner.items())
    raise validation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")


def item_size(item: Item) -> int:
    """The item's size as AWS counts it toward the 400 KB limit: each name's UTF-8 bytes plus its value."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def check_item_size(item: Item, *, updating: bool = False) -> int:
    """PutItem's and UpdateItem's own wording for an item over 400 KB; the item's size when it is not."""
    return check_size(item_size(item), updating=updating)


def check_size(size: int, *, updating: bool = False) -> int:
    if size > MAX_ITEM_SIZE:
        raise validation("Item size to update has exceeded the maximum allowed size" if updating
                         else "Item size has exceeded the maximum allowed size")
    return size


# The kinds the store keeps as the wire has them (conveyor.services.dynamodb.stored encodes binary, and
# looks into maps and lists for it).
PLAIN_KINDS = frozenset(("S", "N", "SS", "NS", "BOOL", "NULL"))


def sized_item(item: Item) -> tuple[Item, int, bool]:
    """canonical_item, item_size and whether every attribute is of PLAIN_KINDS, in one pass over the item:
    the hot path of every PutItem. Strings, string sets and integers already canonical (most attributes)
    are taken as they are; anything else goes through the full check. The item itself is returned when
    nothing in it changes (the request's item is the request's alone), a copy otherwise. An ASCII string's
    size is its length: no encoded copy is made to count its bytes."""
    out = item
    size = 0
    plain = True
    for name, value in item.items():
        size += len(name) if name.isascii() else len(name.encode())
        if type(value) is dict and len(value) == 1:
            (kind, inner), = value.items()
            if type(inner) is str:
                if kind == "S":
                    size += len(inner) if inner.isascii() else len(inner.encode())
                    continue
                if kind == "N" and _CANONICAL_INTEGER.fullmatch(inner):
                    size += _integer_size(inner)
                    continue
            elif (kind == "SS" and type(inner) is list and inner
                  and all(type(member) is str for member in inner) and len(set(inner)) == len(inner)):
                joined = "".join(inner)  # a valid string set, as it is
                size += len(joined) if joined.isascii() else len(joined.encode())
                continue
        checked = _checked(value, 1)
        if checked is not value:
            if out is item:
                out = dict(item)
            out[name] = checked
        size += value_size(checked)
        plain = plain and kind_of(checked) in PLAIN_KINDS
    return out, size, plain


# -- ordering -----------------------------------------------------------------------------------------

def _number_key(number: Decimal) -> bytes:
    """Bytes whose unsigned comparison is numeric order: a class byte (negative < zero < positive), the
    exponent (1E-130..9.99E125 fits one byte; inverted for negatives), then the significant digits
    (complemented for negatives and closed with 0xFF, so that -1.23 sorts before -1.2)."""
    if number.is_zero():
        return b"\x80"
    digits = significant_digits(number)
    exponent = number.adjusted() + 130
    if not number.is_signed():
        return bytes([0x81, exponent]) + bytes(0x30 + d for d in digits)
    return bytes([0x7F, 255 - exponent]) + bytes(0x39 - d for d in digits) + b"\xff"


def key_bytes(value: AttributeValue) -> bytes:
    """An order-preserving encoding of a key value (S, N or B): comparing the bytes (SQLite's BLOB order)
    is DynamoDB's order: strings by UTF-8 bytes, numbers by value, binary by unsigned bytes."""
    if "S" in value:
        return bytes(value["S"].encode())
    if "N" in value:
        text: str = value["N"]
        if _CANONICAL_INTEGER.fullmatch(text) and text[0] not in "-0":  # positive integers, from the text
            return bytes([0x81, len(text) - 1 + 130]) + text.rstrip("0").encode()
        return _number_key(Decimal(text))
    if "B" in value:
        return bytes(value["B"])
    raise ValueError(f"not a key value: {sorted(value)}")


def kind_of(value: AttributeValue) -> str:
    return next(iter(value))


def compare(a: AttributeValue, b: AttributeValue) -> int | None:
    """-1, 0 or 1 for two scalars of one ordered type (S, N, B); None when the types differ or do not
    order (a condition `a < b` across types is false, never an error)."""
    kind = kind_of(a)
    if kind != kind_of(b) or kind not in ("S", "N", "B"):
        return None
    left: Any
    right: Any
    if kind == "N":
        left, right = Decimal(a["N"]), Decimal(b["N"])
    elif kind == "S":
        left, right = a["S"].encode(), b["S"].encode()
    else:
        left, right = bytes(a["B"]), bytes(b["B"])
    return int(left > right) - int(left < right)


def values_equal(a: AttributeValue, b: AttributeValue) -> bool:
    """DynamoDB's equality: numbers by value, sets regardless of order, lists and maps member by member."""
    kind = kind_of(a)
    if kind != kind_of(b):
        return False
    left, right = a[kind], b[kind]
    if kind == "N":
        return Decimal(left) == Decimal(right)
    if kind == "NS":
        return {Decimal(n) for n in left} == {Decimal(n) for n in right}
    if kind in ("SS", "BS"):
        return set(left) == set(right)
    if kind == "L":
        return len(left) == len(right) and all(values_equal(x, y) for x, y in zip(left, right, strict=True))
    if kind == "M":
        return left.keys() == right.keys() and all(values_equal(left[k], right[k]) for k in left)
    return bool(left == right)
