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
- Another account's caller (conveyor.wire.caller) is judged by the bus's policy (PutPermission): it may put
  events on the bus and manage rules on it, named by the bus's ARN, as far as the policy lets it
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html); a name is a bus or
  rule of its own account, which holds only its `default` bus here, with no rules (other_accounts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.authz import Denial, Need
from conveyor.ports import Ports
from conveyor.services.base import Environment, Service
from conveyor.services.events import errors, iam, other_accounts
from conveyor.services.events.bus_api import BusOperations
from conveyor.services.events.engine import Engine
from conveyor.services.events.rules_api import RuleOperations
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from botocore.model import OperationModel


class EventsService(Service):
    name = "events"
    validation_codes = errors.VALIDATION
    # Another account's caller: the bus's own policy decides, for what EventBridge serves across accounts
    # (iam.CROSS_ACCOUNT); in its own account it makes nothing (Conveyor holds one account).
    other_accounts_by_resource_policy = True
    other_account_may = iam.CROSS_ACCOUNT
    other_account_creates = frozenset({"CreateEventBus", "PutRule", "PutPermission", "UpdateEventBus"})

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.engine = Engine(self.config, self.clock, env.disk, self.ports)
        self.operation_groups = (RuleOperations(self.engine), BusOperations(self.engine))

    def provide(self, ports: Ports) -> None:
        ports.events = self.engine
        ports.policy_holders["events"] = self

    # -- conveyor.ports.PolicyHolder: the buses' policies, which cover the rules on them too --------------
    def resource_exists(self, arn: str) -> bool:
        return self.engine.resource_exists(arn)

    def resource_policy(self, arn: str) -> str | None:
        if not self.engine.started:
            return None
        bus = self.engine.catalog.bus_holding(arn)
        return bus.policy if bus is not None else None

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
        return iam.needs(ctx, self.engine.catalog if self.engine.started else None, operation.name, params)

    def access_denied(self, ctx: RequestContext, denial: Denial) -> ServiceError:
        return iam.access_denied(denial)

    # -- another account's caller (other_accounts) -------------------------------------------------------
    def missing_for_other_account(self, ctx: RequestContext, operation: str, params: dict[str, Any]) -> ServiceError | None:
        return other_accounts.missing(ctx, operation, params)

    def answer_for_other_account(self, ctx: RequestContext, operation: OperationModel,
                                 params: dict[str, Any]) -> dict[str, Any] | None:
        return other_accounts.answer(ctx, operation.name, params, self)
