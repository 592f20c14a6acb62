"""Route keys (`POST /presign`, `ANY /{proxy+}`, `$default`) and how a request picks its route.

https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html: a route is a
method (or ANY) and a resource path whose segments may be path variables (`{petID}`); a greedy variable
(`{proxy+}`) catches all child resources and must end the path. API Gateway selects the most specific
match: a full match of route and method first, then a match through a greedy path variable, then the
`$default` route; when nothing matches it answers 404 {"message":"Not Found"}.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from conveyor.services.apigatewayv2.records import DEFAULT_ROUTE, bad_request

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
_VARIABLE = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")
_LITERAL = re.compile(r"^[A-Za-z0-9._~!$&'()*,;=:@%-]+$")


@dataclass(frozen=True)
class Segment:
    text: str  # a literal, or the variable's name
    variable: bool = False
    greedy: bool = False


@dataclass(frozen=True)
class RouteKey:
    method: str  # "ANY" for every method; "" for $default
    path: str  # "/presign"; "" for $default
    segments: tuple[Segment, ...] = ()

    @property
    def is_default(self) -> bool:
        return not self.method

    @property
    def greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1].greedy

    def arn_suffix(self, request_method: str) -> str:
        """The part of the execute-api ARN after the stage, as a Lambda permission's SourceArn matches it:
        `GET/pets/{id}` (the route's path with the request's method), `$default` for the default route.
        https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html"""
        return DEFAULT_ROUTE if self.is_default else f"{request_method}/{self.path[1:]}"


def parse(text: str) -> RouteKey:
    """A route key, as CreateRoute accepts it; BadRequestException otherwise."""
    if text == DEFAULT_ROUTE:
        return RouteKey("", "")
    method, _, path = text.partition(" ")
    if method not in METHODS or not path.startswith("/"):
        raise bad_request(f"Invalid route key: {text!r}. A route key is $default or an HTTP method (GET, POST, "
                          "PUT, PATCH, DELETE, HEAD, OPTIONS or ANY) and a resource path, e.g. 'GET /pets/{id}'.")
    if path == "/":
        return RouteKey(method, path)
    segments: list[Segment] = []
    parts = path[1:].split("/")
    for index, part in enumerate(parts):
        variable = _VARIABLE.match(part)
        if variable is not None:
            greedy = variable.group(2) == "+"
            if greedy and index != len(parts) - 1:
                raise bad_request(f"Invalid route key: {text!r}. A greedy path variable must end the path.")
            segments.append(Segment(variable.group(1), True, greedy))
        elif _LITERAL.match(part):
            segments.append(Segment(part))
        else:
            raise bad_request(f"Invalid route key: {text!r}: the path segment {part!r} is not valid.")
    names = [s.text for s in segments if s.variable]
    if len(names) != len(set(names)):
        raise bad_request(f"Invalid route key: {text!r}: a path variable appears twice.")
    return RouteKey(method, path, tuple(segments))


@dataclass(frozen=True)
class Match:
    route: dict[str, Any]  # the route's record
    key: RouteKey
    path_parameters: dict[str, str]


class RouteTable:
    """A stage's routes, ordered most specific first, for matching requests."""

    def __init__(self, routes: Iterable[dict[str, Any]]) -> None:
        self.default: tuple[dict[str, Any], RouteKey] | None = None
        ordered: list[tuple[tuple[Any, ...], dict[str, Any], RouteKey]] = []
        for route in routes:
            key = parse(route["RouteKey"])
            if key.is_default:
                self.default = (route, key)
            else:
                ordered.append((_specificity(key), route, key))
        ordered.sort(key=lambda item: item[0])
        self.routes = [(route, key) for _, route, key in ordered]

    def select(self, method: str, raw_path: str) -> Match | None:
        parts = raw_path[1:].split("/") if raw_path not in ("", "/") else []
        for route, key in self.routes:
            if key.method not in (method, "ANY"):
                continue
            params = _match(key.segments, parts)
            if params is not None:
                return Match(route, key, params)
        if self.default is not None:
            return Match(self.default[0], self.default[1], {})
        return None


def _specificity(key: RouteKey) -> tuple[Any, ...]:
    """Sort key, most specific first: routes without a greedy variable before those with one; then, segment
    by segment, a literal before a variable; more segments first; a method before ANY."""
    shape = tuple(1 if s.variable else 0 for s in key.segments)
    return (key.greedy, shape, -len(key.segments), key.method == "ANY")


def _match(segments: tuple[Segment, ...], parts: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for index, segment in enumerate(segments):
        if segment.greedy:
            rest = parts[index:]
            if not rest or not any(rest):
                return None
            params[segment.text] = unquote("/".join(rest))
            return params
        if index >= len(parts):
            return None
        part = parts[index]
        if segment.variable:
            if not part:
                return None
            params[segment.text] = unquote(part)
        elif unquote(part) != segment.text:
            return None
    return params if len(parts) == len(segments) else None
