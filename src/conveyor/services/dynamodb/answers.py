"""Answers written without the codec: items sent as the store keeps them.

The store keeps an item as DynamoDB JSON writes it (conveyor.services.dynamodb.stored: the wire form,
binary as base64, compact), so an answer made of whole items (GetItem, a Query or Scan page) is the stored
text spliced into the answer's JSON, never parsed and written again: decoding each item and the codec's
walk over it were most of a Query's time. It is sent this way only when the result is byte for byte what
the codec would write (`verbatim`); anything else goes through the codec.
"""

from __future__ import annotations

from typing import Any

from conveyor.protocol.json_rpc import compact_json
from conveyor.wire import HttpResponse, RequestContext


def verbatim(text: str) -> bool:
    """Whether a stored item is what the codec's writer sends for it: the writer escapes every character
    outside printable ASCII (ensure_ascii, DEL included), the store keeps them as they are."""
    return text.isascii() and "\x7f" not in text


def as_json(ctx: RequestContext, body: bytes) -> HttpResponse:
    """An answer whose JSON body is already written, with the headers the codec's answers carry."""
    return HttpResponse(200, [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", ctx.request_id)],
                        body)


def page_body(count: int, scanned: int, items: str, rest: dict[str, Any]) -> bytes:
    """A Query's or Scan's answer with its items as stored (`items`: their texts joined with commas, each
    `verbatim`), its members in the order the codec writes them (the order the page's result dict has):
    Count, ScannedCount, Items, then `rest` (LastEvaluatedKey in its wire form, ConsumedCapacity), which
    holds nothing the codec would convert."""
    head = f'{{"Count":{count},"ScannedCount":{scanned},"Items":[{items}]'
    if not rest:
        return (head + "}").encode()
    return (head + "," + compact_json(rest)[1:]).encode()
