"""What Lambda accepts as a tag, checked wherever tags are given: CreateFunction, TagResource, and a new event
source mapping's or code signing configuration's Tags. A leaf of the Lambda package (tagging.py imports the
resources that carry tags; they import this)."""

from __future__ import annotations

import unicodedata
from typing import Any

from conveyor.protocol.constraints import ConstraintViolations
from conveyor.wire import ServiceError

# Keys of 1 to 128 characters, values of up to 256, of letters, digits, spaces and `_ . : / = + - @`
# (https://docs.aws.amazon.com/lambda/latest/dg/tagging.html). AWS's answer to a value past
# them, recorded in cloud-custodian#2520: "1 validation error detected: Value '{Creator=...}' at 'tags' failed
# to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 256,
# Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: ...]";
# keys are refused in the same form, as "Map keys".
_TAG_PATTERN = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"
_TAG_SYMBOLS = frozenset("_.:/=+-@")


def _tag_text(text: str) -> bool:
    """Whether `text` matches _TAG_PATTERN: letters (L), separators (Z), numbers (N) and the symbols."""
    return all(c in _TAG_SYMBOLS or unicodedata.category(c)[0] in "LZN" for c in text)


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    """Tags as given to CreateFunction or TagResource, refused past their keys' and values' limits."""
    problems = []
    if any(not 1 <= len(k) <= 128 or not _tag_text(k) for k in tags):
        problems.append("Map keys must satisfy constraint: [Member must have length less than or equal to 128, "
                        f"Member must have length greater than or equal to 1, Member must satisfy regular "
                        f"expression pattern: {_TAG_PATTERN}]")
    if any(len(v) > 256 or not _tag_text(v) for v in tags.values()):
        problems.append("Map value must satisfy constraint: [Member must have length less than or equal to 256, "
                        f"Member must have length greater than or equal to 0, Member must satisfy regular "
                        f"expression pattern: {_TAG_PATTERN}]")
    if problems:
        shown = "{" + ", ".join(f"{k}={v}" for k, v in tags.items()) + "}"  # as Java prints a map
        details = "; ".join(f"Value '{shown}' at 'tags' failed to satisfy constraint: {p}" for p in problems)
        raise ServiceError("ValidationException", f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} "
                           f"detected: {details}")
    return tags


class LambdaViolations(ConstraintViolations):
    """Lambda's constraint messages; a tag map that breaks the model's key or value constraints (current models
    carry them) is answered as Lambda answers it, the whole map at 'tags' (above), not the entry that broke."""

    def map_entry_error(self, path: str, mapping: dict[Any, Any], error: ServiceError) -> ServiceError:
        if path.rsplit(".", 1)[-1] == "Tags" and all(isinstance(k, str) and isinstance(v, str)
                                                      for k, v in mapping.items()):
            try:
                check_tags(mapping)
            except ServiceError as tag_error:
                return tag_error
        return error
