"""Policy documents, parsed once into statements the evaluator can walk quickly.

Parsing here is lenient: a statement of the wrong shape is dropped (it grants and denies nothing), so a
service can evaluate whatever it holds. Refusing malformed documents before they are stored is
conveyor.policy.validate's job. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

# The one version with policy variables; "2008-10-17" (and no Version) treat `${...}` as text.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html
CURRENT_VERSION = "2012-10-17"
VERSIONS = ("2008-10-17", "2012-10-17")


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" or "Deny"
    sid: str | None
    principal: object  # the Principal element, None when absent
    not_principal: object
    actions: tuple[str, ...] | None  # Action; None when the statement uses NotAction
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None  # Resource; None when it uses NotResource (or, in a trust policy, neither)
    not_resources: tuple[str, ...] | None
    condition: Mapping[str, object] | None

    @property
    def names_principal(self) -> bool:
        return self.principal is not None or self.not_principal is not None


@dataclass(frozen=True)
class Policy:
    version: str | None
    statements: tuple[Statement, ...]

    @property
    def has_variables(self) -> bool:
        return self.version == CURRENT_VERSION


PolicyLike = Policy | str | Mapping[str, object]


def parse(document: PolicyLike | None) -> Policy | None:
    """A Policy from JSON text, an already-decoded document, or a Policy; None when there is none."""
    if document is None or isinstance(document, Policy):
        return document
    if isinstance(document, str):
        return _parse_text(document)
    return from_object(document)


@lru_cache(maxsize=2048)
def _parse_text(text: str) -> Policy | None:
    if not text:
        return None
    try:
        decoded = json.loads(text)
    except ValueError:
        return None
    return from_object(decoded) if isinstance(decoded, dict) else None


def from_object(document: object) -> Policy | None:
    if not isinstance(document, Mapping):
        return None
    raw = document.get("Statement")
    items = raw if isinstance(raw, list) else [raw]
    statements = tuple(s for s in (_statement(item) for item in items) if s is not None)
    version = document.get("Version")
    return Policy(version if isinstance(version, str) else None, statements)


def strings(value: object) -> tuple[str, ...] | None:
    """A string or a list of strings as a tuple; None for any other shape."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def _statement(item: object) -> Statement | None:
    if not isinstance(item, Mapping):
        return None
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        return None
    pairs = []
    for name in ("Action", "Resource"):
        if name in item and f"Not{name}" in item:
            return None
        positive, negative = strings(item.get(name)), strings(item.get(f"Not{name}"))
        if (name in item and positive is None) or (f"Not{name}" in item and negative is None):
            return None
        pairs.append((positive, negative))
    (actions, not_actions), (resources, not_resources) = pairs
    if actions is None and not_actions is None:
        return None
    condition = item.get("Condition")
    if condition is not None and not isinstance(condition, Mapping):
        return None
    sid = item.get("Sid")
    return Statement(effect, sid if isinstance(sid, str) else None, item.get("Principal"), item.get("NotPrincipal"),
                     actions, not_actions, resources, not_resources, condition)
