"""What an SQS mapping's pollers do with the messages they receive: the records the function gets, the
filters that decide which of them it gets, and what its answer means for each message.

Records follow https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (the example event). Filters are
FilterCriteria's patterns (EventBridge's syntax, conveyor.services.event_patterns) matched against each record,
https://docs.aws.amazon.com/lambda/latest/dg/with-sqs-filtering.html: a pattern on the `body` key that is an
object matches the body parsed as JSON (a body that is not JSON never matches it); a pattern of plain values
matches the body as the string it is. A message no filter matches is not handed to the function, and Lambda
deletes it from the queue ("Lambda automatically deletes messages that don't match the filter criteria",
https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from conveyor import jsondoc
from conveyor.services.lambda_ import stream_filters


def kept(filters: Sequence[Mapping[str, Any]], rec: Mapping[str, Any]) -> bool:
    """Whether any filter matches the record, its body read as JSON where a pattern asks for it."""
    return stream_filters.kept_decoding(filters, rec, "body")


def merge(batch: list[dict[str, Any]], more: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A message whose visibility timeout ran out during the window comes back: keep it once, with the
    newest receipt handle (the older one no longer deletes it)."""
    if not more:
        return batch
    newer = {msg["MessageId"]: msg for msg in more}
    return [newer.pop(msg["MessageId"], msg) for msg in batch] + list(newer.values())


def failed_ids(payload: bytes, batch_ids: set[str]) -> set[str] | None:
    """AWS's rules for partial batch responses; None means the whole batch failed.

    Success: a null or empty response, or a null/empty batchItemFailures. Failure of the whole batch:
    invalid JSON, or an itemIdentifier that is null, empty, mis-spelled or not in the batch.
    """
    try:
        response = jsondoc.loads(payload) if payload.strip() else None
    except ValueError:
        return None
    if response is None or response == "":
        return set()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        return None
    failed: set[str] = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or not ident or ident not in batch_ids:
            return None
        failed.add(ident)
    return failed


def record(msg: dict[str, Any], source_arn: str, region: str) -> dict[str, Any]:
    attrs = dict(msg.get("Attributes") or {})
    mattrs: dict[str, Any] = {}
    for name, value in (msg.get("MessageAttributes") or {}).items():
        entry: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value.get("DataType")}
        if value.get("StringValue") is not None:
            entry["stringValue"] = value["StringValue"]
        if value.get("BinaryValue") is not None:
            raw = value["BinaryValue"]
            entry["binaryValue"] = base64.b64encode(raw).decode() if isinstance(raw, bytes) else raw
        mattrs[name] = entry
    record = {
        "messageId": msg["MessageId"], "receiptHandle": msg["ReceiptHandle"], "body": msg["Body"],
        "attributes": attrs, "messageAttributes": mattrs, "md5OfBody": msg["MD5OfBody"],
        "eventSource": "aws:sqs", "eventSourceARN": source_arn, "awsRegion": region,
    }
    if msg.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = msg["MD5OfMessageAttributes"]
    return record
