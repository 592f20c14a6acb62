"""Query logging: a hosted zone's DNS queries, one line each, written to a CloudWatch Logs log group in
us-east-1 (a stream per zone and edge location; Conveyor's one DNS server is the edge location "LOCAL").

https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/query-logs.html gives the line:
`1.0 2017-12-13T08:15:50.235Z Z123412341234 example.com A NOERROR UDP FRA6 192.168.1.1 -` (format version,
time, zone, name, type, response code, protocol, edge location, resolver address, EDNS client subnet).
https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateQueryLoggingConfig.html gives the rules:
the log group must exist and be in us-east-1. Route 53 also wants a resource policy on the log group that
lets it write; Conveyor's Logs keeps no resource policies, so that one is not asked for.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock
from conveyor.ports import ApiCaller, LogSink
from conveyor.services.route53 import errors
from conveyor.services.route53.catalog import Catalog
from conveyor.services.route53.store import Batch
from conveyor.services.route53.zones import ENDPOINT, bare_id
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import (
        CreateQueryLoggingConfigRequestTypeDef,
        DeleteQueryLoggingConfigRequestTypeDef,
        GetQueryLoggingConfigRequestTypeDef,
        ListQueryLoggingConfigsRequestTypeDef,
    )

LOG_REGION = "us-east-1"
EDGE = "LOCAL"
_LOG_GROUP_ARN = re.compile(r"^arn:aws:logs:([a-z0-9-]+):(\d{12}):log-group:([^:]+)(?::\*)?$")
DEFAULT_PAGE = 100


def _no_such_config() -> ServiceError:
    return errors.fault("NoSuchQueryLoggingConfig", "The query logging configuration does not exist")


class QueryLogOperations:
    def __init__(self, catalog: Catalog, api: Callable[[], ApiCaller | None]) -> None:
        self.catalog = catalog
        self.api = api

    def _config(self, config_id: str) -> dict[str, Any]:
        doc = self.catalog.query_logs.get(config_id)
        if doc is None:
            raise _no_such_config()
        return doc

    async def _log_group_exists(self, name: str) -> bool:
        api = self.api()
        if api is None:
            return False
        found = await api.call("logs", "DescribeLogGroups", {"logGroupNamePrefix": name}, LOG_REGION)
        return any(group.get("logGroupName") == name for group in found.get("logGroups", []))

    async def CreateQueryLoggingConfig(self, ctx: RequestContext,
                                       params: CreateQueryLoggingConfigRequestTypeDef) -> dict[str, Any]:
        zone_id = bare_id(params["HostedZoneId"])
        if zone_id not in self.catalog.zones:
            raise errors.no_such_hosted_zone(zone_id)
        arn = params["CloudWatchLogsLogGroupArn"]
        matched = _LOG_GROUP_ARN.match(arn)
        if matched is None or matched.group(1) != LOG_REGION:
            raise errors.invalid_input("The ARN for the CloudWatch Logs log group is invalid")
        if not await self._log_group_exists(matched.group(3)):
            raise errors.fault("NoSuchCloudWatchLogsLogGroup", "The specified CloudWatch Logs log group doesn't exist.")
        async with self.catalog.mutex:
            if any(c["HostedZoneId"] == zone_id for c in self.catalog.query_logs.values()):
                raise errors.fault("QueryLoggingConfigAlreadyExists", "A query logging configuration already exists "
                                   "for this hosted zone.")
            config_id = str(uuid.uuid4())
            doc = {"Id": config_id, "HostedZoneId": zone_id, "CloudWatchLogsLogGroupArn": arn}
            await self.catalog.commit(Batch().write("querylog", config_id, doc))
        return {"QueryLoggingConfig": dict(doc), "Location": f"{ENDPOINT}/queryloggingconfig/{config_id}"}

    async def GetQueryLoggingConfig(self, ctx: RequestContext,
                                    params: GetQueryLoggingConfigRequestTypeDef) -> dict[str, Any]:
        return {"QueryLoggingConfig": dict(self._config(params["Id"]))}

    async def DeleteQueryLoggingConfig(self, ctx: RequestContext,
                                       params: DeleteQueryLoggingConfigRequestTypeDef) -> dict[str, Any]:
        async with self.catalog.mutex:
            doc = self._config(params["Id"])
            await self.catalog.commit(Batch().remove("querylog", doc["Id"]))
        return {}

    async def ListQueryLoggingConfigs(self, ctx: RequestContext,
                                      params: ListQueryLoggingConfigsRequestTypeDef) -> dict[str, Any]:
        configs = list(self.catalog.query_logs.values())
        zone_id = params.get("HostedZoneId")
        if zone_id:
            if bare_id(zone_id) not in self.catalog.zones:
                raise errors.no_such_hosted_zone(bare_id(zone_id))
            configs = [c for c in configs if c["HostedZoneId"] == bare_id(zone_id)]
        token = params.get("NextToken")
        start = 0
        if token:
            ids = [c["Id"] for c in configs]
            if token not in ids:
                raise errors.fault("InvalidPaginationToken", "Route 53 can't get the next page of query logging "
                                   "configurations because the specified value for NextToken is invalid.")
            start = ids.index(token)
        try:
            limit = int(params.get("MaxResults") or DEFAULT_PAGE)
        except ValueError:
            raise errors.invalid_input("The input is not valid")
        result: dict[str, Any] = {"QueryLoggingConfigs": [dict(c) for c in configs[start:start + limit]]}
        if start + limit < len(configs):
            result["NextToken"] = configs[start + limit]["Id"]
        return result


class QueryLogWriter:
    """Writes a line for each answered query of a zone that has a query logging configuration."""

    def __init__(self, catalog: Catalog, clock: Clock, logs: Callable[[], LogSink | None]) -> None:
        self.catalog = catalog
        self.clock = clock
        self.logs = logs

    def write(self, zone_id: str | None, name: str, kind: str, rcode: str, protocol: str, client: str) -> None:
        if zone_id is None:
            return
        config = next((c for c in self.catalog.query_logs.values() if c["HostedZoneId"] == zone_id), None)
        sink = self.logs()
        if config is None or sink is None:
            return
        matched = _LOG_GROUP_ARN.match(config["CloudWatchLogsLogGroupArn"])
        if matched is None:
            return
        now = self.clock.now()
        stamp = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        line = f"1.0 {stamp} {zone_id} {name.rstrip('.') or '.'} {kind} {rcode} {protocol} {EDGE} {client} -"
        sink.write(LOG_REGION, matched.group(3), f"{zone_id}/{EDGE}", [(now, line)])
