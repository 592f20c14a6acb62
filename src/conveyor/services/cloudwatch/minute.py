"""The built-in metrics' sink (conveyor.ports.MetricsSink) and the minute that drives CloudWatch.

Services count into memory: a dictionary per (region, namespace, name, dimensions, unit) for the current
minute. At each minute boundary of the server's clock the sink samples the gauges (queue depths), stores
the minute that ended in one write, then lets the alarms evaluate, in that order, so an alarm sees the
minute it is evaluated at. Data points carry the minute's start time.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from conveyor.background import spawn
from conveyor.clock import Clock, TimerHandle
from conveyor.ports import Dimensions
from conveyor.services.cloudwatch.catalog import Datum, MetricCatalog

log = logging.getLogger("conveyor.cloudwatch")

MINUTE = 60
Key = tuple[str, str, str, Dimensions, str]  # region, namespace, name, dimensions, unit
# At most this many distinct values per metric and minute are kept for percentiles; past it the minute's
# percentiles are not available (its count, sum, min and max still are).
MAX_VALUES = 2000


@dataclass
class _Minute:
    n: float = 0.0
    sum: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    values: dict[float, float] | None = field(default_factory=dict)


class MinuteSink:
    def __init__(self, catalog: MetricCatalog, clock: Clock) -> None:
        self.catalog = catalog
        self.clock = clock
        self.tallies: dict[Key, float] = {}
        self.samples: dict[Key, _Minute] = {}
        self.enabled = False
        # Called synchronously at each minute boundary, before the minute is stored (gauges sample here).
        self.samplers: list[Callable[[], None]] = []
        # Awaited after the minute is stored, with the boundary's time (alarms evaluate here).
        self.after_minute: list[Callable[[float], Awaitable[None]]] = []
        self._timer: TimerHandle | None = None
        self._chain: asyncio.Future[None] | None = None  # minutes are stored and evaluated in order

    # -- conveyor.ports.MetricsSink --------------------------------------------------------------------
    def tally(self, region: str, namespace: str, name: str, dimensions: Dimensions, amount: float = 1.0,
              unit: str = "Count") -> None:
        if self.enabled:
            key = (region, namespace, name, dimensions, unit)
            self.tallies[key] = self.tallies.get(key, 0.0) + amount

    def sample(self, region: str, namespace: str, name: str, dimensions: Dimensions, value: float,
               unit: str = "None") -> None:
        if not self.enabled:
            return
        key = (region, namespace, name, dimensions, unit)
        minute = self.samples.get(key)
        if minute is None:
            minute = self.samples[key] = _Minute()
        minute.n += 1
        minute.sum += value
        if value < minute.min:
            minute.min = value
        if value > minute.max:
            minute.max = value
        values = minute.values
        if values is not None:
            values[value] = values.get(value, 0.0) + 1
            if len(values) > MAX_VALUES:
                minute.values = None

    def sample_many(self, region: str, namespace: str, name: str, dimensions: Dimensions, values: Sequence[float],
                    unit: str = "None") -> None:
        if not self.enabled or not values:
            return
        key = (region, namespace, name, dimensions, unit)
        minute = self.samples.get(key)
        if minute is None:
            minute = self.samples[key] = _Minute()
        minute.n += len(values)
        minute.sum += sum(values)
        minute.min = min(minute.min, *values)
        minute.max = max(minute.max, *values)
        kept = minute.values
        if kept is not None:
            for value in values:
                kept[value] = kept.get(value, 0.0) + 1
            if len(kept) > MAX_VALUES:
                minute.values = None

    # -- the minute ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self.enabled = True
        self.schedule()

    def stop(self) -> None:
        self.enabled = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def clear(self) -> None:
        self.tallies.clear()
        self.samples.clear()

    def schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        boundary = (self.clock.now() // MINUTE + 1) * MINUTE
        self._timer = self.clock.call_at(boundary, lambda: self._boundary(boundary))

    def _boundary(self, boundary: float) -> None:
        """At hh:mm:00 (called from the clock, synchronously): sample, take the minute, queue its storing."""
        self._timer = None
        if not self.enabled:
            return
        for sampler in self.samplers:
            try:
                sampler()
            except Exception:
                log.exception("sampling metrics failed")
        data = self.take(int(boundary) - MINUTE)
        previous = self._chain
        self._chain = spawn(self._store_and_evaluate(previous, data, boundary))
        self.schedule()

    def take(self, minute_start: int) -> list[Datum]:
        data = [Datum((r, ns, name, dims), MINUTE, minute_start, unit, 1.0, amount, amount, amount,
                      ((amount, 1.0),)) for (r, ns, name, dims, unit), amount in self.tallies.items()]
        data += [Datum((r, ns, name, dims), MINUTE, minute_start, unit, m.n, m.sum, m.min, m.max,
                       tuple(m.values.items()) if m.values is not None else None)
                 for (r, ns, name, dims, unit), m in self.samples.items()]
        self.tallies, self.samples = {}, {}
        return data

    async def _store_and_evaluate(self, previous: asyncio.Future[None] | None, data: list[Datum],
                                  boundary: float) -> None:
        if previous is not None:
            await asyncio.shield(previous)
        if data:
            try:
                await self.catalog.store_data(data, boundary)
            except Exception:
                log.exception("storing %d built-in metric datapoints failed; they are dropped", len(data))
        for after in self.after_minute:
            try:
                await after(boundary)
            except Exception:
                log.exception("the minute's work after storing metrics failed")

    async def settle(self) -> None:
        """Wait for the minutes already taken to be stored and evaluated (tests, shutdown)."""
        while self._chain is not None and not self._chain.done():
            await asyncio.shield(self._chain)
