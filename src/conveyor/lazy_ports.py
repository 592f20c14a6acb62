"""A port of a service that has not started yet (conveyor.services.catalog: services start on first use).

Other services hold a service's port from the start, as they always have; until the service starts, its
port is a stand-in that
- starts it, then calls it, for every coroutine method (a delivery into a queue, an invocation);
- keeps the calls of a sink (metrics, log lines) and starts the service, which then receives them all;
- answers the synchronous questions as a service with nothing in it does. That answer is the true one: a
  service with state on disk is started with the server (conveyor.service_set), and nothing is made in a
  service without starting it, so a service not started has no queue, no function, no role to report.

A synchronous method with no such answer is a mistake of the catalog (the asking service should list the
other in its `needs`, to have it started first): it raises rather than answer wrongly.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from conveyor.background import spawn
from conveyor.ports import Permissions

# Synchronous port methods and the answer of a service that holds nothing (see conveyor.ports).
_EMPTY_ANSWERS: dict[str, Callable[[], Any]] = {
    "resource_exists": lambda: False,  # Queues, Topics, Functions, EventBuses, PolicyHolder
    "resource_policy": lambda: None,
    "is_fifo": lambda: None,  # Queues: no such queue
    "queue_attributes": lambda: None,
    "queue_summaries": list,
    "invoke_allowed": lambda: False,  # Functions: no such function
    "bucket_exists": lambda: False,  # Objects: no such bucket
    "assumable_by": lambda: False,  # RoleSessions: STS starts with IAM, so IAM holds no role yet
    "role_by_arn": lambda: None,  # RoleDirectory
    "instance_profile": lambda: None,
    "generation": lambda: 0,  # PermissionSource
    "permissions_of": Permissions,
    "secret_for": lambda: None,  # CredentialSource
    "shards": lambda: None,  # Streams: no such stream
    "changed": lambda: None,
    "instance": lambda: None,  # Instances
    "kill": lambda: False,
    "snapshot": dict,  # ScalingActions
    "any_healthy": lambda: None,  # LoadBalancerHealth: no such load balancer
    "target_group_exists": lambda: False,  # TargetGroups
    "instance_state": lambda: None,
    "deregistration_delay": lambda: 0.0,
    "alarm_state": lambda: None,  # AlarmStates: no such alarm
    "delivery_allowed": lambda: False,  # LogGroups: no such log group, no policy
}
# Sinks: their calls are kept and handed to the service once it has started.
_SINK_METHODS = frozenset({"tally", "sample", "sample_many", "write"})
_MAX_KEPT = 100_000  # a sink that cannot start does not grow without bound


class LazyPort:
    """Stands in for `service`'s port of type `protocol` until `bind` hands it the real one."""

    def __init__(self, service: str, protocol: type, start: Callable[[str], Coroutine[Any, Any, object]]) -> None:
        self._service = service
        self._protocol = protocol
        self._start = start
        self._real: Any = None
        self._kept: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self._starting = False

    def bind(self, real: Any) -> None:
        """The service has started: `real` answers from now on, first the sink calls kept for it."""
        self._real = real
        kept, self._kept = self._kept, []
        for name, args, kwargs in kept:
            getattr(real, name)(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        real = self.__dict__.get("_real")
        if real is not None:
            return getattr(real, name)
        member = getattr(self.__dict__["_protocol"], name)  # AttributeError: not a method of the port
        if inspect.iscoroutinefunction(member):
            return self._starting_call(name)
        if name in _SINK_METHODS:
            return self._keeping_call(name)
        if name in _EMPTY_ANSWERS:
            empty = _EMPTY_ANSWERS[name]
            return lambda *args, **kwargs: empty()
        raise RuntimeError(f"{self._service} has not started and has no empty answer for {name}: "
                           "list it in the asking service's needs (conveyor.services.catalog)")

    def _starting_call(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            await self._start(self._service)
            return await getattr(self._real, name)(*args, **kwargs)

        return call

    def _keeping_call(self, name: str) -> Callable[..., None]:
        def keep(*args: Any, **kwargs: Any) -> None:
            if self._real is not None:  # started meanwhile
                getattr(self._real, name)(*args, **kwargs)
                return
            if len(self._kept) < _MAX_KEPT:
                self._kept.append((name, args, kwargs))
            if not self._starting:
                self._starting = True
                spawn(self._start(self._service))

        return keep

    def __repr__(self) -> str:
        return f"<port of {self._service}{'' if self._real is not None else ' (not started)'}>"
