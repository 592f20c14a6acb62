"""CloudWatch Logs (JSON 1.1): log groups and streams, events in and out, retention, tags.

- Events are durable in SQLite (conveyor.services.logs.store); PutLogEvents answers once they are.
- Retention deletes a group's older events on the server's clock, hourly and when the policy is set
  (AWS deletes expired events within days, not at once).
- Functions and worker pools write through the log sink (conveyor.ports.LogSink): /aws/lambda/NAME with
  a stream per execution environment, /conveyor/pools/NAME with a stream per worker.
- `conveyor logs` reads the same events through GET /_conveyor/logs (conveyor.services.logs.internal).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.model import OperationModel

from conveyor import resource_policy
from conveyor.authz import Need
from conveyor.clock import TimerHandle
from conveyor.ports import Ports
from conveyor.services.base import Environment, Service
from conveyor.services.logs import errors, iam, internal
from conveyor.services.logs.catalog import RETENTION_DAYS, Catalog, LogGroup
from conveyor.services.logs.events import check_batch, rows_for
from conveyor.services.logs.policies import ResourcePolicies, policy_not_found
from conveyor.services.logs.reading import filter_events, get_events
from conveyor.services.logs.sink import LogBuffer
from conveyor.services.logs.store import LogStore
from conveyor.wire import RequestContext, ServiceError

SWEEP_EVERY = 3600.0
MAX_TAGS = 50
PAGE_LIMIT = 50


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    """Name-ordered pages: the token is the index of the next item."""
    token = params.get("nextToken")
    try:
        start = int(token) if token else 0
    except ValueError:
        raise errors.bad_token()
    limit = params.get("limit") or PAGE_LIMIT
    page = items[start:start + limit]
    return page, str(start + limit) if start + limit < len(items) else None


class LogsService(Service):
    name = "logs"
    validation_codes = errors.VALIDATION
    internal_prefix = "logs"
    # Another account's caller acts in its own account, which holds nothing here
    # (conveyor.authz.other_accounts): CloudWatch Logs' resource policies are the account's own and grant AWS
    # services, not other accounts (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutResourcePolicy.html);
    # the log-group-scoped ones that could share a group are refused here, and so are subscription destinations.
    other_accounts_own_nothing = True

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.store: LogStore | None = None
        self.catalog: Catalog | None = None
        self.policies: ResourcePolicies | None = None
        self.buffer: LogBuffer | None = None
        self._sweep: TimerHandle | None = None
        self.grew = asyncio.Event()  # set whenever events are stored (followers wait on it)

    def provide(self, ports: Ports) -> None:
        ports.logs = self
        ports.log_groups = self

    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(ctx, operation.name, params)

    def missing_for_other_account(self, ctx: RequestContext, operation: str, params: dict[str, Any]) -> ServiceError | None:
        """A log group named by name, or by an ARN of the caller's own account, is one of its own account,
        which has none: "The specified log group does not exist.", as for any missing group; so is an account
        policy it names. The account's groups named by their ARNs are AccessDenied (the enforcer's rule)."""
        if operation == "CreateLogGroup":
            return None  # creating: AccessDenied (Conveyor holds one account)
        caller = ctx.principal.account_id if ctx.principal is not None else ctx.account_id
        for member in ("logGroupName", "logGroupIdentifier", "resourceArn"):
            named = params.get(member)
            if isinstance(named, str) and named and (not named.startswith("arn:") or named.split(":")[4:5] == [caller]):
                return errors.group_not_found()
        if operation == "DeleteResourcePolicy" and isinstance(params.get("policyName"), str):
            return policy_not_found(params["policyName"])
        return None

    async def start(self) -> None:
        self.store = LogStore(self.config.service_dir("logs") / "logs.db", self.env.disk)
        self.catalog = Catalog(self.store)
        self.catalog.load()
        self.policies = ResourcePolicies(self.store)
        self.policies.load()
        self.buffer = LogBuffer(self.catalog, self.clock, self._stored)
        self.buffer.enabled = True
        self._schedule_sweep()

    async def stop(self) -> None:
        if self.buffer is not None:
            await self.buffer.drain()
            self.buffer.enabled = False
        if self._sweep is not None:
            self._sweep.cancel()
        if self.store is not None:
            self.store.close()
            self.store = None

    async def reset(self) -> None:
        catalog = self._catalog()
        if self.buffer is not None:
            await self.buffer.drain()
        async with catalog.mutex:
            await catalog.store.wipe()
            catalog.clear()
            self._policies().clear()
        self._schedule_sweep()

    def health(self) -> dict[str, Any]:
        return {"status": "running" if self.store is not None else "stopped",
                "log_groups": len(self.catalog.groups) if self.catalog is not None else 0}

    def _catalog(self) -> Catalog:
        if self.catalog is None:
            raise RuntimeError("Logs is not started")
        return self.catalog

    def _policies(self) -> ResourcePolicies:
        if self.policies is None:
            raise RuntimeError("Logs is not started")
        return self.policies

    def _stored(self) -> None:
        self.grew.set()
        self.grew = asyncio.Event()

    # -- conveyor.ports.LogSink ------------------------------------------------------------------------
    def write(self, region: str, group: str, stream: str, lines: Any) -> None:
        if self.buffer is not None:
            self.buffer.write(region, group, stream, lines)

    # -- conveyor.ports.LogGroups --------------------------------------------------------------------------
    def _group_of(self, arn: str) -> LogGroup | None:
        parts = arn.split(":")
        if self.catalog is None or len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
            return None
        return self.catalog.groups.get((parts[3], _name_from_arn(arn)))

    def resource_exists(self, arn: str) -> bool:
        return self._group_of(arn) is not None

    def delivery_allowed(self, arn: str, stream: str, service: str, context: Mapping[str, str]) -> bool:
        """Both actions a delivering service needs, judged on the stream's ARN as CloudWatch Logs judges
        them (so a statement for `log-group:NAME:*` covers its streams)."""
        group = self._group_of(arn)
        if group is None:
            return False
        resource = group.stream_arn(self.config.account_id, stream)
        return all(self._policies().allows(group.region, resource_policy.Request(
            action=action, resource=resource, service=service, context=context))
            for action in ("logs:CreateLogStream", "logs:PutLogEvents"))

    async def deliver_events(self, arn: str, stream: str, events: Sequence[tuple[int, str]]) -> None:
        catalog = self._catalog()
        group = self._group_of(arn)
        if group is None:
            raise errors.group_not_found()
        found = group.streams.get(stream)
        if found is None:
            try:
                found = await catalog.create_stream(group, stream, self._now_ms())
            except ServiceError as exc:
                if exc.code != "ResourceAlreadyExistsException":
                    raise
                found = group.streams[stream]  # made meanwhile by another delivery
        now = self._now_ms()
        # PutLogEvents' rules hold for a delivering service too: an event too old, past the group's
        # retention or too far ahead is not stored (API_PutLogEvents.html, rejectedLogEventsInfo).
        accepted = check_batch([{"timestamp": ts, "message": message} for ts, message in sorted(events)], now,
                               group.retention_days)
        if not accepted.events:
            return
        rows, touch = rows_for(group, found, accepted.events, catalog.next_event_ids(len(accepted.events)), now)
        await catalog.store.append([], [], rows, [touch])
        catalog.touched([touch])
        self._stored()

    # -- retention -------------------------------------------------------------------------------------
    def _schedule_sweep(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
        self._sweep = self.clock.call_at(self.clock.now() + SWEEP_EVERY, self._sweep_due)

    def _sweep_due(self) -> None:
        from conveyor.background import spawn

        spawn(self.expire(list(self._catalog().groups.values())))
        self._schedule_sweep()

    async def expire(self, groups: list[LogGroup]) -> None:
        now = int(self.clock.now() * 1000)
        cutoffs = [(g.id, now - g.retention_days * 86400 * 1000) for g in groups if g.retention_days]
        if cutoffs:
            await self._catalog().store.expire(cutoffs)
            for group in groups:
                if group.retention_days:
                    group.stored_bytes = self._catalog().store.group_bytes(group.id)

    # -- helpers ---------------------------------------------------------------------------------------
    def _now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    def _group(self, ctx: RequestContext, params: dict[str, Any]) -> LogGroup:
        name = params.get("logGroupName")
        identifier = params.get("logGroupIdentifier")
        if name and identifier:
            raise errors.invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
        if identifier:
            name = _name_from_arn(identifier) if identifier.startswith("arn:") else identifier
        if not name:
            raise errors.invalid("Should provide either name or identifier of the log group.")
        return self._catalog().group(ctx.region, name)

    def _group_by_arn(self, ctx: RequestContext, arn: str) -> LogGroup:
        parts = arn.split(":")
        if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
            raise errors.invalid(f"Invalid resource arn: {arn}")
        group = self._catalog().groups.get((parts[3], _name_from_arn(arn)))
        if group is None:
            raise errors.group_not_found()
        return group

    def _describe_group(self, group: LogGroup) -> dict[str, Any]:
        arn = group.arn(self.config.account_id)
        out: dict[str, Any] = {"logGroupName": group.name, "creationTime": group.created, "metricFilterCount": 0,
                               "arn": f"{arn}:*", "logGroupArn": arn, "storedBytes": group.stored_bytes,
                               "logGroupClass": group.log_class,
                               "deletionProtectionEnabled": group.deletion_protection}
        if group.retention_days:
            out["retentionInDays"] = group.retention_days
        return out

    # -- groups ------------------------------------------------------------------------------------------
    async def CreateLogGroup(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("kmsKeyId"):
            raise errors.invalid("Conveyor serves no KMS, so it cannot encrypt a log group with kmsKeyId; "
                                 "leave it out (events are stored unencrypted on the server's disk).")
        tags = params.get("tags") or {}
        _check_tags(tags)
        await self._catalog().create_group(ctx.region, params["logGroupName"], self._now_ms(),
                                           log_class=params.get("logGroupClass") or "STANDARD",
                                           deletion_protection=bool(params.get("deletionProtectionEnabled")),
                                           tags=tags)
        return {}

    async def DeleteLogGroup(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(ctx, params)
        if group.deletion_protection:
            # https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/protecting-log-groups-from-deletion.html
            raise ServiceError("OperationAbortedException",
                               "Log group deletion protection is enabled. Disable it before deleting the log group.")
        await self._catalog().delete_group(group)
        return {}

    async def PutLogGroupDeletionProtection(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(ctx, {"logGroupIdentifier": params["logGroupIdentifier"]})
        enabled = bool(params["deletionProtectionEnabled"])
        await self._catalog().store.set_deletion_protection(group.id, enabled)
        group.deletion_protection = enabled
        return {}

    async def DescribeLogGroups(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
        if prefix and pattern:
            raise errors.invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
        groups = self._catalog().in_region(ctx.region)
        if prefix:
            groups = [g for g in groups if g.name.startswith(prefix)]
        if pattern:  # a case-insensitive substring
            groups = [g for g in groups if pattern.lower() in g.name.lower()]
        if params.get("logGroupClass"):
            groups = [g for g in groups if g.log_class == params["logGroupClass"]]
        if params.get("logGroupIdentifiers"):
            wanted = {_name_from_arn(i) if i.startswith("arn:") else i for i in params["logGroupIdentifiers"]}
            groups = [g for g in groups if g.name in wanted]
        page, token = _page(groups, params)
        out: dict[str, Any] = {"logGroups": [self._describe_group(g) for g in page]}
        if token:
            out["nextToken"] = token
        return out

    async def PutRetentionPolicy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        days = params["retentionInDays"]
        if days not in RETENTION_DAYS:
            raise errors.VALIDATION.invalid_error(
                "retentionInDays", days, f"must be one of {', '.join(map(str, RETENTION_DAYS))}")
        group = self._group(ctx, params)
        await self._catalog().store.set_retention(group.id, days)
        group.retention_days = days
        await self.expire([group])
        return {}

    async def DeleteRetentionPolicy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(ctx, params)
        await self._catalog().store.set_retention(group.id, None)
        group.retention_days = None
        return {}

    # -- streams -----------------------------------------------------------------------------------------
    async def CreateLogStream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["logStreamName"]
        if ":" in name or "*" in name:
            raise errors.VALIDATION.invalid_error("logStreamName", name, "must satisfy regular expression "
                                                  "pattern: [^:*]*")
        await self._catalog().create_stream(self._group(ctx, params), name, self._now_ms())
        return {}

    async def DeleteLogStream(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group, stream = self._catalog().stream(ctx.region, params["logGroupName"], params["logStreamName"])
        await self._catalog().delete_stream(group, stream)
        return {}

    async def DescribeLogStreams(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(ctx, params)
        order, prefix = params.get("orderBy") or "LogStreamName", params.get("logStreamNamePrefix")
        if order == "LastEventTime" and prefix:
            raise errors.invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        streams = [s for s in group.streams.values() if not prefix or s.name.startswith(prefix)]
        if order == "LastEventTime":
            streams.sort(key=lambda s: (s.last_event or 0, s.name), reverse=bool(params.get("descending")))
        else:
            streams.sort(key=lambda s: s.name, reverse=bool(params.get("descending")))
        page, token = _page(streams, params)
        account = self.config.account_id
        described = []
        for s in page:
            item: dict[str, Any] = {"logStreamName": s.name, "creationTime": s.created,
                                    "arn": group.stream_arn(account, s.name),
                                    # deprecated for streams: always zero (API_LogStream.html)
                                    "storedBytes": 0}
            if s.first_event is not None:
                item.update(firstEventTimestamp=s.first_event, lastEventTimestamp=s.last_event,
                            lastIngestionTime=s.last_ingestion)
            described.append(item)
        out: dict[str, Any] = {"logStreams": described}
        if token:
            out["nextToken"] = token
        return out

    # -- events ------------------------------------------------------------------------------------------
    async def PutLogEvents(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        catalog = self._catalog()
        group, stream = catalog.stream(ctx.region, params["logGroupName"], params["logStreamName"])
        now = self._now_ms()
        accepted = check_batch(params["logEvents"], now, group.retention_days)
        if accepted.events:
            rows, touch = rows_for(group, stream, accepted.events, catalog.next_event_ids(len(accepted.events)), now)
            try:
                await catalog.store.append([], [], rows, [touch])
            except Exception as exc:
                if "FOREIGN KEY" in str(exc):  # the stream was deleted meanwhile
                    raise errors.stream_not_found()
                raise
            catalog.touched([touch])
            self._stored()
        out: dict[str, Any] = {"nextSequenceToken": f"{catalog.next_event_ids(0).start:056d}"}
        if accepted.rejected:
            out["rejectedLogEventsInfo"] = accepted.rejected
        return out

    async def GetLogEvents(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(ctx, params)
        stream = group.streams.get(params["logStreamName"])
        if stream is None:
            raise errors.stream_not_found()
        return get_events(self._catalog().store, stream, params)

    async def FilterLogEvents(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return filter_events(self._catalog().store, self._group(ctx, params), params)

    # -- resource policies ---------------------------------------------------------------------------------
    async def PutResourcePolicy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        policy = await self._policies().put(ctx.region, params, self._now_ms())
        return {"resourcePolicy": policy.describe()}

    async def DescribeResourcePolicies(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._policies().describe(ctx.region, params)

    async def DeleteResourcePolicy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await self._policies().delete(ctx.region, params)
        return {}

    # -- tags --------------------------------------------------------------------------------------------
    async def _retag(self, group: LogGroup, tags: dict[str, str]) -> None:
        _check_tags(tags)
        await self._catalog().store.set_tags(group.id, tags)
        group.tags = tags

    async def TagResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_by_arn(ctx, params["resourceArn"])
        await self._retag(group, {**group.tags, **params["tags"]})
        return {}

    async def UntagResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_by_arn(ctx, params["resourceArn"])
        await self._retag(group, {k: v for k, v in group.tags.items() if k not in params["tagKeys"]})
        return {}

    async def ListTagsForResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": dict(self._group_by_arn(ctx, params["resourceArn"]).tags)}

    async def TagLogGroup(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(ctx, params)
        await self._retag(group, {**group.tags, **params["tags"]})
        return {}

    async def UntagLogGroup(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(ctx, params)
        await self._retag(group, {k: v for k, v in group.tags.items() if k not in params["tags"]})
        return {}

    async def ListTagsLogGroup(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": dict(self._group(ctx, params).tags)}

    # -- /_conveyor/logs -----------------------------------------------------------------------------------
    async def internal(self, ctx: RequestContext, parts: list[str]) -> Any:
        return await internal.handle(self, ctx, parts)


def _name_from_arn(arn: str) -> str:
    """arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*] -> NAME"""
    name = arn.split(":log-group:", 1)[-1]
    return name[:-2] if name.endswith(":*") else name


def _check_tags(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise errors.invalid(f"A log group can have at most {MAX_TAGS} tags.")
    for key in tags:
        if key.lower().startswith("aws:"):
            raise errors.invalid("Tag keys beginning with aws: are reserved.")
