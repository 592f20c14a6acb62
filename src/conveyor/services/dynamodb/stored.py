"""Items as the store keeps them: JSON of the wire form, binary as base64 (as on the wire)."""

from __future__ import annotations

import base64
import json
import json.encoder
from collections.abc import Callable
from typing import Any

from conveyor.services.dynamodb.values import AttributeValue, Item


def _encode(value: AttributeValue) -> AttributeValue:
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(m).decode() for m in inner]}
    if kind == "M":
        return {"M": {k: _encode(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_encode(v) for v in inner]}
    return value


def _decode(value: Any, *, fresh: bool = False) -> AttributeValue:
    """A stored (or wire) value as the service holds it. `fresh`: `value` was just parsed and is nobody
    else's, so a scalar is taken as it is rather than copied."""
    kind, inner = next(iter(value.items()))
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(m) for m in inner]}
    if kind == "M":
        return {"M": {k: _decode(v, fresh=fresh) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_decode(v, fresh=fresh) for v in inner]}
    return value if fresh else dict(value)


def _compact_encoder() -> Callable[[Any], str]:
    """JSON without spaces or ASCII escapes, its encoder made once: `json.dumps(separators=...)` builds a
    JSONEncoder and, inside it, the C encoder on every call (half the cost of writing a small item). An item
    holds only dicts, lists, strings and booleans: no circular check (a value nests 32 levels at most)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode
    refuse = json.JSONEncoder().default  # what is not JSON: json.dumps's own TypeError
    chunks = make(None, refuse, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    return lambda value: "".join(chunks(value, 0))


_dumps = _compact_encoder()


def dump_item(item: Item, *, plain: bool = False) -> str:
    """The item as stored. `plain`: it holds no binary, map or list (values.sized_item said so), so it is
    written as it is."""
    return _dumps(item if plain else {k: _encode(v) for k, v in item.items()})


def load_item(text: str) -> Item:
    return {k: _decode(v, fresh=True) for k, v in json.loads(text).items()}


def wire_item(item: Item) -> dict[str, Any]:
    """An item as JSON carries it, binary as base64: for the members of an error body (ConditionalCheck-
    FailedException's Item, CancellationReasons), which the codec writes as they are."""
    return {k: _encode(v) for k, v in item.items()}


def from_wire(item: dict[str, Any]) -> Item:
    """An item in DynamoDB JSON (binary as base64) as the service holds it; ValueError (or KeyError,
    binascii.Error) when it is not one."""
    out: Item = {}
    for name, value in item.items():
        if not isinstance(value, dict) or len(value) != 1:
            raise ValueError(f"{name} is not an attribute value")
        out[name] = _decode(value)
    return out
