"""AddPermission and RemovePermission: labelled statements in a queue's access policy, as AWS writes them.

https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_AddPermission.html
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conveyor.services.sqs.errors import invalid_param, missing_param, sqs_error

# The actions a queue owner can share ("*" for all of them); the others stay the owner's alone.
SHAREABLE = frozenset({"*", "ChangeMessageVisibility", "DeleteMessage", "GetQueueAttributes", "GetQueueUrl",
                       "ListDeadLetterSourceQueues", "PurgeQueue", "ReceiveMessage", "SendMessage"})
MAX_ACTIONS = 7


def _one_or_many(values: list[str]) -> str | list[str]:
    # AWS writes a single principal or action as a string, several as a list.
    return values[0] if len(values) == 1 else values


def add(policy_text: str | None, queue_arn: str, label: str, accounts: Sequence[str],
        actions: Sequence[str]) -> str:
    """The queue's policy with statement `label` granting `actions` to `accounts`. A policy AddPermission
    starts has AWS's Version 2008-10-17 and Id `<queue ARN>/SQSDefaultPolicy`."""
    if not actions:
        raise missing_param("Actions")
    if not accounts:
        raise invalid_param("Value [] for parameter PrincipalId is invalid. Reason: Unable to verify.")
    if len(actions) > MAX_ACTIONS:
        # OverLimit is a 403 in SQS's query error table (awsQueryError OverLimit, httpResponseCode 403), like
        # PurgeQueueInProgress: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_AddPermission.html
        raise sqs_error("OverLimit", f"{len(actions)} Actions were found, maximum allowed is {MAX_ACTIONS}.", 403)
    owner_only = next((a for a in actions if a not in SHAREABLE), None)
    if owner_only is not None:
        raise invalid_param(f"Value SQS:{owner_only} for parameter ActionName is invalid. Reason: Only the queue "
                            "owner is allowed to invoke this action.")
    policy: dict[str, Any] = json.loads(policy_text) if policy_text else {
        "Version": "2008-10-17", "Id": f"{queue_arn}/SQSDefaultPolicy", "Statement": []}
    statements = policy.get("Statement")
    if not isinstance(statements, list):
        statements = [statements] if isinstance(statements, dict) else []
    if any(isinstance(s, dict) and s.get("Sid") == label for s in statements):
        raise invalid_param(f"Value {label} for parameter Label is invalid. Reason: Already exists.")
    statements.append({
        "Sid": label, "Effect": "Allow",
        "Principal": {"AWS": _one_or_many([f"arn:aws:iam::{a}:root" for a in accounts])},
        "Action": _one_or_many([f"SQS:{a}" for a in actions]), "Resource": queue_arn,
    })
    policy["Statement"] = statements
    return json.dumps(policy, separators=(",", ":"))


def remove(policy_text: str | None, label: str) -> str | None:
    """The policy without statement `label` (None once no statement is left)."""
    policy: dict[str, Any] = json.loads(policy_text) if policy_text else {"Statement": []}
    statements = policy.get("Statement")
    if not isinstance(statements, list):
        statements = [statements] if isinstance(statements, dict) else []
    kept = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == label)]
    if len(kept) == len(statements):
        raise invalid_param(f"Value {label} for parameter Label is invalid. Reason: can't find label.")
    return json.dumps({**policy, "Statement": kept}, separators=(",", ":")) if kept else None
