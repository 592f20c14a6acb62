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
