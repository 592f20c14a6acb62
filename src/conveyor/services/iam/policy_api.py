"""IAM operations on managed policies, their versions and attachments, inline policies, and the account's
authorization details: wire dicts in and out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conveyor.services.iam import tags, wire
from conveyor.services.iam.core import Core
from conveyor.services.iam.entities import ManagedPolicy
from conveyor.services.iam.identity_api import IdentityOperations, by_name, in_path
from conveyor.services.iam.policies import Policies
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_iam.type_defs import (
        AttachGroupPolicyRequestTypeDef,
        AttachRolePolicyRequestTypeDef,
        AttachUserPolicyRequestTypeDef,
        CreatePolicyRequestTypeDef,
        CreatePolicyVersionRequestTypeDef,
        DeleteGroupPolicyRequestTypeDef,
        DeletePolicyRequestTypeDef,
        DeletePolicyVersionRequestTypeDef,
        DeleteRolePolicyRequestTypeDef,
        DeleteUserPolicyRequestTypeDef,
        DetachGroupPolicyRequestTypeDef,
        DetachRolePolicyRequestTypeDef,
        DetachUserPolicyRequestTypeDef,
        GetAccountAuthorizationDetailsRequestTypeDef,
        GetGroupPolicyRequestTypeDef,
        GetPolicyRequestTypeDef,
        GetPolicyVersionRequestTypeDef,
        GetRolePolicyRequestTypeDef,
        GetUserPolicyRequestTypeDef,
        ListAttachedGroupPoliciesRequestTypeDef,
        ListAttachedRolePoliciesRequestTypeDef,
        ListAttachedUserPoliciesRequestTypeDef,
        ListEntitiesForPolicyRequestTypeDef,
        ListGroupPoliciesRequestTypeDef,
        ListPoliciesRequestTypeDef,
        ListPolicyTagsRequestTypeDef,
        ListPolicyVersionsRequestTypeDef,
        ListRolePoliciesRequestTypeDef,
        ListUserPoliciesRequestTypeDef,
        PutGroupPolicyRequestTypeDef,
        PutRolePolicyRequestTypeDef,
        PutUserPolicyRequestTypeDef,
        SetDefaultPolicyVersionRequestTypeDef,
        TagPolicyRequestTypeDef,
        UntagPolicyRequestTypeDef,
    )

Params = Mapping[str, Any]  # a request's members, for helpers several operations share
Out = dict[str, Any]
_NAME_FIELD = {"user": "UserName", "group": "GroupName", "role": "RoleName"}


class PolicyOperations:
    def __init__(self, core: Core, policies: Policies, identity: IdentityOperations) -> None:
        self.core = core
        self.store = core.store
        self.policies = policies
        self.identity = identity

    def _policy(self, policy: ManagedPolicy, *, full: bool = False) -> Out:
        return wire.policy(policy, self.policies.attachment_count(policy.arn),
                           self.store.boundary_counts().get(policy.arn, 0), full=full)

    # -- managed policies ------------------------------------------------------------------------
    async def CreatePolicy(self, ctx: RequestContext, params: CreatePolicyRequestTypeDef) -> Out:
        policy = await self.policies.create(params["PolicyName"], params.get("Path", "/"), params["PolicyDocument"],
                                            params.get("Description"), params.get("Tags"))
        out = self._policy(policy, full=True)
        out.pop("Description")  # CreatePolicy does not echo the description (API_CreatePolicy.html, example)
        return {"Policy": out}

    async def GetPolicy(self, ctx: RequestContext, params: GetPolicyRequestTypeDef) -> Out:
        return {"Policy": self._policy(self.policies.require(params["PolicyArn"]), full=True)}

    async def DeletePolicy(self, ctx: RequestContext, params: DeletePolicyRequestTypeDef) -> Out:
        await self.policies.delete(params["PolicyArn"], self.identity.caller(ctx).arn)
        return {}

    async def ListPolicies(self, ctx: RequestContext, params: ListPoliciesRequestTypeDef) -> Out:
        # https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListPolicies.html
        scope = params.get("Scope", "All")
        usage = params.get("PolicyUsageFilter")
        attached = self.store.attachment_counts()
        boundaries = self.store.boundary_counts()
        chosen = []
        for policy in self.policies.all():
            if (scope == "AWS" and not policy.aws_managed) or (scope == "Local" and policy.aws_managed):
                continue
            if not in_path(policy.path, params.get("PathPrefix")):
                continue
            in_use = {"PermissionsPolicy": attached.get(policy.arn, 0),
                      "PermissionsBoundary": boundaries.get(policy.arn, 0)}
            if params.get("OnlyAttached") and not (in_use[usage] if usage else sum(in_use.values())):
                continue
            chosen.append(policy)
        page, more = wire.page(chosen, by_name, params.get("Marker"), params.get("MaxItems"))
        return {"Policies": [wire.policy(p, attached.get(p.arn, 0), boundaries.get(p.arn, 0)) for p in page], **more}

    def aws_managed_only(self, params: Mapping[str, Any]) -> Out:
        """ListPolicies for another account's caller: the AWS managed policies are everyone's, its own
        account holds no policy and attaches none (AttachmentCount 0)."""
        if params.get("Scope") == "Local" or params.get("OnlyAttached"):
            return {"Policies": [], "IsTruncated": False}
        chosen = [p for p in self.policies.all() if p.aws_managed and in_path(p.path, params.get("PathPrefix"))]
        page, more = wire.page(chosen, by_name, params.get("Marker"), params.get("MaxItems"))
        return {"Policies": [wire.policy(p, 0, 0) for p in page], **more}

    async def CreatePolicyVersion(self, ctx: RequestContext, params: CreatePolicyVersionRequestTypeDef) -> Out:
        default = bool(params.get("SetAsDefault"))
        version = await self.policies.create_version(params["PolicyArn"], params["PolicyDocument"], default,
                                                     self.identity.caller(ctx).arn)
        return {"PolicyVersion": wire.version(version, version.version if default else "", document=False)}

    async def GetPolicyVersion(self, ctx: RequestContext, params: GetPolicyVersionRequestTypeDef) -> Out:
        policy = self.policies.require(params["PolicyArn"])
        version = self.policies.version(policy.arn, params["VersionId"])
        return {"PolicyVersion": wire.version(version, policy.default_version)}

    async def ListPolicyVersions(self, ctx: RequestContext, params: ListPolicyVersionsRequestTypeDef) -> Out:
        policy = self.policies.require(params["PolicyArn"])
        versions = self.policies.versions(policy)
        page, more = wire.page(versions, lambda v: f"{10**9 - int(v.version[1:]):010d}", params.get("Marker"),
                               params.get("MaxItems"))
        return {"Versions": [wire.version(v, policy.default_version, document=False) for v in page], **more}

    async def DeletePolicyVersion(self, ctx: RequestContext, params: DeletePolicyVersionRequestTypeDef) -> Out:
        await self.policies.delete_version(params["PolicyArn"], params["VersionId"], self.identity.caller(ctx).arn)
        return {}

    async def SetDefaultPolicyVersion(self, ctx: RequestContext, params: SetDefaultPolicyVersionRequestTypeDef) -> Out:
        await self.policies.set_default(params["PolicyArn"], params["VersionId"], self.identity.caller(ctx).arn)
        return {}

    async def TagPolicy(self, ctx: RequestContext, params: TagPolicyRequestTypeDef) -> Out:
        caller = self.identity.caller(ctx).arn
        policy = self.policies.customer(params["PolicyArn"], caller, "TagPolicy")
        await self.policies.retag(policy.arn, tags.merged(policy.tags, params["Tags"]), caller, "TagPolicy")
        return {}

    async def UntagPolicy(self, ctx: RequestContext, params: UntagPolicyRequestTypeDef) -> Out:
        caller = self.identity.caller(ctx).arn
        policy = self.policies.customer(params["PolicyArn"], caller, "UntagPolicy")
        await self.policies.retag(policy.arn, tags.without(policy.tags, params["TagKeys"]), caller, "UntagPolicy")
        return {}

    async def ListPolicyTags(self, ctx: RequestContext, params: ListPolicyTagsRequestTypeDef) -> Out:
        policy = self.policies.require(params["PolicyArn"])
        page, more = wire.page(policy.tags, lambda t: t["Key"].lower(), params.get("Marker"), params.get("MaxItems"))
        return {"Tags": page, **more}

    # -- attachments -----------------------------------------------------------------------------
    async def _attach(self, kind: str, params: Params) -> Out:
        await self.policies.attach(kind, params[_NAME_FIELD[kind]], params["PolicyArn"])
        return {}

    async def _detach(self, kind: str, params: Params) -> Out:
        await self.policies.detach(kind, params[_NAME_FIELD[kind]], params["PolicyArn"])
        return {}

    def _attached(self, kind: str, params: Params) -> Out:
        found = [p for p in self.policies.attached(kind, params[_NAME_FIELD[kind]])
                 if in_path(p.path, params.get("PathPrefix"))]
        page, more = wire.page(found, by_name, params.get("Marker"), params.get("MaxItems"))
        return {"AttachedPolicies": [{"PolicyName": p.name, "PolicyArn": p.arn} for p in page], **more}

    async def AttachUserPolicy(self, ctx: RequestContext, params: AttachUserPolicyRequestTypeDef) -> Out:
        return await self._attach("user", params)

    async def AttachGroupPolicy(self, ctx: RequestContext, params: AttachGroupPolicyRequestTypeDef) -> Out:
        return await self._attach("group", params)

    async def AttachRolePolicy(self, ctx: RequestContext, params: AttachRolePolicyRequestTypeDef) -> Out:
        return await self._attach("role", params)

    async def DetachUserPolicy(self, ctx: RequestContext, params: DetachUserPolicyRequestTypeDef) -> Out:
        return await self._detach("user", params)

    async def DetachGroupPolicy(self, ctx: RequestContext, params: DetachGroupPolicyRequestTypeDef) -> Out:
        return await self._detach("group", params)

    async def DetachRolePolicy(self, ctx: RequestContext, params: DetachRolePolicyRequestTypeDef) -> Out:
        return await self._detach("role", params)

    async def ListAttachedUserPolicies(self, ctx: RequestContext, params: ListAttachedUserPoliciesRequestTypeDef) -> Out:
        return self._attached("user", params)

    async def ListAttachedGroupPolicies(self, ctx: RequestContext, params: ListAttachedGroupPoliciesRequestTypeDef) -> Out:
        return self._attached("group", params)

    async def ListAttachedRolePolicies(self, ctx: RequestContext, params: ListAttachedRolePoliciesRequestTypeDef) -> Out:
        return self._attached("role", params)

    async def ListEntitiesForPolicy(self, ctx: RequestContext, params: ListEntitiesForPolicyRequestTypeDef) -> Out:
        # https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListEntitiesForPolicy.html
        policy = self.policies.require(params["PolicyArn"])
        wanted = params.get("EntityFilter")
        usage = params.get("PolicyUsageFilter")
        entities: list[tuple[str, str]] = []
        if usage != "PermissionsBoundary":
            entities += self.store.attachments_of(policy.arn)
        if usage != "PermissionsPolicy":
            entities += [("user", u.name) for u in self.store.users() if u.boundary == policy.arn]
            entities += [("role", r.name) for r in self.store.roles() if r.boundary == policy.arn]
        out: Out = {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": []}
        for kind, name in sorted(set(entities), key=lambda e: (e[0], e[1].lower())):
            if wanted is not None and wanted.lower() != kind:
                continue
            entity = self.core.entity(kind, name)
            if not in_path(entity.path, params.get("PathPrefix")):
                continue
            title = kind.capitalize()
            out[f"Policy{title}s"].append({f"{title}Name": entity.name, f"{title}Id": entity.id})
        out["IsTruncated"] = False
        return out

    # -- inline policies -------------------------------------------------------------------------
    async def _put(self, kind: str, params: Params) -> Out:
        await self.policies.put_inline(kind, params[_NAME_FIELD[kind]], params["PolicyName"], params["PolicyDocument"])
        return {}

    def _get(self, kind: str, params: Params) -> Out:
        entity, name, document = self.policies.inline(kind, params[_NAME_FIELD[kind]], params["PolicyName"])
        return {_NAME_FIELD[kind]: entity, "PolicyName": name, "PolicyDocument": wire.encoded(document)}

    async def _delete(self, kind: str, params: Params) -> Out:
        await self.policies.delete_inline(kind, params[_NAME_FIELD[kind]], params["PolicyName"])
        return {}

    def _names(self, kind: str, params: Params) -> Out:
        names = self.policies.inline_names(kind, params[_NAME_FIELD[kind]])
        page, more = wire.page(names, str.lower, params.get("Marker"), params.get("MaxItems"))
        return {"PolicyNames": page, **more}

    async def PutUserPolicy(self, ctx: RequestContext, params: PutUserPolicyRequestTypeDef) -> Out:
        return await self._put("user", params)

    async def PutGroupPolicy(self, ctx: RequestContext, params: PutGroupPolicyRequestTypeDef) -> Out:
        return await self._put("group", params)

    async def PutRolePolicy(self, ctx: RequestContext, params: PutRolePolicyRequestTypeDef) -> Out:
        return await self._put("role", params)

    async def GetUserPolicy(self, ctx: RequestContext, params: GetUserPolicyRequestTypeDef) -> Out:
        return self._get("user", params)

    async def GetGroupPolicy(self, ctx: RequestContext, params: GetGroupPolicyRequestTypeDef) -> Out:
        return self._get("group", params)

    async def GetRolePolicy(self, ctx: RequestContext, params: GetRolePolicyRequestTypeDef) -> Out:
        return self._get("role", params)

    async def DeleteUserPolicy(self, ctx: RequestContext, params: DeleteUserPolicyRequestTypeDef) -> Out:
        return await self._delete("user", params)

    async def DeleteGroupPolicy(self, ctx: RequestContext, params: DeleteGroupPolicyRequestTypeDef) -> Out:
        return await self._delete("group", params)

    async def DeleteRolePolicy(self, ctx: RequestContext, params: DeleteRolePolicyRequestTypeDef) -> Out:
        return await self._delete("role", params)

    async def ListUserPolicies(self, ctx: RequestContext, params: ListUserPoliciesRequestTypeDef) -> Out:
        return self._names("user", params)

    async def ListGroupPolicies(self, ctx: RequestContext, params: ListGroupPoliciesRequestTypeDef) -> Out:
        return self._names("group", params)

    async def ListRolePolicies(self, ctx: RequestContext, params: ListRolePoliciesRequestTypeDef) -> Out:
        return self._names("role", params)

    # -- everything at once ----------------------------------------------------------------------
    async def GetAccountAuthorizationDetails(self, ctx: RequestContext, params: GetAccountAuthorizationDetailsRequestTypeDef) -> Out:
        """Users, groups, roles and managed policies with everything attached to them. AWS managed
        policies appear when something uses them. (API_GetAccountAuthorizationDetails.html)"""
        wanted = set(params.get("Filter") or ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"])
        items: list[tuple[str, str]] = []
        if "User" in wanted:
            items += [("1user", u.name) for u in self.store.users()]
        if "Group" in wanted:
            items += [("2group", g.name) for g in self.store.groups()]
        if "Role" in wanted:
            items += [("3role", r.name) for r in self.store.roles()]
        used = set(self.store.attachment_counts()) | set(self.store.boundary_counts())
        for policy in self.policies.all():
            kind = "AWSManagedPolicy" if policy.aws_managed else "LocalManagedPolicy"
            if kind in wanted and (not policy.aws_managed or policy.arn in used):
                items.append(("4policy", policy.arn))
        page, more = wire.page(items, lambda i: f"{i[0]}:{i[1].lower()}", params.get("Marker"), params.get("MaxItems"))
        out: Out = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
        for kind, key in page:
            if kind == "1user":
                out["UserDetailList"].append(self._user_detail(key))
            elif kind == "2group":
                out["GroupDetailList"].append(self._group_detail(key))
            elif kind == "3role":
                out["RoleDetailList"].append(self._role_detail(key))
            else:
                out["Policies"].append(self._policy_detail(self.policies.require(key)))
        return {**out, **more}

    def _inline_list(self, kind: str, name: str) -> list[Out]:
        return [{"PolicyName": n, "PolicyDocument": wire.encoded(d)} for n, d in self.store.inline_all(kind, name)]

    def _attached_list(self, kind: str, name: str) -> list[Out]:
        return [{"PolicyName": p.name, "PolicyArn": p.arn} for p in self.policies.attached(kind, name)]

    def _user_detail(self, name: str) -> Out:
        user = self.core.user(name)
        return {**wire.user(self.core, user), "UserPolicyList": self._inline_list("user", user.name),
                "GroupList": self.store.groups_of(user.name), "AttachedManagedPolicies": self._attached_list("user", name)}

    def _group_detail(self, name: str) -> Out:
        group = self.core.group(name)
        return {**wire.group(self.core, group), "GroupPolicyList": self._inline_list("group", group.name),
                "AttachedManagedPolicies": self._attached_list("group", group.name)}

    def _role_detail(self, name: str) -> Out:
        role = self.core.role(name)
        profiles = [self.identity.profile_wire(p) for p in self.store.profiles_of(role.name)]
        return {**wire.role(self.core, role), "InstanceProfileList": profiles,
                "RolePolicyList": self._inline_list("role", role.name),
                "AttachedManagedPolicies": self._attached_list("role", role.name)}

    def _policy_detail(self, policy: ManagedPolicy) -> Out:
        out = self._policy(policy, full=True)
        out.pop("Tags", None)
        out["PolicyVersionList"] = [wire.version(v, policy.default_version) for v in self.policies.versions(policy)]
        return out

