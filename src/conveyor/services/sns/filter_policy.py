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
from conveyor.wire import ServiceError

MAX_KEYS = 5  # https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
MAX_COMBINATIONS = 150
MAX_SIZE = 256 * 1024
_OPERATORS = {"prefix", "suffix", "anything-but", "numeric", "exists", "equals-ignore-case", "cidr"}
_NUMERIC_OPS = {"=", "<", "<=", ">", ">="}
_MISSING = object()
_FIVE_PLACES = Decimal("0.00001")


def _error(reason: str) -> ServiceError:
    return ServiceError("InvalidParameter", f"Invalid parameter: FilterPolicy: {reason}")


# -- validation --------------------------------------------------------------------------------------

def parse(text: str, scope: str) -> dict[str, Any]:
    """Validate a policy document; returns it parsed. Raises InvalidParameter with AWS's reasons."""
    if len(text.encode()) > MAX_SIZE:
        raise _error("Filter policy is too big")
    try:
        policy = jsondoc.loads(text, parse_float=Decimal, parse_int=Decimal)
    except ValueError as exc:
        raise _error(f"failed to parse JSON. {exc}")
    if not isinstance(policy, dict):
        raise _error("Filter policy must be a JSON object")
    nested = scope == "MessageBody"
    keys, combos = _check(policy, nested, "")
    if keys > MAX_KEYS:
        raise _error(f"Filter policy can not have more than {MAX_KEYS} keys")
    if combos > MAX_COMBINATIONS:
        raise _error("Filter policy is too complex")
    return policy


def _check(policy: dict[str, Any], nested: bool, path: str) -> tuple[int, int]:
    """(number of leaf keys, number of combinations) of one policy object."""
    keys = 0
    combos = 1
    for key, value in policy.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
                raise _error("$or must be an array of at least two objects")
            parts = [_check(v, nested, path) for v in value]
            keys = max(keys, keys + max(k for k, _ in parts))
            combos *= sum(c for _, c in parts)
            continue
        where = f"{path}.{key}" if path else key
        if isinstance(value, dict):
            if not nested:
                raise _error(f'"{where}" must be an array; nested keys need FilterPolicyScope MessageBody')
            k, c = _check(value, nested, where)
            keys += k
            combos *= c
            continue
        if not isinstance(value, list):
            raise _error(f'"{where}" must be an object or an array')
        if not value:
            raise _error(f'Empty arrays are not allowed for "{where}"')
        for condition in value:
            _check_condition(condition, where)
        keys += 1
        combos *= len(value)
    return keys, combos


def _check_condition(condition: Any, where: str) -> None:
    if condition is None or isinstance(condition, str | Decimal | bool):
        if isinstance(condition, bool):
            raise _error(f'Match value must be String, number, true, false, or null at "{where}"')
        return
    if isinstance(condition, list):
        raise _error(f'Match value must be String, number, true, false, or null at "{where}"')
    if not isinstance(condition, dict) or len(condition) != 1:
        raise _error(f'Only one key allowed in match expression at "{where}"')
    (op, arg), = condition.items()
    if op not in _OPERATORS:
        raise _error(f"Unrecognized match type {op}")
    if op in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(arg, str):
            raise _error(f"{op} match pattern must be a string")
    elif op == "exists":
        if not isinstance(arg, bool):
            raise _error("exists match pattern must be either true or false.")
    elif op == "cidr":
        if not isinstance(arg, str):
            raise _error("cidr match pattern must be a string")
        try:
            ipaddress.ip_network(arg, strict=False)
        except ValueError:
            raise _error(f"Malformed CIDR, one '/' required: {arg}" if "/" not in arg else
                         f"Nonstandard IP address: {arg}")
    elif op == "numeric":
        _check_numeric(arg)
    elif op == "anything-but":
        if isinstance(arg, dict):
            if len(arg) != 1 or next(iter(arg)) not in ("prefix", "suffix", "equals-ignore-case"):
                raise _error("Unsupported anything-but pattern")
            inner = next(iter(arg.values()))
            if not isinstance(inner, str | list):
                raise _error("prefix match pattern must be a string")
        elif isinstance(arg, list):
            if not arg or not all(isinstance(a, str | Decimal) and not isinstance(a, bool) for a in arg):
                raise _error("Inside anything but list, start|null|boolean is not supported.")
        elif not isinstance(arg, str | Decimal) or isinstance(arg, bool):
            raise _error("Inside anything but list, start|null|boolean is not supported.")


def _check_numeric(arg: Any) -> None:
    if not isinstance(arg, list) or not arg or len(arg) % 2:
        raise _error("Value of numeric must be an array of operator and value pairs")
    lower = upper = None
    for op, value in zip(arg[::2], arg[1::2], strict=True):
        if op not in _NUMERIC_OPS:
            raise _error(f"Unrecognized numeric range operator: {op}")
        if not isinstance(value, Decimal):
            raise _error(f"Value of {op} must be numeric")
        if abs(value) > Decimal("1e9"):
            raise _error("Numeric values must be between -1.0E9 and 1.0E9 inclusive")
        if op == "=":
            if len(arg) != 2:
                raise _error("Equals can't be combined with other numeric operators")
        elif op in (">", ">="):
            if lower is not None:
                raise _error("Too many elements in numeric expression")
            lower = value
        else:
            if upper is not None:
                raise _error("Too many elements in numeric expression")
            upper = value
    if lower is not None and upper is not None and lower >= upper:
        raise _error("Bottom must be less than top")


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
