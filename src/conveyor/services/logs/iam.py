"""What each CloudWatch Logs operation asks IAM for (`--iam report|enforce`).

https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html
- Group operations act on `arn:aws:logs:REGION:ACCOUNT:log-group:NAME`; stream operations (PutLogEvents,
  GetLogEvents, DeleteLogStream) on `...:log-group:NAME:log-stream:STREAM`.
- DescribeLogGroups acts on "*"; the tag operations on the ARN they are given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.authz import Need
from conveyor.wire import RequestContext

_STREAM_OPERATIONS = {"PutLogEvents", "GetLogEvents", "DeleteLogStream"}


def needs(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> list[Need]:
    action = f"logs:{operation}"
    resource = params.get("resourceArn")
    if isinstance(resource, str):
        return [Need(action, resource)]
    group = params.get("logGroupName") or params.get("logGroupIdentifier")
    if not isinstance(group, str) or operation == "DescribeLogGroups":
        return [Need(action)]
    arn = group if group.startswith("arn:") else f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{group}"
    arn = arn.removesuffix(":*")
    stream = params.get("logStreamName")
    if operation in _STREAM_OPERATIONS and isinstance(stream, str):
        return [Need(action, f"{arn}:log-stream:{stream}")]
    return [Need(action, arn)]
