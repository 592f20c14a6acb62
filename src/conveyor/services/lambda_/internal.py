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

from typing import TYPE_CHECKING, Any

from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.services.lambda_.api import LambdaService

MAX_WAIT = 20.0


def functions_summary(svc: LambdaService) -> list[dict[str, Any]]:
    runtime = svc.invoker.runtime.snapshot()
    mappings = svc.mappings.snapshot()
    out = []
    for name in sorted(svc.registry.functions):
        fn = svc.registry.functions[name]
        slots = runtime.get(name) or {"busy": 0, "idle": 0, "cold_starts": 0, "invocations": 0, "peak": 0}
        out.append({
            "name": name, "region": fn.region, "runtime": fn.config["Runtime"], "handler": fn.config["Handler"],
            "timeout": fn.config["Timeout"], "memory": fn.config["MemorySize"], "reserved": fn.reserved,
            "versions": sorted(fn.versions, key=int), "aliases": sorted(fn.aliases), **slots,
            "mappings": [{"uuid": uuid, **m} for uuid, m in mappings.items() if m["function"] == name],
        })
    return out


async def handle(svc: LambdaService, ctx: RequestContext, parts: list[str], method: str) -> Any:
    """parts: the path after /_conveyor/functions, split on '/'. Returns a JSON-able document."""
    if method != "GET":
        raise ServiceError("NotFound", f"No such Conveyor endpoint: {method} {ctx.request.path}", 404)
    if not parts:
        return functions_summary(svc)
    if len(parts) == 2 and parts[1] == "logs":
        name = parts[0]
        if name not in svc.registry.functions and svc.invoker.logs.size(name) == 0:
            raise ServiceError("ResourceNotFoundException", f"Function not found: {svc.arn(name)}", 404)
        query = ctx.request.query_dict()
        try:
            lines = int(query.get("lines", "50"))
            offset = int(query["offset"]) if "offset" in query else None
            wait = min(MAX_WAIT, max(0.0, float(query.get("wait", "0"))))
        except ValueError:
            raise ServiceError("InvalidRequest", "lines, offset and wait must be numbers.")
        logs = svc.invoker.logs
        if offset is not None and wait > 0:
            await logs.wait(name, offset, wait)
        text, reached = logs.read(name, offset, lines)
        return {"function": name, "text": text, "offset": reached}
    raise ServiceError("NotFound", f"No such Conveyor endpoint: {method} {ctx.request.path}", 404)
