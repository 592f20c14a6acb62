"""The tokenizer every DynamoDB expression shares, and AWS's syntax-error message.

A syntax error names the offending token and quotes the text around it, from the start of the token
before it to the end of the token after it: `Invalid ConditionExpression: Syntax error; token: "x",
near: "a x b"`; at the end of the text the token is `<EOF>` and the quote runs to the end.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.html
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from conveyor.wire import ServiceError

Kind = Literal["name", "placeholder_name", "placeholder_value", "number", "punct", "error", "eof"]

_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\n]+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<placeholder_name>\#[A-Za-z0-9_]+)
  | (?P<placeholder_value>:[A-Za-z0-9_]+)
  | (?P<number>[0-9]+)
  | (?P<punct><>|<=|>=|[()\[\],.=<>+\-])
""", re.VERBOSE)

MAX_EXPRESSION_BYTES = 4096
MAX_OPERATORS = 300


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str
    start: int
    end: int

    def is_word(self, word: str) -> bool:
        """Keywords (AND, OR, NOT, BETWEEN, IN, SET, REMOVE, ADD, DELETE) match whatever their case."""
        return self.kind == "name" and self.text.upper() == word

    def is_punct(self, *texts: str) -> bool:
        return self.kind == "punct" and self.text in texts


@functools.lru_cache(maxsize=2048)
def tokenize(text: str) -> tuple[Token, ...]:
    """Tokens ending with an `eof` token. A character no token starts with becomes an `error` token, so
    the parser reports it in place with the text around it. Cached: a service sees the same few
    expressions again and again."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            tokens.append(Token("error", text[position], position, position + 1))
            position += 1
            continue
        kind = match.lastgroup
        if kind != "space":
            tokens.append(Token(kind, match.group(), match.start(), match.end()))  # type: ignore[arg-type]
        position = match.end()
    tokens.append(Token("eof", "<EOF>", len(text), len(text)))
    return tuple(tokens)


def invalid(what: str, message: str) -> ServiceError:
    return ServiceError("ValidationException", f"Invalid {what}: {message}")


class ExpressionSyntaxError(Exception):
    """A syntax error at one token; parsers that try alternatives keep the one that got furthest."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class NestedTooDeep(ExpressionSyntaxError):
    """Parentheses, NOTs or function calls nested beyond what the parser follows (a guard for the
    parser's own stack; the 4 KB limit alone would allow two thousand levels). Never backtracked."""


MAX_NESTING = 150


def syntax_error(what: str, text: str, tokens: Sequence[Token], index: int) -> ServiceError:
    token = tokens[index]
    start = tokens[index - 1].start if index > 0 else token.start
    end = tokens[index + 1].end if index + 1 < len(tokens) else len(text)
    if token.kind == "eof":
        end = len(text)
    return invalid(what, f'Syntax error; token: "{token.text}", near: "{text[start:end]}"')


def check_size(what: str, text: str) -> None:
    """Empty and oversized expressions, refused before they are parsed. The limit is on the raw text in
    UTF-8 (placeholders are not substituted first); UpdateExpression's message carries no size.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-expression-parameters
    """
    if not text:
        raise invalid(what, "The expression can not be empty;")
    size = len(text.encode())
    if size > MAX_EXPRESSION_BYTES:
        suffix = "" if what == "UpdateExpression" else f" expression size: {size}"
        raise invalid(what, f"Expression size has exceeded the maximum allowed size;{suffix}")


def check_operator_count(what: str, count: int) -> None:
    """At most 300 operators and functions in one expression (AND, OR, NOT, comparators, BETWEEN, IN,
    functions, + and -)."""
    if count > MAX_OPERATORS:
        raise invalid(what, f"The expression contains too many operators; operator count: {count}")
