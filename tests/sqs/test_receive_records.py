"""A receive's new receive count, visibility and receipt are committed behind its answer, by the next commit,
and a delete that comes before that commit takes them back: a message received and deleted between two
commits is only deleted (its row is never updated first), while the rows of messages still in flight are
written as before and survive a restart.

The test holds the SQS database's write lock from a second connection, so no commit can run between the
receive and the delete (a real overlap, not a sleep), and watches the statements the writer thread runs.
"""

from __future__ import annotations

import asyncio

from tests.helpers import write_lock

from conveyor.clock import ManualClock
from conveyor.services.sqs.state import SqsState

ACCOUNT, REGION = "000000000000", "us-east-1"


def test_a_receive_deleted_before_the_next_commit_is_never_written(tmp_path):
    async def main() -> None:
        path = tmp_path / "sqs.db"
        clock = ManualClock(1_700_000_000.0)
        sqs = SqsState(clock, path)
        sqs.open()
        q = await sqs.catalog.create_queue(ACCOUNT, REGION, "records", None, None)
        for body in ("one", "two", "three"):
            await sqs.engine.send(q, body)
        updates: list[str] = []
        # (the writer thread's own connection: what it runs is what is committed)
        sqs.store.db._writer.set_trace_callback(lambda sql: updates.append(sql) if sql.startswith("UPDATE") else None)
        with write_lock(path):
            got = await sqs.engine.receive(q, 10, visibility=60)
            assert [m.body for m in got] == ["one", "two", "three"]
            handles = {m.body: sqs.engine.receipt_handle(q, m) for m in got}
            deleting = asyncio.ensure_future(sqs.engine.delete_batch(q, [handles["one"], handles["two"]]))
            await asyncio.sleep(0.1)  # (the receive's write would ride a commit by now, were one possible)
            assert not deleting.done()
        assert await deleting == [None, None]
        sqs.store.db._writer.set_trace_callback(None)
        assert len(updates) == 1  # only the message still in flight has its receive written
        sqs.close()

        sqs = SqsState(clock, path)  # a restart: two deleted, one in flight as received
        sqs.open()
        q = sqs.catalog.by_id[q.id]
        assert (q.n_available, q.n_inflight) == (0, 1)
        [three] = q.messages.values()
        assert (three.receive_count, three.receipt) == (1, got[2].receipt)
        await sqs.engine.delete(q, handles["three"])  # its handle still deletes it
        assert q.held == 0
        clock.advance(61)
        assert await sqs.engine.receive(q, 10) == []
        sqs.close()

    asyncio.run(main())
