"""The packed backlog (never-received messages held in columns, not objects) keeps every queue semantic:
order between packed messages and returned ones, FIFO groups, purges, retention, restarts and the
compaction of a long drain."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.clock import ManualClock
from conveyor.services.sqs.state import SqsState

ACCOUNT, REGION = "000000000000", "us-east-1"


def bodies(msgs: list[dict[str, Any]]) -> list[str]:
    return [m["Body"] for m in msgs]


def counts(sqs: Any, url: str) -> tuple[int, int, int]:
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"]),
            int(a["ApproximateNumberOfMessagesDelayed"]))


def test_a_returned_message_takes_its_turn_among_packed_ones(client: Callable[..., Any],
                                                             advance: Callable[[float], float]) -> None:
    """A message whose visibility timeout ends queues behind those already waiting and ahead of those sent
    after (and keeps its receive count), as a standard queue's line has always gone here."""
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="turns")["QueueUrl"]
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    [a] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=5)["Messages"]
    assert a["Body"] == "a"
    advance(6)
    sqs.send_message(QueueUrl=url, MessageBody="c")
    sqs.send_message(QueueUrl=url, MessageBody="d", DelaySeconds=1)
    assert counts(sqs, url) == (3, 0, 1)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert bodies(got) == ["b", "a", "c"]
    assert [m["Attributes"]["ApproximateReceiveCount"] for m in got] == ["1", "2", "1"]
    assert got[1]["ReceiptHandle"] != a["ReceiptHandle"]
    advance(1)
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == ["d"]
    assert counts(sqs, url) == (0, 4, 0)


def test_a_fifo_group_returns_its_message_before_the_packed_rest(client: Callable[..., Any],
                                                                 advance: Callable[[float], float]) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="lines.fifo", Attributes={"FifoQueue": "true",
                                                               "ContentBasedDeduplication": "true"})["QueueUrl"]
    for i in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=f"g{i}", MessageGroupId="g")
    [first] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=5)["Messages"]
    assert first["Body"] == "g0"
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)  # g is held
    sqs.send_message(QueueUrl=url, MessageBody="h0", MessageGroupId="h")
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == ["h0"]
    advance(6)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert bodies(got) == ["g0", "g1", "g2", "g3"]
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    seqs = [int(m["Attributes"]["SequenceNumber"]) for m in got]
    assert seqs == sorted(seqs)


def test_a_purge_and_retention_remove_packed_messages_too(client: Callable[..., Any],
                                                          advance: Callable[[float], float]) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="purged", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"p{i}")
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)
    assert counts(sqs, url) == (2, 1, 0)
    sqs.purge_queue(QueueUrl=url)
    assert counts(sqs, url) == (0, 0, 0)
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    assert counts(sqs, url) == (1, 0, 0)

    advance(30)
    sqs.send_message(QueueUrl=url, MessageBody="later")
    [kept] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"]
    assert kept["Body"] == "kept"
    sqs.send_message(QueueUrl=url, MessageBody="latest")
    advance(31)  # "kept" (in flight) is past retention; "later" and "latest" are not
    assert counts(sqs, url) == (2, 0, 0)
    assert sorted(bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"])) == [
        "later", "latest"]
    advance(31)
    assert counts(sqs, url) == (0, 0, 0)


def test_packed_and_held_messages_come_back_after_kill(start_server: Callable[..., Any], tmp_path: Path) -> None:
    """kill -9 with a FIFO queue whose groups hold packed messages, an in-flight one and a returned one: the
    restart restores each where it was, and each group's order holds."""
    server = start_server(tmp_path / "data", "--bare", "--clock", "manual")
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="restored.fifo", Attributes={"FifoQueue": "true",
                                                                  "ContentBasedDeduplication": "true"})["QueueUrl"]
    std = sqs.create_queue(QueueName="restored")["QueueUrl"]
    for g in "abc":
        for i in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=f"{g}{i}", MessageGroupId=g)
    for i in range(5):
        sqs.send_message(QueueUrl=std, MessageBody=f"s{i}")
    [held] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"]  # a0, in flight
    assert held["Body"] == "a0"
    assert bodies(sqs.receive_message(QueueUrl=std, MaxNumberOfMessages=2, VisibilityTimeout=600)["Messages"]) == [
        "s0", "s1"]
    # Receives commit behind their answer; an acknowledged write after them is durable with them.
    sqs.send_message(QueueUrl=sqs.create_queue(QueueName="marker")["QueueUrl"], MessageBody="after")
    server.kill()

    server = start_server(tmp_path / "data", "--bare", "--clock", "manual", port=server.port)
    sqs = server.client("sqs")
    assert counts(sqs, url) == (8, 1, 0)
    assert counts(sqs, std) == (3, 2, 0)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(bodies(got)) == ["b0", "b1", "b2", "c0", "c1", "c2"]  # group a waits for a0
    assert [b for b in bodies(got) if b[0] == "b"] == ["b0", "b1", "b2"]
    assert bodies(sqs.receive_message(QueueUrl=std, MaxNumberOfMessages=10)["Messages"]) == ["s2", "s3", "s4"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=held["ReceiptHandle"])  # its handle outlived the restart
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == ["a1", "a2"]


def test_a_long_drain_keeps_order_through_compaction(tmp_path: Path) -> None:
    """10,000 messages in a standard queue and 10,000 over 7 groups of a FIFO queue, drained while more
    arrive and some return: every message once (plus the returned ones again), in order, and the packed
    columns shrink as they empty."""

    async def main() -> None:
        clock = ManualClock(1_700_000_000.0)
        sqs = SqsState(clock, tmp_path / "sqs.db")
        sqs.open()
        eng = sqs.engine
        std = await sqs.catalog.create_queue(ACCOUNT, REGION, "drain", None, None)
        fifo = await sqs.catalog.create_queue(ACCOUNT, REGION, "drain.fifo", {"FifoQueue": "true"}, None)
        for start in range(0, 10_000, 1_000):
            await eng.enqueue(std, [eng.prepare(std, f"{i:05d}") for i in range(start, start + 1_000)])
            await eng.enqueue(fifo, [eng.prepare(fifo, f"{i:05d}", group_id=f"g{i % 7}", dedup_id=str(i))
                                     for i in range(start, start + 1_000)])
        assert len(std.backlog) == len(fifo.backlog) == 10_000 and not std.messages and not fifo.messages

        seen: list[str] = []
        returned = 0
        while batch := await eng.receive(std, 10, visibility=30):
            bodies_ = [m.body for m in batch]
            eng.release(batch)
            if returned < 2 and len(seen) % 3000 == 0:  # leave this batch in flight: it returns later
                returned += 1
                continue
            seen += bodies_
            await eng.delete_many(std, batch)
            if len(seen) == 5_000:
                clock.advance(31)
                await eng.enqueue(std, [eng.prepare(std, f"late{i}") for i in range(10)])
        assert len(seen) == 10_010
        first = [b for b in seen if not b.startswith("late")]
        assert sorted(first) == [f"{i:05d}" for i in range(10_000)]
        assert seen[-10:] == [f"late{i}" for i in range(10)]  # sent last, behind the returned ones
        assert std.held == 0 and std.backlog.slots < 5_000

        per_group: dict[str, list[int]] = {}
        while batch := await eng.receive(fifo, 10, visibility=30):
            for m in batch:
                per_group.setdefault(m.group_id or "", []).append(int(m.body))
            eng.release(batch)
            await eng.delete_many(fifo, batch)
        assert sum(len(v) for v in per_group.values()) == 10_000
        assert all(v == sorted(v) for v in per_group.values())
        assert fifo.held == 0 and fifo.backlog.slots < 5_000
        sqs.close()

    asyncio.run(main())


def test_taking_the_front_at_once_is_taking_it_slot_by_slot() -> None:
    """A standard queue's receive takes its batch from the backlog's front in one step (Backlog.take_front):
    the same messages, in the same order, with the same count left, as taking the first slot ten times,
    through dead slots (expired ones) and compaction."""
    from conveyor.services.sqs.backlog import Backlog
    from conveyor.services.sqs.message_ids import new_message_id

    def filled() -> Backlog:
        b = Backlog(by_group=False)
        for i in range(10_000):
            assert b.append(ids[i], i + 1, 1000.0 + i, i, "tenant" if i % 3 == 0 else None)
        assert len(b.expire(1000.0 + 25 + 60, 60)) == 26  # a dead prefix
        return b

    ids = [new_message_id() for _ in range(10_000)]
    one_by_one, at_once = filled(), filled()
    while len(one_by_one):
        expected = [one_by_one.take(one_by_one.first()) for _ in range(min(10, len(one_by_one)))]
        assert at_once.take_front(10) == expected
        assert len(at_once) == len(one_by_one) and at_once.slots <= 2 * len(at_once) + 4096 + 10
    assert at_once.take_front(10) == [] and at_once.first() == -1


def test_ids_checked_together_are_judged_as_one_by_one() -> None:
    """A restart checks a block's ids at once (all_canonical): any id the one-by-one check refuses makes the
    whole block go one by one, where that id is held as an object and the others are packed as before."""
    from conveyor.services.sqs.backlog import Backlog, all_canonical, pack_id, unpack_id
    from conveyor.services.sqs.message_ids import new_message_id

    good = [new_message_id() for _ in range(50)]
    assert all_canonical(good) and all_canonical([])
    g = good[0]
    refused = [g.upper(), g.replace("-", "", 1) + "0", g[:8] + g[9] + "-" + g[10:], g[:-1], g + "0", g[:-1] + "g",
               g[:-1] + " ", "-" + g[1:], g[:20] + "-" + g[21:], "x" * 36, g[:-1] + "é"]
    for bad in refused:
        assert pack_id(bad) is None  # (what the one-by-one check says)
        assert not all_canonical(good[:7] + [bad] + good[7:]), bad
    assert not all_canonical([g[:35], g + "0"])  # (the lengths add up, the ids do not)

    rows = [(1, mid, seq, 1000.0 + seq, 1000.0 + seq, None, 0, None, None, seq)
            for seq, mid in enumerate(good[:3] + [g.upper()] + good[3:6], start=1)]
    held: list[str] = []
    backlog = Backlog(by_group=False)
    backlog.restore(rows, 2000.0, 86400, iter(range(100)).__next__, lambda row: held.append(row[1]), [])
    assert held == [g.upper()] and len(backlog) == 6
    assert [mid for mid, *_ in backlog.take_front(10)] == good[:6]
    assert unpack_id(pack_id(good[0]) or b"") == good[0]
