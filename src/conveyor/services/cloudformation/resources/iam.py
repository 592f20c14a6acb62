"""AWS::IAM::Role, Policy, ManagedPolicy and InstanceProfile (IAM is global: the stack's region does not
matter to them).
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-iam-role.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-iam-policy.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-iam-managedpolicy.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-iam-instanceprofile.html
"""

from __future__ import annotations

from typing import Any

from conveyor.services.cloudformation.errors import ResourceFailure
from conveyor.services.cloudformation.resources.base import (
    Made,
    ResourceType,
    Target,
    as_int,
    as_json,
    ignore_missing,
    tag_list,
)
from conveyor.wire import ServiceError

_GONE = ("NoSuchEntity",)


class Role(ResourceType):
    type_name = "AWS::IAM::Role"
    properties = frozenset({"RoleName", "AssumeRolePolicyDocument", "Path", "Description", "MaxSessionDuration",
                            "Policies", "ManagedPolicyArns", "PermissionsBoundary", "Tags"})
    required = frozenset({"AssumeRolePolicyDocument"})
    replace_on = frozenset({"RoleName", "Path"})
    name_property = "RoleName"
    iam = True

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        name = str(properties.get("RoleName") or target.generated_name(64))
        request: dict[str, Any] = {"RoleName": name,
                                   "AssumeRolePolicyDocument": as_json(properties["AssumeRolePolicyDocument"])}
        for key in ("Path", "Description", "PermissionsBoundary"):
            if key in properties:
                request[key] = str(properties[key])
        if "MaxSessionDuration" in properties:
            request["MaxSessionDuration"] = as_int(properties["MaxSessionDuration"], "MaxSessionDuration")
        if properties.get("Tags"):
            request["Tags"] = tag_list(properties["Tags"])
        role = (await target.call("iam", "CreateRole", request))["Role"]
        made = Made(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})
        await self._policies(target, name, {}, properties)
        return made

    async def _policies(self, target: Target, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        before = {p["PolicyName"]: p["PolicyDocument"] for p in old.get("Policies") or []}
        after = {p["PolicyName"]: p["PolicyDocument"] for p in new.get("Policies") or []}
        for policy in sorted(set(before) - set(after)):
            await ignore_missing(target, "iam", "DeleteRolePolicy", {"RoleName": name, "PolicyName": policy}, *_GONE)
        for policy, document in after.items():
            if before.get(policy) != document:
                await target.call("iam", "PutRolePolicy", {"RoleName": name, "PolicyName": policy,
                                                           "PolicyDocument": as_json(document)})
        attached_before = set(old.get("ManagedPolicyArns") or [])
        attached_after = set(new.get("ManagedPolicyArns") or [])
        for arn in sorted(attached_before - attached_after):
            await ignore_missing(target, "iam", "DetachRolePolicy", {"RoleName": name, "PolicyArn": arn}, *_GONE)
        for arn in sorted(attached_after - attached_before):
            await target.call("iam", "AttachRolePolicy", {"RoleName": name, "PolicyArn": arn})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        name = current.physical_id
        if old.get("AssumeRolePolicyDocument") != new.get("AssumeRolePolicyDocument"):
            await target.call("iam", "UpdateAssumeRolePolicy", {
                "RoleName": name, "PolicyDocument": as_json(new["AssumeRolePolicyDocument"])})
        if old.get("Description") != new.get("Description") or \
                old.get("MaxSessionDuration") != new.get("MaxSessionDuration"):
            await target.call("iam", "UpdateRole", {
                "RoleName": name, "Description": str(new.get("Description") or ""),
                "MaxSessionDuration": as_int(new.get("MaxSessionDuration", 3600), "MaxSessionDuration")})
        await self._policies(target, name, old, new)
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        name = current.physical_id
        try:
            attached = await target.api.call("iam", "ListAttachedRolePolicies", {"RoleName": name}, target.region)
            inline = await target.api.call("iam", "ListRolePolicies", {"RoleName": name}, target.region)
        except Exception:  # noqa: BLE001 - a role already gone has nothing left to detach
            return
        for policy in attached.get("AttachedPolicies") or []:
            await ignore_missing(target, "iam", "DetachRolePolicy", {"RoleName": name,
                                                                     "PolicyArn": policy["PolicyArn"]}, *_GONE)
        for policy_name in inline.get("PolicyNames") or []:
            await ignore_missing(target, "iam", "DeleteRolePolicy", {"RoleName": name, "PolicyName": policy_name},
                                 *_GONE)
        await ignore_missing(target, "iam", "DeleteRole", {"RoleName": name}, *_GONE)


class Policy(ResourceType):
    """An inline policy put on each role, user and group it names."""

    type_name = "AWS::IAM::Policy"
    properties = frozenset({"PolicyName", "PolicyDocument", "Roles", "Users", "Groups"})
    required = frozenset({"PolicyName", "PolicyDocument"})
    iam = True

    _HOLDERS = (("Roles", "Role"), ("Users", "User"), ("Groups", "Group"))

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        await self._put(target, properties)
        return Made(target.generated_name(64))

    async def _put(self, target: Target, properties: dict[str, Any]) -> None:
        for key, kind in self._HOLDERS:
            for holder in properties.get(key) or []:
                await target.call("iam", f"Put{kind}Policy", {f"{kind}Name": holder,
                                                              "PolicyName": properties["PolicyName"],
                                                              "PolicyDocument": as_json(properties["PolicyDocument"])})

    async def _remove(self, target: Target, properties: dict[str, Any], keep: dict[str, Any] | None = None) -> None:
        for key, kind in self._HOLDERS:
            for holder in properties.get(key) or []:
                if keep is not None and holder in (keep.get(key) or []) and \
                        keep.get("PolicyName") == properties.get("PolicyName"):
                    continue
                await ignore_missing(target, "iam", f"Delete{kind}Policy", {
                    f"{kind}Name": holder, "PolicyName": properties["PolicyName"]}, *_GONE)

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        await self._remove(target, old, keep=new)
        await self._put(target, new)
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await self._remove(target, properties)


# A managed policy keeps at most five versions; a new one needs room.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html
_MAX_POLICY_VERSIONS = 5


class ManagedPolicy(Policy):
    """Ref is the policy's ARN. A changed document becomes the new default version; the name, path and
    description require replacement."""

    type_name = "AWS::IAM::ManagedPolicy"
    properties = frozenset({"ManagedPolicyName", "Path", "Description", "PolicyDocument", "Roles", "Users", "Groups"})
    required = frozenset({"PolicyDocument"})
    replace_on = frozenset({"ManagedPolicyName", "Path", "Description"})
    name_property = "ManagedPolicyName"

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        request: dict[str, Any] = {"PolicyName": str(properties.get("ManagedPolicyName") or target.generated_name(128)),
                                   "PolicyDocument": as_json(properties["PolicyDocument"])}
        for key in ("Path", "Description"):
            if key in properties:
                request[key] = str(properties[key])
        policy = (await target.call("iam", "CreatePolicy", request))["Policy"]
        made = Made(policy["Arn"], {"PolicyArn": policy["Arn"], "PolicyId": policy["PolicyId"],
                                    "DefaultVersionId": policy["DefaultVersionId"]})
        try:
            await self._attach(target, made.physical_id, {}, properties)
        except ResourceFailure:
            await self.delete(target, made, properties)
            raise
        return made

    async def _attach(self, target: Target, arn: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        for key, kind in self._HOLDERS:
            before, after = set(old.get(key) or []), set(new.get(key) or [])
            for holder in sorted(before - after):
                await ignore_missing(target, "iam", f"Detach{kind}Policy", {f"{kind}Name": holder, "PolicyArn": arn},
                                     *_GONE)
            for holder in sorted(after - before):
                await target.call("iam", f"Attach{kind}Policy", {f"{kind}Name": holder, "PolicyArn": arn})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        arn = current.physical_id
        attributes = dict(current.attributes)
        if old.get("PolicyDocument") != new.get("PolicyDocument"):
            versions = (await target.call("iam", "ListPolicyVersions", {"PolicyArn": arn}))["Versions"]
            if len(versions) >= _MAX_POLICY_VERSIONS:
                oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
                await target.call("iam", "DeletePolicyVersion", {"PolicyArn": arn, "VersionId": oldest["VersionId"]})
            version = (await target.call("iam", "CreatePolicyVersion", {
                "PolicyArn": arn, "PolicyDocument": as_json(new["PolicyDocument"]), "SetAsDefault": True}))
            attributes["DefaultVersionId"] = version["PolicyVersion"]["VersionId"]
        await self._attach(target, arn, old, new)
        return Made(arn, attributes)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        arn = current.physical_id
        await self._attach(target, arn, properties, {})
        try:
            versions = (await target.api.call("iam", "ListPolicyVersions", {"PolicyArn": arn}, target.region))["Versions"]
        except ServiceError:
            return  # already gone
        for version in versions:
            if not version["IsDefaultVersion"]:
                await ignore_missing(target, "iam", "DeletePolicyVersion", {"PolicyArn": arn,
                                                                            "VersionId": version["VersionId"]}, *_GONE)
        await ignore_missing(target, "iam", "DeletePolicy", {"PolicyArn": arn}, *_GONE)


class InstanceProfile(ResourceType):
    """Ref is the profile's name; its role changes in place, its name and path require replacement."""

    type_name = "AWS::IAM::InstanceProfile"
    properties = frozenset({"InstanceProfileName", "Path", "Roles"})
    required = frozenset({"Roles"})
    replace_on = frozenset({"InstanceProfileName", "Path"})
    name_property = "InstanceProfileName"
    iam = True

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        name = str(properties.get("InstanceProfileName") or target.generated_name(128))
        request: dict[str, Any] = {"InstanceProfileName": name}
        if "Path" in properties:
            request["Path"] = str(properties["Path"])
        profile = (await target.call("iam", "CreateInstanceProfile", request))["InstanceProfile"]
        made = Made(name, {"Arn": profile["Arn"]})
        try:
            await self._roles(target, name, {}, properties)
        except ResourceFailure:
            await self.delete(target, made, properties)
            raise
        return made

    async def _roles(self, target: Target, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        before, after = set(old.get("Roles") or []), set(new.get("Roles") or [])
        for role in sorted(before - after):
            await ignore_missing(target, "iam", "RemoveRoleFromInstanceProfile", {
                "InstanceProfileName": name, "RoleName": role}, *_GONE)
        for role in sorted(after - before):
            await target.call("iam", "AddRoleToInstanceProfile", {"InstanceProfileName": name, "RoleName": role})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        await self._roles(target, current.physical_id, old, new)
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await self._roles(target, current.physical_id, properties, {})
        await ignore_missing(target, "iam", "DeleteInstanceProfile", {"InstanceProfileName": current.physical_id},
                             *_GONE)
