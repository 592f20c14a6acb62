"""What IAM's parts share: the store, the account, the clock, one lock for changes, and entity lookups.

Every change runs under the lock, so a check and the write that depends on it ("no role by that name"
then "create it") cannot interleave with another request's; IAM's traffic is small, its rules many.
"""

from __future__ import annotations

import asyncio

from conveyor.clock import Clock
from conveyor.policy import PolicyError, Use, check
from conveyor.services.iam import errors
from conveyor.services.iam.entities import Group, InstanceProfile, Role, User, arn
from conveyor.services.iam.store import IamStore

ENTITY_KINDS = ("user", "group", "role")


class Core:
    def __init__(self, store: IamStore, account: str, clock: Clock) -> None:
        self.store = store
        self.account = account
        self.clock = clock
        self.lock = asyncio.Lock()

    def now(self) -> float:
        return self.clock.now()

    # -- ARNs --------------------------------------------------------------------------------------
    def user_arn(self, user: User) -> str:
        return arn(self.account, "user", user.path, user.name)

    def group_arn(self, group: Group) -> str:
        return arn(self.account, "group", group.path, group.name)

    def role_arn(self, role: Role) -> str:
        return arn(self.account, "role", role.path, role.name)

    def profile_arn(self, profile: InstanceProfile) -> str:
        return arn(self.account, "instance-profile", profile.path, profile.name)

    def policy_arn(self, path: str, name: str) -> str:
        return arn(self.account, "policy", path, name)

    # -- lookups that fail as IAM does ---------------------------------------------------------------
    def user(self, name: str) -> User:
        found = self.store.user(name)
        if found is None:
            raise errors.no_user(name)
        return found

    def group(self, name: str) -> Group:
        found = self.store.group(name)
        if found is None:
            raise errors.no_group(name)
        return found

    def role(self, name: str) -> Role:
        found = self.store.role(name)
        if found is None:
            raise errors.no_role(name)
        return found

    def profile(self, name: str) -> InstanceProfile:
        found = self.store.profile(name)
        if found is None:
            raise errors.no_profile(name)
        return found

    def entity(self, kind: str, name: str) -> User | Group | Role:
        """The user, group or role `name`; its stored name is the one to key by."""
        if kind == "user":
            return self.user(name)
        if kind == "group":
            return self.group(name)
        return self.role(name)

    def principal_exists(self, principal_arn: str) -> bool:
        """Whether a principal ARN of this account names a user or role that exists (other accounts'
        principals cannot be checked here and are taken as given)."""
        parts = principal_arn.split(":", 5)
        if len(parts) != 6 or parts[4] != self.account or parts[2] != "iam":
            return True
        kind, _, rest = parts[5].partition("/")
        name = rest.rpartition("/")[2]
        if kind == "user":
            found = self.store.user(name)
            return found is not None and self.user_arn(found) == principal_arn
        if kind == "role":
            role = self.store.role(name)
            return role is not None and self.role_arn(role) == principal_arn
        return True


def validated(text: str, use: Use, core: Core | None = None) -> None:
    """MalformedPolicyDocument unless the document is well formed for its use."""
    try:
        check(text, use, core.principal_exists if core is not None and use == Use.TRUST else None)
    except PolicyError as exc:
        raise errors.malformed(exc.message)


def policy_size(document: str) -> int:
    """A document's size as IAM counts it against its quotas: without white space.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-entity-length"""
    return sum(1 for char in document if not char.isspace())
