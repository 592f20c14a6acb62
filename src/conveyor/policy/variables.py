"""Policy variables: `${aws:username}` in a Resource or a condition value stands for the request's value.

- Only policies of Version "2012-10-17" have variables; in older ones `${...}` is plain text.
- `${*}`, `${?}` and `${$}` stand for a literal `*`, `?` and `$`.
- `${key, 'default'}` uses the default when the request lacks the key; without a default, a missing
  key (or one with several values) makes that pattern match nothing.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
"""

from __future__ import annotations

import re
from functools import lru_cache

from conveyor.policy.context import Keys
from conveyor.policy.wildcards import Piece, Pieces, plain

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'([^']*)'\s*$")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}


@lru_cache(maxsize=4096)
def _split(text: str) -> tuple[tuple[str, str | None, str | None], ...]:
    """(text before, key or special char, default) triples; the last has no key."""
    out: list[tuple[str, str | None, str | None]] = []
    position = 0
    for found in _VARIABLE.finditer(text):
        inner = found.group(1)
        default_form = _DEFAULT.match(inner)
        key, default = (default_form.group(1), default_form.group(2)) if default_form else (inner.strip(), None)
        out.append((text[position:found.start()], key, default))
        position = found.end()
    out.append((text[position:], None, None))
    return tuple(out)


def has_variables(text: str) -> bool:
    return "${" in text and _VARIABLE.search(text) is not None


def expand(text: str, keys: Keys, enabled: bool) -> Pieces | None:
    """`text` as pattern pieces with its variables replaced; None when one cannot be resolved."""
    if not enabled or "${" not in text:
        return plain(text)
    pieces: list[Piece] = []
    for before, key, default in _split(text):
        if before:
            pieces.append((before, False))
        if key is None:
            continue
        if key in _SPECIAL:
            pieces.append((_SPECIAL[key], True))
            continue
        values = keys.get(key.lower())
        if values is not None and len(values) == 1:
            pieces.append((values[0], True))
        elif default is not None:
            pieces.append((default, True))
        else:
            return None
    return tuple(pieces)
