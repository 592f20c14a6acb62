"""CloudWatch Logs through boto3: groups, streams, PutLogEvents' rules, GetLogEvents' tokens,
FilterLogEvents, retention on the manual clock, tags."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def logs(client: Callable[..., Any]) -> Any:
    return client("logs")


def _now_ms(endpoint_now: float) -> int:
    return int(endpoint_now * 1000)


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def test_groups_and_streams(logs: Any) -> None:
    logs.create_log_group(logGroupName="/app/web", tags={"team": "a"})
    logs.create_log_group(logGroupName="/app/worker")
    logs.create_log_group(logGroupName="/other")
    with pytest.raises(ClientError) as exists:
        logs.create_log_group(logGroupName="/app/web")
    assert _error(exists) == ("ResourceAlreadyExistsException", "The specified log group already exists")
    groups = logs.describe_log_groups(logGroupNamePrefix="/app/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/app/web", "/app/worker"]
    assert groups[0]["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/app/web:*"
    assert groups[0]["logGroupArn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/app/web"
    assert "retentionInDays" not in groups[0] and groups[0]["storedBytes"] == 0
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePattern="WORK")["logGroups"]] == \
        ["/app/worker"]
    paged = logs.describe_log_groups(limit=2)
    assert len(paged["logGroups"]) == 2 and paged["nextToken"]
    rest = logs.describe_log_groups(limit=2, nextToken=paged["nextToken"])
    assert [g["logGroupName"] for g in rest["logGroups"]] == ["/other"] and "nextToken" not in rest

    for name in ("b-stream", "a-stream"):
        logs.create_log_stream(logGroupName="/app/web", logStreamName=name)
    with pytest.raises(ClientError) as stream_exists:
        logs.create_log_stream(logGroupName="/app/web", logStreamName="a-stream")
    assert _error(stream_exists)[0] == "ResourceAlreadyExistsException"
    with pytest.raises(ClientError) as no_group:
        logs.create_log_stream(logGroupName="/nope", logStreamName="s")
    assert _error(no_group) == ("ResourceNotFoundException", "The specified log group does not exist.")
    streams = logs.describe_log_streams(logGroupName="/app/web")["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["a-stream", "b-stream"]
    assert streams[0]["arn"].endswith(":log-group:/app/web:log-stream:a-stream")
    logs.delete_log_stream(logGroupName="/app/web", logStreamName="b-stream")
    logs.delete_log_group(logGroupName="/other")
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["/app/web", "/app/worker"]


def test_put_log_events_rules(logs: Any, advance: Callable[[float], float]) -> None:
    now = _now_ms(advance(0))
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    put = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": now - 15 * 86400 * 1000, "message": "too old"},
        {"timestamp": now - 1000, "message": "one"},
        {"timestamp": now, "message": "two"},
        {"timestamp": now + 3 * 3600 * 1000, "message": "too new"},
    ])
    assert put["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0, "tooNewLogEventStartIndex": 3}
    assert put["nextSequenceToken"]
    events = logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["one", "two"]
    assert events[0]["timestamp"] == now - 1000 and events[0]["ingestionTime"] == now

    with pytest.raises(ClientError) as order:
        logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
            {"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])
    assert _error(order) == ("InvalidParameterException",
                             "Log events in a single PutLogEvents request must be in chronological order.")
    with pytest.raises(ClientError) as span:
        logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
            {"timestamp": now - 25 * 3600 * 1000, "message": "a"}, {"timestamp": now, "message": "b"}])
    assert "cannot span more than 24 hours" in _error(span)[1]
    with pytest.raises(ClientError) as big:
        logs.put_log_events(logGroupName="g", logStreamName="s",
                            logEvents=[{"timestamp": now, "message": "x" * 600_000}] * 2)
    assert _error(big) == ("InvalidParameterException", "Upload too large: 1200052 bytes exceeds limit of 1048576")
    with pytest.raises(ClientError) as missing:
        logs.put_log_events(logGroupName="g", logStreamName="nope", logEvents=[{"timestamp": now, "message": "x"}])
    assert _error(missing) == ("ResourceNotFoundException", "The specified log stream does not exist.")
    stream = logs.describe_log_streams(logGroupName="g")["logStreams"][0]
    assert stream["firstEventTimestamp"] == now - 1000 and stream["lastEventTimestamp"] == now
    assert logs.describe_log_groups()["logGroups"][0]["storedBytes"] == len("one") + len("two")


def test_get_log_events_pages_both_ways(logs: Any, advance: Callable[[float], float]) -> None:
    now = _now_ms(advance(0))
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    logs.put_log_events(logGroupName="g", logStreamName="s",
                        logEvents=[{"timestamp": now - 100 + i, "message": f"m{i}"} for i in range(10)])
    newest = logs.get_log_events(logGroupName="g", logStreamName="s", limit=3)
    assert [e["message"] for e in newest["events"]] == ["m7", "m8", "m9"]
    older = logs.get_log_events(logGroupName="g", logStreamName="s", limit=3, nextToken=newest["nextBackwardToken"])
    assert [e["message"] for e in older["events"]] == ["m4", "m5", "m6"]
    head = logs.get_log_events(logGroupName="g", logStreamName="s", limit=4, startFromHead=True)
    assert [e["message"] for e in head["events"]] == ["m0", "m1", "m2", "m3"]
    on = logs.get_log_events(logGroupName="g", logStreamName="s", limit=4, nextToken=head["nextForwardToken"])
    assert [e["message"] for e in on["events"]] == ["m4", "m5", "m6", "m7"]
    window = logs.get_log_events(logGroupName="g", logStreamName="s", startTime=now - 98, endTime=now - 95,
                                 startFromHead=True)
    assert [e["message"] for e in window["events"]] == ["m2", "m3", "m4"]  # endTime is exclusive
    # Readers stop when the forward token comes back unchanged.
    seen, token = [], None
    for _ in range(10):
        page = logs.get_log_events(logGroupName="g", logStreamName="s", limit=4, startFromHead=True,
                                   **({"nextToken": token} if token else {}))
        seen += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert seen == [f"m{i}" for i in range(10)]
    with pytest.raises(ClientError) as bad:
        logs.get_log_events(logGroupName="g", logStreamName="s", nextToken="x/123")
    assert _error(bad) == ("InvalidParameterException", "The specified nextToken is invalid.")


def test_filter_log_events_patterns(logs: Any, advance: Callable[[float], float]) -> None:
    now = _now_ms(advance(0))
    logs.create_log_group(logGroupName="app")
    lines = {
        "web-1": ['ERROR disk full on /dev/sda', 'INFO request served', '{"level": "error", "latency": 250, '
                  '"user": {"id": 7}, "tags": ["a", "b"]}'],
        "web-2": ['WARN slow request', '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.html HTTP/1.0" 404 2326',
                  '{"level": "info", "latency": 20, "user": {"id": 8}, "flag": true, "gone": null}'],
    }
    for offset, (stream, messages) in enumerate(lines.items()):
        logs.create_log_stream(logGroupName="app", logStreamName=stream)
        logs.put_log_events(logGroupName="app", logStreamName=stream, logEvents=[
            {"timestamp": now - 1000 + offset + 10 * i, "message": m} for i, m in enumerate(messages)])

    def found(pattern: str, **kwargs: Any) -> list[str]:
        events = logs.filter_log_events(logGroupName="app", filterPattern=pattern, **kwargs)["events"]
        return [e["message"][:15] for e in events]

    assert len(found("")) == 6
    assert found("ERROR") == ["ERROR disk full"]
    assert found("request") == ["WARN slow reque", "INFO request se"]  # time order across streams
    assert found("request -slow") == ["INFO request se"]
    assert found("?ERROR ?WARN") == ["ERROR disk full", "WARN slow reque"]
    assert found('"disk full"') == ["ERROR disk full"]
    assert found("{ $.level = \"error\" }") == ['{"level": "erro']
    assert found("{ $.latency > 100 }") == ['{"level": "erro']
    assert found("{ $.latency < 100 && $.user.id = 8 }") == ['{"level": "info']
    assert found("{ ($.user.id = 7) || ($.flag IS TRUE) }") == ['{"level": "erro', '{"level": "info']
    assert found("{ $.tags[1] = \"b\" }") == ['{"level": "erro']
    assert found("{ $.gone IS NULL }") == ['{"level": "info']
    assert found("{ $.flag NOT EXISTS }") == ['{"level": "erro']
    assert found("{ $.level = err* }") == ['{"level": "erro']
    assert found("[ip, identity, user, timestamp, request, status = 404, bytes > 1000]") == ["127.0.0.1 - fra"]
    assert found("[ip, ..., status = 4*, bytes]") == ["127.0.0.1 - fra"]
    assert found("[ip, ..., status = 5*, bytes]") == []
    assert found("ERROR", logStreamNames=["web-2"]) == []
    assert found("", logStreamNamePrefix="web-2") == ["WARN slow reque", "127.0.0.1 - fra", '{"level": "info']
    first = logs.filter_log_events(logGroupName="app", limit=4)
    assert len(first["events"]) == 4 and first["nextToken"]
    assert [e["timestamp"] for e in first["events"]] == sorted(e["timestamp"] for e in first["events"])
    rest = logs.filter_log_events(logGroupName="app", limit=4, nextToken=first["nextToken"])
    assert len(rest["events"]) == 2 and "nextToken" not in rest
    assert first["events"][0]["eventId"] and first["events"][0]["logStreamName"] == "web-1"
    with pytest.raises(ClientError) as bad:
        logs.filter_log_events(logGroupName="app", filterPattern="{ $.a = ")
    assert _error(bad)[0] == "InvalidParameterException"


def test_retention_expires_events_on_the_clock(logs: Any, advance: Callable[[float], float]) -> None:
    now = _now_ms(advance(0))
    logs.create_log_group(logGroupName="short")
    logs.create_log_stream(logGroupName="short", logStreamName="s")
    logs.put_log_events(logGroupName="short", logStreamName="s", logEvents=[
        {"timestamp": now - 2 * 86400 * 1000, "message": "two days old"}])
    logs.put_log_events(logGroupName="short", logStreamName="s", logEvents=[{"timestamp": now, "message": "fresh"}])
    with pytest.raises(ClientError) as bad:
        logs.put_retention_policy(logGroupName="short", retentionInDays=2)
    assert _error(bad)[0] == "InvalidParameterException" and "3, 5, 7" in _error(bad)[1]
    logs.put_retention_policy(logGroupName="short", retentionInDays=1)
    assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 1

    def messages() -> list[str]:
        return [e["message"] for e in logs.filter_log_events(logGroupName="short")["events"]]

    assert messages() == ["fresh"]  # set, and the older one is gone
    advance(86400 + 3600 + 1)  # a day later the hourly sweep has removed "fresh" too
    deadline = time.monotonic() + 10
    while messages() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert messages() == []
    logs.delete_retention_policy(logGroupName="short")
    assert "retentionInDays" not in logs.describe_log_groups()["logGroups"][0]


def test_tags_new_and_legacy(logs: Any) -> None:
    logs.create_log_group(logGroupName="tagged", tags={"a": "1"})
    arn = logs.describe_log_groups()["logGroups"][0]["logGroupArn"]
    logs.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    logs.untag_resource(resourceArn=arn, tagKeys=["a"])
    logs.tag_log_group(logGroupName="tagged", tags={"c": "3"})
    assert logs.list_tags_log_group(logGroupName="tagged")["tags"] == {"b": "2", "c": "3"}
    logs.untag_log_group(logGroupName="tagged", tags=["b"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"c": "3"}
    with pytest.raises(ClientError) as missing:
        logs.list_tags_for_resource(resourceArn=arn + "x")
    assert _error(missing)[0] == "ResourceNotFoundException"
