"""IAM's entities as stored: users, groups, roles, managed policies and their versions, instance profiles,
access keys. IAM is global: ARNs carry the account and no region (`arn:aws:iam::ACCOUNT:role/PATH/NAME`).
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field

Tags = list[dict[str, str]]  # [{"Key": ..., "Value": ...}], in the order given

# Unique-ID prefixes IAM uses for each kind of entity (reference_identifiers.html#identifiers-unique-ids).
ID_PREFIXES = {"user": "AIDA", "group": "AGPA", "role": "AROA", "policy": "ANPA", "instance-profile": "AIPA",
               "access-key": "AKIA"}
_ID_CHARS = string.ascii_uppercase + "234567"
_SECRET_CHARS = string.ascii_letters + string.digits + "+/"


def new_id(kind: str) -> str:
    """A unique ID in IAM's form: a kind prefix then 17 characters (16 for access key ids)."""
    length = 16 if kind == "access-key" else 17
    return ID_PREFIXES[kind] + "".join(secrets.choice(_ID_CHARS) for _ in range(length))


def new_secret() -> str:
    return "".join(secrets.choice(_SECRET_CHARS) for _ in range(40))


def arn(account: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


@dataclass(frozen=True)
class User:
    name: str
    path: str
    id: str
    created: float
    boundary: str | None = None
    tags: Tags = field(default_factory=list)


@dataclass(frozen=True)
class Group:
    name: str
    path: str
    id: str
    created: float


@dataclass(frozen=True)
class Role:
    name: str
    path: str
    id: str
    created: float
    trust: str  # the AssumeRolePolicyDocument, as given
    description: str | None = None
    max_session: int = 3600
    boundary: str | None = None
    tags: Tags = field(default_factory=list)
    last_used: float | None = None
    last_used_region: str | None = None


@dataclass(frozen=True)
class ManagedPolicy:
    name: str
    path: str
    id: str
    arn: str
    created: float
    updated: float
    default_version: str
    description: str | None = None
    tags: Tags = field(default_factory=list)
    aws_managed: bool = False


@dataclass(frozen=True)
class PolicyVersion:
    version: str
    document: str
    created: float


@dataclass(frozen=True)
class InstanceProfile:
    name: str
    path: str
    id: str
    created: float
    tags: Tags = field(default_factory=list)


@dataclass(frozen=True)
class AccessKey:
    id: str
    secret: str
    user: str | None  # None: a key of the account's root user
    status: str
    created: float
    last_used: float | None = None
    last_service: str | None = None
    last_region: str | None = None
