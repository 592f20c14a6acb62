"""Evaluating resource-based policies (bucket, queue and topic policies) for one request.

A leaf module: it knows policy documents and nothing of the services that hold them, so S3 can ask
"may S3 send to this queue?" and "may an anonymous caller read this object?" with the same rules, and
IAM can grow it later (identity policies, more condition operators).

What is evaluated, after https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html:
- `Principal` / `NotPrincipal`: `"*"` (equivalent to `{"AWS": "*"}`: everyone), `{"Service": ...}` for a
  service acting on its own (e.g. `s3.amazonaws.com` sending bucket events), `{"AWS": ...}` for account
  principals (an account id, its root ARN, or a principal ARN).
- `Action` / `NotAction`: case-insensitive, with `*` and `?` wildcards (`sqs:*`, `SQS:SendMessage`).
- `Resource` / `NotResource`: case-sensitive ARNs with wildcards.
- `Condition`: String*, Arn* and Null operators, `...IfExists`, keys compared case-insensitively
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
  A key the request does not carry makes its condition false (`IfExists` and `Null` aside), and an
  operator not known here never holds: a statement that cannot be shown to apply grants nothing.
An explicit Deny wins over any Allow; no matching Allow means no access (implicit deny).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

Decision = Literal["Allow", "Deny"]
ANONYMOUS = "*"  # the principal of an unsigned request


@dataclass(frozen=True)
class Request:
    """One access to judge: who acts, doing what, on what, in which context."""

    action: str  # e.g. "sqs:SendMessage"
    resource: str  # the ARN of what is acted on
    service: str | None = None  # a service principal acting on its own, e.g. "s3.amazonaws.com"
    principal: str = ANONYMOUS  # an account id or principal ARN; "*" for anonymous callers
    context: Mapping[str, str] = field(default_factory=dict)  # condition keys, e.g. {"aws:SourceArn": ...}


def parse(text: str | None) -> object:
    """A policy document from its JSON text; None when there is none or it is not JSON."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def decide(policy: object, request: Request) -> Decision | None:
    """"Deny" if a statement explicitly denies, else "Allow" if one allows, else None (implicit deny)."""
    allowed = False
    for statement in _statements(policy):
        if not _applies(statement, request):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        if statement.get("Effect") == "Allow":
            allowed = True
    return "Allow" if allowed else None


def allows(policy: object, request: Request) -> bool:
    return decide(policy, request) == "Allow"


@lru_cache(maxsize=1024)
def _wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """`*` is any run of characters and `?` any one; everything else is literal."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, 0 if case_sensitive else re.IGNORECASE)


# -- statements ---------------------------------------------------------------------------------------

def _statements(policy: object) -> list[dict[str, object]]:
    if not isinstance(policy, dict):
        return []
    statements = policy.get("Statement")
    items = statements if isinstance(statements, list) else [statements]
    return [s for s in items if isinstance(s, dict)]


def _strings(value: object) -> list[str] | None:
    """A string or list of strings as a list; None when the value has another shape."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _applies(statement: dict[str, object], request: Request) -> bool:
    if "Principal" in statement:
        if not _principal_matches(statement["Principal"], request):
            return False
    elif "NotPrincipal" in statement:
        if _principal_matches(statement["NotPrincipal"], request):
            return False
    else:
        return False  # a resource policy statement names its principal
    if not _element_matches(statement, "Action", request.action, case_sensitive=False):
        return False
    if not _element_matches(statement, "Resource", request.resource, case_sensitive=True):
        return False
    condition = statement.get("Condition")
    return condition is None or _condition_holds(condition, request.context)


def _element_matches(statement: dict[str, object], name: str, value: str, *, case_sensitive: bool) -> bool:
    if name in statement:
        patterns, negated = _strings(statement[name]), False
    elif f"Not{name}" in statement:
        patterns, negated = _strings(statement[f"Not{name}"]), True
    else:
        return False
    if patterns is None:
        return False
    hit = any(_wildcard(p, case_sensitive).fullmatch(value) for p in patterns)
    return hit != negated


def _principal_matches(principal: object, request: Request) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    aws = _strings(principal.get("AWS")) or []
    if "*" in aws:
        return True  # {"AWS": "*"} is everyone, as "*" is
    if request.service is not None:
        return request.service in (_strings(principal.get("Service")) or [])
    if request.principal == ANONYMOUS:
        return False
    names = {request.principal}
    account = _account_of(request.principal)
    if account is not None:
        names |= {account, f"arn:aws:iam::{account}:root"}
    return any(a in names for a in aws)


def _account_of(principal: str) -> str | None:
    if principal.isdigit():
        return principal
    parts = principal.split(":")
    return parts[4] if len(parts) > 4 and parts[4].isdigit() else None


# -- conditions -----------------------------------------------------------------------------------------

def _condition_holds(condition: object, context: Mapping[str, str]) -> bool:
    if not isinstance(condition, dict):
        return False
    values = {k.lower(): v for k, v in context.items()}
    for operator, pairs in condition.items():
        if not isinstance(operator, str) or not isinstance(pairs, dict):
            return False
        for key, expected in pairs.items():
            wanted = _condition_values(expected)
            if wanted is None or not _operator_holds(operator, values.get(str(key).lower()), wanted):
                return False
    return True


def _condition_values(expected: object) -> list[str] | None:
    """Condition values as strings (JSON booleans and numbers as IAM reads them)."""
    items = expected if isinstance(expected, list) else [expected]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            return None
    return out


def _operator_holds(operator: str, actual: str | None, wanted: list[str]) -> bool:
    if operator == "Null":
        # "true": the key must be absent; "false": present.
        return all((actual is None) == (w.lower() == "true") for w in wanted)
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if actual is None:
        return if_exists
    test = _OPERATORS.get(base)
    if test is None:
        return False
    negated = "Not" in base
    matched = any(test(actual, w) for w in wanted)
    # Negated operators hold when no value matches (e.g. StringNotEquals a, b: neither a nor b).
    return not matched if negated else matched


def _arn_like(actual: str, pattern: str) -> bool:
    """ArnLike compares each of the six colon-separated parts on its own, wildcards included."""
    have, want = actual.split(":", 5), pattern.split(":", 5)
    if len(have) != 6 or len(want) != 6:
        return False
    return all(_wildcard(w, True).fullmatch(h) is not None for h, w in zip(have, want, strict=True))


_OPERATORS = {
    "StringEquals": lambda a, w: a == w,
    "StringNotEquals": lambda a, w: a == w,
    "StringEqualsIgnoreCase": lambda a, w: a.lower() == w.lower(),
    "StringNotEqualsIgnoreCase": lambda a, w: a.lower() == w.lower(),
    "StringLike": lambda a, w: _wildcard(w, True).fullmatch(a) is not None,
    "StringNotLike": lambda a, w: _wildcard(w, True).fullmatch(a) is not None,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
    "ArnNotEquals": _arn_like,
    "ArnNotLike": _arn_like,
}
