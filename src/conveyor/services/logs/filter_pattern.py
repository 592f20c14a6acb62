"""Filter patterns, as FilterLogEvents (and `aws logs tail --filter-pattern`) reads them.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
- terms: `ERROR Exception` (every term), `?ERROR ?WARN` (any), `"a quoted phrase"`, `-term` (not),
  `%regex%`; matching is case-sensitive; an empty pattern matches every event;
- JSON events: `{ $.level = "error" }`, `{ $.latency > 100 }`, `&&`, `||`, parentheses, `$.a.b[0]`,
  `*` wildcards in strings, `IS NULL`, `NOT EXISTS`, `IS TRUE` / `IS FALSE`, `%regex%` values;
- space-delimited events: `[ip, user, ..., status = 4*, bytes > 1000]`, a field per word (a field in
  double quotes or square brackets is one word), `...` for any number of fields, `&&` / `||` in a field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Matcher = Callable[[str], bool]


class PatternError(ValueError):
    """The pattern does not parse (FilterLogEvents answers InvalidParameterException)."""


def compile_pattern(pattern: str | None) -> Matcher:
    text = (pattern or "").strip()
    if not text or text == '""':
        return lambda message: True
    if text.startswith("{"):
        return _JsonParser(text).parse()
    if text.startswith("["):
        return _delimited(text)
    return _terms(text)


# -- terms -------------------------------------------------------------------------------------------
_TERM = re.compile(r'\s*([?-]?)("(?:[^"\\]|\\.)*"|%[^%]+%|[^\s"]+)')


def _terms(text: str) -> Matcher:
    required: list[Matcher] = []
    optional: list[Matcher] = []
    excluded: list[Matcher] = []
    position = 0
    while position < len(text):
        found = _TERM.match(text, position)
        if found is None:
            if text[position:].strip():
                raise PatternError(f"Invalid filter pattern at: {text[position:]}")
            break
        position = found.end()
        sign, word = found.groups()
        match = _term(word)
        {"": required, "?": optional, "-": excluded}[sign].append(match)
    def matcher(message: str) -> bool:
        if any(m(message) for m in excluded):
            return False
        if optional and not any(m(message) for m in optional):
            return False
        return all(m(message) for m in required)

    return matcher


def _term(word: str) -> Matcher:
    if word.startswith('"') and word.endswith('"') and len(word) >= 2:
        phrase = json.loads(word) if "\\" in word else word[1:-1]
        return lambda message: phrase in message
    if word.startswith("%") and word.endswith("%") and len(word) > 2:
        regex = _regex(word[1:-1])
        return lambda message: regex.search(message) is not None
    if not re.fullmatch(r"[\w.:/@*-]+", word):
        raise PatternError(f"Invalid filter pattern: terms with non-alphanumeric characters must be quoted: {word}")
    if "*" in word:
        wildcard = re.compile(re.escape(word).replace(r"\*", r"\S*"))
        return lambda message: wildcard.search(message) is not None
    return lambda message: word in message


def _regex(body: str) -> re.Pattern[str]:
    try:
        return re.compile(body)
    except re.error as exc:
        raise PatternError(f"Invalid regular expression {body!r}: {exc}")


# -- values and comparisons (JSON and space-delimited patterns) ------------------------------------------
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")


@dataclass(frozen=True)
class _Comparison:
    operator: str
    value: str  # as written (quotes removed)
    quoted: bool

    def test(self, actual: Any) -> bool:
        op = self.operator
        if self.value.startswith("%") and self.value.endswith("%") and not self.quoted and len(self.value) > 2:
            found = isinstance(actual, str) and _regex(self.value[1:-1]).search(actual) is not None
            return found if op == "=" else not found
        if not self.quoted and _NUMBER.match(self.value):
            number = _as_number(actual)
            if number is None:
                return op == "!=" and actual is not None
            expected = float(self.value)
            return {"=": number == expected, "!=": number != expected, "<": number < expected,
                    "<=": number <= expected, ">": number > expected, ">=": number >= expected}[op]
        if op not in ("=", "!="):
            raise PatternError(f"Operator {op} needs a number, not {self.value}")
        if actual is None or isinstance(actual, dict | list):
            return op == "!=" and actual is not None
        text = _scalar_text(actual)
        if "*" in self.value:
            same = re.fullmatch(re.escape(self.value).replace(r"\*", ".*"), text, re.DOTALL) is not None
        else:
            same = text == self.value
        return same if op == "=" else not same


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    return None


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- JSON patterns ---------------------------------------------------------------------------------------
_JSON_TOKEN = re.compile(r'\s*(&&|\|\||!=|<=|>=|=|<|>|\(|\)|\{|\}|"(?:[^"\\]|\\.)*"|[^\s()&|=!<>{}"]+)')
_MISSING = object()


class _JsonParser:
    def __init__(self, text: str) -> None:
        self.tokens = self._tokenize(text)
        self.at = 0

    @staticmethod
    def _tokenize(text: str) -> list[str]:
        tokens, position = [], 0
        while position < len(text):
            found = _JSON_TOKEN.match(text, position)
            if found is None:
                if text[position:].strip():
                    raise PatternError(f"Invalid filter pattern at: {text[position:]}")
                break
            tokens.append(found.group(1))
            position = found.end()
        return tokens

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            raise PatternError(f"Invalid filter pattern: expected {expected or 'more'}")
        self.at += 1
        return token

    def parse(self) -> Matcher:
        self._take("{")
        test = self._or()
        self._take("}")
        if self._peek() is not None:
            raise PatternError("Invalid filter pattern: text after the closing brace")

        def matcher(message: str) -> bool:
            try:
                doc = json.loads(message)
            except ValueError:
                return False
            return isinstance(doc, dict | list) and test(doc)

        return matcher

    def _or(self) -> Callable[[Any], bool]:
        alternatives = [self._and()]
        while self._peek() == "||":
            self._take()
            alternatives.append(self._and())
        return alternatives[0] if len(alternatives) == 1 else lambda doc: any(a(doc) for a in alternatives)

    def _and(self) -> Callable[[Any], bool]:
        terms = [self._atom()]
        while self._peek() == "&&":
            self._take()
            terms.append(self._atom())
        return terms[0] if len(terms) == 1 else lambda doc: all(t(doc) for t in terms)

    def _atom(self) -> Callable[[Any], bool]:
        if self._peek() == "(":
            self._take()
            inner = self._or()
            self._take(")")
            return inner
        selector = self._take()
        if not selector.startswith("$"):
            raise PatternError(f"Invalid filter pattern: a selector starts with $, not {selector}")
        path = _selector(selector)
        word = self._take()
        if word in ("IS", "NOT"):
            what = self._take()
            if word == "NOT" and what == "EXISTS":
                return lambda doc: _select(doc, path) is _MISSING
            if word == "IS" and what == "NULL":
                return lambda doc: _select(doc, path) is None
            if word == "IS" and what in ("TRUE", "FALSE"):
                flag = what == "TRUE"
                return lambda doc: _select(doc, path) is flag
            raise PatternError(f"Invalid filter pattern: {word} {what}")
        if word not in ("=", "!=", "<", "<=", ">", ">="):
            raise PatternError(f"Invalid filter pattern: unknown operator {word}")
        value = self._take()
        quoted = value.startswith('"')
        comparison = _Comparison(word, json.loads(value) if quoted else value, quoted)

        def test(doc: Any) -> bool:
            found = _select(doc, path)
            return comparison.test(None if found is _MISSING else found)

        return test


def _selector(text: str) -> list[str | int]:
    path: list[str | int] = []
    for part in re.finditer(r"\.([^.\[\]]+)|\[(\d+)\]", text[1:]):
        path.append(part.group(1) if part.group(1) is not None else int(part.group(2)))
    if "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in path) != text[1:]:
        raise PatternError(f"Invalid filter pattern: bad selector {text}")
    return path


def _select(doc: Any, path: list[str | int]) -> Any:
    for step in path:
        in_list = isinstance(step, int) and isinstance(doc, list) and step < len(doc)
        in_object = isinstance(step, str) and isinstance(doc, dict) and step in doc
        if not (in_list or in_object):
            return _MISSING
        doc = doc[step]
    return doc


# -- space-delimited patterns -----------------------------------------------------------------------------
_FIELD_SPLIT = re.compile(r'"[^"]*"|\[[^\]]*\]|\S+')
_CONDITION = re.compile(r'^\s*([\w.-]+)\s*(!=|<=|>=|=|<|>)\s*("(?:[^"\\]|\\.)*"|\S+?)\s*$')


def _delimited(text: str) -> Matcher:
    if not text.endswith("]"):
        raise PatternError("Invalid filter pattern: a space-delimited pattern ends with ]")
    slots: list[Callable[[str], bool] | None] = []  # None: `...`
    for part in _split_top(text[1:-1]):
        part = part.strip()
        if part == "...":
            slots.append(None)
        elif re.fullmatch(r"[\w.-]+", part):
            slots.append(lambda word: True)
        else:
            slots.append(_field_test(part))

    def matcher(message: str) -> bool:
        words = [w[1:-1] if w[:1] in '"[' and len(w) >= 2 else w for w in _FIELD_SPLIT.findall(message)]
        return _fits(slots, words)

    return matcher


def _split_top(body: str) -> list[str]:
    parts, depth, current, quoted = [], 0, "", False
    for char in body:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "(":
            depth += 1
        elif not quoted and char in ")":
            depth -= 1
        if char == "," and not quoted and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _field_test(text: str) -> Callable[[str], bool]:
    alternatives = []
    for alternative in re.split(r"\|\|", text):
        conditions = []
        for condition in re.split(r"&&", alternative):
            found = _CONDITION.match(condition.strip("() "))
            if found is None:
                raise PatternError(f"Invalid filter pattern: {condition.strip()}")
            _, operator, value = found.groups()
            quoted = value.startswith('"')
            conditions.append(_Comparison(operator, json.loads(value) if quoted else value, quoted))
        alternatives.append(conditions)
    return lambda word: any(all(c.test(word) for c in conds) for conds in alternatives)


def _fits(slots: list[Callable[[str], bool] | None], words: list[str]) -> bool:
    if not slots:
        return not words
    head, rest = slots[0], slots[1:]
    if head is None:
        return any(_fits(rest, words[i:]) for i in range(len(words) + 1))
    return bool(words) and head(words[0]) and _fits(rest, words[1:])
