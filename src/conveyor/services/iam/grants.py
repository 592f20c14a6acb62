"""Which policies apply to a caller, for the enforcer (conveyor.ports.PermissionSource), and a role's
trust policy as its resource-based policy (conveyor.ports.PolicyHolder, for sts:AssumeRole).

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
- An IAM user: its inline policies, the managed policies attached to it, and the inline and attached
  policies of each group it belongs to; its permissions boundary.
- A role session: the role's inline and attached policies, its permissions boundary, and the session
  policies given to AssumeRole (inline `Policy` and managed `PolicyArns`), which can only narrow them
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session).
- Temporary credentials of a user (GetSessionToken) carry the user's permissions.
A user or role that no longer exists has no policies at all.
"""

from __future__ import annotations

from conveyor.ports import Permissions
from conveyor.services.iam.core import Core
from conveyor.services.iam.policies import Policies
from conveyor.wire import Caller


class Grants:
    def __init__(self, core: Core, policies: Policies) -> None:
        self.core = core
        self.store = core.store
        self.policies = policies

    def generation(self) -> int:
        return self.store.generation

    def _managed(self, arn: str) -> str | None:
        policy = self.policies.find(arn)
        return self.policies.default_document(policy) if policy is not None else None

    def _of(self, kind: str, name: str) -> list[str]:
        documents = [document for _, document in self.store.inline_all(kind, name)]
        for arn in self.store.attached(kind, name):
            document = self._managed(arn)
            if document is not None:
                documents.append(document)
        return documents

    def permissions_of(self, caller: Caller) -> Permissions:
        session: tuple[str, ...] | None = None
        if caller.session_policy is not None or caller.session_policy_arns:
            listed = [caller.session_policy] if caller.session_policy is not None else []
            listed += [d for d in (self._managed(arn) for arn in caller.session_policy_arns) if d is not None]
            session = tuple(listed)
        if caller.kind == "user":
            user = self.store.user(caller.arn.rpartition("/")[2])
            if user is None or self.core.user_arn(user) != caller.arn:
                return Permissions(session=session)
            documents = self._of("user", user.name)
            for group in self.store.groups_of(user.name):
                documents += self._of("group", group)
            boundary = self._managed(user.boundary) if user.boundary else None
            return Permissions(tuple(documents), boundary, session)
        if caller.kind == "assumed-role" and caller.role_arn:
            role = self.store.role(caller.role_arn.rpartition("/")[2])
            if role is None or self.core.role_arn(role) != caller.role_arn:
                return Permissions(session=session)
            boundary = self._managed(role.boundary) if role.boundary else None
            return Permissions(tuple(self._of("role", role.name)), boundary, session)
        return Permissions(session=session)

    # -- a role's trust policy (ports.PolicyHolder, kind "iam") ----------------------------------------
    def resource_exists(self, arn: str) -> bool:
        return self.resource_policy(arn) is not None

    def resource_policy(self, arn: str) -> str | None:
        """A role's trust policy: the resource-based policy sts:AssumeRole is judged by (other IAM
        resources have none)."""
        if ":role/" not in arn:
            return None
        role = self.store.role(arn.rpartition("/")[2])
        return role.trust if role is not None and self.core.role_arn(role) == arn else None
