"""Resources made at once where the dependency graph allows, as CloudFormation makes them: each starts as soon
as everything it depends on is done. After a failure nothing new starts; what is already running finishes
(and is rolled back with the rest).
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

# How many resources are made at once: enough for the architecture's independent parts, few enough that one
# stack does not crowd out the requests of everyone else on a small machine.
CONCURRENCY = 8


async def in_dependency_order(order: list[str], needs: Mapping[str, set[str]],
                              apply: Callable[[str], Awaitable[None]],
                              failed: Callable[[str, Exception], Awaitable[bool]],
                              stop: Callable[[], bool] = lambda: False) -> None:
    """Run `apply` for each of `order` (a topological order) once its `needs` are done. An exception goes to
    `failed`, which says whether it is the resource's failure (True: stop starting others) or not ours to
    handle (False: it is raised, once the running ones are cancelled). Once `stop()` says so (DeleteStack
    of a stack being created), nothing new starts either; what runs finishes."""
    pending = list(order)
    done: set[str] = set()
    running: dict[asyncio.Task[None], str] = {}
    stopped = False
    try:
        while pending or running:
            stopped = stopped or stop()
            if not stopped:
                for logical in [name for name in pending if needs.get(name, set()) <= done]:
                    if len(running) >= CONCURRENCY:
                        break
                    pending.remove(logical)
                    running[asyncio.ensure_future(apply(logical))] = logical
            if not running:
                return
            finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(finished, key=lambda t: order.index(running[t])):
                logical = running.pop(task)
                error = task.exception()
                if error is None:
                    done.add(logical)
                elif isinstance(error, Exception) and await failed(logical, error):
                    stopped = True
                else:
                    raise error
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
