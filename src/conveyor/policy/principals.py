"""Who makes a request, and whether a policy's Principal element names them.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
- `"*"` and `{"AWS": "*"}` are everyone, anonymous callers included.
- `{"AWS": "123456789012"}` and `{"AWS": "arn:aws:iam::123456789012:root"}` are the account: every
  principal of it, for whom the account's own identity policies then decide.
- `{"AWS": user ARN}` is that user; a role ARN is every session of that role; an assumed-role session
  ARN (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`) is that session alone.
- `{"Service": "s3.amazonaws.com"}` is a service acting on its own; `{"Federated": provider}` a caller
  federated through that identity provider.
- Wildcards do not work inside a principal ARN: only the whole value "*" is special.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

PrincipalKind = Literal["root", "user", "role-session", "federated-user", "web-identity", "service", "anonymous"]

# aws:PrincipalType for each kind.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principaltype
_PRINCIPAL_TYPES = {"root": "Account", "user": "User", "role-session": "AssumedRole",
                    "federated-user": "FederatedUser", "web-identity": "AssumedRole", "anonymous": "Anonymous"}


class Match(enum.IntEnum):
    """How a Principal element names the caller, weakest first (the evaluator treats them apart)."""

    ACCOUNT = 1  # the caller's account: a delegation to its identity policies
    EVERYONE = 2  # "*"
    ROLE = 3  # the role whose session calls
    NAMED = 4  # the caller itself: user, session, service, federated identity


@dataclass(frozen=True)
class Principal:
    """The caller, as policies see it."""

    kind: PrincipalKind
    arn: str = "*"  # what the caller acts as: user, session or root ARN; the service name for services
    account: str | None = None
    role_arn: str | None = None  # for role sessions: the role's ARN, which is aws:PrincipalArn
    name: str | None = None  # aws:username, for IAM users
    user_id: str | None = None  # aws:userid
    provider: str | None = None  # for web identities: the Federated provider they came through
    tags: Mapping[str, str] = field(default_factory=dict)  # aws:PrincipalTag/KEY

    # -- constructors --------------------------------------------------------------------------------
    @classmethod
    def anonymous(cls) -> Principal:
        return cls("anonymous")

    @classmethod
    def service(cls, name: str) -> Principal:
        return cls("service", arn=name)

    @classmethod
    def root(cls, account: str) -> Principal:
        return cls("root", arn=f"arn:aws:iam::{account}:root", account=account, user_id=account)

    @classmethod
    def user(cls, arn: str, user_id: str | None = None, tags: Mapping[str, str] | None = None) -> Principal:
        return cls("user", arn=arn, account=_account_of(arn), name=arn.rpartition("/")[2], user_id=user_id,
                   tags=dict(tags or {}))

    @classmethod
    def role_session(cls, role_arn: str, session: str, role_id: str | None = None,
                     tags: Mapping[str, str] | None = None) -> Principal:
        account = _account_of(role_arn)
        role_name = role_arn.rpartition("/")[2]
        return cls("role-session", arn=f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}",
                   account=account, role_arn=role_arn, user_id=f"{role_id}:{session}" if role_id else None,
                   tags=dict(tags or {}))

    @classmethod
    def from_arn(cls, arn: str) -> Principal:
        """A caller known only by its ARN (or account id)."""
        if arn.isdigit():
            return cls.root(arn)
        account = _account_of(arn) or ""
        resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
        if resource == "root":
            return cls.root(account)
        if resource.startswith("user/"):
            return cls.user(arn)
        if resource.startswith("assumed-role/"):
            _, role, session = (resource.split("/", 2) + ["", ""])[:3]
            return cls.role_session(f"arn:aws:iam::{account}:role/{role}", session)
        if resource.startswith("role/"):
            return cls.role_session(arn, "session")
        if resource.startswith("federated-user/"):
            return cls("federated-user", arn=arn, account=account)
        return cls("user", arn=arn, account=account or None)

    # -- what policies read ---------------------------------------------------------------------------
    @property
    def principal_arn(self) -> str:
        """aws:PrincipalArn: a session's role, anyone else's own ARN."""
        return self.role_arn or self.arn

    def context(self) -> dict[str, str]:
        """The global condition keys the caller brings to every request.
        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html"""
        if self.kind == "service":
            return {"aws:PrincipalIsAWSService": "true"}
        keys = {"aws:PrincipalIsAWSService": "false"}
        if self.kind == "anonymous":
            return keys
        keys["aws:PrincipalArn"] = self.principal_arn
        keys["aws:PrincipalType"] = _PRINCIPAL_TYPES[self.kind]
        if self.account:
            keys["aws:PrincipalAccount"] = self.account
        if self.name and self.kind == "user":
            keys["aws:username"] = self.name
        if self.user_id:
            keys["aws:userid"] = self.user_id
        for tag, value in self.tags.items():
            keys[f"aws:PrincipalTag/{tag}"] = value
        return keys

    def display(self) -> str:
        """How denial messages name the caller."""
        return "anonymous" if self.kind == "anonymous" else self.arn


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4].isdigit() else None


def _values(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def match(element: object, principal: Principal) -> Match | None:
    """How strongly `element` (a Principal or NotPrincipal value) names `principal`; None if not at all."""
    if element == "*":
        return Match.EVERYONE
    if not isinstance(element, dict):
        return None
    best: Match | None = None

    def better(found: Match) -> None:
        nonlocal best
        if best is None or found > best:
            best = found

    for kind, raw in element.items():
        values = _values(raw)
        if kind == "AWS":
            for value in values:
                found = _match_aws(value, principal)
                if found is not None:
                    better(found)
        elif (kind == "Service" and principal.kind == "service" and principal.arn in values) or (
                kind == "Federated" and principal.kind == "web-identity" and principal.provider in values):
            better(Match.NAMED)
    return best


def _match_aws(value: str, principal: Principal) -> Match | None:
    if value == "*":
        return Match.EVERYONE
    if principal.kind in ("service", "anonymous", "web-identity"):
        return None
    if value == principal.arn:
        return Match.NAMED
    if principal.role_arn is not None and value == principal.role_arn:
        return Match.ROLE
    account = value if value.isdigit() and len(value) == 12 else None
    if account is None and value.startswith("arn:") and value.endswith(":root"):
        account = _account_of(value)
    if account is not None and account == principal.account:
        return Match.ACCOUNT
    return None
