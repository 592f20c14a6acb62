"""EventBridge's parts put together over one store: the catalog of buses and rules, the router (events to
deliveries), the dispatcher (deliveries to targets) and the scheduler (scheduled rules' timers), and
what other services ask of it (conveyor.ports.EventBuses): S3's bucket events on the default bus,
Scheduler's events on any bus.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conveyor import ids
from conveyor.clock import Clock
from conveyor.config import Config
from conveyor.ports import Ports
from conveyor.services.events import errors
from conveyor.services.events.catalog import Catalog
from conveyor.services.events.dispatch import make_dispatcher
from conveyor.services.events.ingest import FORWARDED, Router, event_time
from conveyor.services.events.scheduling import Scheduler
from conveyor.services.events.store import EventsStore
from conveyor.services.retrying import DeliveryFailed, Dispatcher
from conveyor.storage.disk import DiskGuard
from conveyor.wire import ServiceError


class Engine:
    def __init__(self, config: Config, clock: Clock, disk: DiskGuard, ports: Ports) -> None:
        self.config = config
        self.clock = clock
        self.disk = disk
        self.ports = ports
        self.account = config.account_id
        self._store: EventsStore | None = None
        self._catalog: Catalog | None = None
        self._dispatcher: Dispatcher | None = None
        self._router: Router | None = None
        self._scheduler: Scheduler | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._store = EventsStore(self.config.service_dir("events") / "events.db", self.disk)
        self._catalog = Catalog(self._store, self.account)
        self._catalog.load()
        self._dispatcher = make_dispatcher(self._store, self.clock, self.ports, self.account, self._forward)
        self._router = Router(self._catalog, self._dispatcher, self.clock)
        self._scheduler = Scheduler(self._catalog, self._router, self.clock)
        self._dispatcher.load()
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.stop()
        if self._dispatcher is not None:
            self._dispatcher.stop()
        if self._store is not None:
            self._store.close()
            self._store = None

    async def reset(self) -> None:
        self.scheduler.stop()
        self.scheduler.fired = 0
        self.dispatcher.reset()
        async with self.catalog.mutex:
            await self.catalog.store.wipe()
            self.catalog.clear()

    @property
    def started(self) -> bool:
        return self._store is not None

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            raise RuntimeError("EventBridge is not started")
        return self._catalog

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            raise RuntimeError("EventBridge is not started")
        return self._dispatcher

    @property
    def router(self) -> Router:
        if self._router is None:
            raise RuntimeError("EventBridge is not started")
        return self._router

    @property
    def scheduler(self) -> Scheduler:
        if self._scheduler is None:
            raise RuntimeError("EventBridge is not started")
        return self._scheduler

    def counts(self) -> dict[str, int]:
        return {"rules": len(self.catalog.rules), "buses": len(self.catalog.buses),
                "pending_deliveries": self.dispatcher.pending(), "retrying": self.dispatcher.retrying(),
                "delivered": self.dispatcher.delivered,
                "dead_lettered": self.dispatcher.dead_lettered, "dropped": self.dispatcher.dropped,
                "schedules_fired": self.scheduler.fired}

    # -- bus-to-bus targets ----------------------------------------------------------------------------
    async def _forward(self, bus_arn: str, event: dict[str, Any]) -> None:
        bus = self.catalog.bus_from_arn(bus_arn)
        if bus is None:
            raise DeliveryFailed("NO_RESOURCE", f"Event bus {bus_arn} does not exist.", retryable=False)
        await self.router.put([(bus.region, bus.name, [{**event, FORWARDED: True}])])

    # -- conveyor.ports.EventBuses ---------------------------------------------------------------------
    def resource_exists(self, arn: str) -> bool:
        return self.started and self.catalog.bus_from_arn(arn) is not None

    async def deliver_from_s3(self, arn: str, bodies: Sequence[str]) -> None:
        """S3 bucket events in EventBridge's shape, for the default bus of the bucket's region."""
        bus = self.catalog.bus_from_arn(arn)
        if bus is None:
            return  # no such bus: nothing to deliver to (S3 names only default buses)
        await self.router.put([(bus.region, bus.name, [json.loads(body) for body in bodies])])

    async def put_event(self, bus_arn: str, source: str, detail_type: str, detail: str,
                        resources: list[str]) -> str:
        """Put one event on a bus as PutEvents would (EventBridge Scheduler's bus targets); its id."""
        bus = self.catalog.bus_from_arn(bus_arn)
        if bus is None:
            raise errors.bus_not_found(bus_arn.rsplit("/", 1)[-1])
        try:
            parsed = json.loads(detail)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ServiceError("MalformedDetail", "Detail is malformed.")
        event = {"version": "0", "id": ids.uuid4(), "detail-type": detail_type, "source": source,
                 "account": self.account, "time": event_time(self.clock.now()), "region": bus.region,
                 "resources": resources, "detail": parsed}
        await self.router.put([(bus.region, bus.name, [event])])
        return str(event["id"])
