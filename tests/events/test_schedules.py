"""Scheduled rules on the server's manual clock: rate(1 minute) invokes a function once per minute,
cron(0 12 * * ? *) fires at noon UTC only, disabled rules are silent, and after kill -9 a schedule resumes
without repeating a firing."""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.request
from typing import Any

from tests.conftest import post_json
from tests.events.conftest import allow_events, events_health, receive_all, recorded, settled
from tests.helpers import wait_for


def now(endpoint: str) -> float:
    with urllib.request.urlopen(f"{endpoint}/_conveyor/clock", timeout=10) as response:
        return float(json.load(response)["now"])


def test_rate_one_minute_invokes_a_function_each_minute(events: Any, client: Any, recorder: Any, advance: Any,
                                                        endpoint: str) -> None:
    arn, out = recorder("tick")
    rule = events.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")["RuleArn"]
    client("lambda").add_permission(FunctionName="tick", StatementId="events", Action="lambda:InvokeFunction",
                                    Principal="events.amazonaws.com", SourceArn=rule)
    events.put_targets(Rule="every-minute", Targets=[{"Id": "f", "Arn": arn}])
    start = now(endpoint)
    advance(59)
    wait_for(lambda: settled(endpoint))
    assert recorded(out) == []  # not before a minute has passed
    for minute in range(1, 4):
        advance(60 if minute > 1 else 1)
        wait_for(lambda: len(recorded(out)) == minute)  # noqa: B023 - waited for before the loop goes on
    got = recorded(out)
    assert [e["detail-type"] for e in got] == ["Scheduled Event"] * 3
    assert {e["source"] for e in got} == {"aws.events"} and all(e["resources"] == [rule] for e in got)
    assert all(e["detail"] == {} for e in got)
    times = [dt.datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp() for e in got]
    assert [round(t - start) for t in times] in ([59, 119, 179], [60, 120, 180])
    events.disable_rule(Name="every-minute")
    advance(300)
    wait_for(lambda: settled(endpoint))
    assert len(recorded(out)) == 3
    events.enable_rule(Name="every-minute")
    advance(60)
    wait_for(lambda: len(recorded(out)) == 4)


def test_cron_fires_at_noon_utc_only(events: Any, sqs: Any, advance: Any, endpoint: str) -> None:
    url = sqs.create_queue(QueueName="noon")["QueueUrl"]
    arn = allow_events(sqs, url)
    events.put_rule(Name="noon", ScheduleExpression="cron(0 12 * * ? *)")
    events.put_targets(Rule="noon", Targets=[{"Id": "q", "Arn": arn}])
    start = now(endpoint)
    clock = dt.datetime.fromtimestamp(start, dt.UTC)
    next_noon = clock.replace(hour=12, minute=0, second=0, microsecond=0)
    if next_noon <= clock:
        next_noon += dt.timedelta(days=1)
    advance(next_noon.timestamp() - start - 60)  # 11:59
    wait_for(lambda: settled(endpoint))
    assert receive_all(sqs, url, 0, wait=0) == []
    # 12:00, by a hair more: from a start with microseconds, float sums may land a rounding error short
    advance(60.001)
    (first,) = receive_all(sqs, url, 1)
    assert json.loads(first["Body"])["time"] == next_noon.strftime("%Y-%m-%dT%H:%M:%SZ")
    for _ in range(23):  # the rest of the day, hour by hour: nothing
        advance(3600)
    wait_for(lambda: settled(endpoint))
    assert receive_all(sqs, url, 0, wait=0) == []
    advance(3600)  # noon the next day
    (second,) = receive_all(sqs, url, 1)
    assert json.loads(second["Body"])["time"] == (next_noon + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamps(messages: list[dict[str, Any]], start: float) -> list[int]:
    """Each scheduled event's time, in seconds after `start` (to the second, as events carry it)."""
    times = [json.loads(m["Body"])["time"] for m in messages]
    return [round(dt.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp() - start)
            for t in times]


def test_a_schedule_resumes_after_kill_9_without_repeating(start_server: Any) -> None:
    server = start_server(None, "--clock", "manual")
    events, sqs = server.client("events"), server.client("sqs")
    url = sqs.create_queue(QueueName="ticks")["QueueUrl"]
    arn = allow_events(sqs, url)
    events.put_rule(Name="tick", ScheduleExpression="rate(5 minutes)")
    start = now(server.endpoint)  # the rule's rate counts from (just before) here
    events.put_targets(Rule="tick", Targets=[{"Id": "q", "Arn": arn}])
    post_json(f"{server.endpoint}/_conveyor/clock", {"advance": 300})
    first = receive_all(sqs, url, 1)
    assert len(first) == 1 and _stamps(first, start)[0] in (299, 300)
    server.kill()

    # Back a minute after that firing: it is not made again; the next run comes at its time.
    env = {**os.environ, "CONVEYOR_CLOCK_START": str(start + 360)}
    restarted = start_server(server.data_dir, "--clock", "manual", port=server.port, env=env)
    sqs = restarted.client("sqs")
    assert receive_all(sqs, url, 0, wait=1) == []
    post_json(f"{restarted.endpoint}/_conveyor/clock", {"advance": 240})  # start + 600
    second = receive_all(sqs, url, 1)
    assert len(second) == 1 and _stamps(second, start)[0] in (599, 600)
    restarted.kill()

    # Back after 20 minutes down (four runs missed): one event, for the latest of them, then on schedule.
    env = {**os.environ, "CONVEYOR_CLOCK_START": str(start + 1810)}
    again = start_server(server.data_dir, "--clock", "manual", port=server.port, env=env)
    sqs = again.client("sqs")
    late = receive_all(sqs, url, 1, wait=5)
    assert len(late) == 1 and _stamps(late, start)[0] in (1799, 1800)
    post_json(f"{again.endpoint}/_conveyor/clock", {"advance": 600})  # start + 2410: runs at 2100 and 2400
    assert sorted(_stamps(receive_all(sqs, url, 2), start)) in ([2099, 2399], [2100, 2400])


def test_undelivered_events_survive_kill_9(start_server: Any) -> None:
    """An event PutEvents accepted is stored with its deliveries: one still being retried when the server
    is killed is delivered after the restart."""
    server = start_server(None, "--clock", "manual")
    events, sqs = server.client("events"), server.client("sqs")
    url = sqs.create_queue(QueueName="small", Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    arn = allow_events(sqs, url)
    events.put_rule(Name="r", EventPattern='{"source": ["shop"]}')
    events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": arn}])
    sent = events.put_events(Entries=[{"Source": "shop", "DetailType": "big", "Detail": json.dumps({"b": "x" * 2000})}])
    wait_for(lambda: events_health(server.endpoint)["retrying"] == 1)
    server.kill()

    restarted = start_server(server.data_dir, "--clock", "manual", port=server.port)
    sqs = restarted.client("sqs")
    assert events_health(restarted.endpoint)["pending_deliveries"] == 1
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": "262144"})
    post_json(f"{restarted.endpoint}/_conveyor/clock", {"advance": 600})
    (message,) = receive_all(sqs, url, 1)
    assert json.loads(message["Body"])["id"] == sent["Entries"][0]["EventId"]
