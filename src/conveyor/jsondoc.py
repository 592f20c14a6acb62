"""JSON documents from clients (policies, filter policies, message structures, payloads).

`json.loads` raises RecursionError, not ValueError, for a document nested past the interpreter's
recursion limit (`[[[[...` a few thousand deep): every caller that answers a malformed document with a
400 catches ValueError, so that one would become a 500. Parse client documents here instead.
"""

from __future__ import annotations

import json
from typing import Any


def loads(text: str | bytes, **kwargs: Any) -> Any:
    """`json.loads`, with every malformed document (however deeply nested) a ValueError."""
    try:
        return json.loads(text, **kwargs)
    except RecursionError:
        raise ValueError("the JSON document is nested too deeply") from None
