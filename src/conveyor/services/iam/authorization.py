"""What each IAM operation asks IAM itself for (`--iam report|enforce`).

https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html
- An operation acts on the entity it names, by its ARN with the entity's path
  (`arn:aws:iam::ACCOUNT:role/PATH/NAME`): an instance profile before a group, a group before a role, a
  role before a user (AddUserToGroup acts on the group, AttachRolePolicy on the role), a managed policy
  last; CreatePolicy acts on the ARN the policy will have.
- Attaching and detaching a managed policy carry iam:PolicyARN; setting a permissions boundary (also at
  CreateUser and CreateRole) carries iam:PermissionsBoundary.
- AddRoleToInstanceProfile also needs iam:PassRole on the role
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2_instance-profiles.html).
- The operations on "your own" user (GetUser, CreateAccessKey... without UserName) act on the caller.
- Listings that name no entity act on "*".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.authz import Need
from conveyor.services.iam.core import Core
from conveyor.services.iam.entities import arn
from conveyor.wire import RequestContext

# The parameter naming an operation's resource, by precedence, and the ARN kind it names.
_ENTITY_PARAMS = (("InstanceProfileName", "instance-profile"), ("GroupName", "group"), ("RoleName", "role"),
                  ("UserName", "user"))
_POLICY_CONTEXT = {"AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy",
                   "AttachGroupPolicy", "DetachGroupPolicy"}
_SELF = {"GetUser", "CreateAccessKey", "ListAccessKeys", "DeleteAccessKey", "UpdateAccessKey", "ChangePassword",
         "ListSigningCertificates", "ListSSHPublicKeys", "ListMFADevices", "ListServiceSpecificCredentials"}


def _path_of(core: Core, kind: str, name: str) -> str | None:
    """The stored entity's path, when it exists (its ARN includes it)."""
    found: Any = {"user": core.store.user, "role": core.store.role, "group": core.store.group,
                  "instance-profile": core.store.profile}[kind](name)
    return str(found.path) if found is not None else None


def entity_arn(core: Core, kind: str, name: str, given_path: str | None = None) -> str:
    stored = _path_of(core, kind, name)
    return arn(core.account, kind, stored or given_path or "/", name)


def needs(core: Core, ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> list[Need]:
    action = f"iam:{operation}"
    context: dict[str, str] = {}
    if operation in _POLICY_CONTEXT and isinstance(params.get("PolicyArn"), str):
        context["iam:PolicyARN"] = params["PolicyArn"]
    if isinstance(params.get("PermissionsBoundary"), str):
        context["iam:PermissionsBoundary"] = params["PermissionsBoundary"]
    path = params.get("Path") if isinstance(params.get("Path"), str) else None
    if operation == "CreatePolicy":
        return [Need(action, arn(core.account, "policy", path or "/", str(params.get("PolicyName", ""))))]
    for param, kind in _ENTITY_PARAMS:
        name = params.get(param)
        if isinstance(name, str):
            out = [Need(action, entity_arn(core, kind, name, path), context or None)]
            role = params.get("RoleName")
            if operation == "AddRoleToInstanceProfile" and isinstance(role, str):
                out.append(Need("iam:PassRole", entity_arn(core, "role", role),
                                {"iam:PassedToService": "ec2.amazonaws.com"}))
            return out
    for param in ("PolicyArn", "OpenIDConnectProviderArn", "SAMLProviderArn", "PolicySourceArn"):
        value = params.get(param)
        if isinstance(value, str):
            return [Need(action, value, context or None)]
    caller = ctx.principal
    if operation in _SELF and caller is not None and caller.kind == "user":
        return [Need(action, caller.arn)]
    return [Need(action)]
