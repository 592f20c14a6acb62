"""EventBridge's event patterns, which Lambda's filters on DynamoDB stream mappings use too: checking one when
a rule is made, and matching events against it.

A pattern is a JSON object whose leaves are arrays of matchers; an event matches when every key of the
pattern matches (and) and, at a leaf, any matcher matches any of the event's values there (or). An array
in the event matches when any of its elements does. The matchers and their rules follow
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html (and
eb-event-patterns.md, eb-event-patterns-arrays.md, eb-event-patterns-null-values.md):

    exact values ("a", 5, true, null), {"prefix": ...}, {"suffix": ...} (either also as
    {"equals-ignore-case": ...}), {"equals-ignore-case": ...}, {"wildcard": "a*b"}, {"anything-but": x}
    (a value, a list of strings or of numbers, or {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": ...}),
    {"numeric": [">", 0, "<=", 5]}, {"exists": true|false}, {"cidr": "10.0.0.0/24"}, and "$or": [...].

A refused pattern raises PatternError with the reason EventBridge gives after "Event pattern is not valid.
Reason: " (the wording of AWS's event-ruler library, which EventBridge runs).
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

_NUMERIC_OPERATORS = ("<", "<=", "=", ">", ">=")
_MAX_WILDCARDS = 5  # more is "too complex" (the wildcard complexity rule), kept simple here


class PatternError(Exception):
    """Why a pattern is not valid, in EventBridge's words."""


def parse(text: str) -> dict[str, Any]:
    """The pattern a rule or TestEventPattern gives, checked; PatternError when EventBridge refuses it."""
    try:
        pattern = json.loads(text)
    except ValueError:
        raise PatternError("Filter is not valid JSON")
    if not isinstance(pattern, dict):
        raise PatternError("Filter is not an object")
    _check_object(pattern)
    return pattern


def _check_object(pattern: Mapping[str, Any]) -> None:
    for key, value in pattern.items():
        if key == "$or":
            _check_or(value)
        elif isinstance(value, dict):
            _check_object(value)
        elif isinstance(value, list):
            if not value:
                raise PatternError("Empty arrays are not allowed")
            for matcher in value:
                _check_matcher(matcher)
        else:
            raise PatternError(f'"{key}" must be an object or an array')


def _check_or(value: Any) -> None:
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-complex-example-or
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise PatternError("Value of $or must be an array of objects")
    for alternative in value:
        _check_object(alternative)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_matcher(matcher: Any) -> None:
    if matcher is None or isinstance(matcher, str | bool) or _is_number(matcher):
        return
    if not isinstance(matcher, dict):
        raise PatternError("Match value must be String, number, true, false, or null")
    if len(matcher) != 1:
        raise PatternError("Only one key allowed in match expression")
    ((operator, value),) = matcher.items()
    if operator in ("prefix", "suffix"):
        if isinstance(value, dict):
            if list(value) != ["equals-ignore-case"] or not isinstance(value["equals-ignore-case"], str):
                raise PatternError(f"Unsupported {operator} pattern: {next(iter(value), '')}")
        elif not isinstance(value, str):
            raise PatternError(f"{operator} match pattern must be a string")
    elif operator == "equals-ignore-case":
        if not isinstance(value, str):
            raise PatternError("equals-ignore-case match pattern must be a string")
    elif operator == "wildcard":
        _check_wildcard(value)
    elif operator == "anything-but":
        _check_anything_but(value)
    elif operator == "numeric":
        _check_numeric(value)
    elif operator == "exists":
        if not isinstance(value, bool):
            raise PatternError("exists match pattern must be either true or false.")
    elif operator == "cidr":
        _check_cidr(value)
    else:
        raise PatternError(f"Unrecognized match type {operator}")


def _check_wildcard(value: Any) -> None:
    if not isinstance(value, str):
        raise PatternError("wildcard match pattern must be a string")
    if "**" in value:
        raise PatternError(f"Consecutive wildcard characters at pos {value.index('**') + 1}")
    if value.count("*") > _MAX_WILDCARDS:
        raise PatternError("Rule is too complex - try using fewer wildcard characters or fewer repeating "
                           "character sequences after a wildcard character")


def _check_anything_but(value: Any) -> None:
    if isinstance(value, list):
        if not value:
            raise PatternError("Empty arrays are not allowed")
        if not (all(isinstance(v, str) for v in value) or all(_is_number(v) for v in value)):
            raise PatternError("Inside anything but list, start|null|boolean is not supported.")
        return
    if isinstance(value, dict):
        if len(value) != 1:
            raise PatternError("Only one key allowed in match expression")
        ((inner, operand),) = value.items()
        if inner not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            raise PatternError(f"Unsupported anything-but pattern: {inner}")
        operands = operand if isinstance(operand, list) else [operand]
        if inner in ("prefix", "suffix") and isinstance(operand, dict):
            raise PatternError("Value of anything-but must be an array or single string/number value.")
        if not operands or not all(isinstance(o, str) for o in operands):
            if inner == "equals-ignore-case":
                raise PatternError("Inside anything-but/equals-ignore-case list, number|start|null|boolean is not "
                                   "supported.")
            raise PatternError(f"{inner} match pattern must be a string")
        if inner in ("prefix", "suffix") and any(o == "" for o in operands):
            raise PatternError("Null prefix/suffix not allowed")
        if inner == "wildcard":
            for o in operands:
                _check_wildcard(o)
        return
    if value is None or isinstance(value, bool):
        raise PatternError("Inside anything but list, start|null|boolean is not supported.")
    if not (isinstance(value, str) or _is_number(value)):
        raise PatternError("Value of anything-but must be an array or single string/number value.")


def _check_numeric(value: Any) -> None:
    if not isinstance(value, list):
        raise PatternError("Value of numeric must be an array.")
    if not value:
        raise PatternError("Invalid member in numeric match: ]")
    terms = list(value)
    first = terms.pop(0)
    if not isinstance(first, str):
        raise PatternError(f"Invalid member in numeric match: {first}")
    if first not in _NUMERIC_OPERATORS:
        raise PatternError(f"Unrecognized numeric range operator: {first}")
    bound = terms.pop(0) if terms else None
    if not _is_number(bound):
        raise PatternError(f"Value of {'equals' if first == '=' else first} must be numeric")
    if not terms:
        return
    if first not in (">", ">="):
        raise PatternError("Too many elements in numeric expression")
    second = terms.pop(0)
    if not isinstance(second, str):
        raise PatternError(f"Bad value in numeric range: {second}")
    if second not in ("<", "<="):
        raise PatternError(f"Bad numeric range operator: {second}")
    top = terms.pop(0) if terms else None
    if not _is_number(top):
        raise PatternError(f"Value of {second} must be numeric")
    if top <= bound:  # type: ignore[operator]
        raise PatternError("Bottom must be less than top")
    if terms:
        raise PatternError("Too many terms in numeric range expression")


def _check_cidr(value: Any) -> None:
    if not isinstance(value, str):
        raise PatternError("prefix match pattern must be a string")
    if value.count("/") != 1:
        raise PatternError("Malformed CIDR, one '/' required")
    address, bits = value.split("/")
    if not bits.isdigit():
        raise PatternError("Malformed CIDR, mask bits must be an integer")
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise PatternError(f"Nonstandard IP address: {address}")


# -- matching ------------------------------------------------------------------------------------------
def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether `event` (the whole event, or a nested object of it) matches `pattern` (already checked)."""
    for key, rule in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in rule):
                return False
            continue
        values = _values(event, key)
        if isinstance(rule, dict):
            objects = [v for v in values if isinstance(v, dict)]
            # A nested pattern matches when one of the objects there matches all of it (so fields of one
            # array element are matched together); with no object there, only its `exists: false` leaves
            # can hold.
            if not any(matches(rule, o) for o in objects) and not (not objects and matches(rule, {})):
                return False
        elif not _leaf_matches(rule, [v for v in values if not isinstance(v, dict)]):
            return False
    return True


def _values(obj: Mapping[str, Any], key: str) -> list[Any]:
    """The event's values under `key`: arrays flattened (an empty array has none)."""
    if key not in obj:
        return []
    return _flatten(obj[key])


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [item for element in value for item in _flatten(element)]
    return [value]


def _leaf_matches(matchers: Sequence[Any], values: list[Any]) -> bool:
    for matcher in matchers:
        if isinstance(matcher, dict) and "exists" in matcher:
            if bool(values) == matcher["exists"]:
                return True
            continue
        if any(_value_matches(matcher, value) for value in values):
            return True
    return False


def _same(expected: Any, value: Any) -> bool:
    """Exact matching: strings with strings, numbers by value, true/false/null only as themselves."""
    if expected is None or isinstance(expected, bool):
        return value is expected
    if _is_number(expected):
        return _is_number(value) and math.isclose(float(value), float(expected), rel_tol=0, abs_tol=1e-9)
    return isinstance(value, str) and value == expected


def _value_matches(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return _same(matcher, value)
    ((operator, operand),) = matcher.items()
    if operator == "anything-but":
        return not _excluded(operand, value)
    if operator == "numeric":
        return _is_number(value) and _in_range(operand, float(value))
    if operator == "cidr":
        return isinstance(value, str) and _in_network(operand, value)
    if not isinstance(value, str):
        return False
    if operator == "equals-ignore-case":
        return value.casefold() == str(operand).casefold()
    if operator == "wildcard":
        return wildcard_match(operand, value)
    if operator in ("prefix", "suffix"):
        if isinstance(operand, dict):
            text, wanted = value.casefold(), operand["equals-ignore-case"].casefold()
        else:
            text, wanted = value, operand
        return text.startswith(wanted) if operator == "prefix" else text.endswith(wanted)
    return False


def _excluded(operand: Any, value: Any) -> bool:
    """Whether anything-but's operand names `value` (which then does not match)."""
    if isinstance(operand, list):
        return any(_same(o, value) for o in operand)
    if isinstance(operand, dict):
        ((inner, given),) = operand.items()
        if not isinstance(value, str):
            return False
        for o in given if isinstance(given, list) else [given]:
            if ((inner == "prefix" and value.startswith(o)) or (inner == "suffix" and value.endswith(o))
                    or (inner == "equals-ignore-case" and value.casefold() == o.casefold())
                    or (inner == "wildcard" and wildcard_match(o, value))):
                return True
        return False
    return _same(operand, value)


def _in_range(terms: Sequence[Any], value: float) -> bool:
    for i in range(0, len(terms), 2):
        operator, bound = terms[i], float(terms[i + 1])
        ok = {"<": value < bound, "<=": value <= bound, "=": value == bound, ">": value > bound,
              ">=": value >= bound}[operator]
        if not ok:
            return False
    return True


def _in_network(cidr: str, value: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def wildcard_match(pattern: str, value: str) -> bool:
    """`*` matches any run of characters; `\\*` is a literal star and `\\\\` a literal backslash."""
    parts: list[str] = [""]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            parts[-1] += pattern[i + 1]
            i += 2
            continue
        if char == "*":
            parts.append("")
        else:
            parts[-1] += char
        i += 1
    if len(parts) == 1:
        return value == parts[0]
    head, *middle, tail = parts
    if not value.startswith(head) or len(value) < len(head) + len(tail) or not value.endswith(tail):
        return False
    position, end = len(head), len(value) - len(tail)
    for piece in middle:
        found = value.find(piece, position, end)
        if found < 0:
            return False
        position = found + len(piece)
    return True
