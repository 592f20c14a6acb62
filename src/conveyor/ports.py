"""Small interfaces through which one service asks another, without reaching into its internals."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class PolicyHolder(Protocol):
    """A service whose resources carry resource-based policies (SQS queues, SNS topics).

    S3 asks it, before it accepts a bucket notification, whether a destination exists and whether its
    policy lets S3 deliver there (conveyor.resource_policy evaluates the document).
    """

    def resource_exists(self, arn: str) -> bool:
        """Whether `arn` names a resource of this service."""
        ...

    def resource_policy(self, arn: str) -> str | None:
        """The resource's policy document as JSON text (the effective one, defaults included), or
        None when it has none."""
        ...
