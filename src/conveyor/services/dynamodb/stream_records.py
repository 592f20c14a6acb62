"""DynamoDB Streams' records: one per item change, built before the change is written and stored with it
in the same commit (which gives it its sequence number, see DynamoStore.apply), so a stream never shows a
change that did not happen nor misses one that did.

What a record holds depends on the stream's view type (KEYS_ONLY, NEW_IMAGE, OLD_IMAGE,
NEW_AND_OLD_IMAGES); a write that changes nothing writes no record; a deletion by TTL carries the service
as its `userIdentity`. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html,
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from conveyor.services.dynamodb.store import StreamRow
from conveyor.services.dynamodb.stored import dump_item, load_item
from conveyor.services.dynamodb.tables import Table
from conveyor.services.dynamodb.values import Item, item_size

RETENTION = 24 * 3600.0
TTL_IDENTITY = {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
# Items whose expiry is more than five years past are not deleted by TTL.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html
TTL_HORIZON = 5 * 365 * 24 * 3600.0


def sequence_number(seq: int) -> str:
    return f"{seq:021d}"


def record_row(table: Table, now: float, key: Item, old: Item | None, new: Item | None,
               by_ttl: bool = False) -> StreamRow | None:
    """The stream record of a change, or None when the table has no stream or nothing changed."""
    if not table.stream_enabled or old == new:
        return None
    name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    view = table.stream_view_type
    body: dict[str, Any] = {"eventID": uuid.uuid4().hex, "eventName": name, "Keys": dump_item(key)}
    size = item_size(key)
    if new is not None and view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        body["NewImage"] = dump_item(new)
        size += item_size(new)
    if old is not None and view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        body["OldImage"] = dump_item(old)
        size += item_size(old)
    body["SizeBytes"] = size
    body["StreamViewType"] = view
    if by_ttl:
        body["userIdentity"] = TTL_IDENTITY
    return StreamRow(table.id, table.stream_label, now, json.dumps(body, separators=(",", ":")))


def wire_record(region: str, seq: int, at: float, text: str) -> dict[str, Any]:
    """A stored record as GetRecords returns it.
    https://docs.aws.amazon.com/amazondynamodbstreams/latest/APIReference/API_Record.html"""
    body = json.loads(text)
    stream: dict[str, Any] = {"ApproximateCreationDateTime": dt.datetime.fromtimestamp(int(at), dt.UTC),
                              "Keys": load_item(body["Keys"]), "SequenceNumber": sequence_number(seq),
                              "SizeBytes": body["SizeBytes"], "StreamViewType": body["StreamViewType"]}
    for image in ("NewImage", "OldImage"):
        if image in body:
            stream[image] = load_item(body[image])
    record: dict[str, Any] = {"eventID": body["eventID"], "eventName": body["eventName"], "eventVersion": "1.1",
                              "eventSource": "aws:dynamodb", "awsRegion": region, "dynamodb": stream}
    if "userIdentity" in body:
        record["userIdentity"] = body["userIdentity"]
    return record


def event_record(region: str, seq: int, at: float, text: str) -> dict[str, Any]:
    """A stored record as Lambda's DynamoDB event carries it: the GetRecords record in JSON, its
    ApproximateCreationDateTime in epoch seconds, binary in base64, and a TTL deletion's userIdentity with
    lower-case field names (Lambda's event, unlike GetRecords, spells them so).
    https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html,
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html"""
    body = json.loads(text)
    stream: dict[str, Any] = {"ApproximateCreationDateTime": int(at), "Keys": json.loads(body["Keys"])}
    for image in ("NewImage", "OldImage"):
        if image in body:
            stream[image] = json.loads(body[image])
    stream.update({"SequenceNumber": sequence_number(seq), "SizeBytes": body["SizeBytes"],
                   "StreamViewType": body["StreamViewType"]})
    record: dict[str, Any] = {"eventID": body["eventID"], "eventName": body["eventName"], "eventVersion": "1.1",
                              "eventSource": "aws:dynamodb", "awsRegion": region, "dynamodb": stream}
    if "userIdentity" in body:
        identity = body["userIdentity"]
        record["userIdentity"] = {"type": identity["Type"], "principalId": identity["PrincipalId"]}
    return record


def expiry(table: Table, item: Item | None) -> float | None:
    """When an item expires under its table's TTL: its TTL attribute, a Number of epoch seconds; an
    attribute of another type never expires the item."""
    if item is None or not table.ttl_enabled:
        return None
    value = item.get(table.ttl_attribute)
    if value is None or "N" not in value:
        return None
    try:
        return float(Decimal(value["N"]))
    except (InvalidOperation, OverflowError):
        return None
