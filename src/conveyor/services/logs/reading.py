"""GetLogEvents and FilterLogEvents: pages of events in time order, and their tokens.

GetLogEvents (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html):
without a token, the newest `limit` events of the window (the oldest with startFromHead); a forward
token reads on from the page's last event, a backward token back from its first; a page that finds
nothing returns the token it was given, which is how SDK paginators know they are done.
FilterLogEvents reads a group's streams interleaved in time order; `endTime` is inclusive there.
"""

from __future__ import annotations

from typing import Any

from conveyor.services.logs import errors
from conveyor.services.logs.catalog import LogGroup, LogStream
from conveyor.services.logs.events import (
    DEFAULT_LIMIT,
    SCAN_LIMIT,
    Position,
    event_id,
    filter_token,
    output_event,
    parse_filter_token,
    parse_stream_token,
    stream_token,
)
from conveyor.services.logs.filter_pattern import PatternError, compile_pattern
from conveyor.services.logs.store import LogStore


def get_events(store: LogStore, stream: LogStream, params: dict[str, Any]) -> dict[str, Any]:
    start, end = params.get("startTime"), params.get("endTime")
    limit = params.get("limit") or DEFAULT_LIMIT
    token = params.get("nextToken")
    if token:
        direction, position = parse_stream_token(token)
        if direction == "f":
            rows = store.stream_events(stream.id, start, end, position, None, limit, newest_first=False)
        else:
            rows = list(reversed(store.stream_events(stream.id, start, end, None, position, limit,
                                                     newest_first=True)))
    else:
        direction, position = "f", (start if start is not None else 0, 0)
        head = bool(params.get("startFromHead"))
        rows = store.stream_events(stream.id, start, end, None, None, limit, newest_first=not head)
        if not head:
            rows.reverse()
    if rows:
        first, last = (rows[0][2], rows[0][0]), (rows[-1][2], rows[-1][0])
        forward, backward = stream_token("f", last), stream_token("b", first)
    else:
        forward = backward = token or stream_token(direction, position)
    return {"events": [output_event(r) for r in rows], "nextForwardToken": forward, "nextBackwardToken": backward}


def filter_events(store: LogStore, group: LogGroup, params: dict[str, Any]) -> dict[str, Any]:
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names and prefix:
        raise errors.invalid("Cannot specify both logStreamNames and logStreamNamePrefix.")
    streams: list[LogStream] | None = None
    if names:
        streams = [group.streams[n] for n in names if n in group.streams]
        if not streams:
            raise errors.stream_not_found()
    elif prefix:
        streams = [s for name, s in group.streams.items() if name.startswith(prefix)]
    try:
        matches = compile_pattern(params.get("filterPattern"))
    except PatternError as exc:
        raise errors.invalid(str(exc))
    limit = params.get("limit") or DEFAULT_LIMIT
    start, end = params.get("startTime"), params.get("endTime")
    after: Position | None = parse_filter_token(params["nextToken"]) if params.get("nextToken") else None
    by_id = {s.id: s.name for s in group.streams.values()}
    found: list[dict[str, Any]] = []
    if streams == []:
        return {"events": [], "searchedLogStreams": []}
    rows = store.group_events(group.id, [s.id for s in streams] if streams is not None else None, start,
                              end + 1 if end is not None else None, after, SCAN_LIMIT + 1)
    more = len(rows) > SCAN_LIMIT
    rows = rows[:SCAN_LIMIT]
    last: Position | None = None
    for row in rows:
        last = (row[2], row[0])
        if matches(row[4]):
            found.append({"logStreamName": by_id.get(row[1], ""), **output_event(row),
                          "eventId": event_id(row[2], row[0])})
            if len(found) == limit:
                more = more or row is not rows[-1]
                break
    # searchedLogStreams is deprecated and always empty.
    # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
    out: dict[str, Any] = {"events": found, "searchedLogStreams": []}
    if more and last is not None:
        out["nextToken"] = filter_token(last)
    return out
