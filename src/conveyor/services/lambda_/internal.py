"""Conveyor's own endpoints for functions (under /_conveyor/functions), behind `conveyor functions` and
`conveyor logs FN`:

    GET /_conveyor/functions                      each function: runtime, concurrency now and at peak,
                                                  cold starts, invocations, its event source mappings
    GET /_conveyor/functions/NAME/logs?lines=N    the last N lines of its log, and the offset reached
    GET /_conveyor/functions/NAME/logs?offset=O&wait=S
                                                  what was written after O, waiting up to S seconds
                                                  (at most 20) for something to be written
"""

from __future__ import annotations

from typing import Any

from conveyor.services.lambda_.esm import Mappings
from conveyor.services.lambda_.invoke import Invoker
from conveyor.services.lambda_.registry import Registry
from conveyor.wire import RequestContext, ServiceError

MAX_WAIT = 20.0


class FunctionEndpoints:
    def __init__(self, registry: Registry, invoker: Invoker, mappings: Mappings) -> None:
        self.registry = registry
        self.invoker = invoker
        self.mappings = mappings

    def summary(self) -> list[dict[str, Any]]:
        runtime = self.invoker.runtime.snapshot()
        mappings = self.mappings.snapshot()
        out = []
        for name in sorted(self.registry.functions):
            fn = self.registry.functions[name]
            slots = runtime.get(name) or {"busy": 0, "idle": 0, "cold_starts": 0, "invocations": 0, "peak": 0}
            out.append({
                "name": name, "region": fn.region, "runtime": fn.config["Runtime"], "handler": fn.config["Handler"],
                "timeout": fn.config["Timeout"], "memory": fn.config["MemorySize"], "reserved": fn.reserved,
                "versions": sorted(fn.versions, key=int), "aliases": sorted(fn.aliases), **slots,
                "mappings": [{"uuid": uuid, **m} for uuid, m in mappings.items() if m["function"] == name],
            })
        return out

    async def handle(self, ctx: RequestContext, parts: list[str]) -> Any:
        """parts: the path after /_conveyor/functions, split on '/'. Returns a JSON-able document."""
        method = ctx.request.method
        if method != "GET":
            raise ServiceError("NotFound", f"No such Conveyor endpoint: {method} {ctx.request.path}", 404)
        if not parts:
            return self.summary()
        if len(parts) == 2 and parts[1] == "logs":
            return await self._logs(ctx, parts[0])
        raise ServiceError("NotFound", f"No such Conveyor endpoint: {method} {ctx.request.path}", 404)

    async def _logs(self, ctx: RequestContext, name: str) -> dict[str, Any]:
        logs = self.invoker.logs
        if name not in self.registry.functions and logs.size(name) == 0:
            raise ServiceError("ResourceNotFoundException", f"Function not found: {self.registry.arn(name)}", 404)
        query = ctx.request.query_dict()
        try:
            lines = int(query.get("lines", "50"))
            offset = int(query["offset"]) if "offset" in query else None
            wait = min(MAX_WAIT, max(0.0, float(query.get("wait", "0"))))
        except ValueError:
            raise ServiceError("InvalidRequest", "lines, offset and wait must be numbers.")
        if offset is not None and wait > 0:
            await logs.wait(name, offset, wait)
        text, reached = logs.read(name, offset, lines)
        return {"function": name, "text": text, "offset": reached}
