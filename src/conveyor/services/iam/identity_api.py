"""IAM operations on users, groups, roles, instance profiles and access keys: wire dicts in and out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.services.iam import errors, wire
from conveyor.services.iam.core import Core
from conveyor.services.iam.entities import Tags
from conveyor.services.iam.identities import Identities
from conveyor.services.iam.keys import AccessKeys
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_iam.type_defs import (
        AddRoleToInstanceProfileRequestTypeDef,
        AddUserToGroupRequestTypeDef,
        CreateAccessKeyRequestTypeDef,
        CreateGroupRequestTypeDef,
        CreateInstanceProfileRequestTypeDef,
        CreateRoleRequestTypeDef,
        CreateUserRequestTypeDef,
        DeleteAccessKeyRequestTypeDef,
        DeleteGroupRequestTypeDef,
        DeleteInstanceProfileRequestTypeDef,
        DeleteRolePermissionsBoundaryRequestTypeDef,
        DeleteRoleRequestTypeDef,
        DeleteUserPermissionsBoundaryRequestTypeDef,
        DeleteUserRequestTypeDef,
        GetAccessKeyLastUsedRequestTypeDef,
        GetGroupRequestTypeDef,
        GetInstanceProfileRequestTypeDef,
        GetRoleRequestTypeDef,
        GetUserRequestTypeDef,
        ListAccessKeysRequestTypeDef,
        ListGroupsForUserRequestTypeDef,
        ListGroupsRequestTypeDef,
        ListInstanceProfilesForRoleRequestTypeDef,
        ListInstanceProfilesRequestTypeDef,
        ListInstanceProfileTagsRequestTypeDef,
        ListRolesRequestTypeDef,
        ListRoleTagsRequestTypeDef,
        ListUsersRequestTypeDef,
        ListUserTagsRequestTypeDef,
        PutRolePermissionsBoundaryRequestTypeDef,
        PutUserPermissionsBoundaryRequestTypeDef,
        RemoveRoleFromInstanceProfileRequestTypeDef,
        RemoveUserFromGroupRequestTypeDef,
        TagInstanceProfileRequestTypeDef,
        TagRoleRequestTypeDef,
        TagUserRequestTypeDef,
        UntagInstanceProfileRequestTypeDef,
        UntagRoleRequestTypeDef,
        UntagUserRequestTypeDef,
        UpdateAccessKeyRequestTypeDef,
        UpdateAssumeRolePolicyRequestTypeDef,
        UpdateGroupRequestTypeDef,
        UpdateRoleDescriptionRequestTypeDef,
        UpdateRoleRequestTypeDef,
        UpdateUserRequestTypeDef,
    )

Params = Mapping[str, Any]  # a request's members, for helpers several operations share
Out = dict[str, Any]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


def by_name(item: _Named) -> str:
    """IAM lists entities by name, whatever its case."""
    return item.name.lower()


def in_path(path: str, prefix: str | None) -> bool:
    return prefix is None or path.startswith(prefix)


@dataclass(frozen=True)
class Caller:
    arn: str
    user: str | None  # the IAM user signing, None for the account's root user and role sessions
    session: bool = False  # a role session


class IdentityOperations:
    def __init__(self, core: Core, identities: Identities, keys: AccessKeys) -> None:
        self.core = core
        self.store = core.store
        self.identities = identities
        self.keys = keys

    def caller(self, ctx: RequestContext) -> Caller:
        """Who signed, as the gateway found out: an IAM user (by one of its keys, or a session of it), a role
        session, else the account's root user."""
        principal = ctx.principal
        if principal is None or principal.kind == "root":
            return Caller(f"arn:aws:iam::{self.core.account}:root", None)
        if principal.kind == "user":
            return Caller(principal.arn, principal.arn.rpartition("/")[2])
        return Caller(principal.arn, None, session=True)

    def own_user(self, ctx: RequestContext) -> str | None:
        """The signing user, for operations that default to it (None: the root user). A role session has
        no user of its own and must name one, as IAM answers it
        (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetUser.html)."""
        caller = self.caller(ctx)
        if caller.session:
            raise errors.validation("Must specify userName when calling with non-User credentials")
        return caller.user

    def _tags_page(self, items: Tags, params: Params) -> Out:
        chosen, more = wire.page(items, lambda t: t["Key"].lower(), params.get("Marker"), params.get("MaxItems"))
        return {"Tags": chosen, **more}

    # -- users -----------------------------------------------------------------------------------
    async def CreateUser(self, ctx: RequestContext, params: CreateUserRequestTypeDef) -> Out:
        user = await self.identities.create_user(params["UserName"], params.get("Path", "/"),
                                                 params.get("PermissionsBoundary"), params.get("Tags"))
        return {"User": wire.user(self.core, user)}

    async def GetUser(self, ctx: RequestContext, params: GetUserRequestTypeDef) -> Out:
        # No UserName: the user whose key signed the request; the root user answers with its account.
        # https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetUser.html
        name = params.get("UserName") or self.own_user(ctx)
        if name is None:
            created = float(self.store.meta("created") or self.core.now())
            return {"User": {"UserId": self.core.account, "Arn": f"arn:aws:iam::{self.core.account}:root",
                             "CreateDate": created}}
        return {"User": wire.user(self.core, self.core.user(name))}

    async def ListUsers(self, ctx: RequestContext, params: ListUsersRequestTypeDef) -> Out:
        users = [u for u in self.store.users() if in_path(u.path, params.get("PathPrefix"))]
        chosen, more = wire.page(users, by_name, params.get("Marker"), params.get("MaxItems"))
        return {"Users": [wire.user(self.core, u, full=False) for u in chosen], **more}

    async def UpdateUser(self, ctx: RequestContext, params: UpdateUserRequestTypeDef) -> Out:
        await self.identities.update_user(params["UserName"], params.get("NewUserName"), params.get("NewPath"))
        return {}

    async def DeleteUser(self, ctx: RequestContext, params: DeleteUserRequestTypeDef) -> Out:
        await self.identities.delete_user(params["UserName"])
        return {}

    async def PutUserPermissionsBoundary(self, ctx: RequestContext, params: PutUserPermissionsBoundaryRequestTypeDef) -> Out:
        await self.identities.set_user_boundary(params["UserName"], params["PermissionsBoundary"])
        return {}

    async def DeleteUserPermissionsBoundary(self, ctx: RequestContext, params: DeleteUserPermissionsBoundaryRequestTypeDef) -> Out:
        await self.identities.set_user_boundary(params["UserName"], None)
        return {}

    async def TagUser(self, ctx: RequestContext, params: TagUserRequestTypeDef) -> Out:
        await self.identities.tag_user(params["UserName"], params["Tags"])
        return {}

    async def UntagUser(self, ctx: RequestContext, params: UntagUserRequestTypeDef) -> Out:
        await self.identities.tag_user(params["UserName"], None, params["TagKeys"])
        return {}

    async def ListUserTags(self, ctx: RequestContext, params: ListUserTagsRequestTypeDef) -> Out:
        return self._tags_page(self.core.user(params["UserName"]).tags, params)

    # -- groups ----------------------------------------------------------------------------------
    async def CreateGroup(self, ctx: RequestContext, params: CreateGroupRequestTypeDef) -> Out:
        group = await self.identities.create_group(params["GroupName"], params.get("Path", "/"))
        return {"Group": wire.group(self.core, group)}

    async def GetGroup(self, ctx: RequestContext, params: GetGroupRequestTypeDef) -> Out:
        group = self.core.group(params["GroupName"])
        users = [u for u in (self.store.user(n) for n in self.store.members(group.name)) if u is not None]
        chosen, more = wire.page(users, by_name, params.get("Marker"), params.get("MaxItems"))
        return {"Group": wire.group(self.core, group), "Users": [wire.user(self.core, u, full=False) for u in chosen],
                **more}

    async def ListGroups(self, ctx: RequestContext, params: ListGroupsRequestTypeDef) -> Out:
        groups = [g for g in self.store.groups() if in_path(g.path, params.get("PathPrefix"))]
        chosen, more = wire.page(groups, by_name, params.get("Marker"), params.get("MaxItems"))
        return {"Groups": [wire.group(self.core, g) for g in chosen], **more}

    async def ListGroupsForUser(self, ctx: RequestContext, params: ListGroupsForUserRequestTypeDef) -> Out:
        user = self.core.user(params["UserName"])
        groups = [g for g in (self.store.group(n) for n in self.store.groups_of(user.name)) if g is not None]
        chosen, more = wire.page(groups, by_name, params.get("Marker"), params.get("MaxItems"))
        return {"Groups": [wire.group(self.core, g) for g in chosen], **more}

    async def UpdateGroup(self, ctx: RequestContext, params: UpdateGroupRequestTypeDef) -> Out:
        await self.identities.update_group(params["GroupName"], params.get("NewGroupName"), params.get("NewPath"))
        return {}

    async def DeleteGroup(self, ctx: RequestContext, params: DeleteGroupRequestTypeDef) -> Out:
        await self.identities.delete_group(params["GroupName"])
        return {}

    async def AddUserToGroup(self, ctx: RequestContext, params: AddUserToGroupRequestTypeDef) -> Out:
        await self.identities.add_member(params["GroupName"], params["UserName"])
        return {}

    async def RemoveUserFromGroup(self, ctx: RequestContext, params: RemoveUserFromGroupRequestTypeDef) -> Out:
        await self.identities.remove_member(params["GroupName"], params["UserName"])
        return {}

    # -- roles -----------------------------------------------------------------------------------
    async def CreateRole(self, ctx: RequestContext, params: CreateRoleRequestTypeDef) -> Out:
        role = await self.identities.create_role(
            params["RoleName"], params.get("Path", "/"), params["AssumeRolePolicyDocument"],
            params.get("Description"), params.get("MaxSessionDuration", 3600), params.get("PermissionsBoundary"),
            params.get("Tags"))
        out = wire.role(self.core, role)
        out.pop("RoleLastUsed")  # CreateRole's answer has no RoleLastUsed (API_CreateRole.html, example)
        return {"Role": out}

    async def GetRole(self, ctx: RequestContext, params: GetRoleRequestTypeDef) -> Out:
        return {"Role": wire.role(self.core, self.core.role(params["RoleName"]))}

    async def ListRoles(self, ctx: RequestContext, params: ListRolesRequestTypeDef) -> Out:
        roles = [r for r in self.store.roles() if in_path(r.path, params.get("PathPrefix"))]
        chosen, more = wire.page(roles, by_name, params.get("Marker"), params.get("MaxItems"))
        return {"Roles": [wire.role(self.core, r, full=False) for r in chosen], **more}

    async def UpdateRole(self, ctx: RequestContext, params: UpdateRoleRequestTypeDef) -> Out:
        await self.identities.update_role(params["RoleName"], description=params.get("Description"),
                                          max_session=params.get("MaxSessionDuration"))
        return {}

    async def UpdateRoleDescription(self, ctx: RequestContext, params: UpdateRoleDescriptionRequestTypeDef) -> Out:
        role = await self.identities.update_role(params["RoleName"], description=params["Description"])
        return {"Role": wire.role(self.core, role)}

    async def UpdateAssumeRolePolicy(self, ctx: RequestContext, params: UpdateAssumeRolePolicyRequestTypeDef) -> Out:
        await self.identities.update_role(params["RoleName"], trust=params["PolicyDocument"])
        return {}

    async def DeleteRole(self, ctx: RequestContext, params: DeleteRoleRequestTypeDef) -> Out:
        await self.identities.delete_role(params["RoleName"])
        return {}

    async def PutRolePermissionsBoundary(self, ctx: RequestContext, params: PutRolePermissionsBoundaryRequestTypeDef) -> Out:
        await self.identities.update_role(params["RoleName"], boundary=params["PermissionsBoundary"])
        return {}

    async def DeleteRolePermissionsBoundary(self, ctx: RequestContext, params: DeleteRolePermissionsBoundaryRequestTypeDef) -> Out:
        await self.identities.update_role(params["RoleName"], clear_boundary=True)
        return {}

    async def TagRole(self, ctx: RequestContext, params: TagRoleRequestTypeDef) -> Out:
        await self.identities.tag_role(params["RoleName"], params["Tags"])
        return {}

    async def UntagRole(self, ctx: RequestContext, params: UntagRoleRequestTypeDef) -> Out:
        await self.identities.tag_role(params["RoleName"], None, params["TagKeys"])
        return {}

    async def ListRoleTags(self, ctx: RequestContext, params: ListRoleTagsRequestTypeDef) -> Out:
        return self._tags_page(self.core.role(params["RoleName"]).tags, params)

    # -- instance profiles -----------------------------------------------------------------------
    def profile_wire(self, name: str) -> Out:
        profile = self.core.profile(name)
        roles = [r for r in (self.store.role(n) for n in self.store.profile_roles(profile.name)) if r is not None]
        return wire.profile(self.core, profile, roles)

    async def CreateInstanceProfile(self, ctx: RequestContext, params: CreateInstanceProfileRequestTypeDef) -> Out:
        profile = await self.identities.create_profile(params["InstanceProfileName"], params.get("Path", "/"),
                                                       params.get("Tags"))
        return {"InstanceProfile": self.profile_wire(profile.name)}

    async def GetInstanceProfile(self, ctx: RequestContext, params: GetInstanceProfileRequestTypeDef) -> Out:
        return {"InstanceProfile": self.profile_wire(params["InstanceProfileName"])}

    async def DeleteInstanceProfile(self, ctx: RequestContext, params: DeleteInstanceProfileRequestTypeDef) -> Out:
        await self.identities.delete_profile(params["InstanceProfileName"])
        return {}

    async def ListInstanceProfiles(self, ctx: RequestContext, params: ListInstanceProfilesRequestTypeDef) -> Out:
        profiles = [p for p in self.store.profiles() if in_path(p.path, params.get("PathPrefix"))]
        chosen, more = wire.page(profiles, by_name, params.get("Marker"), params.get("MaxItems"))
        return {"InstanceProfiles": [self.profile_wire(p.name) for p in chosen], **more}

    async def ListInstanceProfilesForRole(self, ctx: RequestContext, params: ListInstanceProfilesForRoleRequestTypeDef) -> Out:
        role = self.core.role(params["RoleName"])
        names = self.store.profiles_of(role.name)
        chosen, more = wire.page(names, str.lower, params.get("Marker"), params.get("MaxItems"))
        return {"InstanceProfiles": [self.profile_wire(n) for n in chosen], **more}

    async def AddRoleToInstanceProfile(self, ctx: RequestContext, params: AddRoleToInstanceProfileRequestTypeDef) -> Out:
        await self.identities.add_profile_role(params["InstanceProfileName"], params["RoleName"])
        return {}

    async def RemoveRoleFromInstanceProfile(self, ctx: RequestContext, params: RemoveRoleFromInstanceProfileRequestTypeDef) -> Out:
        await self.identities.remove_profile_role(params["InstanceProfileName"], params["RoleName"])
        return {}

    async def TagInstanceProfile(self, ctx: RequestContext, params: TagInstanceProfileRequestTypeDef) -> Out:
        await self.identities.tag_profile(params["InstanceProfileName"], params["Tags"])
        return {}

    async def UntagInstanceProfile(self, ctx: RequestContext, params: UntagInstanceProfileRequestTypeDef) -> Out:
        await self.identities.tag_profile(params["InstanceProfileName"], None, params["TagKeys"])
        return {}

    async def ListInstanceProfileTags(self, ctx: RequestContext, params: ListInstanceProfileTagsRequestTypeDef) -> Out:
        return self._tags_page(self.core.profile(params["InstanceProfileName"]).tags, params)

    # -- access keys -----------------------------------------------------------------------------
    def _key_owner(self, ctx: RequestContext, params: Params) -> str | None:
        """UserName, or the signing user's own keys (the root user's when the root user signs).
        https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateAccessKey.html"""
        name = params.get("UserName")
        return name if name is not None else self.own_user(ctx)

    async def CreateAccessKey(self, ctx: RequestContext, params: CreateAccessKeyRequestTypeDef) -> Out:
        key = await self.keys.create(self._key_owner(ctx, params))
        return {"AccessKey": {"UserName": key.user, "AccessKeyId": key.id, "Status": key.status,
                              "SecretAccessKey": key.secret, "CreateDate": key.created}}

    async def ListAccessKeys(self, ctx: RequestContext, params: ListAccessKeysRequestTypeDef) -> Out:
        keys = self.keys.listing(self._key_owner(ctx, params))
        chosen, more = wire.page(keys, lambda k: f"{k.created:020.6f}{k.id}", params.get("Marker"),
                                 params.get("MaxItems"))
        return {"AccessKeyMetadata": [{"UserName": k.user, "AccessKeyId": k.id, "Status": k.status,
                                       "CreateDate": k.created} for k in chosen], **more}

    async def UpdateAccessKey(self, ctx: RequestContext, params: UpdateAccessKeyRequestTypeDef) -> Out:
        if params["Status"] not in ("Active", "Inactive"):
            raise errors.validation(f"1 validation error detected: Value '{params['Status']}' at 'status' failed to "
                                    "satisfy constraint: Member must satisfy enum value set: [Active, Inactive]")
        await self.keys.set_status(params["AccessKeyId"], self._key_owner(ctx, params), params["Status"])
        return {}

    async def DeleteAccessKey(self, ctx: RequestContext, params: DeleteAccessKeyRequestTypeDef) -> Out:
        await self.keys.delete(params["AccessKeyId"], self._key_owner(ctx, params))
        return {}

    async def GetAccessKeyLastUsed(self, ctx: RequestContext, params: GetAccessKeyLastUsedRequestTypeDef) -> Out:
        # Never used: ServiceName and Region are "N/A" and there is no date (API_AccessKeyLastUsed.html).
        key, used = self.keys.last_used(params["AccessKeyId"])
        last: Out = {"ServiceName": "N/A", "Region": "N/A"}
        if used is not None:
            last = {"LastUsedDate": used[0], "ServiceName": used[1], "Region": used[2]}
        return {"UserName": key.user, "AccessKeyLastUsed": last}
