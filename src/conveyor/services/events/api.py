"""EventBridge (JSON 1.1, `AWSEvents.*`): event buses, rules with event patterns and schedules, targets
(functions, queues, topics, other buses) with their input settings, retry policies and dead-letter
queues, PutEvents, TestEventPattern, bus permissions and tags.

- Buses, rules and targets are durable in SQLite (conveyor.services.events.store); so are matched events
  until their targets took them: PutEvents answers once its deliveries are stored.
- Schedules run on the server's clock, one timer per scheduled rule (conveyor.services.events.scheduling).
- S3 puts bucket events on the default bus through conveyor.ports.EventBuses (a bucket with
  EventBridgeConfiguration), and so does EventBridge Scheduler for its bus targets.
- Archives, replays, API destinations, connections, global endpoints and partner event sources are not
  served: their operations answer NotImplemented.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.authz import Denial, Need
from conveyor.ports import Ports
from conveyor.services.base import Environment, Service
from conveyor.services.events import errors, iam
from conveyor.services.events.bus_api import BusOperations
from conveyor.services.events.engine import Engine
from conveyor.services.events.rules_api import RuleOperations
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from botocore.model import OperationModel


class EventsService(Service):
    name = "events"
    validation_codes = errors.VALIDATION

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.engine = Engine(self.config, self.clock, env.disk, self.ports)
        self.operation_groups = (RuleOperations(self.engine), BusOperations(self.engine))

    def provide(self, ports: Ports) -> None:
        ports.events = self.engine

    async def start(self) -> None:
        self.engine.start()

    async def stop(self) -> None:
        self.engine.stop()

    async def reset(self) -> None:
        await self.engine.reset()

    def health(self) -> dict[str, Any]:
        if not self.engine.started:
            return {"status": "stopped"}
        return {"status": "running", **self.engine.counts()}

    # -- IAM (conveyor.services.events.iam) -------------------------------------------------------------
    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(ctx, operation.name, params)

    def access_denied(self, ctx: RequestContext, denial: Denial) -> ServiceError:
        return iam.access_denied(denial)
