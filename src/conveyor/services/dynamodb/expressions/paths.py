"""Document paths (`a.b[0].c`): reading, writing and removing inside an item, and AWS's overlap rules.

A path is a tuple of steps: a str is a map key (or the top-level attribute), an int a list index.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.Attributes.html
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

from conveyor.services.dynamodb.values import AttributeValue, Item, validation

Path = tuple[str | int, ...]
T = TypeVar("T")

INVALID_FOR_UPDATE = "The document path provided in the update expression is invalid for update"


def format_path(path: Path) -> str:
    """As AWS's messages print a path: [a, [1], b]."""
    return "[" + ", ".join(f"[{step}]" if isinstance(step, int) else step for step in path) + "]"


def get_path(item: Item, path: Path) -> AttributeValue | None:
    value: AttributeValue | None = item.get(str(path[0]))
    for step in path[1:]:
        if value is None:
            return None
        if isinstance(step, int):
            elements = value.get("L")
            value = elements[step] if elements is not None and step < len(elements) else None
        else:
            members = value.get("M")
            value = members.get(step) if members is not None else None
    return value


def copy_value(value: T) -> T:
    """A deep copy of an attribute value or item (dicts and lists of immutable leaves), faster than
    copy.deepcopy for this one shape."""
    return cast(T, _copy(value))


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(member) for key, member in value.items()}
    if isinstance(value, list):
        return [_copy(member) for member in value]
    return value


def _parent(item: Item, path: Path) -> AttributeValue | None:
    """The value holding the last step of a nested path, or None when the path leads nowhere."""
    return get_path(item, path[:-1])


def set_path(item: Item, path: Path, value: AttributeValue) -> None:
    """SET: the parent must exist and be a map (for a key) or a list (for an index); an index past the
    end appends. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html"""
    if len(path) == 1:
        item[str(path[0])] = value
        return
    parent = _parent(item, path)
    step = path[-1]
    if parent is None:
        raise validation(INVALID_FOR_UPDATE)
    if isinstance(step, int):
        if "L" not in parent:
            raise validation(INVALID_FOR_UPDATE)
        elements = parent["L"]
        if step < len(elements):
            elements[step] = value
        else:
            elements.append(value)
    else:
        if "M" not in parent:
            raise validation(INVALID_FOR_UPDATE)
        parent["M"][step] = value


def check_parent(item: Item, path: Path) -> None:
    """REMOVE, ADD and DELETE on a nested path need its parent to exist with the right type."""
    if len(path) == 1:
        return
    parent = _parent(item, path)
    if parent is None or ("L" if isinstance(path[-1], int) else "M") not in parent:
        raise validation(INVALID_FOR_UPDATE)


def find_overlap(paths: Sequence[Path]) -> tuple[str, str] | None:
    """No path may be a prefix of another ("overlap"), nor step into the same place once by key and once
    by index ("conflict"). Each path is compared with the ones before it; any overlap is reported before
    any conflict. Returns the kind and AWS's message."""
    conflict: str | None = None
    for index, later in enumerate(paths):
        for earlier in paths[:index]:
            relation = _relation(earlier, later)
            pair = f"path one: {format_path(earlier)}, path two: {format_path(later)}"
            if relation == "overlap":
                return "overlap", ("Two document paths overlap with each other; "
                                   f"must remove or rewrite one of these paths; {pair}")
            if relation == "conflict" and conflict is None:
                conflict = ("Two document paths conflict with each other; "
                            f"must remove or rewrite one of these paths; {pair}")
    return ("conflict", conflict) if conflict is not None else None


def _relation(one: Path, two: Path) -> str | None:
    for step_one, step_two in zip(one, two, strict=False):
        if isinstance(step_one, int) != isinstance(step_two, int):
            return "conflict"
        if step_one != step_two:
            return None
    return "overlap"


def top_level(paths: Sequence[Path]) -> frozenset[str]:
    return frozenset(str(path[0]) for path in paths)


def project(item: Item, paths: Sequence[Path]) -> Item:
    """The item cut down to the given paths, nesting kept: a map keeps the projected keys it has, a list
    the projected elements it has, in index order. Paths neither overlap nor conflict (checked when the
    projection was compiled), so the paths form a tree whose every node steps either by key or by index."""
    tree: dict[str | int, Any] = {}
    for path in paths:
        node = tree
        for step in path:
            node = node.setdefault(step, {})
    result: Item = {}
    for name, branch in tree.items():
        value = item.get(str(name))
        picked = None if value is None else _pick(value, branch)
        if picked is not None:
            result[str(name)] = picked
    return result


def _pick(value: AttributeValue, tree: dict[str | int, Any]) -> AttributeValue | None:
    if not tree:
        return copy_value(value)
    if all(isinstance(step, int) for step in tree):
        elements = value.get("L")
        if elements is None:
            return None
        picked_elements = [picked for index in sorted(tree) if isinstance(index, int) and index < len(elements)
                           if (picked := _pick(elements[index], tree[index])) is not None]
        return {"L": picked_elements} if picked_elements else None
    members = value.get("M")
    if members is None:
        return None
    picked_members = {key: picked for key, branch in tree.items() if isinstance(key, str) and key in members
                      if (picked := _pick(members[key], branch)) is not None}
    return {"M": picked_members} if picked_members else None
