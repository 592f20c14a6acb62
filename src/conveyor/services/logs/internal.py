"""Conveyor's own endpoint for logs, behind `conveyor logs`:

    GET /_conveyor/logs?group=G&lines=N            the last N events of group G (every stream, in time order)
    GET /_conveyor/logs?function=F&lines=N         the same for /aws/lambda/F (a function not invoked yet
                                                   has no events; one that does not exist is an error)
    GET /_conveyor/logs?group=G&after=T&wait=S     the events stored after position T, waiting up to S
                                                   seconds (at most 20) for one to be stored

G is a log group name (/aws/lambda/NAME, /conveyor/pools/NAME), looked up in the server's region first,
then in any region. Each answer carries `after`, the position to read on from.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from conveyor.services.logs.catalog import LogGroup
from conveyor.services.logs.events import event_id
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.services.logs.api import LogsService

MAX_WAIT = 20.0
MAX_LINES = 10_000


def _find(svc: LogsService, name: str) -> LogGroup | None:
    catalog = svc._catalog()
    found = catalog.groups.get((svc.config.region, name))
    if found is not None:
        return found
    return next((g for (_, n), g in sorted(catalog.groups.items()) if n == name), None)


async def handle(svc: LogsService, ctx: RequestContext, parts: list[str]) -> Any:
    if parts not in ([], [""]) or ctx.request.method != "GET":
        return NotImplemented
    query = ctx.request.query_dict()
    function = query.get("function")
    name = f"/aws/lambda/{function}" if function else query.get("group") or ""
    try:
        lines = min(MAX_LINES, max(0, int(query.get("lines", "50"))))
        wait = min(MAX_WAIT, max(0.0, float(query.get("wait", "0"))))
        after = tuple(int(p) for p in query["after"].split(".", 1)) if query.get("after") else None
    except ValueError:
        raise ServiceError("InvalidRequest", "lines, after and wait must be numbers.")
    group = _find(svc, name)
    if group is None and wait > 0 and after is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(svc.grew.wait(), wait)
        group = _find(svc, name)
    if group is None:
        if function:
            arn = f"arn:aws:lambda:{svc.config.region}:{svc.config.account_id}:function:{function}"
            functions = svc.ports.functions
            if functions is None or not functions.resource_exists(arn):
                raise ServiceError("ResourceNotFoundException", f"Function not found: {arn}", 404)
        return {"group": name, "events": [], "after": query.get("after") or "0.0"}
    store = svc._catalog().store
    position = (after[0], after[1]) if after is not None and len(after) == 2 else None
    start_at = "0.0"
    if position is None:
        rows = list(reversed(store.group_events_newest(group.id, lines)))
        newest = rows[-1:] or store.group_events_newest(group.id, 1)  # where following starts
        start_at = f"{newest[0][2]}.{newest[0][0]}" if newest else "0.0"
    else:
        rows = store.group_events(group.id, None, None, None, position, MAX_LINES)
        if not rows and wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(svc.grew.wait(), wait)
            rows = store.group_events(group.id, None, None, None, position, MAX_LINES)
    names = {s.id: s.name for s in group.streams.values()}
    events = [{"stream": names.get(r[1], ""), "timestamp": r[2], "message": r[4], "id": event_id(r[2], r[0])}
              for r in rows]
    reached = f"{rows[-1][2]}.{rows[-1][0]}" if rows else (query.get("after") or start_at)
    return {"group": group.name, "region": group.region, "events": events, "after": reached}
