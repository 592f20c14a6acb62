"""IAM's response shapes, built from the entities, and its Marker/MaxItems pagination.

Policy documents go out URL-encoded, as IAM sends them (the SDKs decode them back into JSON).
https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

from conveyor.services.iam import errors
from conveyor.services.iam.core import Core
from conveyor.services.iam.entities import Group, InstanceProfile, ManagedPolicy, PolicyVersion, Role, User

T = TypeVar("T")
DEFAULT_PAGE = 100
Wire = dict[str, Any]


def encoded(document: str) -> str:
    return quote(document, safe="")


def boundary(arn: str | None) -> Wire | None:
    return {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn} if arn else None


def user(core: Core, item: User, *, full: bool = True) -> Wire:
    """ListUsers leaves out PermissionsBoundary and Tags (API_ListUsers.html)."""
    out: Wire = {"Path": item.path, "UserName": item.name, "UserId": item.id, "Arn": core.user_arn(item),
                 "CreateDate": item.created}
    if full:
        out["PermissionsBoundary"] = boundary(item.boundary)
        out["Tags"] = item.tags or None
    return out


def group(core: Core, item: Group) -> Wire:
    return {"Path": item.path, "GroupName": item.name, "GroupId": item.id, "Arn": core.group_arn(item),
            "CreateDate": item.created}


def role(core: Core, item: Role, *, full: bool = True) -> Wire:
    """ListRoles leaves out PermissionsBoundary, RoleLastUsed and Tags (API_ListRoles.html)."""
    out: Wire = {"Path": item.path, "RoleName": item.name, "RoleId": item.id, "Arn": core.role_arn(item),
                 "CreateDate": item.created, "AssumeRolePolicyDocument": encoded(item.trust),
                 "Description": item.description, "MaxSessionDuration": item.max_session}
    if full:
        out["PermissionsBoundary"] = boundary(item.boundary)
        out["Tags"] = item.tags or None
        last: Wire = {}
        if item.last_used is not None:
            last = {"LastUsedDate": item.last_used, "Region": item.last_used_region}
        out["RoleLastUsed"] = last
    return out


def profile(core: Core, item: InstanceProfile, roles: Sequence[Role]) -> Wire:
    return {"Path": item.path, "InstanceProfileName": item.name, "InstanceProfileId": item.id,
            "Arn": core.profile_arn(item), "CreateDate": item.created,
            "Roles": [role(core, r, full=False) for r in roles], "Tags": item.tags or None}


def policy(item: ManagedPolicy, attachments: int, boundaries: int, *, full: bool = False) -> Wire:
    """GetPolicy adds Description and Tags to what ListPolicies gives."""
    out: Wire = {"PolicyName": item.name, "PolicyId": item.id, "Arn": item.arn, "Path": item.path,
                 "DefaultVersionId": item.default_version, "AttachmentCount": attachments,
                 "PermissionsBoundaryUsageCount": boundaries, "IsAttachable": True, "CreateDate": item.created,
                 "UpdateDate": item.updated}
    if full:
        out["Description"] = item.description
        out["Tags"] = item.tags or None
    return out


def version(item: PolicyVersion, default: str, *, document: bool = True) -> Wire:
    out: Wire = {"VersionId": item.version, "IsDefaultVersion": item.version == default,
                 "CreateDate": item.created}
    if document:
        out["Document"] = encoded(item.document)
    return out


def page(items: Sequence[T], key: Callable[[T], str], marker: str | None, max_items: int | None) -> tuple[list[T], Wire]:
    """One page of `items` (sorted by `key`) after `marker`, and the IsTruncated/Marker fields."""
    after = None
    if marker:
        try:
            after = base64.urlsafe_b64decode(marker.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise errors.invalid("Invalid Marker.")
    ordered = sorted(items, key=key)
    if after is not None:
        ordered = [item for item in ordered if key(item) > after]
    size = max_items or DEFAULT_PAGE
    chosen = ordered[:size]
    if len(ordered) > size:
        return chosen, {"IsTruncated": True, "Marker": base64.urlsafe_b64encode(key(chosen[-1]).encode()).decode()}
    return chosen, {"IsTruncated": False}
