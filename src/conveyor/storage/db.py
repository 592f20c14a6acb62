"""SQLite with group commit.

Each service keeps its metadata in its own SQLite file (WAL mode, `synchronous=FULL`, so a commit is on
disk when it returns). All writes go through one writer thread that gathers whatever requests are
waiting, runs them in a single transaction and commits once: many concurrent requests share one fsync,
and each request is acknowledged only after the commit that holds its write. While one client alone is
served (conveyor.waiting.one_client), a write alone in its event-loop iteration is committed on the loop's
own thread instead: the two thread hand-offs cost such a write more than its SQL, and the loop has nothing
else to do while its one client waits.

A write that fails for want of disk space fails with DiskFull (conveyor.storage.disk), whichever way
SQLite reported it; writes that store more are refused up front while the disk is full (`grows`). A commit
that cannot take the file's write lock within the busy timeout (another process writes to the file) fails
with StoreBusy: nothing of its batch was written, and each service answers it as its AWS service answers
a request it could not serve for now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from conveyor import waiting
from conveyor.storage.disk import DiskFull, DiskGuard, is_disk_full

T = TypeVar("T")
WriteFn = Callable[[sqlite3.Connection], Any]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000  # how long a commit waits for another connection's write lock
BUSY_PAUSES_MS = (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100)  # then 100 ms each, as SQLite's busy handler

_STOP = object()
BEHIND_DELAY = 0.05  # seconds a write left behind waits for another write's commit to ride


class _Flush:
    """Wakes the writer for the writes left behind (Database.write_behind) when no other write came to carry
    them: those of one list, `generation`, which another commit may have carried already (then it is stale)."""

    __slots__ = ("generation",)

    def __init__(self, generation: int) -> None:
        self.generation = generation


class StoreBusy(Exception):
    """A commit that found the database locked by another connection past the busy timeout: none of its
    writes is stored, and the request may be tried again."""


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED (extended codes included)."""
    return isinstance(exc, sqlite3.OperationalError) and exc.sqlite_errorcode & 0xFF in (
        sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


def migrate(conn: sqlite3.Connection, migrations: Sequence[str]) -> None:
    """Bring the schema up to date: migrations[i] moves `user_version` from i to i + 1."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(migrations):
        raise RuntimeError(
            f"database schema version {version} is newer than this Conveyor understands ({len(migrations)})"
        )
    for target in range(version, len(migrations)):
        conn.execute("BEGIN IMMEDIATE")
        _run_script(conn, migrations[target])
        conn.execute(f"PRAGMA user_version={target + 1}")
        conn.execute("COMMIT")


def create(path: Path, migrations: Sequence[str]) -> None:
    """Make a new database file at `path` with its schema, at the cost of two fsyncs.

    Made in place, a new file costs an fsync for the switch to WAL and one per migration's commit (about
    40 ms per file on a busy disk, and `conveyor up` makes one file per service). Nothing written here is
    acknowledged to anyone, so the file is built without syncing, under a temporary name, then synced
    once, renamed into place and the directory synced: a crash (or power loss) before the rename leaves
    no file at `path` (the next start builds it again), after it a complete one.
    """
    scratch = path.with_name(path.name + ".new")
    for leftover in (scratch, *(scratch.with_name(scratch.name + suffix) for suffix in ("-wal", "-shm"))):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()  # a build a crash interrupted
    conn = sqlite3.connect(scratch, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA journal_mode=WAL")  # kept in the file's header: every later open is in WAL mode
        migrate(conn, migrations)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything into the main file
    finally:
        conn.close()  # the last connection: SQLite removes the (empty) -wal and -shm files
    _fsync(scratch)
    os.replace(scratch, path)
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT our transaction first; run statement by statement instead.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


class Database:
    """One SQLite file: synchronous reads on the caller's thread, group-committed writes."""

    def __init__(self, path: Path, migrations: Sequence[str], disk: DiskGuard | None = None) -> None:
        self.path = path
        self.disk = disk
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() and not path.with_name(path.name + "-wal").exists():
            create(path, migrations)
        self.reader = connect(path)
        migrate(self.reader, migrations)
        self._writer = connect(path)
        # It never waits inside SQLite for another connection's write lock: the loop committing a lone write
        # must not block on it (it hands the write to the writer thread instead), and the writer thread
        # waits for it itself (_begin_waiting).
        self._writer.execute("PRAGMA busy_timeout=0")
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # Held by whichever thread runs a transaction on the writer connection: the writer thread, or the
        # event loop committing a lone write itself (_hand_over).
        self._conn_lock = threading.Lock()
        # Lists of an event loop's writes handed to the writer thread, and those it has committed: each
        # counter has one thread that changes it (no lock), and the writer holds older writes while they differ.
        self._handed_in = 0
        self._handed_out = 0
        # Per event loop, the writes queued during its current iteration, handed over at its end.
        self._pending: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        self.commit_lone_writes_here = True
        self._behind: list[tuple[WriteFn, asyncio.Future[Any], asyncio.AbstractEventLoop]] = []
        self._behind_lock = threading.Lock()
        self._behind_generation = 0  # lists of writes left behind taken so far
        self.behind_delay = BEHIND_DELAY
        self._thread = threading.Thread(target=self._run, name=f"db-writer:{path.name}", daemon=True)
        self._thread.start()
        self.commits = 0

    # -- reads -----------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self.reader.execute(sql, params).fetchall()

    # -- writes ----------------------------------------------------------------------------------
    def write(self, fn: WriteFn, *, grows: bool = True) -> asyncio.Future[Any]:
        """Queue `fn(conn)` for the next group commit; the future resolves once it is durable.

        `grows=False` marks a write that stores nothing new (a delete, a change in place): it runs even
        on a full disk, in the room kept for it."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if grows and self.disk is not None:
            try:
                self.disk.check_room()
            except DiskFull as exc:
                fut.set_exception(exc)
                return fut
        pending = self._pending.get(loop)
        if pending is None:  # (else earlier writes of this iteration wait there: this one goes after them)
            if not (self.commit_lone_writes_here and waiting.one_client()):
                self._put([(fn, fut, loop)])  # to the writer thread at once: its commit starts meanwhile
                return fut
            # One client alone: once this loop iteration ends, is this write alone? (_hand_over)
            self._pending[loop] = pending = []
            loop.call_soon(self._hand_over, loop)
        pending.append((fn, fut, loop))
        return fut

    def _put(self, batch: list[Any]) -> None:
        """To the writer thread, from the event loop's thread."""
        self._handed_in += 1
        self._queue.put(batch)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """At the end of a loop iteration while one client alone is served, its writes: a lone write
        committed right here (see _commit_here), else to the writer thread in one hand-off."""
        batch = self._pending.pop(loop, None)
        if not batch:
            return  # (close() handed them over already)
        if len(batch) == 1 and self._commit_here(batch, loop):
            return
        self._put(batch)

    def write_behind(self, fn: WriteFn, *, grows: bool = True) -> asyncio.Future[Any]:
        """A write nobody waits for (its future is there to report a failure): rather than start a commit
        of its own, whose fsync the writes queued just after it would then wait behind, it rides the next
        commit another write starts, or one `behind_delay` later when none does. It goes first into that
        commit, so a write queued after it is never durable without it."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if grows and self.disk is not None:
            try:
                self.disk.check_room()
            except DiskFull as exc:
                fut.set_exception(exc)
                return fut
        with self._behind_lock:
            wake = not self._behind
            generation = self._behind_generation
            self._behind.append((fn, fut, loop))
        if wake:  # the first of a new list: a commit for it later, unless a write's commit carries it first
            loop.call_later(self.behind_delay, self._queue.put, _Flush(generation))
        return fut

    def _take_behind(self) -> list[Any]:
        with self._behind_lock:
            taken, self._behind = self._behind, []
            self._behind_generation += 1
        return taken

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = (), *,
                grows: bool = True) -> asyncio.Future[Any]:
        """One statement; resolves to None."""
        return self.write(lambda conn: conn.execute(sql, params), grows=grows)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]], *, grows: bool = True) -> asyncio.Future[Any]:
        """One statement over many rows; resolves to None."""
        return self.write(lambda conn: conn.executemany(sql, rows), grows=grows)

    def write_sync(self, fn: WriteFn) -> Any:
        """Run a write outside the event loop (start-up, shutdown, tools) and wait for its commit."""
        done = threading.Event()
        box: dict[str, Any] = {}

        def settle(result: Any, error: BaseException | None) -> None:
            box["result"], box["error"] = result, error
            done.set()

        self._queue.put([(fn, settle, None)])  # (from another thread: not counted in _handed_in)
        done.wait()
        if box["error"] is not None:
            raise box["error"]
        return box["result"]

    def close(self) -> None:
        for loop in list(self._pending):  # writes of a loop iteration that has not ended
            batch = self._pending.pop(loop, None)
            if batch:
                self._put(batch)
        self._queue.put(_STOP)
        self._thread.join(timeout=10)
        self.reader.close()

    # -- committing -------------------------------------------------------------------------------
    def _commit_here(self, batch: list[Any], loop: asyncio.AbstractEventLoop) -> bool:
        """Commit a lone write on the event loop's thread, when the writer thread has nothing: the hand-off
        (a thread wake-up to start the commit, another to settle it, the GIL taken back and forth) costs a
        lone write more CPU than its SQL, and while one client alone waits for each answer the loop has
        nothing else to do meanwhile (with other clients it must not: their requests would wait for the
        fsync; measured, reads beside one writing client fell by a third).
        False (nothing done) when the writer holds older writes, which must commit first, or when BEGIN
        fails: another process holds the file's write lock (waiting for it is the writer thread's, not
        the loop's), or anything else (the writer thread reports it to the write's caller)."""
        if self._handed_in != self._handed_out or not self._conn_lock.acquire(blocking=False):
            return False
        try:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")  # (the writer connection never waits for a lock itself)
            except sqlite3.Error:
                return False
            batch = self._take_behind() + batch  # (those left behind were written before it)
            outcomes = self._commit(conn, batch, begun=True)
        finally:
            self._conn_lock.release()
        self._settle(batch, outcomes, here=loop)
        return True

    def _run(self) -> None:
        conn = self._writer
        while True:
            item = self._queue.get()
            with self._conn_lock:
                queued: list[Any] = []
                lists = 0
                flush = False
                while item is not _STOP:
                    if type(item) is _Flush:
                        # A flush of a list another commit carried already would commit the next list early,
                        # alone, when a write might still come to carry it: that list has its own flush.
                        flush = flush or item.generation == self._behind_generation
                    else:
                        queued += item
                        lists += item[0][2] is not None  # a list of an event loop's writes (_put)
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                # (those left behind were written before these)
                batch = self._take_behind() + queued if queued or flush or item is _STOP else []
                outcomes = self._commit(conn, batch) if batch else []
                self._handed_out += lists
            if batch:
                self._settle(batch, outcomes)
            if item is _STOP:
                conn.close()
                return

    def _commit(self, conn: sqlite3.Connection, batch: list[Any], *,
                begun: bool = False) -> list[tuple[Any, BaseException | None]]:
        """Run the batch's writes in one transaction (`begun`: BEGIN done already) and commit it; each
        write's outcome, in order."""
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            if not begun:
                self._begin_waiting(conn)
            if len(batch) == 1:  # alone, its failure undoes the whole transaction: no savepoint needed
                try:
                    outcomes.append((_no_cursor(batch[0][0](conn)), None))
                except Exception as exc:  # reported to its caller
                    if not conn.in_transaction:
                        raise  # SQLite rolled the transaction back (it may, on a full disk)
                    conn.execute("ROLLBACK")
                    return [(None, self._classify(exc))]
            else:
                for fn, _, _ in batch:
                    # A savepoint per request: one failing write does not undo its neighbours.
                    conn.execute("SAVEPOINT w")
                    try:
                        outcomes.append((_no_cursor(fn(conn)), None))
                        conn.execute("RELEASE w")
                    except Exception as exc:  # reported to that request's caller
                        if not conn.in_transaction:
                            raise  # SQLite rolled the whole transaction back (it may, on a full disk)
                        conn.execute("ROLLBACK TO w")
                        conn.execute("RELEASE w")
                        outcomes.append((None, self._classify(exc)))
            conn.execute("COMMIT")
            self.commits += 1
        except Exception as exc:  # the commit itself failed: nobody's write is durable
            error = self._classify(exc)
            if isinstance(error, StoreBusy):
                log.warning("group commit failed: %s", error)
            elif not isinstance(error, DiskFull):  # (a full disk is reported once, by the guard)
                log.exception("group commit failed")
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            outcomes = [(None, error)] * len(batch)
        return outcomes

    @staticmethod
    def _begin_waiting(conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, waiting up to the busy timeout for another connection's write lock, with the
        pauses SQLite's own busy handler makes (sqliteDefaultBusyCallback)."""
        waited = 0
        pauses = iter(BUSY_PAUSES_MS)
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or waited >= BUSY_TIMEOUT_MS:
                    raise
            pause = min(next(pauses, BUSY_PAUSES_MS[-1]), BUSY_TIMEOUT_MS - waited)
            time.sleep(pause / 1000)
            waited += pause

    def _classify(self, exc: Exception) -> Exception:
        if is_busy(exc):
            busy = StoreBusy(f"{self.path.name}: {exc}")
            busy.__cause__ = exc
            return busy
        if not is_disk_full(exc):
            return exc
        if self.disk is not None:
            self.disk.ran_out()
        if isinstance(exc, DiskFull):
            return exc
        error = DiskFull(f"{self.path.name}: {exc}")
        error.__cause__ = exc
        return error

    @staticmethod
    def _settle(batch: list[Any], outcomes: list[tuple[Any, BaseException | None]], *,
                here: asyncio.AbstractEventLoop | None = None) -> None:
        """Each write's outcome to its waiter: directly on `here` (the loop this runs on), one callback per
        other loop."""
        by_loop: dict[Any, list[tuple[asyncio.Future[Any], Any, BaseException | None]]] = {}
        for (_, target, loop), (result, error) in zip(batch, outcomes, strict=True):
            if loop is None:
                target(result, error)
            else:
                by_loop.setdefault(loop, []).append((target, result, error))
        for loop, items in by_loop.items():
            if loop is here:
                _resolve_all(items)
                continue
            try:
                loop.call_soon_threadsafe(_resolve_all, items)
            except RuntimeError:  # loop already closed during shutdown
                pass


def _no_cursor(result: Any) -> Any:
    """A cursor must not reach the event loop: freed there, it resets its statement, which the writer
    thread may be running again for a later write (SQLITE_MISUSE)."""
    if isinstance(result, sqlite3.Cursor):
        result.close()
        return None
    return result


def _resolve_all(items: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for fut, result, error in items:
        if fut.done():
            continue
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(result)
