"""Bucket event notifications: configuration checks, matching, AWS's record shape, durable delivery.

Records follow https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
An event is written to the `outbox` table in the same commit as the object change it describes, then
delivered to its destination and deleted once the destination acknowledged; the outbox is replayed at
start, so an acknowledged PUT's event survives kill -9.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote_plus

from conveyor.protocol.base import iso8601
from conveyor.wire import ServiceError

log = logging.getLogger(__name__)

EVENT_TYPES = {
    "s3:ReducedRedundancyLostObject", "s3:ObjectCreated:*", "s3:ObjectCreated:Put", "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete", "s3:ObjectRemoved:DeleteMarkerCreated", "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post", "s3:ObjectRestore:Completed", "s3:Replication:*", "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put", "s3:ObjectTagging:Delete", "s3:ObjectAcl:Put", "s3:LifecycleExpiration:*",
    "s3:IntelligentTiering", "s3:ObjectRestore:Delete", "s3:LifecycleTransition",
}

KINDS = (
    ("QueueConfigurations", "QueueArn", "sqs"),
    ("TopicConfigurations", "TopicArn", "sns"),
    ("LambdaFunctionConfigurations", "LambdaFunctionArn", "lambda"),
)


def _invalid(message: str, name: str | None = None, value: str | None = None) -> ServiceError:
    extra = {"ArgumentName": name, "ArgumentValue": value} if name else {}
    return ServiceError("InvalidArgument", message, 400, extra=extra)


def _filters(conf: dict[str, Any]) -> tuple[str, str]:
    prefix = suffix = ""
    seen: set[str] = set()
    rules = (((conf.get("Filter") or {}).get("Key") or {}).get("FilterRules")) or []
    for rule in rules:
        name = (rule.get("Name") or "").lower()
        if name not in ("prefix", "suffix"):
            raise _invalid("filter rule name must be either prefix or suffix", "FilterRule", rule.get("Name"))
        if name in seen:
            raise _invalid(f"Cannot specify more than one {name} rule in a filter.", "FilterRule", name)
        seen.add(name)
        if name == "prefix":
            prefix = rule.get("Value") or ""
        else:
            suffix = rule.get("Value") or ""
    return prefix, suffix


def _events_overlap(a: list[str], b: list[str]) -> bool:
    for x in a:
        for y in b:
            if x == y:
                return True
            if x.endswith(":*") and y.startswith(x[:-1]):
                return True
            if y.endswith(":*") and x.startswith(y[:-1]):
                return True
    return False


def validate(config: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Check a NotificationConfiguration's shape; returns (kind, arn, id) of each destination and fills
    in missing ids. Whether S3 may deliver to each destination is conveyor.services.s3.destinations'."""
    seen: list[tuple[list[str], str, str]] = []
    dests: list[tuple[str, str, str]] = []
    for list_name, arn_name, kind in KINDS:
        for conf in config.get(list_name) or []:
            arn = conf.get(arn_name) or ""
            events = conf.get("Events") or []
            if not events:
                raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate "
                                   "against our published schema", 400)
            for event in events:
                if event not in EVENT_TYPES:
                    raise _invalid("The event is not supported for notifications", "Event", event)
            prefix, suffix = _filters(conf)
            for other_events, other_prefix, other_suffix in seen:
                if (_events_overlap(events, other_events)
                        and (prefix.startswith(other_prefix) or other_prefix.startswith(prefix))
                        and (suffix.endswith(other_suffix) or other_suffix.endswith(suffix))):
                    raise _invalid("Configurations overlap. Configurations on the same bucket cannot share a "
                                   "common event type.", "Event", events[0])
            seen.append((events, prefix, suffix))
            if not conf.get("Id"):
                conf["Id"] = str(uuid.uuid4())
            dests.append((kind, arn, conf["Id"]))
    return dests


def matches(config: dict[str, Any], event_name: str, key: str) -> list[tuple[str, str, str]]:
    """(kind, arn, configuration id) of each destination that wants `event_name` ("s3:..." form) for key."""
    out = []
    for list_name, arn_name, kind in KINDS:
        for conf in config.get(list_name) or []:
            events = conf.get("Events") or []
            if not any(e == event_name or (e.endswith(":*") and event_name.startswith(e[:-1])) for e in events):
                continue
            prefix, suffix = _filters(conf)
            if key.startswith(prefix) and key.endswith(suffix):
                out.append((kind, conf[arn_name], conf.get("Id") or ""))
    return out


def record(*, event_name: str, region: str, when: float, principal: str, source_ip: str, request_id: str,
           host_id: str, config_id: str, bucket: str, owner: str, key: str, size: int | None, etag: str | None,
           version_id: str | None, sequencer: int) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
    if size is not None:
        obj["size"] = size
    if etag:
        obj["eTag"] = etag
    if version_id and version_id != "null":
        obj["versionId"] = version_id
    obj["sequencer"] = f"{sequencer:018X}"
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": iso8601(when),
        "eventName": event_name.removeprefix("s3:"),
        "userIdentity": {"principalId": principal},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": host_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": config_id,
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": owner}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def test_event(bucket: str, when: float, request_id: str, host_id: str) -> dict[str, Any]:
    return {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": iso8601(when), "Bucket": bucket,
            "RequestId": request_id, "HostId": host_id}


Sender = Callable[[str, str, str], Awaitable[None]]


class Undeliverable(Exception):
    """The destination is gone (e.g. the queue was deleted): AWS drops such events, and so do we."""


class Outbox:
    """Delivers outbox rows in order; a failed delivery is retried with backoff, never dropped."""

    def __init__(self, db: Any, send: Sender) -> None:
        self.db = db
        self.send = send
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="s3-outbox")
        self.kick()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    def kick(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        delay = 0.05
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                rows = self.db.query("SELECT id, kind, target, body FROM outbox ORDER BY id LIMIT 100")
                if not rows:
                    break
                failed = False
                done: list[int] = []
                for row_id, kind, target, body in rows:
                    try:
                        await self.send(kind, target, body)
                    except Undeliverable as exc:
                        log.warning("dropping event for %s: %s", target, exc)
                    except Exception as exc:
                        log.warning("event delivery to %s failed (%s); will retry", target, exc)
                        failed = True
                        break
                    done.append(row_id)
                # One commit for the rows delivered in this round (a crash before it only repeats them:
                # delivery is at least once either way).
                if done:
                    try:
                        await self.db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in done],
                                                  grows=False)
                    except Exception as exc:  # (a full disk) they are delivered again: at least once
                        log.warning("could not clear delivered events (%s); will retry", exc)
                        failed = True
                if failed:
                    # Retry later; a timer, not a loop spinning on a dead destination.
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                else:
                    delay = 0.05


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))
