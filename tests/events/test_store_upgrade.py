"""A data directory written before rules recorded the account that made them opens with every rule kept,
each the account's own (DescribeRule's CreatedBy the account)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conveyor.services.events.store import MIGRATIONS, EventsStore
from conveyor.storage.db import migrate


def test_rules_of_an_older_store_are_the_accounts_own(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    conn = sqlite3.connect(path)
    migrate(conn, MIGRATIONS[:1])
    conn.execute("INSERT INTO rules (region, bus, name, pattern, schedule, state, description, role_arn, tags, "
                 "targets, created, anchor, last_fired) VALUES ('us-east-1', 'default', 'old', "
                 "'{\"source\": [\"shop\"]}', NULL, 'ENABLED', NULL, NULL, '{}', '[]', 1.0, 1.0, NULL)")
    conn.commit()
    conn.close()
    store = EventsStore(path)
    try:
        [rule] = store.rules()
        assert (rule.name, rule.pattern, rule.creator) == ("old", '{"source": ["shop"]}', None)
    finally:
        store.close()
