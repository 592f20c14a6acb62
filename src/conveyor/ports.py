"""Small interfaces through which one service asks another, without reaching into its internals."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class Credential:
    """A signing key and whose it is: what the gateway needs to verify a signature and name the caller."""

    access_key: str
    secret_key: str
    account_id: str
    principal_arn: str  # arn:aws:iam::ACCOUNT:user/PATH/NAME, or arn:aws:iam::ACCOUNT:root
    user_id: str  # the principal's unique id (AIDA... for users, the account id for the root user)
    session_token: str | None = None  # temporary credentials carry one


@runtime_checkable
class CredentialSource(Protocol):
    """A service that issues signing keys (IAM's access keys), asked for keys the configuration does not
    hold."""

    def secret_for(self, access_key: str) -> Credential | None:
        """The credential of an active key; None when the key is unknown or inactive."""
        ...

    def note_used(self, access_key: str, service: str, region: str) -> None:
        """A request signed with the key was accepted (for GetAccessKeyLastUsed)."""
        ...
