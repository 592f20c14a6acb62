"""What each Route 53 operation asks IAM for (`--iam report|enforce`).

https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonroute53.html: Route 53 is
global, so its ARNs name neither region nor account: `arn:aws:route53:::hostedzone/ID`,
`arn:aws:route53:::healthcheck/ID`, `arn:aws:route53:::change/ID`, `arn:aws:route53:::delegationset/ID`.
Operations that create or list act on "*".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.authz import Need

_ZONE_PARAM = {"GetHostedZone": "Id", "DeleteHostedZone": "Id", "UpdateHostedZoneComment": "Id",
               "ChangeResourceRecordSets": "HostedZoneId", "ListResourceRecordSets": "HostedZoneId",
               "AssociateVPCWithHostedZone": "HostedZoneId", "DisassociateVPCFromHostedZone": "HostedZoneId",
               "GetHostedZoneLimit": "HostedZoneId"}
_CHECK_PARAM = {"GetHealthCheck", "UpdateHealthCheck", "DeleteHealthCheck", "GetHealthCheckStatus",
                "GetHealthCheckLastFailureReason"}
_SET_PARAM = {"GetReusableDelegationSet", "DeleteReusableDelegationSet"}


def _arn(kind: str, value: object) -> str:
    named = str(value).rsplit("/", 1)[-1] if isinstance(value, str) and value else "*"
    return f"arn:aws:route53:::{kind}/{named}"


def needs(operation: str, params: Mapping[str, Any]) -> list[Need]:
    action = f"route53:{operation}"
    if operation in _ZONE_PARAM:
        return [Need(action, _arn("hostedzone", params.get(_ZONE_PARAM[operation])))]
    if operation in _CHECK_PARAM:
        return [Need(action, _arn("healthcheck", params.get("HealthCheckId")))]
    if operation in _SET_PARAM:
        return [Need(action, _arn("delegationset", params.get("Id")))]
    if operation == "GetChange":
        return [Need(action, _arn("change", params.get("Id")))]
    if operation in ("ChangeTagsForResource", "ListTagsForResource"):
        return [Need(action, _arn(str(params.get("ResourceType") or "hostedzone"), params.get("ResourceId")))]
    return [Need(action)]
