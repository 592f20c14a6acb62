"""What each CloudWatch operation asks IAM for (`--iam report|enforce`).

https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html
- The alarm operations act on `arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME`, one need per alarm named.
- Metric operations (PutMetricData, GetMetricData, GetMetricStatistics, ListMetrics) and DescribeAlarms
  act on "*"; PutMetricData carries cloudwatch:namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.authz import Need
from conveyor.wire import RequestContext


def needs(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> list[Need]:
    action = f"cloudwatch:{operation}"
    if operation == "PutMetricData" and isinstance(params.get("Namespace"), str):
        return [Need(action, "*", {"cloudwatch:namespace": params["Namespace"]})]
    names = params.get("AlarmNames")
    if not isinstance(names, list):
        one = params.get("AlarmName")
        names = [one] if isinstance(one, str) else []
    if operation in ("DescribeAlarms", "DescribeAlarmsForMetric") or not names:
        return [Need(action)]
    return [Need(action, f"arn:aws:cloudwatch:{ctx.region}:{ctx.account_id}:alarm:{name}") for name in names]
