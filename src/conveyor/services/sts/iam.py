"""What each STS operation asks IAM for (`--iam report|enforce`).

https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html
- GetCallerIdentity and GetSessionToken need no permission ("No permissions are required to perform
  this operation": API_GetCallerIdentity.html, API_GetSessionToken.html).
- AssumeRole is sts:AssumeRole on the role (and sts:TagSession with session tags, sts:SetSourceIdentity
  with a source identity), judged with the role's trust policy as its resource-based policy: within the
  account, a trust policy naming the caller (or its role) is enough on its own, one naming only the
  account delegates to the caller's identity-based policies, which must then allow it; across accounts
  both must (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).
  The trust policy is checked by AssumeRole itself in every mode (conveyor.services.sts.trust).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.authz import Need

_FREE = {"GetCallerIdentity", "GetSessionToken"}


def needs(operation: str, params: Mapping[str, Any]) -> list[Need]:
    if operation in _FREE:
        return []
    role = params.get("RoleArn")
    if operation != "AssumeRole" or not isinstance(role, str):
        return [Need(f"sts:{operation}")]
    context: dict[str, str | list[str]] = {"sts:RoleSessionName": str(params.get("RoleSessionName", ""))}
    if isinstance(params.get("ExternalId"), str):
        context["sts:ExternalId"] = params["ExternalId"]
    tags = [t["Key"] for t in params.get("Tags") or [] if isinstance(t, Mapping) and "Key" in t]
    if tags:
        context["aws:TagKeys"] = tags
    out = [Need("sts:AssumeRole", role, context)]
    if tags:
        out.append(Need("sts:TagSession", role, context))
    if isinstance(params.get("SourceIdentity"), str):
        context["sts:SourceIdentity"] = params["SourceIdentity"]
        out.append(Need("sts:SetSourceIdentity", role, context))
    return out
