"""What one operation asks IAM for: an action on a resource, with the request's own condition keys.

Each service names the needs of its operations (conveyor.services.base.Service.iam_requests); the
enforcer judges them against the caller's policies and the resource's. A leaf: it imports nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Context = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True, slots=True)
class Need:
    """One authorization the request needs, as AWS's Service Authorization Reference names it."""

    action: str  # "s3:GetObject", as the reference spells it
    resource: str = "*"  # the ARN acted on; "*" for actions that take no resource
    context: Context | None = None  # service-specific condition keys: s3:prefix, iam:PassedToService...
    # One item of a batch the service answers item by item (DeleteObjects' keys): a denial refuses that
    # item, reported in the answer, not the whole request.
    item: str | None = None


def arn_account(arn: str) -> str | None:
    """The account an ARN names (S3's bucket ARNs name none: the bucket owner's, which is the caller's here)."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4].isdigit() else None


def arn_service(arn: str) -> str | None:
    parts = arn.split(":", 3)
    return parts[2] if len(parts) == 4 and parts[0] == "arn" else None
