"""CloudWatch's SQLite store: every statement the service runs.

Datapoints are kept aggregated per metric, resolution and period start: sample count, sum, minimum and
maximum, plus every distinct value with its count while percentiles can be told from them (a point fed by
a statistic set cannot). Rolling points up to a coarser resolution as they age, and expiring them, are
SQL alone (conveyor.services.cloudwatch.retention decides the cut-offs).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard

MIGRATIONS = [
    """
    CREATE TABLE metrics (
        id INTEGER PRIMARY KEY, region TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        dims TEXT NOT NULL, last_put REAL NOT NULL,
        UNIQUE (region, namespace, name, dims)
    );
    CREATE TABLE points (
        metric_id INTEGER NOT NULL, res INTEGER NOT NULL, ts INTEGER NOT NULL, unit TEXT NOT NULL,
        n REAL NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, exact INTEGER NOT NULL,
        PRIMARY KEY (metric_id, res, ts, unit)
    ) WITHOUT ROWID;
    CREATE TABLE point_values (
        metric_id INTEGER NOT NULL, res INTEGER NOT NULL, ts INTEGER NOT NULL, unit TEXT NOT NULL,
        value REAL NOT NULL, count REAL NOT NULL,
        PRIMARY KEY (metric_id, res, ts, unit, value)
    ) WITHOUT ROWID;
    CREATE TABLE alarms (
        name TEXT NOT NULL, region TEXT NOT NULL, config TEXT NOT NULL, state TEXT NOT NULL,
        PRIMARY KEY (region, name)
    );
    CREATE TABLE alarm_history (
        id INTEGER PRIMARY KEY, region TEXT NOT NULL, alarm TEXT NOT NULL, ts REAL NOT NULL, kind TEXT NOT NULL,
        summary TEXT NOT NULL, data TEXT NOT NULL
    );
    CREATE INDEX alarm_history_by_alarm ON alarm_history (region, alarm, ts)
    """,
]

_UPSERT_POINT = ("INSERT INTO points (metric_id, res, ts, unit, n, sum, min, max, exact) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                 "ON CONFLICT (metric_id, res, ts, unit) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum, "
                 "min = MIN(min, excluded.min), max = MAX(max, excluded.max), exact = MIN(exact, excluded.exact)")
_UPSERT_VALUE = ("INSERT INTO point_values (metric_id, res, ts, unit, value, count) VALUES (?, ?, ?, ?, ?, ?) "
                 "ON CONFLICT (metric_id, res, ts, unit, value) DO UPDATE SET count = count + excluded.count")


@dataclass(frozen=True)
class PointRow:
    """One datum's (or one minute's) contribution to a point."""

    metric_id: int
    res: int
    ts: int
    unit: str
    n: float
    sum: float
    min: float
    max: float
    values: tuple[tuple[float, float], ...] | None  # (value, count); None: a statistic set (no percentiles)


class MetricStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)

    def close(self) -> None:
        self.db.close()

    # -- metrics and points ------------------------------------------------------------------------------
    def metrics(self) -> list[sqlite3.Row]:
        return self.db.query("SELECT id, region, namespace, name, dims, last_put FROM metrics")

    async def add_points(self, new_metrics: Sequence[tuple[int, str, str, str, str, float]],
                         touched: Sequence[tuple[float, int]], points: Sequence[PointRow]) -> None:
        """Store datapoints (and the metrics first seen with them) in one commit."""
        point_rows = [(p.metric_id, p.res, p.ts, p.unit, p.n, p.sum, p.min, p.max, int(p.values is not None))
                      for p in points]
        value_rows = [(p.metric_id, p.res, p.ts, p.unit, v, c) for p in points for v, c in (p.values or ())]

        def run(conn: sqlite3.Connection) -> None:
            if new_metrics:
                conn.executemany("INSERT INTO metrics (id, region, namespace, name, dims, last_put) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", new_metrics)
            if touched:
                conn.executemany("UPDATE metrics SET last_put = MAX(last_put, ?) WHERE id = ?", touched)
            conn.executemany(_UPSERT_POINT, point_rows)
            if value_rows:
                conn.executemany(_UPSERT_VALUE, value_rows)

        await self.db.write(run)

    def points(self, metric_ids: Sequence[int], start: int, end: int, unit: str | None) -> list[sqlite3.Row]:
        """Points of the metrics whose period starts in [start, end)."""
        marks = ", ".join("?" * len(metric_ids))
        sql = (f"SELECT metric_id, res, ts, unit, n, sum, min, max, exact FROM points WHERE metric_id IN ({marks}) "
               "AND ts >= ? AND ts < ?")
        args: list[Any] = [*metric_ids, start, end]
        if unit is not None:
            sql += " AND unit = ?"
            args.append(unit)
        return self.db.query(sql, args)

    def values(self, metric_ids: Sequence[int], start: int, end: int, unit: str | None) -> list[sqlite3.Row]:
        marks = ", ".join("?" * len(metric_ids))
        sql = (f"SELECT ts, value, count FROM point_values WHERE metric_id IN ({marks}) AND ts >= ? AND ts < ?")
        args: list[Any] = [*metric_ids, start, end]
        if unit is not None:
            sql += " AND unit = ?"
            args.append(unit)
        return self.db.query(sql, args)

    async def roll_up(self, steps: Sequence[tuple[int, int, int]], expire_before: int) -> None:
        """For each (from resolution, to resolution, cut-off): merge points older than the cut-off into
        the coarser resolution; then drop points older than `expire_before`."""
        def run(conn: sqlite3.Connection) -> None:
            for src, dst, cutoff in steps:
                conn.execute(
                    "INSERT INTO points (metric_id, res, ts, unit, n, sum, min, max, exact) "
                    "SELECT metric_id, ?, ts - ts % ?, unit, SUM(n), SUM(sum), MIN(min), MAX(max), MIN(exact) "
                    "FROM points WHERE res = ? AND ts < ? GROUP BY metric_id, ts - ts % ?, unit "
                    "ON CONFLICT (metric_id, res, ts, unit) DO UPDATE SET n = n + excluded.n, "
                    "sum = sum + excluded.sum, min = MIN(min, excluded.min), max = MAX(max, excluded.max), "
                    "exact = MIN(exact, excluded.exact)", (dst, dst, src, cutoff, dst))
                conn.execute(
                    "INSERT INTO point_values (metric_id, res, ts, unit, value, count) "
                    "SELECT metric_id, ?, ts - ts % ?, unit, value, SUM(count) FROM point_values "
                    "WHERE res = ? AND ts < ? GROUP BY metric_id, ts - ts % ?, unit, value "
                    "ON CONFLICT (metric_id, res, ts, unit, value) DO UPDATE SET count = count + excluded.count",
                    (dst, dst, src, cutoff, dst))
                conn.execute("DELETE FROM points WHERE res = ? AND ts < ?", (src, cutoff))
                conn.execute("DELETE FROM point_values WHERE res = ? AND ts < ?", (src, cutoff))
            conn.execute("DELETE FROM points WHERE ts < ?", (expire_before,))
            conn.execute("DELETE FROM point_values WHERE ts < ?", (expire_before,))

        await self.db.write(run, grows=False)

    # -- alarms ------------------------------------------------------------------------------------------
    def alarms(self) -> list[sqlite3.Row]:
        return self.db.query("SELECT region, name, config, state FROM alarms")

    async def put_alarm(self, region: str, name: str, config: str, state: str,
                        history: tuple[str, float, str, str, str] | None) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO alarms (region, name, config, state) VALUES (?, ?, ?, ?) ON CONFLICT "
                         "(region, name) DO UPDATE SET config = excluded.config, state = excluded.state",
                         (region, name, config, state))
            if history is not None:
                conn.execute("INSERT INTO alarm_history (region, alarm, ts, kind, summary, data) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (region, *history))

        await self.db.write(run)

    async def delete_alarms(self, region: str, names: Sequence[str]) -> None:
        await self.db.executemany("DELETE FROM alarms WHERE region = ? AND name = ?",
                                  [(region, n) for n in names], grows=False)

    def history(self, region: str, alarm: str | None, kind: str | None, start: float | None, end: float | None,
                newest_first: bool) -> list[sqlite3.Row]:
        where: list[str] = ["region = ?"]
        args: list[Any] = [region]
        if alarm:
            where.append("alarm = ?")
            args.append(alarm)
        if kind:
            where.append("kind = ?")
            args.append(kind)
        if start is not None:
            where.append("ts >= ?")
            args.append(start)
        if end is not None:
            where.append("ts <= ?")
            args.append(end)
        order = "DESC" if newest_first else "ASC"
        return self.db.query(f"SELECT alarm, ts, kind, summary, data FROM alarm_history WHERE {' AND '.join(where)} "
                             f"ORDER BY ts {order}, id {order}", args)

    async def expire_history(self, before: float) -> None:
        await self.db.execute("DELETE FROM alarm_history WHERE ts < ?", (before,), grows=False)

    async def wipe(self) -> None:
        def run(conn: sqlite3.Connection) -> None:
            for table in ("point_values", "points", "metrics", "alarm_history", "alarms"):
                conn.execute(f"DELETE FROM {table}")

        await self.db.write(run, grows=False)
