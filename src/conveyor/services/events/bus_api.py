"""EventBridge's operations on event buses (their permissions and tags too) and PutEvents.
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Operations.html
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from conveyor.services.events import errors, iam, ingest
from conveyor.services.events.catalog import DEFAULT_BUS, bus_arn
from conveyor.services.events.engine import Engine
from conveyor.services.events.rules_api import page
from conveyor.services.events.store import BusRow
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import (
        CreateEventBusRequestTypeDef,
        DeleteEventBusRequestTypeDef,
        DescribeEventBusRequestTypeDef,
        ListEventBusesRequestTypeDef,
        ListTagsForResourceRequestTypeDef,
        PutEventsRequestTypeDef,
        PutPermissionRequestTypeDef,
        RemovePermissionRequestTypeDef,
        TagResourceRequestTypeDef,
        UntagResourceRequestTypeDef,
        UpdateEventBusRequestTypeDef,
    )

MAX_BUSES = 100  # custom buses per region: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
MAX_TAGS = 50


class BusOperations:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _describe(self, bus: BusRow) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": bus.name, "Arn": bus_arn(bus.region, self.engine.account, bus.name)}
        if bus.description:
            out["Description"] = bus.description
        if bus.policy:
            out["Policy"] = bus.policy
        if bus.created:
            out["CreationTime"] = bus.created
            out["LastModifiedTime"] = bus.created
        return out

    # -- buses -------------------------------------------------------------------------------------------
    async def CreateEventBus(self, ctx: RequestContext, params: CreateEventBusRequestTypeDef) -> dict[str, Any]:
        for unserved in ("EventSourceName", "KmsKeyIdentifier", "DeadLetterConfig", "LogConfig"):
            if params.get(unserved) is not None:
                raise errors.not_served(f"{unserved} (partner event sources, KMS keys and bus logs)")
        name = params["Name"]
        if "/" in name:  # reserved for partner event buses
            raise errors.validation(f"Event bus name must not contain '/' unless it is a partner event bus: {name}")
        catalog = self.engine.catalog
        async with catalog.mutex:
            if catalog.find_bus(ctx.region, name) is not None:
                raise errors.already_exists(f"Event bus {name} already exists.")
            if sum(1 for (region, _) in catalog.buses if region == ctx.region) >= MAX_BUSES:
                raise errors.limit("The requested resource exceeds the maximum number allowed.")
            bus = BusRow(ctx.region, name, params.get("Description"), None,
                         {t["Key"]: t["Value"] for t in params.get("Tags") or []}, self.engine.clock.now())
            await catalog.save_bus(bus)
        out: dict[str, Any] = {"EventBusArn": bus_arn(ctx.region, self.engine.account, name)}
        if bus.description:
            out["Description"] = bus.description
        return out

    async def UpdateEventBus(self, ctx: RequestContext, params: UpdateEventBusRequestTypeDef) -> dict[str, Any]:
        for unserved in ("KmsKeyIdentifier", "DeadLetterConfig", "LogConfig"):
            if params.get(unserved) is not None:
                raise errors.not_served(f"{unserved} (KMS keys and bus logs)")
        catalog = self.engine.catalog
        async with catalog.mutex:
            bus = catalog.bus(ctx.region, params.get("Name"))
            if "Description" in params:
                bus = dataclasses.replace(bus, description=params.get("Description"))
                await catalog.save_bus(bus)
        return {"Arn": bus_arn(bus.region, self.engine.account, bus.name), "Name": bus.name,
                **({"Description": bus.description} if bus.description else {})}

    async def DeleteEventBus(self, ctx: RequestContext, params: DeleteEventBusRequestTypeDef) -> dict[str, Any]:
        name = params["Name"]
        if name == DEFAULT_BUS:
            raise errors.validation("Cannot delete event bus default.")
        catalog = self.engine.catalog
        async with catalog.mutex:
            bus = catalog.find_bus(ctx.region, name)
            if bus is None:  # deleting is idempotent
                return {}
            doomed = catalog.rules_on(ctx.region, name)
            await catalog.drop_bus(bus)
        for rule in doomed:
            self.engine.scheduler.disarm(rule)
        return {}

    async def DescribeEventBus(self, ctx: RequestContext, params: DescribeEventBusRequestTypeDef) -> dict[str, Any]:
        return self._describe(self.engine.catalog.bus(ctx.region, params.get("Name")))

    async def ListEventBuses(self, ctx: RequestContext, params: ListEventBusesRequestTypeDef) -> dict[str, Any]:
        prefix = params.get("NamePrefix") or ""
        buses = [b for b in self.engine.catalog.buses_in(ctx.region) if b.name.startswith(prefix)]
        chosen, token = page(buses, params.get("NextToken"), params.get("Limit"))
        out: dict[str, Any] = {"EventBuses": [self._describe(b) for b in chosen]}
        if token:
            out["NextToken"] = token
        return out

    # -- permissions -------------------------------------------------------------------------------------
    async def PutPermission(self, ctx: RequestContext, params: PutPermissionRequestTypeDef) -> dict[str, Any]:
        """Who may put events on a bus: a whole policy, or one statement (Action, Principal, StatementId,
        Condition). https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutPermission.html
        Conveyor has one account, so the policy is kept and shown, and decides nothing here."""
        catalog = self.engine.catalog
        async with catalog.mutex:
            bus = catalog.bus(ctx.region, params.get("EventBusName"))
            arn = bus_arn(bus.region, self.engine.account, bus.name)
            if params.get("Policy"):
                try:
                    document = json.loads(params["Policy"])
                except ValueError:
                    raise errors.validation("Policy is not valid JSON.")
                if not isinstance(document, dict) or not isinstance(document.get("Statement"), list):
                    raise errors.validation("Policy must be a JSON object with a Statement list.")
                policy = json.dumps(document)
            else:
                missing = [m for m in ("Action", "Principal", "StatementId") if not params.get(m)]
                if missing:
                    raise errors.validation(f"Parameter(s) {', '.join(missing)} must be specified.")
                policy = json.dumps(_with_statement(bus.policy, arn, params))
            bus = dataclasses.replace(bus, policy=policy, created=bus.created or self.engine.clock.now())
            await catalog.save_bus(bus)
        return {}

    async def RemovePermission(self, ctx: RequestContext, params: RemovePermissionRequestTypeDef) -> dict[str, Any]:
        catalog = self.engine.catalog
        async with catalog.mutex:
            bus = catalog.bus(ctx.region, params.get("EventBusName"))
            if not bus.policy:
                raise errors.not_found("EventBus does not have a policy.")
            if params.get("RemoveAllPermissions"):
                policy: str | None = None
            else:
                statement_id = params.get("StatementId")
                if not statement_id:
                    raise errors.validation("Parameter(s) StatementId must be specified.")
                document = json.loads(bus.policy)
                kept = [s for s in document.get("Statement", []) if s.get("Sid") != statement_id]
                if len(kept) == len(document.get("Statement", [])):
                    raise errors.not_found("Statement with the provided id does not exist.")
                policy = json.dumps({**document, "Statement": kept}) if kept else None
            await catalog.save_bus(dataclasses.replace(bus, policy=policy))
        return {}

    # -- tags --------------------------------------------------------------------------------------------
    def _tagged(self, arn: str) -> tuple[str, Any]:
        catalog = self.engine.catalog
        rule = catalog.rule_from_arn(arn)
        if rule is not None:
            return "rule", rule
        bus = catalog.bus_from_arn(arn)
        if bus is not None:
            return "bus", bus
        if ":rule/" in arn:
            path = arn.split(":rule/", 1)[1]
            bus_name, _, name = path.rpartition("/")
            raise errors.rule_not_found(name, bus_name or DEFAULT_BUS)
        raise errors.bus_not_found(arn.rsplit("/", 1)[-1])

    async def _set_tags(self, arn: str, change: Any) -> None:
        catalog = self.engine.catalog
        async with catalog.mutex:
            kind, found = self._tagged(arn)
            if kind == "rule":
                tags = change(dict(found.row.tags))
                rule = await catalog.update_rule(found, tags=tags)
                self.engine.scheduler.arm(rule)
            else:
                tags = change(dict(found.tags))
                await catalog.save_bus(dataclasses.replace(found, tags=tags, created=found.created
                                                           or self.engine.clock.now()))

    async def TagResource(self, ctx: RequestContext, params: TagResourceRequestTypeDef) -> dict[str, Any]:
        given = {t["Key"]: t["Value"] for t in params["Tags"]}

        def add(tags: dict[str, str]) -> dict[str, str]:
            merged = {**tags, **given}
            if len(merged) > MAX_TAGS:
                raise errors.limit("The requested resource exceeds the maximum number allowed.")
            return merged

        await self._set_tags(params["ResourceARN"], add)
        return {}

    async def UntagResource(self, ctx: RequestContext, params: UntagResourceRequestTypeDef) -> dict[str, Any]:
        keys = set(params["TagKeys"])
        await self._set_tags(params["ResourceARN"], lambda tags: {k: v for k, v in tags.items() if k not in keys})
        return {}

    async def ListTagsForResource(self, ctx: RequestContext,
                                  params: ListTagsForResourceRequestTypeDef) -> dict[str, Any]:
        kind, found = self._tagged(params["ResourceARN"])
        tags = found.row.tags if kind == "rule" else found.tags
        return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}

    # -- events ------------------------------------------------------------------------------------------
    async def PutEvents(self, ctx: RequestContext, params: PutEventsRequestTypeDef) -> dict[str, Any]:
        """https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html: entries are
        judged one by one (a refused entry is reported in its place); the accepted ones are matched and
        their deliveries stored before the answer."""
        if params.get("EndpointId"):
            raise errors.not_served("EndpointId (global endpoints)")
        entries = params["Entries"]
        if sum(ingest.entry_size(e) for e in entries) > ingest.MAX_REQUEST_BYTES:
            raise errors.validation("Total size of the entries in the request is over the limit.")
        catalog = self.engine.catalog
        now = self.engine.clock.now()
        # The sender's account is the event's `account`, whichever bus it goes to: another account's events
        # on this account's bus (as its policy allows) carry that account's id, so that a rule's `account`
        # field tells them apart (API_PutPermission.html: "Rules with an account field do not match any events
        # sent from other accounts").
        sender = ctx.principal.account_id if ctx.principal is not None else self.engine.account
        results: list[dict[str, Any]] = []
        batches: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            error = ingest.entry_error(entry)
            given = entry.get("EventBusName")
            name = catalog.bus_name(given)
            # A name is a bus of the sender's own account; another account holds only its `default` bus here,
            # with no rules: what goes there is accepted and matches nothing (conveyor.services.events.other_accounts).
            theirs = iam.bus_account(ctx, given) != self.engine.account
            if error is None and ((theirs and name != DEFAULT_BUS) or (not theirs and catalog.find_bus(ctx.region, name) is None)):
                error = {"ErrorCode": "ResourceNotFoundException", "ErrorMessage": f"Event bus {name} does not exist."}
            if error is not None:
                results.append(error)
                continue
            event = ingest.make_event(entry, sender, ctx.region, now)
            if not theirs:
                batches.setdefault(name, []).append(event)
            results.append({"EventId": event["id"]})
        await self.engine.router.put([(ctx.region, bus, events) for bus, events in batches.items()])
        return {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r), "Entries": results}


def _with_statement(policy: str | None, arn: str, params: PutPermissionRequestTypeDef) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(policy) if policy else {"Version": "2012-10-17", "Statement": []}
    principal = params["Principal"]
    statement: dict[str, Any] = {
        "Sid": params["StatementId"], "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"},
        "Action": params["Action"], "Resource": arn}
    condition = params.get("Condition")
    if condition:
        statement["Condition"] = {condition["Type"]: {condition["Key"]: condition["Value"]}}
    document["Statement"] = [s for s in document.get("Statement", []) if s.get("Sid") != params["StatementId"]]
    document["Statement"].append(statement)
    return document

