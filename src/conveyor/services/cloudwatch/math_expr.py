"""Metric math: the common expressions of
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html

Served: numbers and query ids, + - * / ^, comparisons (< <= > >= == !=, giving 1 or 0), AND / OR / NOT,
parentheses, arrays `[m1, m2]` and METRICS("filter"), and the functions ABS, CEIL, FLOOR, SUM, AVG, MIN,
MAX, STDDEV (of one series: a number; of an array: a series), FILL(x, value | REPEAT | LINEAR),
IF(condition, a[, b]), PERIOD, DIFF, RATE and RUNNING_SUM. Any other function is refused by name.
Arithmetic on two series keeps the timestamps both have; a number applies to every point.
"""

from __future__ import annotations

import math
import re
import statistics as pystats
from collections.abc import Callable
from typing import Union

Series = dict[int, float]
Value = Union[float, Series, list[Series]]  # noqa: UP007 - a recursive-looking alias mypy reads plainly

_TOKEN = re.compile(r'\s*(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+|[A-Za-z_][A-Za-z0-9_]*|"[^"]*"|<=|>=|==|!=|&&|\|\||'
                    r'[-+*/^(),<>\[\]])')
KNOWN = {"ABS", "CEIL", "FLOOR", "SUM", "AVG", "MIN", "MAX", "STDDEV", "FILL", "IF", "METRICS", "PERIOD", "DIFF",
         "RATE", "RUNNING_SUM"}


class MathError(ValueError):
    """The expression cannot be evaluated (GetMetricData answers a ValidationError-like message)."""


class Evaluator:
    """Evaluates one expression; `lookup` gives the value of another query by id."""

    def __init__(self, text: str, lookup: Callable[[str], Value], ids: list[str], grid: range, period: int) -> None:
        self.tokens = self._tokenize(text)
        self.at = 0
        self.lookup = lookup
        self.ids = ids
        self.grid = grid
        self.period = period

    @staticmethod
    def _tokenize(text: str) -> list[str]:
        tokens, position = [], 0
        while position < len(text):
            found = _TOKEN.match(text, position)
            if found is None:
                if text[position:].strip():
                    raise MathError(f"Unexpected character in expression at: {text[position:]}")
                break
            tokens.append(found.group(1))
            position = found.end()
        return tokens

    def evaluate(self) -> Value:
        value = self._or()
        if self.at != len(self.tokens):
            raise MathError(f"Unexpected {self.tokens[self.at]!r} in expression.")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            raise MathError(f"Expected {expected or 'more'} in expression.")
        self.at += 1
        return token

    # -- grammar -------------------------------------------------------------------------------------------
    def _or(self) -> Value:
        left = self._and()
        while self._peek() in ("OR", "||"):
            self._take()
            left = _combine(left, self._and(), lambda a, b: float(bool(a) or bool(b)))
        return left

    def _and(self) -> Value:
        left = self._comparison()
        while self._peek() in ("AND", "&&"):
            self._take()
            left = _combine(left, self._comparison(), lambda a, b: float(bool(a) and bool(b)))
        return left

    def _comparison(self) -> Value:
        left = self._sum()
        ops: dict[str, Callable[[float, float], float]] = {
            "<": lambda a, b: float(a < b), "<=": lambda a, b: float(a <= b), ">": lambda a, b: float(a > b),
            ">=": lambda a, b: float(a >= b), "==": lambda a, b: float(a == b), "!=": lambda a, b: float(a != b)}
        token = self._peek()
        if token in ops:
            self._take()
            left = _combine(left, self._sum(), ops[token])
        return left

    def _sum(self) -> Value:
        left = self._product()
        while self._peek() in ("+", "-"):
            op = self._take()
            right = self._product()
            left = _combine(left, right, (lambda a, b: a + b) if op == "+" else (lambda a, b: a - b))
        return left

    def _product(self) -> Value:
        left = self._unary()
        while self._peek() in ("*", "/"):
            op = self._take()
            right = self._unary()
            left = _combine(left, right, (lambda a, b: a * b) if op == "*" else _divide)
        return left

    def _unary(self) -> Value:
        if self._peek() == "-":
            self._take()
            return _map(self._unary(), lambda a: -a)
        if self._peek() == "NOT":
            self._take()
            return _map(self._unary(), lambda a: float(not a))
        base = self._atom()
        if self._peek() == "^":
            self._take()
            return _combine(base, self._unary(), _power)
        return base

    def _atom(self) -> Value:
        token = self._take()
        if token == "(":
            inner = self._or()
            self._take(")")
            return inner
        if token == "[":
            items: list[Series] = []
            while True:
                item = self._or()
                items.extend(item if isinstance(item, list) else [self._as_series(item)])
                if self._take() == "]":
                    return items
        if token[0].isdigit() or token[0] == ".":
            return float(token)
        if token.startswith('"'):
            raise MathError("A string can only be given to METRICS().")
        if self._peek() == "(":
            return self._call(token)
        if token in self.ids:
            return self.lookup(token)
        raise MathError(f"Unknown id {token!r} in expression.")

    def _call(self, name: str) -> Value:
        self._take("(")
        args: list[Value | str] = []
        while self._peek() != ")":
            token = self._peek()
            if token is not None and token.startswith('"'):
                args.append(self._take()[1:-1])
            elif token in ("REPEAT", "LINEAR"):
                args.append(self._take())
            else:
                args.append(self._or())
            if self._peek() == ",":
                self._take()
        self._take(")")
        if name not in KNOWN:
            raise MathError(f"Conveyor does not evaluate the metric math function {name}; it serves "
                            f"{', '.join(sorted(KNOWN))}.")
        return self._function(name, args)

    def _as_series(self, value: Value) -> Series:
        if isinstance(value, dict):
            return value
        if isinstance(value, list):
            raise MathError("An array of time series cannot be used here.")
        return {ts: value for ts in self.grid}

    # -- functions -----------------------------------------------------------------------------------------
    def _function(self, name: str, args: list[Value | str]) -> Value:
        if name == "METRICS":
            wanted = str(args[0]) if args else ""
            return [self._as_series(self.lookup(i)) for i in self.ids if wanted in i and _is_metric(self.lookup(i))]
        values = [a for a in args if not isinstance(a, str)]
        if not values:
            raise MathError(f"{name} needs an argument.")
        first = values[0]
        if name in ("ABS", "CEIL", "FLOOR"):
            rounding: dict[str, Callable[[float], float]] = {
                "ABS": abs, "CEIL": lambda a: float(math.ceil(a)), "FLOOR": lambda a: float(math.floor(a))}
            fn = rounding[name]
            return _map(first, lambda a: float(fn(a)))
        if name in ("SUM", "AVG", "MIN", "MAX", "STDDEV"):
            return _aggregate(name, first)
        if name == "PERIOD":
            return _map(first, lambda a: float(self.period))
        if name in ("DIFF", "RATE", "RUNNING_SUM"):
            return _per_series(first, lambda s: _walk(name, s, self.period))
        if name == "FILL":
            how = args[1] if len(args) > 1 else 0.0
            return _per_series(first, lambda s: self._fill(s, how))
        if name == "IF":
            then = self._as_series(values[1]) if len(values) > 1 else None
            otherwise = self._as_series(values[2]) if len(values) > 2 else None
            condition = self._as_series(first)
            out: Series = {}
            for ts, test in condition.items():
                branch = then if test else otherwise
                if branch is not None and ts in branch:
                    out[ts] = branch[ts]
            return out
        raise MathError(f"Unknown function {name}.")

    def _fill(self, series: Series, how: Value | str) -> Series:
        out: Series = {}
        known = sorted(series)
        for ts in self.grid:
            if ts in series:
                out[ts] = series[ts]
            elif how == "REPEAT":
                before = [t for t in known if t < ts]
                if before:
                    out[ts] = series[before[-1]]
            elif how == "LINEAR":
                before = [t for t in known if t < ts]
                after = [t for t in known if t > ts]
                if before and after:
                    t0, t1 = before[-1], after[0]
                    out[ts] = series[t0] + (series[t1] - series[t0]) * (ts - t0) / (t1 - t0)
            elif isinstance(how, float):
                out[ts] = how
            else:
                raise MathError("FILL's second argument is a number, REPEAT or LINEAR.")
        return out


def _is_metric(value: Value) -> bool:
    return isinstance(value, dict)


def _divide(a: float, b: float) -> float:
    return a / b if b else math.nan


def _power(a: float, b: float) -> float:
    try:
        return float(a ** b)
    except (OverflowError, ZeroDivisionError, ValueError):
        return math.nan


def _map(value: Value, fn: Callable[[float], float]) -> Value:
    if isinstance(value, float):
        return fn(value)
    if isinstance(value, dict):
        return {ts: fn(v) for ts, v in value.items()}
    return [{ts: fn(v) for ts, v in s.items()} for s in value]


def _per_series(value: Value, fn: Callable[[Series], Series]) -> Value:
    if isinstance(value, dict):
        return fn(value)
    if isinstance(value, list):
        return [fn(s) for s in value]
    raise MathError("This function needs a time series.")


def _combine(left: Value, right: Value, fn: Callable[[float, float], float]) -> Value:
    if isinstance(left, list) and isinstance(right, list):
        raise MathError("Two arrays of time series cannot be combined.")
    if isinstance(left, list):
        return [_combine(s, right, fn) for s in left]  # type: ignore[misc]  # each element is a Series
    if isinstance(right, list):
        return [_combine(left, s, fn) for s in right]  # type: ignore[misc]
    if isinstance(left, float) and isinstance(right, float):
        return fn(left, right)
    if isinstance(left, float):
        assert isinstance(right, dict)
        return {ts: fn(left, v) for ts, v in right.items()}
    if isinstance(right, float):
        return {ts: fn(v, right) for ts, v in left.items()}
    return {ts: fn(v, right[ts]) for ts, v in left.items() if ts in right}


def _aggregate(name: str, value: Value) -> Value:
    reducers: dict[str, Callable[[list[float]], float]] = {
        "SUM": sum, "AVG": pystats.fmean, "MIN": min, "MAX": max,
        "STDDEV": lambda xs: pystats.pstdev(xs) if len(xs) > 1 else 0.0}
    reduce = reducers[name]
    if isinstance(value, float):
        return value
    if isinstance(value, dict):
        return reduce(list(value.values())) if value else math.nan
    stamps = sorted({ts for s in value for ts in s})
    return {ts: reduce([s[ts] for s in value if ts in s]) for ts in stamps}


def _walk(name: str, series: Series, period: int) -> Series:
    out: Series = {}
    total, previous = 0.0, None
    for ts in sorted(series):
        value = series[ts]
        if name == "RUNNING_SUM":
            total += value
            out[ts] = total
        elif previous is not None:
            change = value - series[previous]
            out[ts] = change if name == "DIFF" else change / (ts - previous)
        previous = ts
    return out
