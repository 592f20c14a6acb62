"""AddPermission / RemovePermission: labelled statements in a topic's access policy.

https://docs.aws.amazon.com/sns/latest/api/API_AddPermission.html
https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-language-api-permissions-reference.html
Both edit the topic's `Policy` attribute, starting from the default policy when none was set, so
GetTopicAttributes shows the statements exactly as a hand-written policy would.
"""

from __future__ import annotations

import json
import re
from typing import Any

from conveyor.services.sns.topics import invalid

# The actions a topic policy may grant (the API permissions reference above).
ACTIONS = frozenset({
    "AddPermission", "DeleteTopic", "GetDataProtectionPolicy", "GetTopicAttributes", "ListSubscriptionsByTopic",
    "ListTagsForResource", "Publish", "PutDataProtectionPolicy", "RemovePermission", "SetTopicAttributes",
    "Subscribe",
})
MAX_PRINCIPALS = 200  # policy quotas, same page
MAX_STATEMENTS = 100
MAX_BYTES = 30 * 1024
_ACCOUNT = re.compile(r"\d{12}")


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy.get("Statement")
    if isinstance(found, dict):  # the policy grammar allows a lone statement object
        return [found]
    return [s for s in found if isinstance(s, dict)] if isinstance(found, list) else []


def _one_or_many(values: list[str]) -> str | list[str]:
    # AWS renders a single principal or action as a string, several as a list.
    return values[0] if len(values) == 1 else values


def add(policy_text: str, topic_arn: str, label: str, accounts: list[str], actions: list[str]) -> str:
    """The policy with a statement `label` granting `actions` to `accounts`."""
    policy = json.loads(policy_text)
    statements = _statements(policy)
    if not label:
        raise invalid("Label")
    if any(s.get("Sid") == label for s in statements):
        raise invalid("Statement already exists")
    if not actions or any(a not in ACTIONS for a in actions):
        raise invalid("Policy statement action out of service scope!")
    if not 1 <= len(accounts) <= MAX_PRINCIPALS:
        raise invalid(f"AWSAccountId Reason: a statement names 1 to {MAX_PRINCIPALS} principals")
    bad = next((a for a in accounts if not _ACCOUNT.fullmatch(a)), None)
    if bad is not None:
        raise invalid("A provided account ID is not valid")  # as AWS answered a connector's tests against it
    if len(statements) >= MAX_STATEMENTS:
        raise invalid(f"Policy Reason: a topic policy holds at most {MAX_STATEMENTS} statements")
    statements.append({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": _one_or_many([f"arn:aws:iam::{a}:root" for a in accounts])},
        "Action": _one_or_many([f"SNS:{a}" for a in actions]),
        "Resource": topic_arn,
    })
    policy["Statement"] = statements
    text = json.dumps(policy, separators=(",", ":"))
    if len(text.encode()) > MAX_BYTES:
        raise invalid(f"Policy Reason: a topic policy is at most {MAX_BYTES} bytes")
    return text


def remove(policy_text: str, label: str) -> str | None:
    """The policy without statement `label`, or None when it has no such statement (nothing to do)."""
    policy = json.loads(policy_text)
    statements = _statements(policy)
    kept = [s for s in statements if s.get("Sid") != label]
    if len(kept) == len(statements):
        return None
    policy["Statement"] = kept
    return json.dumps(policy, separators=(",", ":"))
