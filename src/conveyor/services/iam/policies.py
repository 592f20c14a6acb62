"""Managed policies (customer and AWS), their versions, attachments, and inline policies.

Rules, from https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html and
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html:
- a managed policy keeps at most 5 versions; its default version is the one in force, and cannot be
  deleted on its own; a policy with other versions, or still attached, cannot be deleted;
- a user, group or role has at most 10 managed policies attached;
- the inline policies of one entity total at most 2,048 (user), 5,120 (group) or 10,240 (role)
  characters, and a managed policy at most 6,144, white space not counted;
- AWS managed policies can be attached, never changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from conveyor.policy import Use
from conveyor.services.iam import errors, tags
from conveyor.services.iam.core import Core, policy_size, validated
from conveyor.services.iam.entities import ManagedPolicy, PolicyVersion, Tags, new_id
from conveyor.services.iam.managed import AWS_POLICY_PREFIX, catalog
from conveyor.wire import ServiceError

if TYPE_CHECKING:
    from mypy_boto3_iam.type_defs import TagTypeDef

MAX_VERSIONS = 5
MANAGED_SIZE = 6144
INLINE_SIZE = {"user": 2048, "group": 5120, "role": 10240}
ATTACH_QUOTA = {"user": "PoliciesPerUser", "group": "PoliciesPerGroup", "role": "PoliciesPerRole"}
MAX_ATTACHED = 10


def _not_modifiable(caller: str, action: str, arn: str) -> ServiceError:
    """AWS managed policies belong to AWS: an account may attach them, not change them."""
    return ServiceError("AccessDenied", f"User: {caller} is not authorized to perform: iam:{action} on resource: "
                        f"policy {arn}", 403)


class Policies:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.store = core.store

    # -- lookups ---------------------------------------------------------------------------------
    def find(self, arn: str) -> ManagedPolicy | None:
        if arn.startswith(AWS_POLICY_PREFIX):
            found = catalog().get(arn)
            return found.policy if found else None
        return self.store.policy(arn)

    def require(self, arn: str) -> ManagedPolicy:
        found = self.find(arn)
        if found is None:
            raise errors.no_policy(arn)
        return found

    def customer(self, arn: str, caller: str, action: str) -> ManagedPolicy:
        """A customer managed policy this account may change."""
        if arn.startswith(AWS_POLICY_PREFIX) and arn in catalog():
            raise _not_modifiable(caller, action, arn)
        return self.require(arn)

    def versions(self, policy: ManagedPolicy) -> list[PolicyVersion]:
        if policy.aws_managed:
            return [catalog()[policy.arn].version]
        return self.store.versions(policy.arn)

    def version(self, arn: str, version_id: str) -> PolicyVersion:
        policy = self.require(arn)
        for version in self.versions(policy):
            if version.version == version_id:
                return version
        raise errors.no_such(f"Policy {arn} version {version_id} does not exist or is not attachable.")

    def default_document(self, policy: ManagedPolicy) -> str:
        return self.version(policy.arn, policy.default_version).document

    def all(self) -> list[ManagedPolicy]:
        aws = [p.policy for p in catalog().values()]
        return sorted(aws + self.store.policies(), key=lambda p: p.name.lower())

    # -- customer managed policies ---------------------------------------------------------------
    async def create(self, name: str, path: str, document: str, description: str | None,
                     given_tags: Iterable[TagTypeDef] | None) -> ManagedPolicy:
        validated(document, Use.MANAGED)
        if policy_size(document) > MANAGED_SIZE:
            raise errors.quota("PolicySize", MANAGED_SIZE)
        policy_tags = tags.given(given_tags)
        async with self.core.lock:
            if self.store.policy_named(name) is not None:
                raise errors.already_exists(f"A policy called {name} already exists. Duplicate names are not allowed.")
            now = self.core.now()
            policy = ManagedPolicy(name, path, new_id("policy"), self.core.policy_arn(path, name), now, now, "v1",
                                   description, policy_tags)
            await self.store.create_policy(policy, document)
        return policy

    async def delete(self, arn: str, caller: str) -> None:
        async with self.core.lock:
            policy = self.customer(arn, caller, "DeletePolicy")
            if self.store.attachments_of(arn) or self.store.boundary_counts().get(arn):
                raise errors.conflict("Cannot delete a policy attached to entities.")
            if len(self.store.versions(arn)) > 1:
                raise errors.conflict("This policy has more than one version. Before you delete a policy, you must "
                                      "delete the policy's versions. The default version is deleted with the policy.")
            await self.store.delete_policy(policy.arn)

    async def create_version(self, arn: str, document: str, make_default: bool, caller: str) -> PolicyVersion:
        validated(document, Use.MANAGED)
        if policy_size(document) > MANAGED_SIZE:
            raise errors.quota("PolicySize", MANAGED_SIZE)
        async with self.core.lock:
            self.customer(arn, caller, "CreatePolicyVersion")
            if len(self.store.versions(arn)) >= MAX_VERSIONS:
                raise errors.limit("A managed policy can have up to 5 versions. Before you create a new version, "
                                   "you must delete an existing version.")
            now = self.core.now()
            version = PolicyVersion(f"v{self.store.next_version(arn)}", document, now)
            await self.store.add_version(arn, version, make_default, now)
        return version

    async def delete_version(self, arn: str, version_id: str, caller: str) -> None:
        async with self.core.lock:
            policy = self.customer(arn, caller, "DeletePolicyVersion")
            self.version(arn, version_id)
            if version_id == policy.default_version:
                raise errors.conflict("Cannot delete the default version of a policy.")
            await self.store.delete_version(arn, version_id)

    async def set_default(self, arn: str, version_id: str, caller: str) -> None:
        async with self.core.lock:
            self.customer(arn, caller, "SetDefaultPolicyVersion")
            self.version(arn, version_id)
            await self.store.set_default_version(arn, version_id, self.core.now())

    async def retag(self, arn: str, new_tags: Tags, caller: str, action: str) -> None:
        """Replace a customer managed policy's tags (the caller computed them under no lock: recompute)."""
        async with self.core.lock:
            self.customer(arn, caller, action)
            await self.store.set_policy_tags(arn, new_tags)

    # -- attachments -----------------------------------------------------------------------------
    async def attach(self, kind: str, name: str, arn: str) -> None:
        async with self.core.lock:
            entity = self.core.entity(kind, name)
            if self.find(arn) is None:
                raise errors.not_attachable(arn)
            attached = self.store.attached(kind, entity.name)
            if arn in attached:
                return  # attaching twice is not an error
            if len(attached) >= MAX_ATTACHED:
                raise errors.quota(ATTACH_QUOTA[kind], MAX_ATTACHED)
            await self.store.attach(kind, entity.name, arn)

    async def detach(self, kind: str, name: str, arn: str) -> None:
        async with self.core.lock:
            entity = self.core.entity(kind, name)
            if arn not in self.store.attached(kind, entity.name):
                raise errors.no_policy(arn)
            await self.store.detach(kind, entity.name, arn)

    def attached(self, kind: str, name: str) -> list[ManagedPolicy]:
        entity = self.core.entity(kind, name)
        return [p for p in (self.find(arn) for arn in self.store.attached(kind, entity.name)) if p is not None]

    def attachment_count(self, arn: str) -> int:
        return len(self.store.attachments_of(arn))

    # -- inline policies -------------------------------------------------------------------------
    async def put_inline(self, kind: str, name: str, policy_name: str, document: str) -> None:
        validated(document, Use.IDENTITY)
        async with self.core.lock:
            entity = self.core.entity(kind, name)
            others = [doc for stored, doc in self.store.inline_all(kind, entity.name)
                      if stored.lower() != policy_name.lower()]
            if sum(map(policy_size, others)) + policy_size(document) > INLINE_SIZE[kind]:
                raise errors.limit(f"Maximum policy size of {INLINE_SIZE[kind]} bytes exceeded for {kind} {entity.name}")
            existing = self.store.inline(kind, entity.name, policy_name)
            await self.store.put_inline(kind, entity.name, existing[0] if existing else policy_name, document)

    def inline(self, kind: str, name: str, policy_name: str) -> tuple[str, str, str]:
        """(entity name, policy name, document)."""
        entity = self.core.entity(kind, name)
        found = self.store.inline(kind, entity.name, policy_name)
        if found is None:
            raise errors.no_such(f"The {kind} policy with name {policy_name} cannot be found.")
        return entity.name, found[0], found[1]

    async def delete_inline(self, kind: str, name: str, policy_name: str) -> None:
        async with self.core.lock:
            entity_name, stored, _ = self.inline(kind, name, policy_name)
            await self.store.delete_inline(kind, entity_name, stored)

    def inline_names(self, kind: str, name: str) -> list[str]:
        entity = self.core.entity(kind, name)
        return [stored for stored, _ in self.store.inline_all(kind, entity.name)]
