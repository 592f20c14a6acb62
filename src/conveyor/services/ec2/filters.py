"""EC2's `Filter.N.Name` / `Filter.N.Value.M`: every filter must match (AND), any of a filter's values
may (OR), values may use `*` and `?` wildcards, and `tag:KEY`, `tag-key` and `tag-value` look at tags.
https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Filtering.html
An unknown filter name is refused (InvalidParameterValue), as EC2 does.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from conveyor.services.ec2 import errors

# A resource's values for a filter name (strings; booleans as "true"/"false").
Extractor = Callable[[dict[str, Any]], Iterable[str]]


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _tags(doc: dict[str, Any]) -> list[dict[str, str]]:
    return list(doc.get("Tags") or [])


def matches(doc: dict[str, Any], filters: list[dict[str, Any]] | None, known: Mapping[str, Extractor]) -> bool:
    for item in filters or []:
        name = item.get("Name") or ""
        wanted = [str(v) for v in item.get("Values") or []]
        if name.startswith("tag:"):
            key = name[4:]
            values: Iterable[str] = [t["Value"] for t in _tags(doc) if t["Key"] == key]
        elif name == "tag-key":
            values = [t["Key"] for t in _tags(doc)]
        elif name == "tag-value":
            values = [t["Value"] for t in _tags(doc)]
        elif name in known:
            values = list(known[name](doc))
        else:
            raise errors.bad_filter(name)
        if not any(fnmatch.fnmatchcase(v, w) for v in values for w in wanted):
            return False
    return True


def check(filters: list[dict[str, Any]] | None, known: Mapping[str, Extractor]) -> None:
    """Refuse unknown filter names even when there is nothing to match them against."""
    for item in filters or []:
        name = item.get("Name") or ""
        if not (name.startswith("tag:") or name in ("tag-key", "tag-value") or name in known):
            raise errors.bad_filter(name)


def field(*path: str) -> Extractor:
    """The value at `path` in the document (a list of values when the last step is a list)."""

    def extract(doc: dict[str, Any]) -> list[str]:
        current: Any = doc
        for step in path:
            if not isinstance(current, dict) or step not in current:
                return []
            current = current[step]
        if isinstance(current, list):
            return [text(v) for v in current]
        return [text(current)]

    return extract


def page(items: list[Any], token: str | None, max_results: int | None) -> tuple[list[Any], str | None]:
    """A page of `items` and the token of the next one (an offset, as opaque to the caller)."""
    try:
        start = int(token) if token else 0
    except ValueError:
        raise errors.bad_token()
    if start < 0 or start > len(items):
        raise errors.bad_token()
    if max_results is None:
        return items[start:], None
    end = start + max_results
    return items[start:end], str(end) if end < len(items) else None
