"""The Condition element: operators, `...IfExists`, `Null`, and the ForAllValues/ForAnyValue set operators.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
- Several operators, and several keys under one operator, must all hold (AND); several values for one
  key are alternatives (OR), and for a negated operator none may match (NOR).
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
- A key the request does not carry makes the condition false, except for negated operators
  (StringNotEquals, ArnNotLike...), for which it is true; `...IfExists` makes it true, and `Null` tests
  exactly that.
- `ForAllValues:` holds when every value of the request's key matches (and when the key is absent or
  empty); `ForAnyValue:` when at least one does (never when it is absent).
- An operator this module does not know never holds: a statement that cannot be shown to apply neither
  grants nor denies (IAM refuses such documents before they are stored).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from conveyor.policy import variables
from conveyor.policy.context import Keys
from conveyor.policy.wildcards import Pieces, arn_like, matches, text_of

SET_PREFIXES = ("ForAllValues:", "ForAnyValue:")


@dataclass(frozen=True)
class Operator:
    kind: str  # string, numeric, date, bool, binary, ip, arn
    test: Callable[[str, Pieces], bool]
    negated: bool = False


def _string(test: Callable[[str, str], bool]) -> Callable[[str, Pieces], bool]:
    return lambda actual, wanted: test(actual, text_of(wanted))


def _number(compare: Callable[[float, float], bool]) -> Callable[[str, Pieces], bool]:
    def test(actual: str, wanted: Pieces) -> bool:
        a, w = _to_number(actual), _to_number(text_of(wanted))
        return a is not None and w is not None and compare(a, w)
    return test


def _date(compare: Callable[[float, float], bool]) -> Callable[[str, Pieces], bool]:
    def test(actual: str, wanted: Pieces) -> bool:
        a, w = to_epoch(actual), to_epoch(text_of(wanted))
        return a is not None and w is not None and compare(a, w)
    return test


def _to_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def to_epoch(text: str) -> float | None:
    """A date condition value: ISO 8601 (date or date-time) or seconds since the epoch."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return float(text)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _bool(actual: str, wanted: Pieces) -> bool:
    return actual.lower() == text_of(wanted).lower()


def _binary(actual: str, wanted: Pieces) -> bool:
    """BinaryEquals compares the base64 text of the value with the policy's base64 text."""
    try:
        return base64.b64decode(actual, validate=True) == base64.b64decode(text_of(wanted), validate=True)
    except ValueError:
        return False


@lru_cache(maxsize=1024)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _ip(actual: str, wanted: Pieces) -> bool:
    network = _network(text_of(wanted))
    try:
        address = ipaddress.ip_address(actual.strip())
    except ValueError:
        return False
    return network is not None and address.version == network.version and address in network


def _like(actual: str, wanted: Pieces) -> bool:
    return matches(wanted, actual)


OPERATORS: Mapping[str, Operator] = {
    "StringEquals": Operator("string", _string(operator.eq)),
    "StringNotEquals": Operator("string", _string(operator.eq), negated=True),
    "StringEqualsIgnoreCase": Operator("string", _string(lambda a, w: a.lower() == w.lower())),
    "StringNotEqualsIgnoreCase": Operator("string", _string(lambda a, w: a.lower() == w.lower()), negated=True),
    "StringLike": Operator("string", _like),
    "StringNotLike": Operator("string", _like, negated=True),
    "NumericEquals": Operator("numeric", _number(operator.eq)),
    "NumericNotEquals": Operator("numeric", _number(operator.eq), negated=True),
    "NumericLessThan": Operator("numeric", _number(operator.lt)),
    "NumericLessThanEquals": Operator("numeric", _number(operator.le)),
    "NumericGreaterThan": Operator("numeric", _number(operator.gt)),
    "NumericGreaterThanEquals": Operator("numeric", _number(operator.ge)),
    "DateEquals": Operator("date", _date(operator.eq)),
    "DateNotEquals": Operator("date", _date(operator.eq), negated=True),
    "DateLessThan": Operator("date", _date(operator.lt)),
    "DateLessThanEquals": Operator("date", _date(operator.le)),
    "DateGreaterThan": Operator("date", _date(operator.gt)),
    "DateGreaterThanEquals": Operator("date", _date(operator.ge)),
    "Bool": Operator("bool", _bool),
    "BinaryEquals": Operator("binary", _binary),
    "IpAddress": Operator("ip", _ip),
    "NotIpAddress": Operator("ip", _ip, negated=True),
    "ArnEquals": Operator("arn", arn_like),
    "ArnLike": Operator("arn", arn_like),
    "ArnNotEquals": Operator("arn", arn_like, negated=True),
    "ArnNotLike": Operator("arn", arn_like, negated=True),
}
# Policy variables work in string and ARN condition values only.
_VARIABLE_KINDS = frozenset({"string", "arn"})


@dataclass(frozen=True)
class ParsedOperator:
    name: str  # the base operator, e.g. "StringLike"; "Null" for the null check
    qualifier: str | None  # "ForAllValues", "ForAnyValue" or None
    if_exists: bool


@lru_cache(maxsize=512)
def parse_operator(text: str) -> ParsedOperator | None:
    """`ForAnyValue:StringLikeIfExists` -> its parts; None when it is not an operator IAM knows."""
    qualifier = None
    for prefix in SET_PREFIXES:
        if text.startswith(prefix):
            qualifier, text = prefix[:-1], text[len(prefix):]
            break
    if text == "Null":
        return ParsedOperator("Null", qualifier, False)
    if_exists = text.endswith("IfExists")
    base = text.removesuffix("IfExists")
    if base not in OPERATORS:
        return None
    return ParsedOperator(base, qualifier, if_exists)


def condition_values(raw: object) -> list[str] | None:
    """A condition's values as text (JSON booleans and numbers as IAM reads them); None if malformed."""
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            return None
    return out


def holds(block: object, keys: Keys, use_variables: bool) -> bool:
    """Whether a statement's whole Condition block holds for the request."""
    if not isinstance(block, dict):
        return False
    for operator_name, pairs in block.items():
        parsed = parse_operator(operator_name) if isinstance(operator_name, str) else None
        if parsed is None or not isinstance(pairs, dict):
            return False
        for key, raw in pairs.items():
            wanted = condition_values(raw)
            if wanted is None or not _one_holds(parsed, keys.get(str(key).lower()), wanted, keys, use_variables):
                return False
    return True


def _one_holds(parsed: ParsedOperator, actual: tuple[str, ...] | None, wanted: list[str], keys: Keys,
               use_variables: bool) -> bool:
    absent = not actual or all(value == "" for value in actual)
    if parsed.name == "Null":
        # "true": the key must be absent (or empty); "false": present.
        return any(absent == (w.lower() == "true") for w in wanted)
    op = OPERATORS[parsed.name]
    if absent or actual is None:
        if parsed.if_exists or parsed.qualifier == "ForAllValues":
            return True
        if parsed.qualifier == "ForAnyValue":
            return False
        return op.negated
    patterns: list[Pieces] = []
    for text in wanted:
        pieces = variables.expand(text, keys, use_variables and op.kind in _VARIABLE_KINDS)
        if pieces is not None:  # a value whose variable cannot be resolved matches nothing
            patterns.append(pieces)

    def hit(value: str) -> bool:
        return any(op.test(value, pattern) for pattern in patterns)

    if parsed.qualifier == "ForAllValues":
        return all(hit(value) != op.negated for value in actual)
    if parsed.qualifier == "ForAnyValue":
        return any(hit(value) != op.negated for value in actual)
    found = any(hit(value) for value in actual)
    return not found if op.negated else found
