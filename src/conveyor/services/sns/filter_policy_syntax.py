"""Filter policy validation with AWS's messages and their locations.

SNS re-serializes a policy compactly and checks it with a streaming JSON parser (Jackson), so a refusal
names where in that compact text the parser stood, Jackson style:

    Invalid parameter: FilterPolicy: Value of < must be numeric
     at [Source: (String)"{"price":[{"numeric":["<","100"]}]}"; line: 1, column: 26]

Subscribe puts "Attributes Reason: " before "FilterPolicy:"; SetSubscriptionAttributes does not. Jackson
reads a string value lazily (the column stands just past its opening quote) and every other token whole
(the column stands just past it). Messages, columns and prefixes as AWS answered them, recorded against AWS
in LocalStack's tests/aws/services/sns/test_sns_filter_policy.snapshot.json. The other reasons, and the order
the checks run in, are those of AWS's rule compiler (aws/event-ruler, JsonRuleCompiler), which reads a policy
the same way. What a policy may hold:
https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
https://docs.aws.amazon.com/sns/latest/dg/string-value-matching.html
"""

from __future__ import annotations

import ipaddress
import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from conveyor.wire import ServiceError

_NUMERIC_OPS = ("=", "<", "<=", ">", ">=")
_STRING_OPS = ("prefix", "suffix", "equals-ignore-case")
# Inside anything-but, AWS refuses `suffix` ("Unsupported anything-but pattern: suffix", recorded 2024);
# equals-ignore-case takes a string or a list of strings.
_ANYTHING_BUT_OPS = ("prefix",)
_MAX_NUMBER = Decimal("1e9")  # numeric matching: values from -10^9 to 10^9 (filter policy constraints)
_SNIPPET = 500  # Jackson quotes at most this many characters of the source in a location


@dataclass(frozen=True)
class _Token:
    kind: str  # "{" "}" "[" "]" "key" "str" "num" "true" "false" "null"
    value: Any
    text: str  # as written in the compact source
    start: int  # offset in the compact source
    end: int  # offset just past it


class _Tokens:
    def __init__(self, tokens: list[_Token]) -> None:
        self.items = tokens
        self.at = 0

    def next(self) -> _Token:
        token = self.items[self.at]
        self.at += 1
        return token


def compact(document: Any) -> tuple[str, list[_Token]]:
    """The document as Jackson writes a parsed tree back (no spaces; a float in Java's Double.toString
    form), and its tokens with their offsets."""
    parts: list[str] = []
    tokens: list[_Token] = []
    pos = 0

    def put(kind: str, value: Any, text: str) -> None:
        nonlocal pos
        parts.append(text)
        tokens.append(_Token(kind, value, text, pos, pos + len(text)))
        pos += len(text)

    def punct(text: str) -> None:
        nonlocal pos
        parts.append(text)
        pos += len(text)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            put("{", None, "{")
            for i, (key, value) in enumerate(node.items()):
                if i:
                    punct(",")
                put("key", key, json.dumps(key, ensure_ascii=False))
                punct(":")
                walk(value)
            put("}", None, "}")
        elif isinstance(node, list):
            put("[", None, "[")
            for i, value in enumerate(node):
                if i:
                    punct(",")
                walk(value)
            put("]", None, "]")
        elif isinstance(node, bool):
            put("true" if node else "false", node, "true" if node else "false")
        elif node is None:
            put("null", None, "null")
        elif isinstance(node, str):
            put("str", node, json.dumps(node, ensure_ascii=False))
        elif isinstance(node, int):
            put("num", Decimal(node), str(node))
        else:
            put("num", Decimal(repr(node)), java_double(float(node)))

    walk(document)
    return "".join(parts), tokens


def java_double(number: float) -> str:
    """Java's Double.toString: plain with at least one fractional digit from 10^-3 up to 10^7, otherwise
    d.dddE<exp>."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "-0.0" if math.copysign(1.0, number) < 0 else "0.0"
    value = Decimal(repr(number)).normalize()
    if Decimal("1e-3") <= abs(value) < Decimal("1e7"):
        text = format(value, "f")
        return text if "." in text else text + ".0"
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    shown = "".join(map(str, digits))
    power = len(shown) - 1 + exponent
    return f"{'-' if sign else ''}{shown[0]}.{shown[1:] or '0'}E{power}"


class Checker:
    """Walks the tokens as AWS's parser does; the first problem raises InvalidParameter."""

    def __init__(self, document: Any, reason_prefix: str) -> None:
        self.source, tokens = compact(document)
        self.tokens = _Tokens(tokens)
        self.prefix = f"Invalid parameter: {reason_prefix}FilterPolicy: "

    def error(self, reason: str, token: _Token | None = None, *, whole: bool = False) -> ServiceError:
        """`reason` at `token` (just past its opening quote for a string read lazily, else just past it)."""
        if token is None:
            return ServiceError("InvalidParameter", self.prefix + reason)
        column = token.end + 1 if whole or token.kind != "str" else token.start + 2
        shown = f'"{self.source}"'
        if len(self.source) > _SNIPPET:
            shown = f'"{self.source[:_SNIPPET]}"[truncated {len(self.source) - _SNIPPET} chars]'
        return ServiceError("InvalidParameter",
                            f"{self.prefix}{reason}\n at [Source: (String){shown}; line: 1, column: {column}]")

    def check(self) -> None:
        self.tokens.next()  # the policy's "{" (the caller made sure it is an object)
        self._object(top=True)

    def _object(self, top: bool = False) -> None:
        token = self.tokens.next()
        if token.kind == "}" and not top:  # an empty policy ("{}") has no keys to check, and passes
            raise self.error("Empty objects are not allowed", token)
        while token.kind == "key":
            value = self.tokens.next()
            if token.value == "$or":
                self._or_branches(value)
            elif value.kind == "{":
                self._object()
            elif value.kind == "[":
                self._rules()
            else:
                raise self.error(f'"{token.value}" must be an object or an array', value)
            token = self.tokens.next()

    def _or_branches(self, opening: _Token) -> None:
        if opening.kind != "[":
            raise self.error("It must be an Array followed with $or.", opening)
        branches = 0
        token = self.tokens.next()
        while token.kind != "]":
            if token.kind != "{":
                raise self.error("Only JSON object is allowed in array of $or relationship.", token)
            self._object()
            branches += 1
            token = self.tokens.next()
        if branches < 2:
            raise self.error("There must have at least 2 Objects in $or relationship.", token)

    def _rules(self) -> None:
        """A key's list of match values and match expressions (any of which may match)."""
        token = self.tokens.next()
        if token.kind == "]":
            raise self.error("Empty arrays are not allowed", token)
        while token.kind != "]":
            if token.kind == "[":
                raise self.error("Match value must be String, number, true, false, or null", token)
            if token.kind == "{":
                self._match_expression()
            token = self.tokens.next()

    def _match_expression(self) -> None:
        key = self.tokens.next()
        if key.kind != "key":  # {}
            raise self.error("Match expression name not found", key)
        operator = key.value
        value = self.tokens.next()
        if operator in _STRING_OPS:
            if value.kind != "str":
                raise self.error(f"{operator} match pattern must be a string", value)
        elif operator == "exists":
            if value.kind not in ("true", "false"):
                raise self.error("exists match pattern must be either true or false.", value)
        elif operator == "numeric":
            if value.kind != "[":
                raise self.error("Value of numeric must be an array.", value)
            self._numeric()
            self._closed("Too many elements in numeric expression")
            return
        elif operator == "anything-but":
            self._anything_but(value)
            return
        elif operator == "cidr":
            if value.kind != "str":
                raise self.error("prefix match pattern must be a string", value)
            self._cidr(value)
        else:
            raise self.error(f"Unrecognized match type {operator}", value)
        self._closed("Only one key allowed in match expression")

    def _closed(self, reason: str) -> None:
        """The "}" ending a match expression; anything else (a second key) is refused where it starts."""
        token = self.tokens.next()
        if token.kind != "}":
            raise self.error(reason, self.tokens.next() if token.kind == "key" else token)

    def _numeric(self) -> None:
        """["op", n] or [">"|">=", n, "<"|"<=", m], checked in the order AWS's rule compiler reads them."""
        first = self.tokens.next()
        if first.kind != "str":
            raise self.error(f"Invalid member in numeric match: {first.text}", first)
        operator = first.value
        bound = self.tokens.next()
        if operator not in _NUMERIC_OPS:
            raise self.error(f"Unrecognized numeric range operator: {operator}", bound)
        if bound.kind != "num":
            raise self.error(f"Value of {'equals' if operator == '=' else operator} must be numeric", bound)
        after = self.tokens.next()
        if after.kind == "]":
            self._in_range(bound, after)
            return
        if operator not in (">", ">="):
            raise self.error("Too many elements in numeric expression", after)
        if after.kind != "str":
            raise self.error(f"Bad value in numeric range: {after.text}", after)
        if after.value not in ("<", "<="):
            raise self.error(f"Bad numeric range operator: {after.value}", after, whole=True)
        top = self.tokens.next()
        if top.kind != "num":
            raise self.error(f"Value of {after.value} must be numeric", top)
        end = self.tokens.next()
        if end.kind != "]":
            raise self.error("Too many terms in numeric range expression", end)
        if top.value <= bound.value:
            raise self.error("Bottom must be less than top", end)
        self._in_range(bound, end)
        self._in_range(top, end)

    def _in_range(self, number: _Token, at: _Token) -> None:
        if abs(number.value) > _MAX_NUMBER:
            raise self.error("Value must be between -1.0E9 and 1.0E9, inclusive", at)

    def _cidr(self, value: _Token) -> None:
        # The compiler's CIDR parse fails outside the JSON parser: its message has no location.
        text = str(value.value)
        if text.count("/") != 1:
            raise self.error(f"Malformed CIDR, one '/' required: {text}")
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise self.error(f"Nonstandard IP address: {text}")

    def _anything_but(self, value: _Token) -> None:
        ignore_case = False
        if value.kind == "{":
            key = self.tokens.next()
            if key.kind != "key":
                raise self.error("Anything-But expression name not found", key)
            inner = self.tokens.next()
            if key.value == "equals-ignore-case":
                ignore_case, value = True, inner
            elif key.value not in _ANYTHING_BUT_OPS:
                raise self.error(f"Unsupported anything-but pattern: {key.value}", inner)
            else:
                if inner.kind != "str":
                    raise self.error(f"{key.value} match pattern must be a string", inner)
                self._closed("Only one key allowed in match expression")
                self._closed("Only one key allowed in match expression")
                return
        if value.kind not in ("[", "str", "num"):
            raise self.error("Value of anything-but must be an array or single string/number value.", value)
        if value.kind == "[":
            kinds = set()
            token = self.tokens.next()
            while token.kind != "]":
                if ignore_case and token.kind != "str":
                    raise self.error("Inside anything-but/equals-ignore-case list, numberic|start|null|boolean is "
                                     "not supported.", token)
                if token.kind not in ("str", "num"):
                    raise self.error("Inside anything but list, start|null|boolean is not supported.", token)
                kinds.add(token.kind)
                token = self.tokens.next()
            if not ignore_case and len(kinds) != 1:
                raise self.error("Inside anything but list, either all values are number or string, mixed type "
                                 "is not supported", token)
        elif ignore_case and value.kind != "str":
            raise self.error("Inside anything-but/equals-ignore-case list, number|start|null|boolean is not "
                             "supported.", value)
        self._closed("Too many elements in numeric expression")
        if ignore_case:
            self._closed("Too many elements in numeric expression")
