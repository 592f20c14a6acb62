"""SNS subscription filter policies: validation with AWS's limits and matching.

https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html
A policy maps keys to lists of conditions (OR within a list, AND across keys); `$or` at any level
splits it into alternatives. With FilterPolicyScope=MessageAttributes keys name message attributes;
with MessageBody, nested objects follow the JSON body.
"""

from __future__ import annotations

import ipaddress
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from conveyor import jsondoc
from conveyor.services.sns import filter_policy_syntax
from conveyor.wire import ServiceError

MAX_KEYS = 5  # https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
MAX_COMBINATIONS = 150
MAX_SIZE = 256 * 1024
_MISSING = object()
_FIVE_PLACES = Decimal("0.00001")


class _Errors:
    """InvalidParameter with AWS's prefix: Subscribe says "Attributes Reason: " before "FilterPolicy:",
    SetSubscriptionAttributes does not (see filter_policy_syntax)."""

    def __init__(self, reason_prefix: str) -> None:
        self.prefix = reason_prefix

    def __call__(self, reason: str) -> ServiceError:
        return ServiceError("InvalidParameter", f"Invalid parameter: {self.prefix}FilterPolicy: {reason}")


# -- validation --------------------------------------------------------------------------------------

def parse(text: str, scope: str, reason_prefix: str = "") -> dict[str, Any]:
    """Validate a policy document; returns it parsed. Raises InvalidParameter with AWS's reasons: those
    about one place in the policy name it as AWS does (filter_policy_syntax), then the key and
    combination limits."""
    error = _Errors(reason_prefix)
    if len(text.encode()) > MAX_SIZE:
        raise error("Filter policy is too big")
    try:
        policy = jsondoc.loads(text, parse_float=Decimal, parse_int=Decimal)
        as_written = jsondoc.loads(text)
    except ValueError as exc:
        raise error(f"failed to parse JSON. {exc}")
    if not isinstance(policy, dict):
        raise error("Filter policy must be a JSON object")
    try:
        filter_policy_syntax.Checker(as_written, reason_prefix).check()
        keys, combos = _count(policy, error)
    except RecursionError:  # nested past the interpreter's limit: far past what AWS's complexity allows
        raise error("Filter policy is too complex")
    if scope != "MessageBody" and _nested(policy):
        # Checked after the syntax (AWS answers '"key" must be an object or an array' for {"key": {"suffix":
        # "x"}} in this scope), without "FilterPolicy:", as recorded against AWS.
        raise ServiceError("InvalidParameter", f"Invalid parameter: {reason_prefix}Filter policy scope "
                           "MessageAttributes does not support nested filter policy")
    if keys > MAX_KEYS:
        raise error(f"Filter policy can not have more than {MAX_KEYS} keys")
    if combos > MAX_COMBINATIONS:
        raise error("Filter policy is too complex")
    return policy


def _nested(policy: dict[str, Any]) -> bool:
    for key, value in policy.items():
        if key == "$or" and isinstance(value, list):
            if any(isinstance(branch, dict) and _nested(branch) for branch in value):
                return True
        elif isinstance(value, dict):
            return True
    return False


def _count(policy: dict[str, Any], error: _Errors) -> tuple[int, int]:
    """(number of leaf keys, number of combinations) of one policy object (already checked)."""
    keys = 0
    combos = 1
    for key, value in policy.items():
        if key == "$or" and isinstance(value, list):
            if len(value) < 2:
                raise error("$or must be an array of at least two objects")
            parts = [_count(v, error) for v in value]
            keys = max(keys, keys + max(k for k, _ in parts))
            combos *= sum(c for _, c in parts)
        elif isinstance(value, dict):
            k, c = _count(value, error)
            keys += k
            combos *= c
        else:
            keys += 1
            combos *= len(value)
    return keys, combos


# -- matching -----------------------------------------------------------------------------------------

def attributes_view(attrs: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """Message attributes as the values a policy sees: strings, Decimals, or lists of either.

    Binary attributes never match (AWS ignores them for filtering).
    """
    out: dict[str, Any] = {}
    for name, attr in (attrs or {}).items():
        kind = str(attr.get("DataType", "")).split(".", 1)[0]
        text = attr.get("StringValue")
        if attr.get("DataType") == "String.Array":
            try:
                values = jsondoc.loads(text or "", parse_float=Decimal, parse_int=Decimal)
            except ValueError:
                continue
            if not isinstance(values, dict):  # an array, or a lone JSON value ("100") matched as itself
                out[name] = values
        elif kind == "Number":
            try:
                out[name] = Decimal(text or "")
            except InvalidOperation:
                continue
        elif kind == "String" and text is not None:
            out[name] = text
    return out


def body_view(message: str) -> dict[str, Any] | None:
    try:
        doc = jsondoc.loads(message, parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def matches(policy: dict[str, Any], doc: dict[str, Any] | None) -> bool:
    if doc is None:
        doc = {}
    for key, value in policy.items():
        if key == "$or":
            if not any(matches(branch, doc) for branch in value):
                return False
            continue
        actual = doc.get(key, _MISSING) if isinstance(doc, dict) else _MISSING
        if isinstance(value, dict):
            if isinstance(actual, list):
                if not any(isinstance(a, dict) and matches(value, a) for a in actual):
                    return False
            elif not matches(value, actual if isinstance(actual, dict) else {}):
                return False
            continue
        if not any(_condition(c, actual) for c in value):
            return False
    return True


def _scalars(actual: Any) -> list[Any]:
    if actual is _MISSING:
        return []
    if isinstance(actual, list):
        return [a for a in actual if not isinstance(a, dict | list)]
    return [actual]


def _condition(condition: Any, actual: Any) -> bool:
    if isinstance(condition, dict):
        (op, arg), = condition.items()
        if op == "exists":
            present = actual is not _MISSING and actual is not None and actual != []
            return present if arg else not present
        values = _scalars(actual)
        if op == "anything-but":
            return bool(values) and all(_anything_but(arg, v) for v in values)
        return any(_operator(op, arg, v) for v in values)
    return any(_equals(condition, v) for v in _scalars(actual))


def _five_places(number: Decimal) -> Decimal:
    """Numbers compare with five digits of accuracy after the decimal point, as SNS's filter policy constraints
    say: https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html"""
    try:
        return number.quantize(_FIVE_PLACES, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # too many digits to quantize (far outside the ±1e9 policies can name)
        return number


def _equals(expected: Any, value: Any) -> bool:
    if expected is None:
        return value is None
    if isinstance(expected, bool):  # true/false match JSON booleans of a message body, nothing else
        return isinstance(value, bool) and value is expected
    if isinstance(expected, Decimal):
        return (isinstance(value, Decimal) and not isinstance(value, bool)
                and _five_places(value) == _five_places(expected))
    return isinstance(value, str) and value == expected


def _operator(op: str, arg: Any, value: Any) -> bool:
    if op == "numeric":
        if not isinstance(value, Decimal) or isinstance(value, bool):
            return False
        return _numeric(arg, value)
    if not isinstance(value, str):
        return False
    if op == "prefix":
        return value.startswith(arg)
    if op == "suffix":
        return value.endswith(arg)
    if op == "equals-ignore-case":
        return bool(value.casefold() == arg.casefold())
    if op == "cidr":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(arg, strict=False)
        except ValueError:
            return False
    return False


def _numeric(arg: list[Any], value: Decimal) -> bool:
    value = _five_places(value)
    for op, bound in zip(arg[::2], arg[1::2], strict=True):
        bound = _five_places(bound)
        ok = {"=": value == bound, "<": value < bound, "<=": value <= bound,
              ">": value > bound, ">=": value >= bound}[op]
        if not ok:
            return False
    return True


def _anything_but(arg: Any, value: Any) -> bool:
    if isinstance(arg, dict):
        (op, inner), = arg.items()
        options = inner if isinstance(inner, list) else [inner]
        return not (isinstance(value, str) and any(_operator(op, o, value) for o in options))
    options = arg if isinstance(arg, list) else [arg]
    return not any(_equals(o, value) for o in options)
