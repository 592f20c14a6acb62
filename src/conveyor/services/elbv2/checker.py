"""Health checks: each target group a load balancer forwards to probes its targets every
HealthCheckIntervalSeconds on the injectable clock (the first round at once, as a target registers), with
an HTTP request to HealthCheckPath at the target's address and HealthCheckPort, judged by the matcher;
TCP health checks open a connection. conveyor.services.elbv2.health counts the results.

https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html:
health checks go to the registered targets of target groups in use; draining targets are not checked.
A Lambda target group with health checks enabled invokes the function with a GET of the path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from conveyor.background import spawn
from conveyor.clock import Clock, TimerHandle
from conveyor.services.elbv2 import health
from conveyor.services.elbv2.catalog import TARGET_GROUP, Catalog, Resource, Target
from conveyor.services.elbv2.target_groups import matches
from conveyor.services.elbv2.upstream import TargetUnreachable, Upstream
from conveyor.services.elbv2.usage import in_use

log = logging.getLogger("conveyor.elbv2")

# (region, target group, target) -> the address it is reached at, None when it has none (gone)
AddressOf = Callable[[str, Resource, Target], str | None]
# (function ARN, event) -> the function's answer document, raising when it could not run
InvokeFunction = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
USER_AGENT = "ELB-HealthChecker/2.0"


class HealthChecker:
    def __init__(self, catalog: Callable[[], Catalog], clock: Clock, upstream: Upstream, address_of: AddressOf,
                 invoke: InvokeFunction) -> None:
        self._catalog = catalog
        self.clock = clock
        self.upstream = upstream
        self.address_of = address_of
        self.invoke = invoke
        self._timers: dict[str, TimerHandle] = {}
        self._rounds: dict[str, asyncio.Task[None]] = {}
        self._pending: dict[str, bool] = {}  # a round due while the previous one runs: whether only new targets
        self.running = False
        # Told when a target's health state changes: (target group ARN, target).
        self.changed: list[Callable[[str, Target], None]] = []

    def start(self) -> None:
        self.running = True
        self.refresh_all()

    def stop(self) -> None:
        self.running = False
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in self._rounds.values():
            task.cancel()
        self._rounds.clear()
        self._pending.clear()

    def refresh_all(self) -> None:
        if not self.running:
            return
        catalog = self._catalog()
        groups = {r.arn for r in catalog.resources.values() if r.kind == TARGET_GROUP}
        for arn in list(self._timers):
            if arn not in groups:
                self.refresh(arn)
        for arn in groups:
            self.refresh(arn)

    def refresh(self, group_arn: str) -> None:
        """The group's targets, settings or use changed: check what needs checking now, and keep its timer."""
        if not self.running:
            return
        catalog = self._catalog()
        group = catalog.get(group_arn, TARGET_GROUP)
        checked = group is not None and bool(group.doc.get("HealthCheckEnabled", True)) and in_use(catalog, group_arn)
        if not checked:
            handle = self._timers.pop(group_arn, None)
            if handle is not None:
                handle.cancel()
            return
        if group_arn not in self._timers:
            self._schedule(group_arn)
        if any(not t.checked and t.draining_until is None for t in catalog.group_targets(group_arn).values()):
            self._round(group_arn, only_new=True)

    def _schedule(self, group_arn: str) -> None:
        group = self._catalog().get(group_arn, TARGET_GROUP)
        if group is None:
            return
        interval = float(group.doc.get("HealthCheckIntervalSeconds") or 30)
        self._timers[group_arn] = self.clock.call_at(self.clock.now() + interval, lambda: self._due(group_arn))

    def _due(self, group_arn: str) -> None:
        self._timers.pop(group_arn, None)
        if not self.running:
            return
        self._schedule(group_arn)
        self._round(group_arn, only_new=False)

    def _round(self, group_arn: str, only_new: bool) -> None:
        running = self._rounds.get(group_arn)
        if running is not None and not running.done():
            # The previous round still waits for answers: this one follows it (a round is never lost, so
            # each interval the clock moves is one check of each target).
            self._pending[group_arn] = self._pending.get(group_arn, True) and only_new
            return
        task = spawn(self._check_group(group_arn, only_new))
        self._rounds[group_arn] = task
        task.add_done_callback(lambda _: self._next_round(group_arn))

    def _next_round(self, group_arn: str) -> None:
        only_new = self._pending.pop(group_arn, None)
        if only_new is not None and self.running:
            self._round(group_arn, only_new)

    async def _check_group(self, group_arn: str, only_new: bool) -> None:
        catalog = self._catalog()
        group = catalog.get(group_arn, TARGET_GROUP)
        if group is None:
            return
        targets = [t for t in catalog.group_targets(group_arn).values()
                   if t.draining_until is None and not (only_new and t.checked)]
        results = await asyncio.gather(*(self._probe(group, t) for t in targets), return_exceptions=True)
        current = self._catalog().group_targets(group_arn)
        for target, result in zip(targets, results, strict=True):
            if current.get(target.key) is not target or target.draining_until is not None:
                continue  # deregistered meanwhile
            outcome: tuple[bool, str | None, str | None]
            if isinstance(result, BaseException):
                log.warning("health check of %s in %s failed: %s", target.id, group_arn, result)
                outcome = (False, "Elb.InternalError", None)
            else:
                outcome = result
            ok, reason, code = outcome
            # Counted on a copy: a changed state is stored first, then the target in memory takes it.
            counted = dataclasses.replace(target, extra=dict(target.extra))
            changed = health.record(counted, ok, reason, code, group.doc)
            if changed:
                try:
                    await catalog.store.put_target_health(group_arn, target.key, counted.stored_health())
                except Exception as exc:  # noqa: BLE001 - not stored: re-derived by the checks after a restart
                    log.warning("could not store the health of %s in %s: %s", target.id, group_arn, exc)
            target.state, target.reason, target.extra = counted.state, counted.reason, counted.extra
            target.successes, target.failures, target.checked = counted.successes, counted.failures, counted.checked
            if changed:
                for listener in self.changed:
                    listener(group_arn, target)

    async def _probe(self, group: Resource, target: Target) -> tuple[bool, str | None, str | None]:
        doc = group.doc
        timeout = float(doc.get("HealthCheckTimeoutSeconds") or 5)
        path = str(doc.get("HealthCheckPath") or "/")
        matcher = str((doc.get("Matcher") or {}).get("HttpCode") or "200")
        if doc["TargetType"] == "lambda":
            return await self._probe_function(target.id, group, path, matcher, timeout)
        address = self.address_of(group.region, group, target)
        if address is None:
            return False, "Target.FailedHealthChecks", None
        configured = str(doc.get("HealthCheckPort") or "traffic-port")
        port = target.port if configured == "traffic-port" else int(configured)
        if doc.get("HealthCheckProtocol") == "TCP":
            try:
                async with asyncio.timeout(timeout):
                    _, writer = await asyncio.open_connection(address, port)
                writer.close()
                return True, None, None
            except TimeoutError:
                return False, "Target.Timeout", None
            except OSError:
                return False, "Target.FailedHealthChecks", None
        try:
            answer = await self.upstream.fetch(address, port, "GET", path, [("User-Agent", USER_AGENT)], b"", timeout)
        except TimeoutError:
            return False, "Target.Timeout", None
        except TargetUnreachable:
            return False, "Target.FailedHealthChecks", None
        if matches(matcher, answer.status):
            return True, None, None
        return False, "Target.ResponseCodeMismatch", str(answer.status)

    async def _probe_function(self, arn: str, group: Resource, path: str, matcher: str,
                              timeout: float) -> tuple[bool, str | None, str | None]:
        event = {"requestContext": {"elb": {"targetGroupArn": group.arn}}, "httpMethod": "GET", "path": path,
                 "queryStringParameters": {}, "headers": {"user-agent": USER_AGENT}, "body": "",
                 "isBase64Encoded": False}
        try:
            async with asyncio.timeout(timeout):
                answer = await self.invoke(arn, event)
        except TimeoutError:
            return False, "Target.Timeout", None
        except Exception:
            return False, "Target.FailedHealthChecks", None
        try:
            status = int(answer.get("statusCode", 0))
        except (TypeError, ValueError):
            return False, "Target.FailedHealthChecks", None
        if matches(matcher, status):
            return True, None, None
        return False, "Target.ResponseCodeMismatch", json.dumps(status)
