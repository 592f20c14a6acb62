"""The group-committed writer (conveyor.storage.db): what a write hands back to the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from conveyor import waiting
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


def test_a_lone_write_commits_on_the_loop_thread_and_the_writes_of_one_iteration_share_a_commit(tmp_path: Path) -> None:
    """A write alone in its loop iteration, while the writer thread has nothing, commits right on the loop's
    thread (no thread hand-off to start it or to settle it); the writes queued in one iteration go to the
    writer thread together, one hand-off and one commit."""
    async def main() -> None:
        db = Database(tmp_path / "t.db", SCHEMA)
        try:
            loop_thread = threading.get_ident()
            before = db.commits
            ran_on = await db.write(lambda c: (c.execute(INSERT, _row(1)), threading.get_ident())[1])
            assert ran_on == loop_thread and db.commits == before + 1

            threads = await asyncio.gather(*(
                db.write(lambda c, i=i: (c.execute(INSERT, _row(i)), threading.get_ident())[1])
                for i in range(2, 10)))
            assert db.commits == before + 2  # eight writes, one commit
            assert set(threads) == {db._thread.ident}
            assert db.query("SELECT count(*) FROM t")[0][0] == 9
        finally:
            db.close()

    asyncio.run(main())


def test_a_lone_write_never_waits_on_the_loop_for_another_process_s_lock_nor_overtakes_older_writes(
        tmp_path: Path) -> None:
    """While another connection holds the file's write lock, a lone write must not block the event loop
    for the busy timeout: it goes to the writer thread, which waits for the lock. A write of a later
    iteration then follows it there (it must not commit before an older write); both land, in order, once
    the lock is let go."""
    async def main() -> None:
        db = Database(tmp_path / "t.db", SCHEMA)
        other = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            first = db.execute(INSERT, _row(1))
            started = time.monotonic()
            await asyncio.sleep(0.05)  # the loop runs on
            assert time.monotonic() - started < 1.0 and not first.done()
            second = db.execute(INSERT, _row(2))
            await asyncio.sleep(0.05)
            assert not second.done()
            other.execute("COMMIT")
            await asyncio.wait_for(asyncio.gather(first, second), 10)
            assert [r[0] for r in db.query("SELECT seq FROM t ORDER BY rowid")] == [1, 2]
            # the lock gone and the writer idle, the next lone write commits on the loop again
            assert await db.write(lambda c: threading.get_ident()) == threading.get_ident()
        finally:
            other.close()
            db.close()

    asyncio.run(main())


def test_a_failing_write_leaves_nothing_of_itself_and_fails_no_other_alone_or_among_others(tmp_path: Path) -> None:
    """A write that fails after writing part of its rows: alone in its commit or sharing it, none of its rows
    is stored, its caller gets its error, and the writes beside it land."""
    def half_then_fail(i: int) -> Callable[[sqlite3.Connection], None]:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute(INSERT, _row(i))
            conn.execute(INSERT, ("duplicate", 1, i, *[None] * COLUMNS))
            conn.execute(INSERT, ("duplicate", 1, i, *[None] * COLUMNS))  # the primary key again
        return write

    async def main() -> None:
        db = Database(tmp_path / "t.db", SCHEMA)
        try:
            with pytest.raises(sqlite3.IntegrityError):
                await db.write(half_then_fail(1))  # alone
            outcomes = await asyncio.gather(db.execute(INSERT, _row(2)), db.write(half_then_fail(3)),
                                            db.execute(INSERT, _row(4)), return_exceptions=True)
            assert outcomes[0] is None and outcomes[2] is None and isinstance(outcomes[1], sqlite3.IntegrityError)
            assert await db.write(lambda c: c.execute("SELECT seq FROM t ORDER BY seq").fetchall()) == [(2,), (4,)]
        finally:
            db.close()
        reopened = Database(tmp_path / "t.db", SCHEMA)
        try:
            assert [r[0] for r in reopened.query("SELECT seq FROM t ORDER BY seq")] == [2, 4]
        finally:
            reopened.close()

    asyncio.run(main())


def test_writes_go_to_the_writer_thread_while_more_than_one_client_is_served(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop blocks for a lone write's commit only while one client alone is served (every request of
    the last moments on one connection): with others, their requests would wait for that fsync."""
    async def main() -> None:
        db = Database(tmp_path / "t.db", SCHEMA)
        try:
            loop_thread = threading.get_ident()
            for name in ("_mixed_at", "_last_connection"):  # (as they were, for the tests after this one)
                monkeypatch.setattr(waiting, name, getattr(waiting, name))
            waiting.request_on("one connection")
            waiting.request_on("another")  # two clients, just now
            assert not waiting.one_client()
            ran_on = await db.write(lambda c: (c.execute(INSERT, _row(1)), threading.get_ident())[1])
            assert ran_on == db._thread.ident

            # the same connection's requests only, for longer than ONE_CLIENT_AFTER
            monkeypatch.setattr(waiting, "_mixed_at", time.monotonic() - 2 * waiting.ONE_CLIENT_AFTER)
            waiting.request_on("another")
            assert waiting.one_client()
            ran_on = await db.write(lambda c: (c.execute(INSERT, _row(2)), threading.get_ident())[1])
            assert ran_on == loop_thread
            assert [r[0] for r in db.query("SELECT seq FROM t ORDER BY rowid")] == [1, 2]
        finally:
            db.close()

    asyncio.run(main())
