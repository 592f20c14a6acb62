"""What a resource type is to the stack engine: how it is created, updated (in place or by replacement,
as each property's "Update requires" says in AWS's resource reference) and deleted, through the served
APIs (conveyor.ports.ApiCaller), and what its Ref and Fn::GetAtt give.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-template-resource-type-ref.html
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from conveyor.ports import ApiCaller
from conveyor.services.cloudformation.errors import ResourceFailure
from conveyor.wire import ServiceError

_SUFFIX_ALPHABET = string.ascii_uppercase + string.digits


@dataclass
class Made:
    """A resource as it now stands: its physical id, what Ref gives (the physical id unless the type says
    otherwise) and its Fn::GetAtt attributes."""

    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    ref: str | None = None


@dataclass
class Target:
    """Where a resource is made: its stack, its logical id, and the APIs that make it."""

    api: ApiCaller
    region: str
    account: str
    stack_name: str
    logical_id: str
    # The stack's record of a resource about to be made (see `making`); None where nothing is recorded.
    record_making: Callable[[str], Awaitable[None]] | None = None

    async def making(self, physical_id: str) -> None:
        """Called by a type's create just before the call that makes the resource, with the physical id it
        will have, once that id is free: the stack commits it, so that a creation cut short (the server
        killed or stopped, the stack's work cancelled) before the stack records it as made is still deleted
        by the rollback or DeleteStack that follows. A type whose ids are known only once made does not call
        it."""
        if self.record_making is not None:
            await self.record_making(physical_id)

    async def call(self, service: str, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The operation, its ServiceError turned into the resource's failure reason (as CloudFormation
        shows the service's own message)."""
        try:
            return await self.api.call(service, operation, params, self.region)
        except ServiceError as error:
            raise ResourceFailure(f"{error.message} (Service: {service}, Status Code: {error.status}, "
                                  f"Error Code: {error.code})") from error

    def generated_name(self, limit: int, *, lower: bool = False, suffix: str = "") -> str:
        """The name CloudFormation gives a resource the template does not name: stack, logical id and a
        random part, cut to the type's limit.
        https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html"""
        random = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(12))
        budget = limit - len(random) - len(suffix) - 2
        stack = self.stack_name[:max(1, budget // 2)]
        logical = self.logical_id[:max(1, budget - len(stack))]
        name = f"{stack}-{logical}-{random}{suffix}"
        return name.lower() if lower else name


class ResourceType:
    """One resource type. Subclasses name the properties they honour (any other is refused, never
    ignored) and those whose change requires replacement."""

    type_name: ClassVar[str] = ""
    properties: ClassVar[frozenset[str]] = frozenset()
    required: ClassVar[frozenset[str]] = frozenset()
    replace_on: ClassVar[frozenset[str]] = frozenset()
    # The property that names the resource: a change of a named resource that needs replacement fails when
    # the name stays (two resources cannot share it).
    name_property: ClassVar[str | None] = None
    # Whether it needs CAPABILITY_IAM (CAPABILITY_NAMED_IAM when `name_property` is set).
    iam: ClassVar[bool] = False

    def check(self, properties: Mapping[str, Any]) -> None:
        unsupported = sorted(set(properties) - self.properties)
        if unsupported:
            raise ResourceFailure(f"Conveyor does not support the propert{'ies' if len(unsupported) > 1 else 'y'} "
                                  f"{', '.join(unsupported)} of {self.type_name}")
        missing = sorted(self.required - set(properties))
        if missing:
            raise ResourceFailure(f"Properties validation failed for resource with message: "
                                  f"#: required key [{missing[0]}] not found")

    def needs_replacement(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
        return any(old.get(name) != new.get(name) for name in self.replace_on)

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        raise NotImplementedError

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        raise NotImplementedError

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        raise NotImplementedError


def as_json(value: Any) -> str:
    """A property that CloudFormation takes as an object or as JSON text, as the API's JSON text."""
    return value if isinstance(value, str) else json.dumps(value)


def as_int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ResourceFailure(f"Value of property {name} must be of type Integer")


def as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def tag_list(value: Any) -> list[dict[str, str]]:
    return [{"Key": str(tag["Key"]), "Value": str(tag["Value"])} for tag in value or []]


def tag_map(value: Any) -> dict[str, str]:
    return {str(tag["Key"]): str(tag["Value"]) for tag in value or []}


async def ignore_missing(target: Target, service: str, operation: str, params: Mapping[str, Any],
                         *codes: str) -> None:
    """A delete of something already gone succeeds, as CloudFormation's deletes do."""
    try:
        await target.api.call(service, operation, params, target.region)
    except ServiceError as error:
        if error.code not in codes and error.status != 404:
            raise ResourceFailure(f"{error.message} (Service: {service}, Status Code: {error.status}, "
                                  f"Error Code: {error.code})") from error
