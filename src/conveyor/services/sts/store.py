"""STS's SQLite store: the temporary credentials it issued, so that they outlive a restart of the server.

One row per session: the key, its secret and token, when it expires, and the principal it stands for
(with the session policies, tags and source identity it was made with). Rows stay a while after they
expire, so that a late caller hears "expired" rather than "invalid", then go.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from conveyor.ports import Credential
from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard
from conveyor.wire import Caller

MIGRATIONS = [
    """
    CREATE TABLE sessions (
        access_key TEXT PRIMARY KEY, secret TEXT NOT NULL, token TEXT NOT NULL, expiration REAL NOT NULL,
        issued REAL NOT NULL,
        -- the principal: root, user or assumed-role, and what a role session carries
        kind TEXT NOT NULL, account TEXT NOT NULL, arn TEXT NOT NULL, user_id TEXT NOT NULL,
        role_arn TEXT, session_name TEXT, policy TEXT, policy_arns TEXT NOT NULL, tags TEXT NOT NULL,
        transitive_tag_keys TEXT NOT NULL, source_identity TEXT
    );
    CREATE INDEX sessions_expiration ON sessions (expiration)
    """,
]

_COLUMNS = ("access_key, secret, token, expiration, issued, kind, account, arn, user_id, role_arn, session_name, "
            "policy, policy_arns, tags, transitive_tag_keys, source_identity")


def _row(credential: Credential, issued: float) -> tuple[Any, ...]:
    caller = credential.caller
    return (credential.access_key, credential.secret_key, credential.session_token, credential.expiration, issued,
            caller.kind, caller.account_id, caller.arn, caller.user_id, caller.role_arn, caller.session_name,
            caller.session_policy, json.dumps(list(caller.session_policy_arns)), json.dumps(dict(caller.tags)),
            json.dumps(list(caller.transitive_tag_keys)), caller.source_identity)


def _credential(row: sqlite3.Row | tuple[Any, ...]) -> Credential:
    (access_key, secret, token, expiration, _issued, kind, account, arn, user_id, role_arn, session_name, policy,
     policy_arns, tags, transitive, source_identity) = row
    caller = Caller(kind, account, arn, user_id, temporary=True, role_arn=role_arn, session_name=session_name,
                    session_policy=policy, session_policy_arns=tuple(json.loads(policy_arns)),
                    tags=json.loads(tags), transitive_tag_keys=tuple(json.loads(transitive)),
                    source_identity=source_identity)
    return Credential(access_key, secret, caller, token, expiration)


class SessionStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)

    def close(self) -> None:
        self.db.close()

    def all(self) -> list[Credential]:
        return [_credential(r) for r in self.db.query(f"SELECT {_COLUMNS} FROM sessions")]

    async def put(self, credential: Credential, issued: float) -> None:
        marks = ", ".join("?" * len(_COLUMNS.split(", ")))
        await self.db.execute(f"INSERT INTO sessions ({_COLUMNS}) VALUES ({marks})", _row(credential, issued))

    async def drop_expired(self, before: float) -> None:
        """Forget sessions that expired before `before` (frees space: runs even on a full disk)."""
        await self.db.execute("DELETE FROM sessions WHERE expiration < ?", (before,), grows=False)

    async def wipe(self) -> None:
        await self.db.execute("DELETE FROM sessions", (), grows=False)
