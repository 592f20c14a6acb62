"""The policy language's patterns: `*` and `?` wildcards, in actions, resources and condition values.

A pattern is a sequence of pieces: text whose `*` and `?` are wildcards, and literal text (what a policy
variable put there, or the `${*}` escape), so a substituted value never acts as a wildcard.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-specialchars
"""

from __future__ import annotations

import re
from functools import lru_cache

# (text, literal): literal text matches itself only.
Piece = tuple[str, bool]
Pieces = tuple[Piece, ...]


def plain(pattern: str) -> Pieces:
    """A pattern with no policy variables in it."""
    return ((pattern, False),)


def text_of(pieces: Pieces) -> str:
    return "".join(text for text, _ in pieces)


@lru_cache(maxsize=4096)
def compile_pattern(pieces: Pieces, case_sensitive: bool = True, arn: bool = False) -> re.Pattern[str]:
    """A regular expression for the whole pattern.

    With `arn`, wildcards stay inside one colon-separated segment, except a `*` that ends a segment,
    which may run on across colons: "If the * wildcard is the last character of a resource ARN segment,
    it can expand to match beyond the colon boundaries."
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
    """
    chars = [(char, literal) for text, literal in pieces for char in text]
    out: list[str] = []
    for index, (char, literal) in enumerate(chars):
        if literal or char not in "*?":
            out.append(re.escape(char))
        elif char == "?":
            out.append("[^:]" if arn else ".")
        else:
            ends_segment = index + 1 == len(chars) or chars[index + 1][0] == ":"
            out.append("[^:]*" if arn and not ends_segment else ".*")
    return re.compile("".join(out), re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE)


def matches(pieces: Pieces, value: str, *, case_sensitive: bool = True, arn: bool = False) -> bool:
    return compile_pattern(pieces, case_sensitive, arn).fullmatch(value) is not None


def like(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """`*` is any run of characters and `?` any one; everything else is literal."""
    return compile_pattern(plain(pattern), case_sensitive).fullmatch(value) is not None


def arn_like(value: str, pieces: Pieces) -> bool:
    """ArnLike/ArnEquals: each of the six colon-separated parts is matched on its own.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
    """
    have = value.split(":", 5)
    if len(have) != 6:
        return False
    want = _split_pieces(pieces)
    if want is None:
        return False
    return all(compile_pattern(w).fullmatch(h) is not None for h, w in zip(have, want, strict=True))


def _split_pieces(pieces: Pieces) -> list[Pieces] | None:
    """The pattern's six ARN parts (only colons outside literal text separate them)."""
    parts: list[list[Piece]] = [[]]
    for text, literal in pieces:
        if literal:
            parts[-1].append((text, True))
            continue
        chunks = text.split(":")
        for number, chunk in enumerate(chunks):
            if number:
                if len(parts) == 6:  # the sixth part keeps its colons
                    parts[-1].append((":", True))
                else:
                    parts.append([])
            if chunk:
                parts[-1].append((chunk, False))
    if len(parts) != 6:
        return None
    return [tuple(part) for part in parts]
