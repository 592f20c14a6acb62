"""IAM (query protocol): users, groups, roles, managed and inline policies, instance profiles, access keys.

The operations live in two groups (identity_api, policy_api) over the rules (identities, policies,
keys) and the store; this class wires them (the gateway finds the operations through
`operation_groups`), answers the gateway's credential questions (conveyor.ports.CredentialSource) and
STS's questions about roles (conveyor.ports.RoleDirectory), and owns the lifecycle.
"""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel

from conveyor.authz import Need
from conveyor.ports import Credential, InstanceProfileRecord, Permissions, Ports, RoleRecord
from conveyor.protocol.constraints import IAM_FAMILY
from conveyor.services.base import Environment, Service
from conveyor.services.iam import authorization, errors
from conveyor.services.iam.core import Core
from conveyor.services.iam.grants import Grants
from conveyor.services.iam.identities import Identities
from conveyor.services.iam.identity_api import IdentityOperations
from conveyor.services.iam.keys import AccessKeys
from conveyor.services.iam.policies import Policies
from conveyor.services.iam.policy_api import PolicyOperations
from conveyor.services.iam.store import IamStore
from conveyor.wire import Caller, RequestContext

# What another account's caller would create in its own account (Conveyor holds one account).
_CREATES = frozenset({"CreateUser", "CreateRole", "CreateGroup", "CreateInstanceProfile", "CreatePolicy",
            "CreateServiceLinkedRole", "CreateOpenIDConnectProvider", "CreateSAMLProvider", "CreateAccountAlias"})


class IamService(Service):
    name = "iam"
    other_accounts_own_nothing = True  # another account's caller: in its own account, empty here
    # Its names are entities of its own account: NoSuchEntity, as for any missing one, in the precedence
    # authorization.needs gives them (https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html).
    other_account_names = (("InstanceProfileName", lambda ctx, name: errors.no_profile(name)),
                           ("GroupName", lambda ctx, name: errors.no_group(name)),
                           ("RoleName", lambda ctx, name: errors.no_role(name)),
                           ("UserName", lambda ctx, name: errors.no_user(name)))
    other_account_creates = _CREATES
    regional = False
    validation_codes = IAM_FAMILY

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.store: IamStore | None = None
        self.keys: AccessKeys | None = None
        self.core: Core | None = None
        self.identities: Identities | None = None
        self.grants: Grants | None = None
        self.policy_operations: PolicyOperations | None = None

    def provide(self, ports: Ports) -> None:
        ports.credential_sources.append(self)
        ports.roles = self
        ports.permissions = self
        ports.policy_holders["iam"] = self

    async def start(self) -> None:
        self.store = IamStore(self.config.service_dir("iam") / "iam.db", self.env.disk)
        core = Core(self.store, self.config.account_id, self.clock)
        if self.store.meta("created") is None:  # the account's creation, which GetUser shows for root
            await self.store.set_meta("created", repr(self.clock.now()))
        policies = Policies(core)
        self.keys = AccessKeys(core)
        self.core, self.identities = core, Identities(core, policies)
        self.grants = Grants(core, policies)
        identity = IdentityOperations(core, self.identities, self.keys)
        self.policy_operations = PolicyOperations(core, policies, identity)
        self.operation_groups = (identity, self.policy_operations)

    async def stop(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    async def reset(self) -> None:
        if self.store is not None:
            await self.store.wipe()
            await self.store.set_meta("created", repr(self.clock.now()))
        if self.keys is not None:
            self.keys.recent.clear()

    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        if self.core is None:
            return [Need(self.iam_action(operation.name))]
        return authorization.needs(self.core, ctx, operation.name, params)

    # -- another account's caller (conveyor.authz.other_accounts) --------------------------------------
    def account_free(self, operation: str, params: dict[str, Any]) -> bool:
        """AWS managed policies are everyone's to read (their ARNs name the account `aws`)."""
        policy = params.get("PolicyArn")
        return (operation in ("GetPolicy", "GetPolicyVersion", "ListPolicyVersions") and isinstance(policy, str)
                and policy.startswith("arn:aws:iam::aws:policy/"))

    def answer_for_other_account(self, ctx: RequestContext, operation: OperationModel,
                                 params: dict[str, Any]) -> dict[str, Any] | None:
        caller = ctx.principal
        if operation.name == "GetUser" and not params.get("UserName") and caller is not None:
            # The root user asking for itself: its account's root, as for the owner (identity_api.GetUser).
            return {"User": {"UserId": caller.account_id, "Arn": caller.arn, "CreateDate": self.clock.now()}}
        if operation.name == "ListPolicies" and self.policy_operations is not None:
            return self.policy_operations.aws_managed_only(params)
        return None

    def health(self) -> dict[str, object]:
        return {"status": "running" if self.store is not None else "stopped"}

    # -- conveyor.ports.CredentialSource ---------------------------------------------------------
    def secret_for(self, access_key: str) -> Credential | None:
        return self.keys.credential(access_key) if self.keys is not None else None

    def note_used(self, access_key: str, service: str, region: str) -> None:
        if self.keys is not None:
            self.keys.note_used(access_key, service, region)

    # -- conveyor.ports.PermissionSource and PolicyHolder (the enforcer's questions) -------------------
    def generation(self) -> int:
        return self.grants.generation() if self.grants is not None else 0

    def permissions_of(self, caller: Caller) -> Permissions:
        return self.grants.permissions_of(caller) if self.grants is not None else Permissions()

    def resource_exists(self, arn: str) -> bool:
        return self.grants is not None and self.grants.resource_exists(arn)

    def resource_policy(self, arn: str) -> str | None:
        return self.grants.resource_policy(arn) if self.grants is not None else None

    # -- conveyor.ports.RoleDirectory ------------------------------------------------------------
    def role_by_arn(self, arn: str) -> RoleRecord | None:
        core = self.core
        if core is None or not arn.startswith(f"arn:aws:iam::{core.account}:role/"):
            return None
        role = core.store.role(arn.rpartition("/")[2])
        if role is None or core.role_arn(role) != arn:  # the path is part of the ARN
            return None
        return RoleRecord(core.role_arn(role), role.id, role.name, role.trust, role.max_session,
                          {tag["Key"]: tag["Value"] for tag in role.tags})

    def instance_profile(self, name: str) -> InstanceProfileRecord | None:
        core = self.core
        if core is None:
            return None
        profile = core.store.profile(name)
        if profile is None:
            return None
        roles = core.store.profile_roles(profile.name)
        role = core.store.role(roles[0]) if roles else None
        return InstanceProfileRecord(core.profile_arn(profile),
                                     profile.id, profile.name, core.role_arn(role) if role is not None else None)

    async def role_used(self, arn: str, region: str) -> None:
        role = self.role_by_arn(arn)
        if role is not None and self.identities is not None:
            await self.identities.role_used(role.name, region)
