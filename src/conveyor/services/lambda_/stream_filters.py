"""Event filtering on a DynamoDB stream mapping: FilterCriteria's patterns, EventBridge's pattern syntax
matched against each record as the function would receive it; a record is handed over when any filter
matches it. https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html and
https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html. `checked` and `parsed` serve SQS
mappings too (their matching, with the body read as JSON, is sqs_records.kept).

The patterns are EventBridge's (conveyor.services.event_patterns: shared, a pure matcher with no state).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from conveyor.services import event_patterns as patterns
from conveyor.services.lambda_.functions import invalid

# "You can define up to five different filters for a single event source mapping" (the default quota).
# https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
MAX_FILTERS = 5


def checked(criteria: Mapping[str, Any]) -> list[str]:
    """FilterCriteria's patterns, each a valid pattern; InvalidParameterValueException otherwise. An empty
    FilterCriteria ({} or no Filters) removes the filters."""
    filters = criteria.get("Filters") or []
    if len(filters) > MAX_FILTERS:
        raise invalid(f"The number of filters exceeds the limit of {MAX_FILTERS}.")
    out = []
    for item in filters:
        text = item.get("Pattern") if isinstance(item, Mapping) else None
        if not isinstance(text, str):
            raise invalid("Invalid filter pattern definition.")
        try:
            patterns.parse(text)
        except patterns.PatternError:
            raise invalid("Invalid filter pattern definition.") from None
        out.append(text)
    return out


def parsed(text: str) -> dict[str, Any]:
    pattern: dict[str, Any] = json.loads(text)
    return pattern


def kept(filters: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    return any(patterns.matches(f, record) for f in filters)


def kept_decoding(filters: Sequence[Mapping[str, Any]], record: Mapping[str, Any], key: str) -> bool:
    """Whether any filter matches a record whose `key` holds a text payload (an SQS body, Kinesis data): a
    filter whose pattern under `key` is an object matches the payload parsed as JSON, and never a payload that
    is not JSON; one of plain values matches the text as it is. No filters: every record is kept.
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html"""
    if not filters:
        return True
    decoded: dict[str, Any] | None = None
    for pattern in filters:
        candidate = record
        if isinstance(pattern.get(key), Mapping):
            if decoded is None:
                try:
                    decoded = {key: json.loads(record[key])}
                except (TypeError, ValueError):
                    decoded = {}  # not JSON
            if not decoded:
                continue
            candidate = {**record, **decoded}
        if patterns.matches(pattern, candidate):
            return True
    return False
