"""Small interfaces through which one service asks another, without reaching into its internals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from conveyor.caller import Caller


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
    caller: Caller
    session_token: str | None = None  # temporary credentials are accepted only with their token
    expiration: float | None = None  # and only until then (the server's clock)


@runtime_checkable
class CredentialSource(Protocol):
    """A service that issues signing keys (IAM's access keys, STS's temporary credentials), asked for keys
    the configuration does not hold."""

    def secret_for(self, access_key: str) -> Credential | None:
        """The credential of an active key; None when the key is unknown or inactive."""
        ...

    def note_used(self, access_key: str, service: str, region: str) -> None:
        """A request signed with the key was accepted (for GetAccessKeyLastUsed)."""
        ...


@dataclass(frozen=True)
class RoleRecord:
    """A role as STS needs it to make a session of it."""

    arn: str
    role_id: str  # AROA...
    name: str
    trust_policy: str  # the AssumeRolePolicyDocument
    max_session: int  # MaxSessionDuration, seconds
    tags: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class RoleDirectory(Protocol):
    """IAM, as STS asks it about the roles it makes sessions of."""

    def role_by_arn(self, arn: str) -> RoleRecord | None:
        """The role the ARN names (path included), or None when there is none."""
        ...

    async def role_used(self, arn: str, region: str) -> None:
        """A session of the role was made (the role's RoleLastUsed)."""
        ...


@dataclass(frozen=True)
class SessionCredentials:
    """Temporary credentials of a role session, as a function's or a worker's environment gets them."""

    access_key: str
    secret_key: str
    session_token: str
    expiration: float  # the server's clock
    arn: str  # arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION

    def environment(self) -> dict[str, str]:
        """The variables every AWS SDK and the AWS CLI read first."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_SESSION_TOKEN": self.session_token}


class RoleNotAssumable(Exception):
    """The role does not exist, or its trust policy does not let the service assume it."""


@runtime_checkable
class RoleSessions(Protocol):
    """STS, as the services that run code ask it for credentials of a role: Lambda for a function's
    execution role (service principal lambda.amazonaws.com), worker pools for an instance role
    (ec2.amazonaws.com)."""

    def assumable_by(self, role_arn: str, service: str) -> bool:
        """Whether the role exists and its trust policy lets `service` assume it."""
        ...

    async def service_session(self, role_arn: str, service: str, session_name: str, duration: int,
                              region: str) -> SessionCredentials:
        """A new session of the role for `service`, valid `duration` seconds (used from `region`);
        RoleNotAssumable when it may not have one."""
        ...
