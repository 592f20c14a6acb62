"""DynamoDB items in Amazon Ion's text format, as table exports write them and imports read them.

Each DynamoDB type has its Ion type: S a string, N a decimal, B a blob, BOOL a bool, NULL null, L a list, M
a struct, and the sets lists annotated `$dynamodb_SS`, `$dynamodb_NS` or `$dynamodb_BS`. An export writes
one item a line: `$ion_1_0 {Item:{...}}`.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html (Amazon Ion),
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataImport.Format.html; the text
grammar: https://amazon-ion.github.io/ion-docs/docs/spec.html

The reader takes the part of Ion text that such files hold (structs, lists, strings, symbols, numbers,
blobs, bools, nulls, annotations, comments); anything else is an IonError, which an import counts against
the item it was reading.
"""

from __future__ import annotations

import base64
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from conveyor.services.dynamodb.values import AttributeValue, Item

VERSION_MARKER = "$ion_1_0"
_BARE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_KEYWORDS = {"true", "false", "null", "nan"}
_SET_ANNOTATION = {"SS": "$dynamodb_SS", "NS": "$dynamodb_NS", "BS": "$dynamodb_BS"}


class IonError(ValueError):
    pass


# -- writing ------------------------------------------------------------------------------------------

def _decimal(text: str) -> str:
    """A DynamoDB number as an Ion decimal: 103 -> `103.`, 600 -> `6d2`, 1.5 -> `1.5` (a bare integer would
    read back as an Ion int, which is not what AWS writes)."""
    sign, digits, exponent = Decimal(text).normalize().as_tuple()
    assert isinstance(exponent, int)
    body = "".join(map(str, digits)) or "0"
    prefix = "-" if sign else ""
    if exponent == 0:
        return f"{prefix}{body}."
    if exponent > 0:
        return f"{prefix}{body}d{exponent}"
    if -exponent < len(body):
        return f"{prefix}{body[:exponent]}.{body[exponent:]}"
    return f"{prefix}0.{'0' * (-exponent - len(body))}{body}"


def _name(name: str) -> str:
    return name if _BARE.fullmatch(name) and name not in _KEYWORDS else json.dumps(name, ensure_ascii=False)


def _blob(data: bytes) -> str:
    return "{{" + base64.b64encode(data).decode() + "}}"


def write_value(value: AttributeValue) -> str:
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return json.dumps(inner, ensure_ascii=False)
    if kind == "N":
        return _decimal(inner)
    if kind == "B":
        return _blob(inner)
    if kind == "BOOL":
        return "true" if inner else "false"
    if kind == "NULL":
        return "null"
    if kind in _SET_ANNOTATION:
        members = [json.dumps(m, ensure_ascii=False) if kind == "SS" else _decimal(m) if kind == "NS" else _blob(m)
                   for m in inner]
        return f"{_SET_ANNOTATION[kind]}::[" + ",".join(members) + "]"
    if kind == "L":
        return "[" + ",".join(write_value(v) for v in inner) + "]"
    return write_struct(inner)


def write_struct(item: Item) -> str:
    return "{" + ",".join(f"{_name(k)}:{write_value(v)}" for k, v in item.items()) + "}"


def write_line(fields: dict[str, Item]) -> str:
    """One line of an export: `$ion_1_0 {Item:{...}}` (or Keys, NewImage... of an incremental export)."""
    return f"{VERSION_MARKER} {{" + ",".join(f"{k}:{write_struct(v)}" for k, v in fields.items()) + "}"


# -- reading ------------------------------------------------------------------------------------------

class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def fail(self, what: str) -> IonError:
        return IonError(f"{what} at offset {self.at}")

    def skip(self) -> None:
        text = self.text
        while self.at < len(text):
            if text[self.at].isspace():
                self.at += 1
            elif text.startswith("//", self.at):
                end = text.find("\n", self.at)
                self.at = len(text) if end < 0 else end + 1
            elif text.startswith("/*", self.at):
                end = text.find("*/", self.at + 2)
                if end < 0:
                    raise self.fail("unterminated comment")
                self.at = end + 2
            else:
                return

    def done(self) -> bool:
        self.skip()
        return self.at >= len(self.text)

    def peek(self) -> str:
        self.skip()
        return self.text[self.at] if self.at < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.fail(f"expected {char!r}")
        self.at += 1

    def value(self) -> tuple[list[str], Any]:
        """(annotations, value): a value as Python data, a decimal as Decimal, a blob as bytes."""
        annotations: list[str] = []
        while True:
            start = self.at
            char = self.peek()
            if char == "'" and not self.text.startswith("'''", self.at) or char and (char.isalpha() or char in "_$"):
                symbol = self.symbol()
                if self.text.startswith("::", self.at):
                    self.at += 2
                    annotations.append(symbol)
                    continue
                self.at = start
            break
        return annotations, self.plain()

    def plain(self) -> Any:
        char = self.peek()
        if char == "{":
            if self.text.startswith("{{", self.at):
                return self.blob()
            return self.struct()
        if char == "[":
            return self.list()
        if char == '"' or self.text.startswith("'''", self.at):
            return self.string()
        if char == "'" or char.isalpha() or char in "_$":
            word = self.symbol()
            if word in ("true", "false"):
                return word == "true"
            if word == "null":
                if self.text.startswith(".", self.at):  # null.string and its kind: a null all the same
                    self.at += 1
                    self.symbol()
                return None
            return _Symbol(word)
        return self.number()

    def struct(self) -> dict[str, Any]:
        self.expect("{")
        out: dict[str, Any] = {}
        while self.peek() != "}":
            name = self.string() if self.peek() == '"' or self.text.startswith("'''", self.at) else self.symbol()
            self.expect(":")
            out[str(name)] = self.value()
            if self.peek() == ",":
                self.at += 1
            elif self.peek() != "}":
                raise self.fail("expected ',' or '}'")
        self.at += 1
        return out

    def list(self) -> list[Any]:
        self.expect("[")
        out: list[Any] = []
        while self.peek() != "]":
            out.append(self.value())
            if self.peek() == ",":
                self.at += 1
            elif self.peek() != "]":
                raise self.fail("expected ',' or ']'")
        self.at += 1
        return out

    def symbol(self) -> str:
        self.skip()
        if self.peek() == "'":
            end = self.text.find("'", self.at + 1)
            if end < 0:
                raise self.fail("unterminated symbol")
            word = self.text[self.at + 1:end]
            self.at = end + 1
            return word
        match = _BARE.match(self.text, self.at)
        if match is None:
            raise self.fail("expected a symbol")
        self.at = match.end()
        return match.group()

    def string(self) -> str:
        self.skip()
        if self.text.startswith("'''", self.at):  # long strings; adjacent ones are one string
            parts = []
            while self.text.startswith("'''", self.at):
                end = self.text.find("'''", self.at + 3)
                if end < 0:
                    raise self.fail("unterminated long string")
                parts.append(json.loads('"' + self.text[self.at + 3:end].replace('"', '\\"').replace("\n", "\\n") + '"'))
                self.at = end + 3
                self.skip()
            return "".join(parts)
        match = re.compile(r'"(?:[^"\\\n]|\\.)*"').match(self.text, self.at)
        if match is None:
            raise self.fail("unterminated string")
        self.at = match.end()
        try:
            return str(json.loads(match.group().replace("\\'", "'").replace("\\/", "/")))
        except ValueError as exc:
            raise self.fail(f"bad string escape ({exc})") from None

    def blob(self) -> bytes:
        end = self.text.find("}}", self.at + 2)
        if end < 0:
            raise self.fail("unterminated blob")
        data = "".join(self.text[self.at + 2:end].split())
        self.at = end + 2
        try:
            return base64.b64decode(data, validate=True)
        except ValueError:
            raise self.fail("bad blob") from None

    def number(self) -> Decimal:
        match = re.compile(r"[+-]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[dDeE][+-]?[0-9]+)?").match(self.text, self.at)
        if match is None:
            raise self.fail("unexpected character")
        self.at = match.end()
        try:
            return Decimal(match.group().replace("_", "").replace("d", "e").replace("D", "e"))
        except InvalidOperation:
            raise self.fail("bad number") from None


class _Symbol(str):
    """A bare symbol value (not a string): DynamoDB has no type for it."""


def _attribute(annotated: tuple[list[str], Any]) -> AttributeValue:
    annotations, value = annotated
    if annotations:
        kind = {v: k for k, v in _SET_ANNOTATION.items()}.get(annotations[0])
        if kind is None or not isinstance(value, list):
            raise IonError(f"unknown annotation {annotations[0]}")
        members = [_attribute(m) for m in value]
        member_kind = kind[0]
        if any(next(iter(m)) != member_kind for m in members):
            raise IonError(f"a {kind} member of another type")
        return {kind: [m[member_kind] for m in members]}
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, _Symbol):
        raise IonError(f"a symbol value ({value}) has no DynamoDB type")
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Decimal):
        return {"N": str(value)}
    if isinstance(value, bytes):
        return {"B": value}
    if isinstance(value, list):
        return {"L": [_attribute(v) for v in value]}
    return {"M": {k: _attribute(v) for k, v in value.items()}}


def read_items(text: str) -> list[dict[str, Item]]:
    """The top-level structs of an Ion text (version markers skipped), each field an item (`Item`, `Keys`...):
    IonError at the first value that cannot be read."""
    reader = _Reader(text)
    out: list[dict[str, Item]] = []
    while not reader.done():
        annotations, value = reader.value()
        if isinstance(value, _Symbol) and value == VERSION_MARKER and not annotations:
            continue
        if annotations or not isinstance(value, dict):
            raise IonError("expected a struct")
        line: dict[str, Item] = {}
        for name, field in value.items():
            attribute = _attribute(field)
            if "M" not in attribute:
                raise IonError(f"{name} is not a struct")
            line[name] = attribute["M"]
        out.append(line)
    return out
