"""The group-committed writer (conveyor.storage.db): what a write hands back to the event loop."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from conveyor.storage.db import Database

COLUMNS = 16
SCHEMA = ["CREATE TABLE t (id TEXT PRIMARY KEY, queue INTEGER NOT NULL, seq INTEGER NOT NULL, "
          + ", ".join(f"c{i} TEXT" for i in range(COLUMNS)) + ");"
          "CREATE INDEX t_queue ON t (queue, seq)"]
INSERT = (f"INSERT INTO t (id, queue, seq, {', '.join(f'c{i}' for i in range(COLUMNS))}) "
          f"VALUES ({', '.join('?' * (COLUMNS + 3))})")


def _row(i: int) -> tuple[object, ...]:
    return (str(uuid.uuid4()), 1, i, f"message {i}", *[None] * (COLUMNS - 1))


def test_a_write_hands_back_its_result_but_never_a_cursor(tmp_path: Path) -> None:
    async def main() -> None:
        db = Database(tmp_path / "t.db", SCHEMA)
        try:
            assert await db.execute(INSERT, _row(1)) is None
            assert await db.executemany(INSERT, [_row(2), _row(3)]) is None
            assert await db.write(lambda c: c.execute(INSERT, _row(4))) is None
            assert await db.write(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 4
        finally:
            db.close()

    asyncio.run(main())


def test_writes_of_one_statement_all_land_while_the_loop_lets_go_of_earlier_ones(tmp_path: Path) -> None:
    """Thousands of writes of one statement, each awaited by its own task, which drops the result at once.

    A cursor handed back to the event loop used to be freed there while the writer thread ran the same
    cached statement for a later write; that write failed with "bad parameter or other API misuse"
    (SQLITE_MISUSE) and was lost: about one fresh database in four lost one."""

    async def one_database(path: Path) -> None:
        db = Database(path, SCHEMA)
        try:
            async def write(i: int) -> None:
                await db.executemany(INSERT, [_row(i)])

            outcomes = await asyncio.gather(*(write(i) for i in range(3000)), return_exceptions=True)
            assert [o for o in outcomes if o is not None] == []
            assert db.query("SELECT count(*) FROM t")[0][0] == 3000
        finally:
            db.close()

    async def main() -> None:
        for n in range(12):
            await one_database(tmp_path / f"t{n}.db")

    asyncio.run(main())


def test_a_write_left_behind_rides_the_next_commit_or_its_own_after_the_delay(tmp_path: Path) -> None:
    """write_behind starts no commit: it goes first into the commit the next write starts (so that write is
    never durable without it), or into one of its own `behind_delay` later when no write comes; closing
    the database commits what is still left behind."""
    async def main() -> None:
        db = Database(tmp_path / "t.db", SCHEMA)
        try:
            db.behind_delay = 30.0
            before = db.commits
            behind = db.write_behind(lambda c: c.execute(INSERT, _row(1)))
            await asyncio.sleep(0.1)
            assert db.commits == before and not behind.done()  # waiting for a commit to ride
            seen = await db.write(lambda c: c.execute("SELECT seq FROM t").fetchall())
            assert seen == [(1,)] and db.commits == before + 1  # one commit, the write left behind first
            assert behind.done() and behind.result() is None

            db.behind_delay = 0.05
            alone = db.write_behind(lambda c: c.execute(INSERT, _row(2)))
            await asyncio.wait_for(alone, 10)  # no other write came: its own commit, after the delay
            assert db.commits == before + 2

            db.behind_delay = 30.0
            db.write_behind(lambda c: c.execute(INSERT, _row(3)))
        finally:
            db.close()
        reopened = Database(tmp_path / "t.db", SCHEMA)
        try:
            assert [r[0] for r in reopened.query("SELECT seq FROM t ORDER BY seq")] == [1, 2, 3]
        finally:
            reopened.close()

    asyncio.run(main())


def test_a_flush_for_writes_another_commit_carried_leaves_the_next_ones_to_ride(tmp_path: Path) -> None:
    """Each list of writes left behind has its own flush, `behind_delay` after its first write; when a commit
    carried that list, its flush is stale and must not commit a newer list alone, early, while a write might
    still come to carry it (the outbox and SQS receives leave writes behind at every round)."""
    async def main() -> None:
        db = Database(tmp_path / "t.db", SCHEMA)
        try:
            loop = asyncio.get_running_loop()
            db.behind_delay = 0.4
            start = loop.time()
            first = db.write_behind(lambda c: c.execute(INSERT, _row(1)))
            await db.write(lambda c: c.execute(INSERT, _row(2)))  # carries the first
            assert first.done()
            commits = db.commits
            await asyncio.sleep(0.2)
            second = db.write_behind(lambda c: c.execute(INSERT, _row(3)))  # its flush is due at 0.6 s
            await asyncio.sleep(max(0.0, start + 0.5 - loop.time()))  # past the first list's flush (0.4 s)
            assert not second.done() and db.commits == commits
            await asyncio.wait_for(second, 10)  # its own flush
            assert db.commits == commits + 1
        finally:
            db.close()

    asyncio.run(main())
