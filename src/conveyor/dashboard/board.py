"""The dashboard's live state: what the page shows, the changes that wake its event streams, and its
actions (redrive a dead-letter queue, kill a worker, scale a pool).

The state is assembled from what the services and pools already hold in memory (queue counters, pool
snapshots, function slots, alarm states) plus the trail (conveyor.dashboard.trail). The graph, the one
part that reads storage (S3's bucket configurations), is rebuilt only when a request may have changed
the wiring, or every GRAPH_SECONDS.

Streams (GET /_conveyor/events, server-sent events) are woken by activity: every request the gateway
answers and every log line. A burst is coalesced into one update per COALESCE_SECONDS; with nothing
happening an update still goes out every QUIET_SECONDS (ages and uptimes move), and only when the state
differs from the last one sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from conveyor import waiting
from conveyor.config import Config
from conveyor.dashboard import graph as graphs
from conveyor.dashboard.trail import Trail
from conveyor.links import Link
from conveyor.ports import Ports
from conveyor.runtime.pool import PoolError
from conveyor.runtime.pools import PoolManager
from conveyor.services.base import Service
from conveyor.wire import HttpResponse, RequestContext, ServiceError

GRAPH_SECONDS = 10.0
COALESCE_SECONDS = 0.25
QUIET_SECONDS = 2.0
KEEPALIVE_SECONDS = 15.0
# Operations that cannot change how resources are wired: everything else rebuilds the graph.
_DATA_OPERATIONS = frozenset({
    "PutObject", "GetObject", "HeadObject", "DeleteObject", "DeleteObjects", "CopyObject", "ListObjectsV2",
    "ListObjects", "UploadPart", "CreateMultipartUpload", "CompleteMultipartUpload", "PostObject",
    "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
    "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "GetQueueAttributes", "GetQueueUrl",
    "ListQueues", "Publish", "PublishBatch", "Invoke", "PutLogEvents", "PutMetricData", "GetMetricData",
    "GetMetricStatistics", "GetCallerIdentity", "-"})


@dataclass
class Wiring:
    """What the dashboard reads: the services, the ports and the pools of the running App."""

    services: Mapping[str, Service]
    ports: Ports
    pools: PoolManager
    config: Config
    now: Callable[[], float]


class Pulse:
    """Wakes every waiting stream at once; a waiter that arrives later waits for the next one."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            pass


class Dashboard:
    def __init__(self, wiring: Wiring) -> None:
        self.wiring = wiring
        self.trail = Trail(wiring.now)
        self._pulse: Pulse | None = None  # made in the event loop, on first use
        self._graph: graphs.Graph | None = None
        self._graph_built = 0.0
        self.streams = 0
        self.closed = False

    @property
    def pulse(self) -> Pulse:
        if self._pulse is None:
            self._pulse = Pulse()
        return self._pulse

    def changed(self) -> None:
        if self._pulse is not None and self.streams:
            self._pulse.fire()

    def clear(self) -> None:
        self.trail.clear()
        self._graph = None

    def close(self) -> None:
        """The server is stopping: every stream ends (its response completes)."""
        self.closed = True
        self.changed()

    # -- what the gateway tells it -----------------------------------------------------------------------
    def observe(self, ctx: RequestContext, response: HttpResponse) -> None:
        """Called by the gateway with every request it answered."""
        operation = ctx.operation_label
        if response.status < 300 and operation not in _DATA_OPERATIONS:
            self._graph = None  # the wiring may have changed
        if ctx.service == "s3" and response.status < 300:
            params = ctx.params
            if operation in ("PutObject", "CompleteMultipartUpload"):
                size = params.get("ContentLength")
                self.trail.uploaded(str(params.get("Bucket")), str(params.get("Key")),
                                    size if isinstance(size, int) else None, self.graph().watched_keys())
            elif operation == "PostObject" and ctx.form is not None and ctx.host_bucket is not None:
                self.trail.uploaded(ctx.host_bucket, ctx.form.get("key", ""), None, self.graph().watched_keys())
            elif operation == "CopyObject":
                self.trail.copied(str(params.get("Bucket")), str(params.get("CopySource")), str(params.get("Key")))
        self.changed()

    # -- the state -------------------------------------------------------------------------------------
    def graph(self) -> graphs.Graph:
        if self._graph is None or time.monotonic() - self._graph_built > GRAPH_SECONDS:
            w = self.wiring
            links: list[Link] = []
            for service in w.services.values():
                links += service.links()
            self._graph = graphs.build(links, self._queues(), w.pools.snapshot(), self._functions(),
                                       w.config.region)
            self._graph_built = time.monotonic()
        return self._graph

    def _queues(self) -> list[dict[str, Any]]:
        queues = self.wiring.ports.queues
        return queues.queue_summaries() if queues is not None else []

    def _functions(self) -> list[dict[str, Any]]:
        lambda_ = self.wiring.services.get("lambda")
        account = self.wiring.config.account_id
        found = lambda_.status().get("functions", []) if lambda_ is not None else []
        return [{**f, "arn": f"arn:aws:lambda:{f['region']}:{account}:function:{f['name']}"} for f in found]

    def state(self) -> dict[str, Any]:
        w = self.wiring
        queues = self._queues()
        functions = self._functions()
        pools = w.pools.snapshot()
        alarms = w.services["cloudwatch"].status().get("alarms", []) if "cloudwatch" in w.services else []
        account = w.config.account_id
        return {
            "now": w.now(), "region": w.config.region, "auth": w.config.auth,
            "graph": self.graph().doc(),
            "queues": {q["arn"]: {"name": q["name"], "visible": q["visible"], "inflight": q["inflight"],
                                  "delayed": q["delayed"], "oldest_age": round(q["oldest_age"], 1),
                                  "dlq": q["dlq"]} for q in queues},
            "pools": {name: {"desired": p["desired"], "min": p["spec"]["min"], "max": p["spec"]["max"],
                             "in_service": p["in_service"], "backlog": p["backlog"], "state": p["state"],
                             "replaced": p["replaced"],
                             "workers": [{"id": wk["id"], "pid": wk["pid"], "state": wk["state"],
                                          "uptime": wk["uptime"], "done": wk["messages_done"]}
                                         for wk in p["workers"]]}
                      for name, p in pools.items()},
            "functions": {f["arn"]: {"name": f["name"], "busy": f["busy"], "idle": f["idle"],
                                     "invocations": f["invocations"], "cold_starts": f["cold_starts"]}
                          for f in functions},
            "alarms": {f"arn:aws:cloudwatch:{a['region']}:{account}:alarm:{a['name']}":
                       {"name": a["name"], "state": a["state"], "reason": a["reason"]} for a in alarms},
            **self.trail.doc(),
        }

    # -- server-sent events ------------------------------------------------------------------------------
    async def events(self) -> AsyncIterator[bytes]:
        """The state as server-sent events (`event: state`), each time it changed."""
        self.streams += 1
        last = b""
        quiet_since = time.monotonic()
        try:
            yield b"retry: 2000\n\n"
            while not self.closed:
                body = json.dumps(self.state(), separators=(",", ":")).encode()
                if body != last:
                    last = body
                    quiet_since = time.monotonic()
                    yield b"event: state\ndata: " + body + b"\n\n"
                elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                    quiet_since = time.monotonic()
                    yield b": keep-alive\n\n"  # a comment: proxies and browsers see the stream alive
                # Parked: a client that goes away cancels the stream here (conveyor.waiting).
                with waiting.parked():
                    await self.pulse.wait(QUIET_SECONDS)
                    if not self.closed:
                        await asyncio.sleep(COALESCE_SECONDS)
        finally:
            self.streams -= 1

    # -- actions ---------------------------------------------------------------------------------------
    async def act(self, action: str, body: Mapping[str, Any]) -> dict[str, Any]:
        w = self.wiring
        try:
            if action == "redrive":
                queues = w.ports.queues
                if queues is None:
                    raise ServiceError("InvalidRequest", "This Conveyor serves no queues.")
                arn = _text(body, "queue")
                handle = await queues.redrive(arn)
                return {"redriving": arn, "task": handle}
            if action == "kill":
                worker = _text(body, "worker")
                await w.pools.kill(worker)
                return {"killed": worker}
            if action == "scale":
                pool, desired = _text(body, "pool"), body.get("desired")
                if not isinstance(desired, int) or isinstance(desired, bool):
                    raise ServiceError("InvalidRequest", 'Send {"pool": NAME, "desired": N}.')
                await w.pools.scale(pool, desired)
                return {"pool": pool, "desired": desired}
        except PoolError as exc:
            raise ServiceError("InvalidRequest", str(exc))
        finally:
            self.changed()
        raise ServiceError("NotFound", f"No such dashboard action: {action}", 404)


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ServiceError("InvalidRequest", f"Send {{\"{name}\": ...}} (a string).")
    return value
