"""EventBridge Scheduler (rest-json, `aws scheduler`): schedules (one-time `at()`, `rate()`, `cron()` with
time zones, start and end dates, flexible time windows, ActionAfterCompletion) in schedule groups, invoking
functions, queues, topics and event buses with the schedule's execution role, with retries and a
dead-letter queue; tags on groups. Schedules run on the server's clock and survive restarts
(conveyor.services.scheduler.engine). KMS keys and universal (`aws-sdk`) targets are refused.
https://docs.aws.amazon.com/scheduler/latest/APIReference/API_Operations.html
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from conveyor.authz import Denial, Need
from conveyor.ports import Ports
from conveyor.services.base import Environment, Service
from conveyor.services.scheduler import errors, iam, schedules
from conveyor.services.scheduler.engine import DEFAULT_GROUP, Engine, describe
from conveyor.services.scheduler.store import GroupRow, ScheduleRow
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_scheduler.type_defs import (
        CreateScheduleGroupInputTypeDef,
        CreateScheduleInputTypeDef,
        DeleteScheduleGroupInputTypeDef,
        DeleteScheduleInputTypeDef,
        GetScheduleGroupInputTypeDef,
        GetScheduleInputTypeDef,
        ListScheduleGroupsInputTypeDef,
        ListSchedulesInputTypeDef,
        ListTagsForResourceInputTypeDef,
        TagResourceInputTypeDef,
        UntagResourceInputTypeDef,
        UpdateScheduleInputTypeDef,
    )

PAGE = 100


def _page(items: list[Any], token: str | None, limit: int | None) -> tuple[list[Any], str | None]:
    try:
        start = int(token) if token else 0
    except ValueError:
        raise errors.validation("Invalid NextToken.")
    size = limit or PAGE
    return items[start:start + size], (str(start + size) if start + size < len(items) else None)


class SchedulerService(Service):
    name = "scheduler"
    other_accounts_own_nothing = True  # another account's caller: in its own account, empty here
    validation_codes = errors.VALIDATION

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.engine = Engine(self.config, self.clock, env.disk, self.ports)

    def provide(self, ports: Ports) -> None:
        """Scheduler offers nothing to the other services; it uses theirs."""

    async def start(self) -> None:
        self.engine.start()

    async def stop(self) -> None:
        self.engine.stop()

    async def reset(self) -> None:
        await self.engine.reset()

    def missing_for_other_account(self, ctx: RequestContext, operation: str, params: dict[str, Any]) -> ServiceError | None:
        """Names are its own account's: ResourceNotFoundException, as for any missing schedule or group."""
        name = params.get("Name")
        if not isinstance(name, str) or operation.startswith("Create"):
            return None
        group = operation in ("GetScheduleGroup", "DeleteScheduleGroup")
        return errors.group_not_found(name) if group else errors.schedule_not_found(name)


    def health(self) -> dict[str, Any]:
        if not self.engine.started:
            return {"status": "stopped"}
        return {"status": "running", **self.engine.counts()}

    # -- IAM (conveyor.services.scheduler.iam) ----------------------------------------------------------
    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(ctx, operation.name, params)

    def access_denied(self, ctx: RequestContext, denial: Denial) -> ServiceError:
        return iam.access_denied(denial)

    def _is_fifo(self, arn: str) -> bool | None:
        queues = self.ports.queues
        return queues.is_fifo(arn) if queues is not None else None

    # -- schedules ---------------------------------------------------------------------------------------
    async def CreateSchedule(self, ctx: RequestContext, params: CreateScheduleInputTypeDef) -> dict[str, Any]:
        spec = schedules.check(params, self._is_fifo)
        engine = self.engine
        async with engine.mutex:
            group = engine.group(ctx.region, params.get("GroupName"))
            key = (ctx.region, group.name, params["Name"])
            token = params.get("ClientToken")
            existing = engine.schedules.get(key)
            if existing is not None:
                # ClientToken makes CreateSchedule idempotent: a retry of the call that created the schedule
                # (same token, same settings) answers it again; anything else is a conflict.
                # https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html
                if token is None or existing.row.client_token != token or existing.row.spec != spec:
                    raise errors.conflict(f"Schedule {params['Name']} already exists.")
                return {"ScheduleArn": existing.arn(engine.account)}
            now = self.clock.now()
            schedule = await engine.save_schedule(ScheduleRow(ctx.region, group.name, params["Name"], spec, now, now,
                                                              None, token))
        return {"ScheduleArn": schedule.arn(engine.account)}

    async def UpdateSchedule(self, ctx: RequestContext, params: UpdateScheduleInputTypeDef) -> dict[str, Any]:
        spec = schedules.check(params, self._is_fifo)
        engine = self.engine
        async with engine.mutex:
            current = engine.schedule(ctx.region, params.get("GroupName"), params["Name"])
            # An update replaces every setting, and the schedule goes on from now.
            row = dataclasses.replace(current.row, spec=spec, modified=self.clock.now(), last_fired=None)
            schedule = await engine.save_schedule(row)
        return {"ScheduleArn": schedule.arn(engine.account)}

    async def GetSchedule(self, ctx: RequestContext, params: GetScheduleInputTypeDef) -> dict[str, Any]:
        return describe(self.engine.schedule(ctx.region, params.get("GroupName"), params["Name"]), self.engine.account)

    async def DeleteSchedule(self, ctx: RequestContext, params: DeleteScheduleInputTypeDef) -> dict[str, Any]:
        engine = self.engine
        async with engine.mutex:
            await engine.drop_schedule(engine.schedule(ctx.region, params.get("GroupName"), params["Name"]))
        return {}

    async def ListSchedules(self, ctx: RequestContext, params: ListSchedulesInputTypeDef) -> dict[str, Any]:
        engine = self.engine
        group = params.get("GroupName")
        if group:
            engine.group(ctx.region, group)
        prefix, state = params.get("NamePrefix") or "", params.get("State")
        found = sorted((s for (region, g, name), s in engine.schedules.items()
                        if region == ctx.region and (not group or g == group) and name.startswith(prefix)
                        and (not state or s.row.spec.get("State") == state)), key=lambda s: (s.row.group, s.row.name))
        chosen, token = _page(found, params.get("NextToken"), params.get("MaxResults"))
        out: dict[str, Any] = {"Schedules": [{
            "Arn": s.arn(engine.account), "Name": s.row.name, "GroupName": s.row.group, "State": s.row.spec["State"],
            "CreationDate": s.row.created, "LastModificationDate": s.row.modified,
            "Target": {"Arn": s.row.spec["Target"]["Arn"]}} for s in chosen]}
        if token:
            out["NextToken"] = token
        return out

    # -- groups ------------------------------------------------------------------------------------------
    def _describe_group(self, group: GroupRow) -> dict[str, Any]:
        out: dict[str, Any] = {"Arn": schedules.group_arn(group.region, self.engine.account, group.name),
                               "Name": group.name, "State": "ACTIVE"}
        if group.created:
            out["CreationDate"] = out["LastModificationDate"] = group.created
        return out

    async def CreateScheduleGroup(self, ctx: RequestContext, params: CreateScheduleGroupInputTypeDef) -> dict[str, Any]:
        engine = self.engine
        async with engine.mutex:
            if engine.find_group(ctx.region, params["Name"]) is not None:
                raise errors.conflict(f"Schedule group {params['Name']} already exists.")
            group = GroupRow(ctx.region, params["Name"], {t["Key"]: t["Value"] for t in params.get("Tags") or []},
                             self.clock.now())
            await engine.save_group(group)
        return {"ScheduleGroupArn": schedules.group_arn(ctx.region, engine.account, group.name)}

    async def GetScheduleGroup(self, ctx: RequestContext, params: GetScheduleGroupInputTypeDef) -> dict[str, Any]:
        return self._describe_group(self.engine.group(ctx.region, params["Name"]))

    async def DeleteScheduleGroup(self, ctx: RequestContext, params: DeleteScheduleGroupInputTypeDef) -> dict[str, Any]:
        if params["Name"] == DEFAULT_GROUP:
            raise errors.validation("The default schedule group cannot be deleted.")
        engine = self.engine
        async with engine.mutex:
            await engine.drop_group(engine.group(ctx.region, params["Name"]))  # with its schedules
        return {}

    async def ListScheduleGroups(self, ctx: RequestContext, params: ListScheduleGroupsInputTypeDef) -> dict[str, Any]:
        prefix = params.get("NamePrefix") or ""
        found = [g for g in self.engine.groups_in(ctx.region) if g.name.startswith(prefix)]
        chosen, token = _page(found, params.get("NextToken"), params.get("MaxResults"))
        out: dict[str, Any] = {"ScheduleGroups": [self._describe_group(g) for g in chosen]}
        if token:
            out["NextToken"] = token
        return out

    # -- tags (schedule groups carry them) ---------------------------------------------------------------
    def _group_by_arn(self, arn: str) -> GroupRow:
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "scheduler" or not parts[5].startswith("schedule-group/"):
            raise errors.validation(f"Invalid ResourceArn {arn}.")
        name = parts[5][len("schedule-group/"):]
        found = self.engine.find_group(parts[3], name)
        if found is None:
            raise errors.group_not_found(name)
        return found

    async def TagResource(self, ctx: RequestContext, params: TagResourceInputTypeDef) -> dict[str, Any]:
        async with self.engine.mutex:
            group = self._group_by_arn(params["ResourceArn"])
            tags = {**group.tags, **{t["Key"]: t["Value"] for t in params["Tags"]}}
            await self.engine.save_group(dataclasses.replace(group, tags=tags, created=group.created or self.clock.now()))
        return {}

    async def UntagResource(self, ctx: RequestContext, params: UntagResourceInputTypeDef) -> dict[str, Any]:
        async with self.engine.mutex:
            group = self._group_by_arn(params["ResourceArn"])
            keys = set(params["TagKeys"])
            await self.engine.save_group(dataclasses.replace(group, tags={k: v for k, v in group.tags.items()
                                                                          if k not in keys}))
        return {}

    async def ListTagsForResource(self, ctx: RequestContext, params: ListTagsForResourceInputTypeDef) -> dict[str, Any]:
        group = self._group_by_arn(params["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(group.tags.items())]}
