"""What a target receives: the event, `Input` (fixed text), `InputPath` (part of the event) or an
`InputTransformer` (InputPathsMap + InputTemplate).
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html

The template's placeholders follow AWS's rules:
- `<name>` is a variable of InputPathsMap (a JSON path into the event) or a predefined one:
  `aws.events.rule-arn`, `aws.events.rule-name`, `aws.events.event.ingestion-time`, `aws.events.event`
  (the event without `detail`) and `aws.events.event.json` (the whole event).
- Inside a JSON string ("instance <id> is in <state>") a value is written as it is, unescaped; outside
  one, as JSON (a string value gets its quotes). A template that is not JSON at all is text, its values
  written as they are.
- A path that is not in the event makes no variable: its placeholder is written as nothing inside a
  string and as `null` outside one.
- The result is sent as the template's text with values put in: AWS minifies JSON it can parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_PATH_TOKEN = re.compile(r"\.([A-Za-z0-9_\-/]+|\*)|\[(\d+|\*)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_MISSING = object()
RESERVED = ("aws.events.rule-arn", "aws.events.rule-name", "aws.events.event.ingestion-time",
            "aws.events.event", "aws.events.event.json")
_VARIABLE_NAME = re.compile(r"[A-Za-z0-9_\-]+")


class PathError(ValueError):
    """Not a JSON path EventBridge evaluates."""


def check_path(path: str) -> None:
    """A JSON path as InputPath and InputPathsMap take it: `$`, then `.name`, `[n]`, `['name']`, `.*`."""
    if not path.startswith("$"):
        raise PathError(path)
    position = 1
    while position < len(path):
        token = _PATH_TOKEN.match(path, position)
        if token is None:
            raise PathError(path)
        position = token.end()


def select(event: Any, path: str) -> Any:
    """The value at `path` in `event`; a wildcard gives a list; _MISSING when nothing is there."""
    current: list[Any] = [event]
    wildcard = False
    position = 1
    while position < len(path):
        token = _PATH_TOKEN.match(path, position)
        if token is None:
            return _MISSING
        position = token.end()
        name = token.group(1) or token.group(3) or token.group(4)
        index = token.group(2)
        following: list[Any] = []
        for value in current:
            if name == "*" or index == "*":
                wildcard = True
                following.extend(value.values() if isinstance(value, dict) else value if isinstance(value, list)
                                 else [])
            elif index is not None:
                if isinstance(value, list) and int(index) < len(value):
                    following.append(value[int(index)])
            elif name is not None and isinstance(value, dict) and name in value:
                following.append(value[name])
        current = following
    if wildcard:
        return current
    return current[0] if current else _MISSING


def input_path(event: Mapping[str, Any], path: str) -> str:
    """What InputPath sends: the selected part as JSON (nothing found: `null`)."""
    found = select(event, path)
    return json.dumps(None if found is _MISSING else found, separators=(",", ":"))


def render(template: str, paths: Mapping[str, str], event: Mapping[str, Any], rule_arn: str, rule_name: str,
           ingestion_time: str) -> str:
    """InputTemplate with its placeholders filled in from the event."""
    values: dict[str, Any] = {}
    for name, path in paths.items():
        found = select(event, path)
        if found is not _MISSING:
            values[name] = found
    values["aws.events.rule-arn"] = rule_arn
    values["aws.events.rule-name"] = rule_name
    values["aws.events.event.ingestion-time"] = ingestion_time
    values["aws.events.event"] = {k: v for k, v in event.items() if k != "detail"}
    values["aws.events.event.json"] = dict(event)
    structured = template.lstrip()[:1] in ('{', '[', '"')
    out: list[str] = []
    in_string = False
    position = 0
    while position < len(template):
        char = template[position]
        if char == "\\" and in_string:
            out.append(template[position:position + 2])
            position += 2
            continue
        if char == '"':
            in_string = not in_string
        elif char == "<":
            placeholder = _PLACEHOLDER.match(template, position)
            if placeholder is not None and (placeholder.group(1) in values or placeholder.group(1) in paths):
                value = values.get(placeholder.group(1), _MISSING)
                out.append(_written(value, quoted=in_string or not structured))
                position = placeholder.end()
                continue
        out.append(char)
        position += 1
    text = "".join(out)
    if structured:
        try:  # AWS sends JSON minified
            return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
        except ValueError:
            return text
    return text


def _written(value: Any, *, quoted: bool) -> str:
    if value is _MISSING:
        return "" if quoted else "null"
    if quoted:
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def template_placeholders(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


def valid_variable_name(name: str) -> bool:
    return bool(_VARIABLE_NAME.fullmatch(name)) and not name.startswith("aws.events")
