"""Whether a role's trust policy lets a caller act on it, judged by the policy engine.

A trust policy is the role's resource-based policy: a statement must name the caller in its Principal
and allow the action (sts:AssumeRole, and sts:TagSession when session tags are passed,
sts:SetSourceIdentity when a source identity is set), under its conditions (sts:ExternalId,
sts:RoleSessionName, aws:RequestTag/..., aws:PrincipalTag/...). An explicit Deny wins.
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html (trust policy) and
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html (sts: keys)

Within the account, a trust policy that names the account (`arn:aws:iam::ACCOUNT:root`) rather than the
caller delegates to the caller's identity-based policies, which must then allow sts:AssumeRole on the
role: that half is judged with the other identity policies under `--iam report|enforce`
(conveyor.authz, conveyor.services.sts.iam); with `--iam off` such a delegation is taken as granted.
"""

from __future__ import annotations

import datetime as dt

from conveyor.authz.callers import principal_of
from conveyor.policy import AccessRequest, Principal, judge
from conveyor.policy.context import Context

__all__ = ["allows", "principal_of"]


def allows(trust_policy: str, principal: Principal, action: str, role_arn: str, context: Context,
           now: float) -> bool:
    """Whether the trust policy lets `principal` perform `action` on the role."""
    request = AccessRequest(principal, action, role_arn, context, now=dt.datetime.fromtimestamp(now, dt.UTC))
    verdict = judge(trust_policy, request, resource_based=True)
    return not verdict.denies and verdict.allows is not None
