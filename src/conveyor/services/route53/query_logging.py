"""Query logging: a hosted zone's DNS queries, one line each, written to a CloudWatch Logs log group in
us-east-1 (a stream per zone and edge location; Conveyor's one DNS server is the edge location "LOCAL").

https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/query-logs.html gives the line:
`1.0 2017-12-13T08:15:50.235Z Z123412341234 example.com A NOERROR UDP FRA6 192.168.1.1 -` (format version,
time, zone, name, type, response code, protocol, edge location, resolver address, EDNS client subnet).
https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateQueryLoggingConfig.html gives the rules:
the log group must exist, be in us-east-1 and belong to the zone's account (NoSuchCloudWatchLogsLogGroup
otherwise), and a CloudWatch Logs resource policy in us-east-1 must let route53.amazonaws.com
logs:CreateLogStream and logs:PutLogEvents on it (InsufficientCloudWatchLogsResourcePolicy otherwise). The
same page names the condition keys a policy may narrow Route 53 with against the confused deputy:
aws:SourceArn (arn:aws:route53:::hostedzone/ID) and aws:SourceAccount. Route 53 keeps writing a zone's
queries only while the policy lets it: a policy removed or narrowed later stops the lines, as on AWS.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock
from conveyor.ports import LogGroups, LogSink
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
ROUTE53_PRINCIPAL = "route53.amazonaws.com"
_LOG_GROUP_ARN = re.compile(r"^arn:aws:logs:([a-z0-9-]+):(\d{12}):log-group:([^:]+)(?::\*)?$")
DEFAULT_PAGE = 100


def _no_such_config() -> ServiceError:
    return errors.fault("NoSuchQueryLoggingConfig", "The query logging configuration does not exist")


def _insufficient_policy() -> ServiceError:
    # Route 53's words for it, as AWS answers (quoted by moto's route53 models, which cannot check it).
    return errors.fault("InsufficientCloudWatchLogsResourcePolicy", "The resource policy that you're using for "
                        "Route 53 query logging doesn't grant Route 53 sufficient permission to create a log "
                        "stream in the specified log group.")


def log_stream(zone_id: str) -> str:
    """The stream Route 53 writes a zone's queries to: one per zone and edge location."""
    return f"{zone_id}/{EDGE}"


def delivery_context(zone_id: str, account_id: str) -> dict[str, str]:
    """The condition keys Route 53 sends with its writes (API_CreateQueryLoggingConfig.html)."""
    return {"aws:SourceArn": f"arn:aws:route53:::hostedzone/{zone_id}", "aws:SourceAccount": account_id}


def may_write(groups: LogGroups | None, arn: str, zone_id: str, account_id: str) -> bool:
    """Whether the log group's resource policies let Route 53 write the zone's query logs into it."""
    return groups is not None and groups.delivery_allowed(arn, log_stream(zone_id), ROUTE53_PRINCIPAL,
                                                          delivery_context(zone_id, account_id))


class QueryLogOperations:
    def __init__(self, catalog: Catalog, account_id: str, groups: Callable[[], LogGroups | None]) -> None:
        self.catalog = catalog
        self.account_id = account_id
        self.groups = groups

    def _config(self, config_id: str) -> dict[str, Any]:
        doc = self.catalog.query_logs.get(config_id)
        if doc is None:
            raise _no_such_config()
        return doc

    async def CreateQueryLoggingConfig(self, ctx: RequestContext,
                                       params: CreateQueryLoggingConfigRequestTypeDef) -> dict[str, Any]:
        zone_id = bare_id(params["HostedZoneId"])
        if zone_id not in self.catalog.zones:
            raise errors.no_such_hosted_zone(zone_id)
        arn = params["CloudWatchLogsLogGroupArn"]
        matched = _LOG_GROUP_ARN.match(arn)
        if matched is None or matched.group(1) != LOG_REGION:
            raise errors.invalid_input("The ARN for the CloudWatch Logs log group is invalid")
        groups = self.groups()
        # A group of another account is not one this account's zone may log to: it does not exist for it.
        if matched.group(2) != self.account_id or groups is None or not groups.resource_exists(arn):
            raise errors.fault("NoSuchCloudWatchLogsLogGroup", "The specified CloudWatch Logs log group doesn't exist.")
        if not may_write(groups, arn, zone_id, self.account_id):
            raise _insufficient_policy()
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

    def __init__(self, catalog: Catalog, clock: Clock, account_id: str, logs: Callable[[], LogSink | None],
                 groups: Callable[[], LogGroups | None]) -> None:
        self.catalog = catalog
        self.clock = clock
        self.account_id = account_id
        self.logs = logs
        self.groups = groups

    def write(self, zone_id: str | None, name: str, kind: str, rcode: str, protocol: str, client: str) -> None:
        if zone_id is None:
            return
        config = next((c for c in self.catalog.query_logs.values() if c["HostedZoneId"] == zone_id), None)
        sink = self.logs()
        if config is None or sink is None:
            return
        arn = config["CloudWatchLogsLogGroupArn"]
        matched = _LOG_GROUP_ARN.match(arn)
        # Only while the policy lets Route 53 write (a policy deleted or narrowed since stops the lines).
        if matched is None or not may_write(self.groups(), arn, zone_id, self.account_id):
            return
        now = self.clock.now()
        stamp = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        line = f"1.0 {stamp} {zone_id} {name.rstrip('.') or '.'} {kind} {rcode} {protocol} {EDGE} {client} -"
        sink.write(LOG_REGION, matched.group(3), log_stream(zone_id), [(now, line)])
