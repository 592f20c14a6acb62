"""What each EventBridge Scheduler operation asks IAM for (`--iam report|enforce`).

https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridgescheduler.html:
- Schedule operations (CreateSchedule, UpdateSchedule, GetSchedule, DeleteSchedule) act on the schedule,
  `arn:aws:scheduler:REGION:ACCOUNT:schedule/GROUP/NAME` (the `default` group when none is named).
- CreateSchedule and UpdateSchedule also need iam:PassRole on the target's RoleArn, with
  iam:PassedToService scheduler.amazonaws.com
  (https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role).
- Group operations act on `arn:aws:scheduler:REGION:ACCOUNT:schedule-group/NAME`; CreateScheduleGroup
  with tags also needs scheduler:TagResource, and DeleteScheduleGroup, which deletes the group's
  schedules, scheduler:DeleteSchedule on them (`schedule/GROUP/*`).
- Tags act on the group their ResourceArn names; ListSchedules and ListScheduleGroups act on "*".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.authz import Denial, Need
from conveyor.services.scheduler import errors
from conveyor.services.scheduler.engine import DEFAULT_GROUP
from conveyor.services.scheduler.schedules import group_arn, schedule_arn
from conveyor.wire import RequestContext, ServiceError

SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"


def _group(params: Mapping[str, Any]) -> str:
    group = params.get("GroupName")
    return group if isinstance(group, str) and group else DEFAULT_GROUP


def needs(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> list[Need]:
    action = f"scheduler:{operation}"
    name = params.get("Name")
    if operation in ("CreateSchedule", "UpdateSchedule", "GetSchedule", "DeleteSchedule") and isinstance(name, str):
        out = [Need(action, schedule_arn(ctx.region, ctx.account_id, _group(params), name))]
        target = params.get("Target")
        role = target.get("RoleArn") if isinstance(target, dict) else None
        if operation in ("CreateSchedule", "UpdateSchedule") and isinstance(role, str) and role:
            out.append(Need("iam:PassRole", role, {"iam:PassedToService": SCHEDULER_PRINCIPAL}))
        return out
    if operation in ("CreateScheduleGroup", "GetScheduleGroup", "DeleteScheduleGroup") and isinstance(name, str):
        arn = group_arn(ctx.region, ctx.account_id, name)
        out = [Need(action, arn)]
        if operation == "CreateScheduleGroup" and params.get("Tags"):
            out.append(Need("scheduler:TagResource", arn))
        if operation == "DeleteScheduleGroup":
            out.append(Need("scheduler:DeleteSchedule", schedule_arn(ctx.region, ctx.account_id, name, "*")))
        return out
    if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
        resource = params.get("ResourceArn")
        return [Need(action, resource if isinstance(resource, str) and resource else "*")]
    return [Need(action)]


def access_denied(denial: Denial) -> ServiceError:
    """Scheduler answers a denial with HTTP 403: "AccessDeniedException ... HTTP Status Code: 403"
    (https://docs.aws.amazon.com/scheduler/latest/APIReference/CommonErrors.html), its message in
    `Message` as its other errors."""
    return errors.error("AccessDeniedException", denial.message(), 403)
