"""Bucket event notifications: configuration checks, matching, and AWS's record shape.

Records follow https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
They are built and encoded here, before the write that stores the change; the write puts them in the
outbox in the same commit (see conveyor.services.s3.outbox for their delivery).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from conveyor.links import NOTIFICATION, Link
from conveyor.protocol.base import iso8601
from conveyor.services.s3.errors import malformed_xml
from conveyor.services.s3.schema import SEQUENCER_PLACEHOLDER, BucketRow, PendingEvent
from conveyor.wire import ServiceError

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


def _filters(conf: Mapping[str, Any]) -> tuple[str, str]:
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


def _events_overlap(a: Sequence[str], b: Sequence[str]) -> bool:
    for x in a:
        for y in b:
            if x == y:
                return True
            if x.endswith(":*") and y.startswith(x[:-1]):
                return True
            if y.endswith(":*") and x.startswith(y[:-1]):
                return True
    return False


Destination = tuple[str, str, str]  # kind (sqs, sns, lambda), ARN, configuration id


def validate(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[Destination]]:
    """Check a NotificationConfiguration's shape; returns it as stored (each configuration with an Id, one
    made up where none was given) and the destinations it names. Whether S3 may deliver to each
    destination is conveyor.services.s3.destinations'."""
    seen: list[tuple[Sequence[str], str, str]] = []
    dests: list[Destination] = []
    stored: dict[str, Any] = dict(config)
    for list_name, arn_name, kind in KINDS:
        if not config.get(list_name):
            continue
        confs: list[dict[str, Any]] = []
        for given in config[list_name]:
            conf = dict(given)
            arn = conf.get(arn_name) or ""
            events = conf.get("Events") or []
            if not events:
                raise malformed_xml()
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
            confs.append(conf)
        stored[list_name] = confs
    return stored, dests


def matches(config: Mapping[str, Any], event_name: str, key: str) -> list[Destination]:
    """(kind, arn, configuration id) of each destination that wants `event_name` ("s3:..." form) for key."""
    out: list[Destination] = []
    for list_name, arn_name, kind in KINDS:
        for conf in config.get(list_name) or []:
            events = conf.get("Events") or []
            if not any(e == event_name or (e.endswith(":*") and event_name.startswith(e[:-1])) for e in events):
                continue
            prefix, suffix = _filters(conf)
            if key.startswith(prefix) and key.endswith(suffix):
                out.append((kind, conf[arn_name], conf.get("Id") or ""))
    return out


def links(bucket: str, config: Mapping[str, Any]) -> list[Link]:
    """The bucket's notification destinations as conveyor.links (label: the key filter)."""
    out = []
    for list_name, arn_name, _ in KINDS:
        for conf in config.get(list_name) or []:
            try:
                prefix, suffix = _filters(conf)
            except ServiceError:
                prefix = suffix = ""
            # The key filter alone, `PREFIX*SUFFIX`: the dashboard follows uploads that match it.
            out.append(Link(f"arn:aws:s3:::{bucket}", conf[arn_name], NOTIFICATION, f"{prefix}*{suffix}"))
    return out


@dataclass(frozen=True)
class Requester:
    """Who made the request that caused an event, as its records name them."""

    principal: str
    source_ip: str
    request_id: str
    host_id: str


@dataclass(frozen=True)
class ObjectChange:
    """An object change that may cause events: `event` in the "s3:..." form, `when` the time of the change."""

    event: str
    key: str
    version_id: str
    when: float
    size: int | None = None  # creations only
    etag: str | None = None
    # s3:ObjectRestore:Completed: (the restored copy's expiry, the object's storage class)
    restored: tuple[float, str] | None = None


def pending_events(bucket: BucketRow, owner: str, change: ObjectChange, requester: Requester) -> list[PendingEvent]:
    """The outbox rows for `change`, one per destination that wants it; each with SEQUENCER_SLOT for the
    write to fill in."""
    config = bucket.config.get("notification")
    if not config:
        return []
    return [PendingEvent(kind, arn, dumps({"Records": [record(bucket, owner, change, requester, config_id)]}))
            for kind, arn, config_id in matches(config, change.event, change.key)]


def record(bucket: BucketRow, owner: str, change: ObjectChange, requester: Requester,
           config_id: str) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": quote_plus(change.key, safe="/")}
    if change.size is not None:
        obj["size"] = change.size
    if change.etag:
        obj["eTag"] = change.etag
    if change.version_id != "null":
        obj["versionId"] = change.version_id
    obj["sequencer"] = SEQUENCER_PLACEHOLDER  # the write fills in the bucket's change count
    out: dict[str, Any] = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": bucket.region,
        "eventTime": iso8601(change.when),
        "eventName": change.event.removeprefix("s3:"),
        "userIdentity": {"principalId": requester.principal},
        "requestParameters": {"sourceIPAddress": requester.source_ip},
        "responseElements": {"x-amz-request-id": requester.request_id, "x-amz-id-2": requester.host_id},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": config_id,
            "bucket": {"name": bucket.name, "ownerIdentity": {"principalId": owner},
                       "arn": f"arn:aws:s3:::{bucket.name}"},
            "object": obj,
        },
    }
    if change.restored is not None:
        # Only s3:ObjectRestore:Completed records carry it.
        # https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
        until, storage_class = change.restored
        out["glacierEventData"] = {"restoreEventData": {"lifecycleRestorationExpiryTime": iso8601(until),
                                                        "lifecycleRestoreStorageClass": storage_class}}
    return out


def test_event(bucket: str, when: float, request_id: str, host_id: str) -> dict[str, Any]:
    return {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": iso8601(when), "Bucket": bucket,
            "RequestId": request_id, "HostId": host_id}


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))
