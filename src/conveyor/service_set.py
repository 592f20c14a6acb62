"""The services of a running Conveyor, each started on first use.

A service is imported, built and started when it is first needed: its first request, a port another
service calls (conveyor.lazy_ports), a service that `needs` it starting. At start-up only the services
that have state on disk start (and those registered outside the catalog): they may have work to resume
(retries, schedules, sweeps, event source mappings, health checks), and a service that has not started
can then be trusted to hold nothing, which is what its port answers for it.

As a Mapping, a ServiceSet holds the services started so far, in the order they started; they stop in the
catalog's order reversed.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from conveyor.ports import Ports
from conveyor.services.base import Environment, Service, ServiceEntry

log = logging.getLogger("conveyor")


def load_class(path: str) -> type[Service] | None:
    """The Service class at "module:Class", or None when that module is not part of this build."""
    module_name, _, class_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None  # that service is not part of this build
        raise
    service_class = getattr(module, class_name)
    if not (isinstance(service_class, type) and issubclass(service_class, Service)):
        raise TypeError(f"{path} is not a Service")
    return service_class


def in_build(path: str) -> bool:
    """Whether the service's module is part of this build, without importing it."""
    module_name = path.partition(":")[0]
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        return False


def has_state(data_dir: Path, entry: ServiceEntry) -> bool:
    """Whether the service left anything in the data directory (a database, objects, code...)."""
    directory = data_dir / entry.directory
    try:
        return any(directory.iterdir())
    except OSError:  # no such directory: never started here
        return False


class ServiceSet(Mapping[str, Service]):
    def __init__(self, env: Environment, entries: Sequence[ServiceEntry],
                 publish: Callable[[ServiceEntry, Service, Ports], None]) -> None:
        """`publish` is told each service once it has started, with the ports it offers (its `provide`
        writes them into a Ports of their own, handed on only once it can answer)."""
        self.env = env
        self.entries = {entry.name: entry for entry in entries}
        self.publish = publish
        self._started: dict[str, Service] = {}
        self._starting: dict[str, asyncio.Future[Service]] = {}
        self._built: dict[str, tuple[Service, Ports]] = {}

    # -- Mapping: the services started so far ---------------------------------------------------------
    def __getitem__(self, name: str) -> Service:
        return self._started[name]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._started))

    def __len__(self) -> int:
        return len(self._started)

    def names(self) -> list[str]:
        """Every service this build serves, started or not, in the catalog's order."""
        return list(self.entries)

    def started(self, name: str) -> bool:
        return name in self._started

    # -- starting ---------------------------------------------------------------------------------------
    def build(self, name: str) -> Service:
        """The service, imported and built but not started (its codecs can be read; nothing is opened)."""
        built = self._built.get(name)
        if built is None:
            entry = self.entries[name]
            service_class = load_class(entry.path)
            if service_class is None:
                raise LookupError(f"{name} is not part of this build")
            offered = Ports()
            service = service_class(self.env)
            service.provide(offered)
            built = self._built[name] = (service, offered)
        return built[0]

    async def use(self, name: str) -> Service:
        """The started service, starting it (and what it needs) first if it has not started yet."""
        service = self._started.get(name)
        if service is not None:
            return service
        starting = self._starting.get(name)
        if starting is not None:
            return await asyncio.shield(starting)
        future: asyncio.Future[Service] = asyncio.get_running_loop().create_future()
        self._starting[name] = future
        try:
            service = await self._start(self.entries[name])
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: whoever waits on it gets it raised
            raise
        finally:
            del self._starting[name]
        future.set_result(service)
        for brought in self.entries[name].brings:
            if brought in self.entries and brought not in self._starting:
                await self.use(brought)
        return service

    async def _start(self, entry: ServiceEntry) -> Service:
        for need in entry.needs:
            if need in self.entries:
                await self.use(need)
        service = self.build(entry.name)
        await service.start()
        self._started[entry.name] = service
        self.publish(entry, service, self._built[entry.name][1])
        log.debug("started %s", entry.name)
        return service

    async def start_those_with_state(self) -> None:
        """At start-up: the services with state on disk, and those that always start."""
        data_dir = self.env.config.data_dir
        for entry in self.entries.values():
            if entry.eager or has_state(data_dir, entry):
                await self.use(entry.name)
        for entry in self.entries.values():
            if entry.door and entry.name not in self._started:
                module_name, _, function = entry.door.partition(":")
                opener = getattr(importlib.import_module(module_name), function)
                door = opener(self.env, functools.partial(self.use, entry.name))
                if door is not None:
                    self.env.doors[entry.name] = door

    async def stop(self) -> None:
        for door in self.env.doors.values():  # ports held for services that never started
            door.close()
        self.env.doors.clear()
        # In the catalog's order reversed, whatever order they started in: a service stops before those it
        # delivers into (SNS before SQS), Auto Scaling before EC2.
        for name in reversed([name for name in self.entries if name in self._started]):
            service = self._started.pop(name)
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", name)
