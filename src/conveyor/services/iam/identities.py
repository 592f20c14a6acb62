"""Users, groups and their members, roles with their trust policies, instance profiles, boundaries, tags.

Deleting an entity that still has things attached is refused (DeleteConflict), as IAM does: a user with
access keys, policies or groups; a group with members or policies; a role with policies or in an
instance profile; an instance profile holding a role.
https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteUser.html, API_DeleteGroup.html,
API_DeleteRole.html, API_DeleteInstanceProfile.html
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from conveyor.policy import Use
from conveyor.services.iam import errors, tags
from conveyor.services.iam.core import Core, policy_size, validated
from conveyor.services.iam.entities import Group, InstanceProfile, Role, User, new_id
from conveyor.services.iam.policies import Policies

if TYPE_CHECKING:
    from mypy_boto3_iam.type_defs import TagTypeDef

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
TRUST_SIZE = 2048  # "Role trust policy length"
GROUPS_PER_USER = 10
ROLES_PER_PROFILE = 1


class Identities:
    def __init__(self, core: Core, policies: Policies) -> None:
        self.core = core
        self.store = core.store
        self.policies = policies

    def _boundary(self, arn: str | None) -> str | None:
        """A permissions boundary must be a managed policy that exists."""
        if arn is not None and self.policies.find(arn) is None:
            raise errors.no_such(f"Scope ARN: {arn} does not exist or is not attachable.")
        return arn

    def _no_policies(self, kind: str, name: str) -> None:
        if self.store.attached(kind, name):
            raise errors.conflict("Cannot delete entity, must detach all policies first.")
        if self.store.inline_all(kind, name):
            raise errors.conflict("Cannot delete entity, must delete policies first.")

    # -- users -----------------------------------------------------------------------------------
    async def create_user(self, name: str, path: str, boundary: str | None, given_tags: Iterable[TagTypeDef] | None) -> User:
        user_tags = tags.given(given_tags)
        async with self.core.lock:
            if self.store.user(name) is not None:
                raise errors.already_exists(f"User with name {name} already exists.")
            user = User(name, path, new_id("user"), self.core.now(), self._boundary(boundary), user_tags)
            await self.store.put_user(user)
        return user

    async def update_user(self, name: str, new_name: str | None, new_path: str | None) -> None:
        async with self.core.lock:
            user = self.core.user(name)
            if new_name is not None and new_name.lower() != user.name.lower() and self.store.user(new_name):
                raise errors.already_exists(f"User with name {new_name} already exists.")
            updated = replace(user, name=new_name or user.name, path=new_path or user.path)
            await self.store.rename_user(user.name, updated)

    async def delete_user(self, name: str) -> None:
        async with self.core.lock:
            user = self.core.user(name)
            self._no_policies("user", user.name)
            if self.store.keys_of(user.name):
                raise errors.conflict("Cannot delete entity, must delete access keys first.")
            if self.store.groups_of(user.name):
                raise errors.conflict("Cannot delete entity, must remove users from group first.")
            await self.store.delete_user(user.name)

    async def set_user_boundary(self, name: str, boundary: str | None) -> None:
        async with self.core.lock:
            user = self.core.user(name)
            await self.store.put_user(replace(user, boundary=self._boundary(boundary)))

    async def tag_user(self, name: str, new: Iterable[TagTypeDef] | None, remove: Iterable[str] | None = None) -> None:
        async with self.core.lock:
            user = self.core.user(name)
            updated = tags.without(user.tags, remove) if remove is not None else tags.merged(user.tags, new)
            await self.store.put_user(replace(user, tags=updated))

    # -- groups ----------------------------------------------------------------------------------
    async def create_group(self, name: str, path: str) -> Group:
        async with self.core.lock:
            if self.store.group(name) is not None:
                raise errors.already_exists(f"Group with name {name} already exists.")
            group = Group(name, path, new_id("group"), self.core.now())
            await self.store.put_group(group)
        return group

    async def update_group(self, name: str, new_name: str | None, new_path: str | None) -> None:
        async with self.core.lock:
            group = self.core.group(name)
            if new_name is not None and new_name.lower() != group.name.lower() and self.store.group(new_name):
                raise errors.already_exists(f"Group with name {new_name} already exists.")
            await self.store.rename_group(group.name, replace(group, name=new_name or group.name,
                                                              path=new_path or group.path))

    async def delete_group(self, name: str) -> None:
        async with self.core.lock:
            group = self.core.group(name)
            if self.store.members(group.name):
                raise errors.conflict("Cannot delete entity, must remove users from group first.")
            self._no_policies("group", group.name)
            await self.store.delete_group(group.name)

    async def add_member(self, group_name: str, user_name: str) -> None:
        async with self.core.lock:
            group, user = self.core.group(group_name), self.core.user(user_name)
            current = self.store.groups_of(user.name)
            if group.name in current:
                return
            if len(current) >= GROUPS_PER_USER:
                raise errors.quota("GroupsPerUser", GROUPS_PER_USER)
            await self.store.add_member(group.name, user.name)

    async def remove_member(self, group_name: str, user_name: str) -> None:
        async with self.core.lock:
            group, user = self.core.group(group_name), self.core.user(user_name)
            await self.store.remove_member(group.name, user.name)

    # -- roles -----------------------------------------------------------------------------------
    def _trust(self, document: str) -> str:
        validated(document, Use.TRUST, self.core)
        if policy_size(document) > TRUST_SIZE:
            raise errors.quota("ACLSizePerRole", TRUST_SIZE)
        return document

    async def create_role(self, name: str, path: str, trust: str, description: str | None, max_session: int,
                          boundary: str | None, given_tags: Iterable[TagTypeDef] | None) -> Role:
        role_tags = tags.given(given_tags)
        async with self.core.lock:
            if self.store.role(name) is not None:
                raise errors.already_exists(f"Role with name {name} already exists.")
            role = Role(name, path, new_id("role"), self.core.now(), self._trust(trust), description, max_session,
                        self._boundary(boundary), role_tags)
            await self.store.put_role(role)
        return role

    async def update_role(self, name: str, *, description: str | None = None, max_session: int | None = None,
                          trust: str | None = None, boundary: str | None = None, clear_boundary: bool = False) -> Role:
        async with self.core.lock:
            role = self.core.role(name)
            changed = replace(
                role,
                description=role.description if description is None else description,
                max_session=role.max_session if max_session is None else max_session,
                trust=role.trust if trust is None else self._trust(trust),
                boundary=None if clear_boundary else (self._boundary(boundary) or role.boundary),
            )
            await self.store.put_role(changed)
        return changed

    async def delete_role(self, name: str) -> None:
        async with self.core.lock:
            role = self.core.role(name)
            if self.store.profiles_of(role.name):
                raise errors.conflict("Cannot delete entity, must remove roles from instance profile first.")
            self._no_policies("role", role.name)
            await self.store.delete_role(role.name)

    async def tag_role(self, name: str, new: Iterable[TagTypeDef] | None, remove: Iterable[str] | None = None) -> None:
        async with self.core.lock:
            role = self.core.role(name)
            updated = tags.without(role.tags, remove) if remove is not None else tags.merged(role.tags, new)
            await self.store.put_role(replace(role, tags=updated))

    async def role_used(self, name: str, region: str) -> None:
        """Record a use of the role (RoleLastUsed), e.g. when a session of it is made."""
        async with self.core.lock:
            role = self.core.role(name)
            await self.store.put_role(replace(role, last_used=self.core.now(), last_used_region=region))

    # -- instance profiles -----------------------------------------------------------------------
    async def create_profile(self, name: str, path: str, given_tags: Iterable[TagTypeDef] | None) -> InstanceProfile:
        profile_tags = tags.given(given_tags)
        async with self.core.lock:
            if self.store.profile(name) is not None:
                raise errors.already_exists(f"Instance Profile {name} already exists.")
            profile = InstanceProfile(name, path, new_id("instance-profile"), self.core.now(), profile_tags)
            await self.store.put_profile(profile)
        return profile

    async def delete_profile(self, name: str) -> None:
        async with self.core.lock:
            profile = self.core.profile(name)
            if self.store.profile_roles(profile.name):
                raise errors.conflict("Cannot delete entity, must remove roles from instance profile first.")
            await self.store.delete_profile(profile.name)

    async def add_profile_role(self, profile_name: str, role_name: str) -> None:
        async with self.core.lock:
            profile, role = self.core.profile(profile_name), self.core.role(role_name)
            current = self.store.profile_roles(profile.name)
            if len(current) >= ROLES_PER_PROFILE:
                raise errors.quota("InstanceSessionsPerInstanceProfile", ROLES_PER_PROFILE)
            await self.store.add_profile_role(profile.name, role.name)

    async def remove_profile_role(self, profile_name: str, role_name: str) -> None:
        async with self.core.lock:
            profile, role = self.core.profile(profile_name), self.core.role(role_name)
            if role.name not in self.store.profile_roles(profile.name):
                raise errors.no_role(role_name)
            await self.store.remove_profile_role(profile.name, role.name)

    async def tag_profile(self, name: str, new: Iterable[TagTypeDef] | None, remove: Iterable[str] | None = None) -> None:
        async with self.core.lock:
            profile = self.core.profile(name)
            updated = tags.without(profile.tags, remove) if remove is not None else tags.merged(profile.tags, new)
            await self.store.put_profile(replace(profile, tags=updated))
