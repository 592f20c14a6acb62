"""The request context: condition keys and their values, as the evaluator reads them.

Key names are case-insensitive ("aws:SourceIP" is "AWS:SourceIp"); a key may carry one value or
several (aws:TagKeys). https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

ContextValue = str | Sequence[str]
Context = Mapping[str, ContextValue]
# Normalized: lower-cased key -> its values.
Keys = Mapping[str, tuple[str, ...]]


def normalize(context: Context) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for key, value in context.items():
        out[key.lower()] = (value,) if isinstance(value, str) else tuple(value)
    return out
