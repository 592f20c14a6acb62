"""Point-in-time recovery: a table's items as they were at any time within its recovery period.

While point-in-time recovery is enabled, every change to an item is kept with its images before and after
(conveyor.services.dynamodb.history_store). The table at time T is then its items now, with each item
changed since T put back as it was before its first change after T. The restorable window runs from when
recovery was enabled (or the start of its RecoveryPeriodInDays, whichever is later) to now.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/PointInTimeRecovery_Howitworks.html
"""

from __future__ import annotations

import asyncio
import math

from conveyor.services.dynamodb.store import DynamoStore
from conveyor.services.dynamodb.tables import Table

DAY = 86400.0
YIELD_EVERY = 2000  # items read between two turns of the event loop


def window(table: Table, now: float) -> tuple[float, float]:
    """(EarliestRestorableDateTime, LatestRestorableDateTime) in whole epoch seconds, as SDKs send a
    RestoreDateTime back (boto3 drops the fraction): the earliest rounded up into the window, the latest
    (now) down, so that both can be restored as described, and two describes in one second agree."""
    earliest = float(math.ceil(max(table.pitr_since, now - table.pitr_days * DAY)))
    return earliest, max(earliest, float(math.floor(now)))


def restorable(table: Table, at: float, now: float) -> bool:
    """Whether `at` is within the recovery window (to the instant, not the described whole seconds)."""
    return max(table.pitr_since, now - table.pitr_days * DAY) <= at <= now


async def items_at(store: DynamoStore, table: Table, when: float) -> list[tuple[bytes, bytes, str]]:
    """The table's items ((hk, rk, stored JSON)) as they were at `when`, in key order.

    The items are read first and the changes after `when` second: a write committed while the items are
    read is among those changes (its history row commits with it), so it is undone whatever the read saw.
    A large table is read a page at a time, letting other requests run between pages."""
    now: dict[tuple[bytes, bytes], str] = {}
    for hk, rk, text in store.all_items(table.id):
        now[(hk, rk)] = text
        if len(now) % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    for key, before in store.history.before_changes_after(table.id, when).items():
        if before is None:
            now.pop(key, None)
        else:
            now[key] = before
    return [(hk, rk, now[(hk, rk)]) for hk, rk in sorted(now)]


def horizon(table: Table, now: float) -> float:
    """Changes before this time are no longer needed (they precede the recovery period)."""
    return now - table.pitr_days * DAY
