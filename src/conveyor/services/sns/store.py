"""SNS's SQLite schema: topics, subscriptions, the delivery outbox and the FIFO dedup window."""

from __future__ import annotations

MIGRATIONS = [
    """
    CREATE TABLE topics (
        arn TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
        attrs TEXT NOT NULL, tags TEXT NOT NULL, seq INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL
    );
    CREATE TABLE subscriptions (
        arn TEXT PRIMARY KEY, topic_arn TEXT NOT NULL, protocol TEXT NOT NULL, endpoint TEXT NOT NULL,
        owner TEXT NOT NULL, attrs TEXT NOT NULL, confirmed INTEGER NOT NULL, token TEXT,
        created REAL NOT NULL
    );
    CREATE INDEX subscriptions_topic ON subscriptions (topic_arn);
    -- One row per acknowledged publish, written in the commit that acknowledges it, and `targets` lists
    -- the subscriptions still owed a delivery. Replayed at start-up.
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, message TEXT NOT NULL, targets TEXT NOT NULL
    );
    CREATE TABLE dedup (
        topic_arn TEXT NOT NULL, dedup_id TEXT NOT NULL, expires REAL NOT NULL, message_id TEXT NOT NULL,
        seq TEXT NOT NULL, PRIMARY KEY (topic_arn, dedup_id)
    )
    """,
]
