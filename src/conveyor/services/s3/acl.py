"""Access control lists: canned ACLs, `x-amz-grant-*` headers and AccessControlPolicy documents, as
buckets whose Object Ownership leaves ACLs enabled (ObjectWriter, BucketOwnerPreferred) keep them.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html
An ACL is stored as its canned name (`private`, `public-read`...) or, when given grant by grant, as
`{"Grants": [...]}` JSON; either reads back as the grants S3 shows. A grantee is a canonical user (`id`),
one of S3's predefined groups (`uri`), or, once, an e-mail address, which S3 no longer resolves
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#specifying-grantee).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from conveyor.wire import ServiceError

GROUP_BASE = "http://acs.amazonaws.com/groups/"
ALL_USERS = GROUP_BASE + "global/AllUsers"
AUTHENTICATED_USERS = GROUP_BASE + "global/AuthenticatedUsers"
LOG_DELIVERY = GROUP_BASE + "s3/LogDelivery"
GROUPS = (ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY)
PERMISSIONS = ("FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP")
HEADER_PERMISSIONS = {"GrantFullControl": "FULL_CONTROL", "GrantRead": "READ", "GrantReadACP": "READ_ACP",
                      "GrantWrite": "WRITE", "GrantWriteACP": "WRITE_ACP"}
_GRANTEE = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*"?([^",]*)"?\s*(?:,|$)', re.IGNORECASE)


def _invalid(message: str) -> ServiceError:
    return ServiceError("InvalidArgument", message, 400)


def _group(uri: str) -> dict[str, str]:
    return {"Type": "Group", "URI": uri}


def canned_grants(name: str, owner: dict[str, str], bucket_owner: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#canned-acl. `bucket_owner`: the
    bucket's owner when another account owns the object (conveyor.services.s3.cross_account), whom
    `bucket-owner-read` and `bucket-owner-full-control` grant READ and FULL_CONTROL."""
    me = {**owner, "Type": "CanonicalUser"}
    grants: list[dict[str, Any]] = [{"Grantee": me, "Permission": "FULL_CONTROL"}]
    if bucket_owner is not None and bucket_owner.get("ID") != owner.get("ID"):
        permission = {"bucket-owner-read": "READ", "bucket-owner-full-control": "FULL_CONTROL"}.get(name)
        if permission is not None:
            grants.append({"Grantee": {**bucket_owner, "Type": "CanonicalUser"}, "Permission": permission})
    if name in ("public-read", "public-read-write"):
        grants.append({"Grantee": _group(ALL_USERS), "Permission": "READ"})
    if name == "public-read-write":
        grants.append({"Grantee": _group(ALL_USERS), "Permission": "WRITE"})
    if name == "authenticated-read":
        grants.append({"Grantee": _group(AUTHENTICATED_USERS), "Permission": "READ"})
    if name == "log-delivery-write":
        grants += [{"Grantee": _group(LOG_DELIVERY), "Permission": "WRITE"},
                   {"Grantee": _group(LOG_DELIVERY), "Permission": "READ_ACP"}]
    return grants


def _grantee(kind: str, value: str) -> dict[str, str]:
    kind = kind.lower()
    if kind == "id":
        if not value:
            raise _invalid("Invalid id")
        return {"Type": "CanonicalUser", "ID": value}
    if kind == "uri":
        if value not in GROUPS:
            raise _invalid("Invalid group uri")
        return _group(value)
    raise ServiceError("UnresolvableGrantByEmailAddress", "The e-mail address you provided does not match any "
                       "account on record.", 400)


def header_grants(params: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The grants of `x-amz-grant-read: id="...", uri="..."` style headers; None when there are none."""
    grants: list[dict[str, Any]] = []
    for member, permission in HEADER_PERMISSIONS.items():
        text = params.get(member)
        if not text:
            continue
        position = 0
        while position < len(text):
            match = _GRANTEE.match(text, position)
            if match is None:
                raise _invalid("Invalid grantee in x-amz-grant header")
            grants.append({"Grantee": _grantee(match[1], match[2].strip()), "Permission": permission})
            position = match.end()
    return grants or None


def body_grants(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The grants of an AccessControlPolicy document, checked as S3 checks them."""
    grants: list[dict[str, Any]] = []
    for grant in policy.get("Grants") or []:
        grantee = grant.get("Grantee") or {}
        permission = grant.get("Permission")
        if permission not in PERMISSIONS:
            raise ServiceError("MalformedACLError", "The XML you provided was not well-formed or did not validate "
                               "against our published schema", 400)
        kind = grantee.get("Type")
        if kind == "CanonicalUser":
            parsed = _grantee("id", grantee.get("ID") or "")
        elif kind == "Group":
            parsed = _grantee("uri", grantee.get("URI") or "")
        elif kind == "AmazonCustomerByEmail":
            parsed = _grantee("emailAddress", grantee.get("EmailAddress") or "")
        else:
            raise ServiceError("MalformedACLError", "The XML you provided was not well-formed or did not validate "
                               "against our published schema", 400)
        grants.append({"Grantee": parsed, "Permission": permission})
    return grants


def requested(params: Mapping[str, Any], canned: tuple[str, ...]) -> str | dict[str, Any] | None:
    """What a write asks its ACL to be: a canned name, {"Grants": [...]} from grant headers, or None.
    Both at once is refused (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectAcl.html)."""
    name = params.get("ACL")
    grants = header_grants(params)
    if name and grants:
        raise ServiceError("InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed", 400)
    if grants:
        return {"Grants": grants}
    if name is not None and name not in canned:
        raise _invalid(f"Unsupported canned ACL {name}")
    return name


def stored(value: str | dict[str, Any]) -> str:
    """How a bucket's ACL column keeps it."""
    return value if isinstance(value, str) else json.dumps(value)


def grants_of(value: Any, owner: dict[str, str], bucket_owner: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The grants of a stored ACL (a bucket's column, an object's metadata): canned name, dict or its JSON."""
    if isinstance(value, str) and value.startswith("{"):
        value = json.loads(value)
    if isinstance(value, dict):
        return list(value.get("Grants") or [])
    return canned_grants(str(value or "private"), owner, bucket_owner)


def allows(grants: list[dict[str, Any]], group: str, permission: str) -> bool:
    """Whether the grants give `group` the permission (FULL_CONTROL gives every one)."""
    return any(g["Grantee"].get("URI") == group and g["Permission"] in (permission, "FULL_CONTROL") for g in grants)


def is_public(grants: list[dict[str, Any]]) -> bool:
    """A grant to everyone or to every AWS user: what Block Public Access refuses and ignores."""
    return any(g["Grantee"].get("URI") in (ALL_USERS, AUTHENTICATED_USERS) for g in grants)


def owner_only(grants: list[dict[str, Any]], owner: dict[str, str]) -> bool:
    """Whether the ACL gives access to nobody but the owner (what disabling ACLs requires)."""
    return all(g["Grantee"].get("ID") == owner.get("ID") for g in grants)
