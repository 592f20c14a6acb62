"""CloudWatch metrics and alarms (rpc-v2-cbor, JSON 1.0 and query, as current and older SDKs speak it).

- PutMetricData, GetMetricStatistics (with percentiles), GetMetricData (with metric math), ListMetrics;
  durable in SQLite, kept as AWS keeps them: 1-second data 3 hours, then 1-minute 15 days, 5-minute 63
  days, 1-hour 455 days (conveyor.services.cloudwatch.retention, hourly on the server's clock).
- The built-in metrics (conveyor.builtin_metrics) arrive through the metrics sink (conveyor.ports.
  MetricsSink), stored once a minute; queue depths are sampled at the same minute.
- Alarms (conveyor.services.cloudwatch.alarms) evaluate each minute and notify SNS topics.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from botocore.model import OperationModel

from conveyor import builtin_metrics
from conveyor.authz import Need
from conveyor.authz.other_accounts import empty_of
from conveyor.clock import TimerHandle
from conveyor.links import NOTIFIES, WATCHES, Link
from conveyor.ports import Dimensions, Ports
from conveyor.services.base import Environment, Service
from conveyor.services.cloudwatch import errors, iam, retention
from conveyor.services.cloudwatch.alarm_book import AlarmBook
from conveyor.services.cloudwatch.alarms import STATES, check_config
from conveyor.services.cloudwatch.catalog import MetricCatalog, dims_key
from conveyor.services.cloudwatch.minute import MinuteSink
from conveyor.services.cloudwatch.put_data import data_from
from conveyor.services.cloudwatch.queries import alarm_series, get_metric_data
from conveyor.services.cloudwatch.series import get_metric_statistics
from conveyor.services.cloudwatch.store import MetricStore
from conveyor.wire import RequestContext, ServiceError

LIST_PAGE = 500
RECENTLY_ACTIVE = 3 * 3600


def _page(items: list[Any], token: str | None, size: int) -> tuple[list[Any], str | None]:
    try:
        start = int(token) if token else 0
    except ValueError:
        raise errors.bad_token()
    return items[start:start + size], str(start + size) if start + size < len(items) else None


# The resource an alarm's metric is about, by (namespace, dimension): what the dashboard links it to.
_WATCHED = {
    ("AWS/SQS", "QueueName"): "arn:aws:sqs:{region}:{account}:{name}",
    ("AWS/Lambda", "FunctionName"): "arn:aws:lambda:{region}:{account}:function:{name}",
    ("AWS/SNS", "TopicName"): "arn:aws:sns:{region}:{account}:{name}",
    ("Conveyor/Pools", "PoolName"): "pool:{name}",
}


class CloudWatchService(Service):
    name = "cloudwatch"
    other_accounts_own_nothing = True  # another account's caller: in its own account, empty here
    # Alarm names are its own account's: DeleteAlarms and SetAlarmState answer as for a missing alarm.
    other_account_names = (("AlarmNames", lambda ctx, names: errors.not_found(f"Alarm {names[0]} not found")),
                           ("AlarmName", lambda ctx, name: errors.not_found(f"Alarm {name} not found")))
    signing_name = "monitoring"
    validation_codes = errors.VALIDATION

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.store: MetricStore | None = None
        self.catalog: MetricCatalog | None = None
        self.sink: MinuteSink | None = None
        self.alarms: AlarmBook | None = None
        self._retention: TimerHandle | None = None

    def provide(self, ports: Ports) -> None:
        ports.metrics = self
        ports.alarms = self
        ports.alarm_states = self

    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(ctx, operation.name, params)

    async def start(self) -> None:
        self.store = MetricStore(self.config.service_dir("cloudwatch") / "cloudwatch.db", self.env.disk)
        self.catalog = MetricCatalog(self.store)
        self.catalog.load()
        store, catalog = self.store, self.catalog
        self.alarms = AlarmBook(store, catalog, self.ports, self.config.account_id,
                                lambda config, start, end, region: alarm_series(store, catalog, config, start, end,
                                                                                region))
        self.alarms.load()
        self.sink = MinuteSink(catalog, self.clock)
        self.sink.samplers.append(self._sample_queues)
        self.sink.after_minute.append(self.alarms.evaluate_all)
        self.sink.start()
        self._schedule_retention()

    async def stop(self) -> None:
        if self.sink is not None:
            self.sink.stop()
            await self.sink.settle()
        if self._retention is not None:
            self._retention.cancel()
        if self.store is not None:
            self.store.close()
            self.store = None

    async def reset(self) -> None:
        store, catalog, sink, alarms = self._parts()
        await sink.settle()
        sink.clear()
        await store.wipe()
        catalog.clear()
        alarms.clear()
        sink.schedule()
        self._schedule_retention()

    def answer_for_other_account(self, ctx: RequestContext, operation: OperationModel,
                                 params: dict[str, Any]) -> dict[str, Any] | None:
        """Its own account has no metrics and no alarms: metric reads answer no data, one result per query
        as GetMetricData always gives; enabling or disabling actions ignores alarms that do not exist."""
        name = operation.name
        if name == "GetMetricData":
            queries = [q for q in params.get("MetricDataQueries") or [] if q.get("ReturnData", True)]
            return {"MetricDataResults": [
                {"Id": q["Id"], "Label": q.get("Label") or (q["MetricStat"]["Metric"].get("MetricName")
                                                             if q.get("MetricStat") else q["Id"]),
                 "Timestamps": [], "Values": [], "StatusCode": "Complete"} for q in queries], "Messages": []}
        if name == "GetMetricStatistics":
            return {"Label": params.get("MetricName", ""), "Datapoints": []}
        if name in ("EnableAlarmActions", "DisableAlarmActions", "DescribeAlarms", "DescribeAlarmHistory"):
            return empty_of(operation)
        return None

    def missing_for_other_account(self, ctx: RequestContext, operation: str, params: dict[str, Any]) -> ServiceError | None:
        return super().missing_for_other_account(ctx, operation, params) if operation in (
            "DeleteAlarms", "SetAlarmState") else None


    def health(self) -> dict[str, Any]:
        return {"status": "running" if self.store is not None else "stopped",
                "metrics": len(self.catalog.metrics) if self.catalog else 0,
                "alarms": len(self.alarms.alarms) if self.alarms else 0}

    def status(self) -> dict[str, Any]:
        if self.alarms is None:
            return {}
        return {"alarms": [{"name": a.name, "region": a.region, "state": a.state, "reason": a.reason}
                           for a in sorted(self.alarms.alarms.values(), key=lambda a: (a.region, a.name))]}

    def links(self) -> list[Link]:
        """Each alarm watches the resource its metric's dimension names, and notifies its action topics."""
        if self.alarms is None:
            return []
        found: list[Link] = []
        account = self.config.account_id
        for alarm in self.alarms.alarms.values():
            arn = alarm.arn(account)
            config = alarm.config
            dims = {d.get("Name"): d.get("Value") for d in config.get("Dimensions") or []}
            for dim, watched in _WATCHED.items():
                if config.get("Namespace") == dim[0] and dims.get(dim[1]):
                    found.append(Link(watched.format(region=alarm.region, account=account, name=dims[dim[1]]),
                                      arn, WATCHES, str(config.get("MetricName") or "")))
            actions = {*alarm.actions_for("ALARM"), *alarm.actions_for("OK")}
            found += [Link(arn, action, NOTIFIES, "") for action in sorted(actions) if ":sns:" in action]
        return found

    def _parts(self) -> tuple[MetricStore, MetricCatalog, MinuteSink, AlarmBook]:
        if self.store is None or self.catalog is None or self.sink is None or self.alarms is None:
            raise RuntimeError("CloudWatch is not started")
        return self.store, self.catalog, self.sink, self.alarms

    # -- conveyor.ports.MetricsSink ---------------------------------------------------------------------
    def tally(self, region: str, namespace: str, name: str, dimensions: Dimensions, amount: float = 1.0,
              unit: str = "Count") -> None:
        if self.sink is not None:
            self.sink.tally(region, namespace, name, dimensions, amount, unit)

    def sample(self, region: str, namespace: str, name: str, dimensions: Dimensions, value: float,
               unit: str = "None") -> None:
        if self.sink is not None:
            self.sink.sample(region, namespace, name, dimensions, value, unit)

    def sample_many(self, region: str, namespace: str, name: str, dimensions: Dimensions, values: Sequence[float],
                    unit: str = "None") -> None:
        if self.sink is not None:
            self.sink.sample_many(region, namespace, name, dimensions, values, unit)

    def _sample_queues(self) -> None:
        """Each minute, every queue's depths, as SQS reports them to CloudWatch."""
        queues = self.ports.queues
        if queues is None or self.sink is None:
            return
        for q in queues.queue_summaries():
            builtin_metrics.sqs_gauges(self, q["region"], q["name"], q["visible"], q["inflight"], q["delayed"],
                                       q["oldest_age"])

    # -- retention ---------------------------------------------------------------------------------------
    def _schedule_retention(self) -> None:
        if self._retention is not None:
            self._retention.cancel()
        self._retention = self.clock.call_at(self.clock.now() + retention.EVERY, self._retention_due)

    def _retention_due(self) -> None:
        from conveyor.background import spawn

        store = self.store
        if store is not None:
            spawn(retention.apply(store, self.clock.now()))
        self._schedule_retention()

    # -- metrics -----------------------------------------------------------------------------------------
    async def PutMetricData(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("EntityMetricData"):
            raise errors.invalid_value("Conveyor does not store entity metric data (EntityMetricData).")
        _, catalog, _, _ = self._parts()
        now = self.clock.now()
        data = data_from(params, ctx.region, now)
        if data:
            await catalog.store_data(data, now)
        return {}

    async def GetMetricStatistics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        store, catalog, _, _ = self._parts()
        metric = catalog.find(ctx.region, params["Namespace"], params["MetricName"], dims_key(params.get("Dimensions")))
        return get_metric_statistics(store, metric, params, self.clock.now())

    async def GetMetricData(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        store, catalog, _, _ = self._parts()
        return get_metric_data(store, catalog, ctx.region, params, self.clock.now())

    async def ListMetrics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, catalog, _, _ = self._parts()
        recently = RECENTLY_ACTIVE if params.get("RecentlyActive") == "PT3H" else None
        found = catalog.listed(ctx.region, self.clock.now(), recently)
        if params.get("Namespace"):
            found = [m for m in found if m.namespace == params["Namespace"]]
        if params.get("MetricName"):
            found = [m for m in found if m.name == params["MetricName"]]
        for wanted in params.get("Dimensions") or []:
            found = [m for m in found if any(k == wanted["Name"] and (wanted.get("Value") is None or v == wanted["Value"])
                                             for k, v in m.dimensions)]
        page, token = _page(found, params.get("NextToken"), LIST_PAGE)
        out: dict[str, Any] = {"Metrics": [m.describe() for m in page]}
        if token:
            out["NextToken"] = token
        return out

    # -- alarms ------------------------------------------------------------------------------------------
    async def PutMetricAlarm(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        *_, alarms = self._parts()
        await alarms.put(ctx.region, params["AlarmName"], check_config(params), self.clock.now())
        return {}

    # -- conveyor.ports.AlarmKeeper: Auto Scaling's target tracking alarms -------------------------------
    async def put_alarm(self, region: str, params: dict[str, Any]) -> str:
        *_, alarms = self._parts()
        await alarms.put(region, params["AlarmName"], check_config(params), self.clock.now())
        return alarms.get(region, params["AlarmName"]).arn(self.config.account_id)

    async def delete_alarms(self, region: str, names: Sequence[str]) -> None:
        *_, alarms = self._parts()
        await alarms.delete(region, [n for n in names if (region, n) in alarms.alarms])

    # -- conveyor.ports.AlarmStates (Route 53's CLOUDWATCH_METRIC health checks) ---------------------------
    def alarm_state(self, region: str, name: str) -> str | None:
        alarm = self.alarms.alarms.get((region, name)) if self.alarms is not None else None
        return alarm.state if alarm is not None else None

    async def DescribeAlarms(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        *_, alarms = self._parts()
        names, prefix = params.get("AlarmNames"), params.get("AlarmNamePrefix")
        if names and prefix:
            raise errors.invalid_combination("The parameters AlarmNames and AlarmNamePrefix are mutually exclusive.")
        found = alarms.in_region(ctx.region)
        types = params.get("AlarmTypes") or ["MetricAlarm"]
        if "MetricAlarm" not in types or params.get("ChildrenOfAlarmName") or params.get("ParentsOfAlarmName"):
            found = []  # no composite alarms here
        if names:
            found = [a for a in found if a.name in names]
        if prefix:
            found = [a for a in found if a.name.startswith(prefix)]
        if params.get("StateValue"):
            found = [a for a in found if a.state == params["StateValue"]]
        if params.get("ActionPrefix"):
            found = [a for a in found if any(action.startswith(params["ActionPrefix"]) for state in STATES
                                             for action in a.actions_for(state))]
        page, token = _page(found, params.get("NextToken"), params.get("MaxRecords") or 50)
        out: dict[str, Any] = {"MetricAlarms": [a.describe(self.config.account_id) for a in page],
                               "CompositeAlarms": []}
        if token:
            out["NextToken"] = token
        return out

    async def DescribeAlarmsForMetric(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        *_, alarms = self._parts()
        wanted = dims_key(params.get("Dimensions"))
        found = []
        for alarm in alarms.in_region(ctx.region):
            c = alarm.config
            if c.get("Namespace") != params["Namespace"] or c.get("MetricName") != params["MetricName"]:
                continue
            if params.get("Dimensions") is not None and dims_key(c.get("Dimensions")) != wanted:
                continue
            if any(params.get(k) is not None and c.get(k) != params[k]
                   for k in ("Statistic", "ExtendedStatistic", "Period", "Unit")):
                continue
            found.append(alarm.describe(self.config.account_id))
        return {"MetricAlarms": found}

    async def DescribeAlarmHistory(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        store, *_ = self._parts()
        start, end = params.get("StartDate"), params.get("EndDate")
        rows = store.history(ctx.region, params.get("AlarmName"), params.get("HistoryItemType"),
                             start.timestamp() if start else None, end.timestamp() if end else None,
                             (params.get("ScanBy") or "TimestampDescending") == "TimestampDescending")
        if params.get("AlarmTypes") and "MetricAlarm" not in params["AlarmTypes"]:
            rows = []
        page, token = _page(rows, params.get("NextToken"), params.get("MaxRecords") or 100)
        items = [{"AlarmName": r[0], "AlarmType": "MetricAlarm", "Timestamp": r[1], "HistoryItemType": r[2],
                  "HistorySummary": r[3], "HistoryData": r[4]} for r in page]
        out: dict[str, Any] = {"AlarmHistoryItems": items}
        if token:
            out["NextToken"] = token
        return out

    async def SetAlarmState(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        *_, alarms = self._parts()
        alarm = alarms.get(ctx.region, params["AlarmName"])
        data = params.get("StateReasonData")
        if data is not None:
            try:
                json.loads(data)
            except ValueError:
                raise errors.invalid_format("Reason data needs to be valid JSON.")
        # Set until the next evaluation says otherwise (SetAlarmState's documentation).
        await alarms.change_state(alarm, params["StateValue"], params["StateReason"], data, self.clock.now())
        return {}

    async def DeleteAlarms(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        *_, alarms = self._parts()
        await alarms.delete(ctx.region, params["AlarmNames"])
        return {}

    async def EnableAlarmActions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        *_, alarms = self._parts()
        await alarms.set_actions(ctx.region, params["AlarmNames"], True, self.clock.now())
        return {}

    async def DisableAlarmActions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        *_, alarms = self._parts()
        await alarms.set_actions(ctx.region, params["AlarmNames"], False, self.clock.now())
        return {}
