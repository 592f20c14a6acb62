"""Filter policy validation with AWS's messages and their locations.

SNS re-serializes a policy compactly and checks it with a streaming JSON parser (Jackson), so a refusal
names where in that compact text the parser stood, Jackson style:

    Invalid parameter: FilterPolicy: Value of < must be numeric
     at [Source: (String)"{"price":[{"numeric":["<","100"]}]}"; line: 1, column: 26]

Subscribe puts "Attributes Reason: " before "FilterPolicy:"; SetSubscriptionAttributes does not. Jackson
reads a string value lazily (the column stands just past its opening quote) and every other token whole
(the column stands just past it). Messages, columns and prefixes as AWS answered them, recorded against AWS
in LocalStack's tests/aws/services/sns/test_sns_filter_policy.snapshot.json; what a policy may hold:
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
# Inside anything-but, AWS refuses `suffix` ("Unsupported anything-but pattern: suffix", recorded 2024).
_ANYTHING_BUT_OPS = ("prefix", "equals-ignore-case")
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
        self._object()

    def _object(self) -> None:
        token = self.tokens.next()
        while token.kind == "key":
            value = self.tokens.next()
            if token.value == "$or" and value.kind == "[":
                self._or_branches(value)
            elif value.kind == "{":
                self._object()
            elif value.kind == "[":
                self._rules(value)
            else:
                raise self.error(f'"{token.value}" must be an object or an array', value)
            token = self.tokens.next()

    def _or_branches(self, opening: _Token) -> None:
        token = self.tokens.next()
        while token.kind == "{":
            self._object()
            token = self.tokens.next()
        if token.kind != "]":
            raise self.error("$or must be an array of objects", token)

    def _rules(self, opening: _Token) -> None:
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
            raise self.error("Empty objects are not allowed", key)
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
            self._numeric(value)
        elif operator == "anything-but":
            self._anything_but(value)
        elif operator == "cidr":
            if value.kind != "str":
                raise self.error("cidr match pattern must be a string", value)
            self._cidr(value)
        else:
            raise self.error(f"Unrecognized match type {operator}", value)
        # Each check above consumed its value whole (through its "]" or "}"); then the expression ends.
        self._one_key()

    def _one_key(self) -> None:
        """The "}" closing a match expression; a second key is refused at its value."""
        if self.tokens.next().kind == "key":
            raise self.error("Only one key allowed in match expression", self.tokens.next())

    def _numeric(self, opening: _Token) -> None:
        first = self.tokens.next()
        if first.kind != "str":
            raise self.error(f"Invalid member in numeric match: {first.text}", first)
        operator = first.value
        bound = self.tokens.next()
        if operator not in _NUMERIC_OPS:
            raise self.error(f"Unrecognized numeric range operator: {operator}", bound)
        if bound.kind != "num":
            raise self.error(f"Value of {'equals' if operator == '=' else operator} must be numeric", bound)
        self._in_range(bound)
        second = self.tokens.next()
        if second.kind == "]":
            return
        if operator not in (">", ">="):
            raise self.error("Too many elements in numeric expression", second)
        if second.kind != "str":
            raise self.error(f"Bad value in numeric range: {second.text}", second)
        if second.value not in ("<", "<="):
            raise self.error(f"Bad numeric range operator: {second.value}", second, whole=True)
        top = self.tokens.next()
        if top.kind != "num":
            raise self.error(f"Value of {second.value} must be numeric", top)
        self._in_range(top)
        end = self.tokens.next()
        if end.kind != "]":
            raise self.error("Too many terms in numeric range expression", end)
        if top.value <= bound.value:
            raise self.error("Bottom must be less than top", end)

    def _cidr(self, value: _Token) -> None:
        text = str(value.value)
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise self.error(f"Malformed CIDR, one '/' required: {text}" if "/" not in text else
                             f"Nonstandard IP address: {text}", value, whole=True)

    def _in_range(self, number: _Token) -> None:
        if abs(number.value) > _MAX_NUMBER:
            raise self.error("Numeric values must be between -1.0E9 and 1.0E9 inclusive", number)

    def _anything_but(self, value: _Token) -> None:
        if value.kind in ("str", "num"):
            return
        if value.kind == "[":
            token = self.tokens.next()
            if token.kind == "]":
                raise self.error("Empty arrays are not allowed", token)
            while token.kind != "]":
                if token.kind not in ("str", "num"):
                    raise self.error("Inside anything but list, start|null|boolean is not supported.", token)
                token = self.tokens.next()
            return
        if value.kind == "{":
            key = self.tokens.next()
            if key.kind != "key":
                raise self.error("Empty objects are not allowed", key)
            inner = self.tokens.next()
            if key.value not in _ANYTHING_BUT_OPS:
                raise self.error(f"Unsupported anything-but pattern: {key.value}", inner)
            if inner.kind != "str":
                raise self.error(f"{key.value} match pattern must be a string", inner)
            self._one_key()
            return
        raise self.error("Inside anything but list, start|null|boolean is not supported.", value)
