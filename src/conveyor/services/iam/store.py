"""IAM's SQLite store: every statement IAM runs, and nothing else.

Names are unique without regard to case, as IAM's are ("you cannot create roles named both PRODROLE and
prodrole", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-names),
hence COLLATE NOCASE on every name. Reads run on the caller's thread; writes are group-committed and
return once durable.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conveyor.services.iam.entities import (
    AccessKey,
    Group,
    InstanceProfile,
    ManagedPolicy,
    PolicyVersion,
    Role,
    Tags,
    User,
)
from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard

MIGRATIONS = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE users (
        name TEXT COLLATE NOCASE PRIMARY KEY, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, created REAL NOT NULL,
        boundary TEXT, tags TEXT NOT NULL
    );
    CREATE TABLE groups (
        name TEXT COLLATE NOCASE PRIMARY KEY, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, created REAL NOT NULL
    );
    CREATE TABLE group_members (
        group_name TEXT COLLATE NOCASE NOT NULL, user_name TEXT COLLATE NOCASE NOT NULL,
        PRIMARY KEY (group_name, user_name)
    );
    CREATE INDEX group_members_user ON group_members (user_name);
    CREATE TABLE roles (
        name TEXT COLLATE NOCASE PRIMARY KEY, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, created REAL NOT NULL,
        trust TEXT NOT NULL, description TEXT, max_session INTEGER NOT NULL, boundary TEXT, tags TEXT NOT NULL,
        last_used REAL, last_used_region TEXT
    );
    -- Customer managed policies (AWS managed ones ship with Conveyor and are never stored).
    CREATE TABLE policies (
        name TEXT COLLATE NOCASE PRIMARY KEY, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, arn TEXT NOT NULL UNIQUE,
        created REAL NOT NULL, updated REAL NOT NULL, default_version TEXT NOT NULL, next_version INTEGER NOT NULL,
        description TEXT, tags TEXT NOT NULL
    );
    CREATE TABLE policy_versions (
        policy_arn TEXT NOT NULL, version TEXT NOT NULL, document TEXT NOT NULL, created REAL NOT NULL,
        PRIMARY KEY (policy_arn, version)
    );
    -- kind is user, group or role.
    CREATE TABLE attachments (
        kind TEXT NOT NULL, entity TEXT COLLATE NOCASE NOT NULL, policy_arn TEXT NOT NULL, seq INTEGER NOT NULL,
        PRIMARY KEY (kind, entity, policy_arn)
    );
    CREATE INDEX attachments_policy ON attachments (policy_arn);
    CREATE TABLE inline_policies (
        kind TEXT NOT NULL, entity TEXT COLLATE NOCASE NOT NULL, name TEXT COLLATE NOCASE NOT NULL,
        document TEXT NOT NULL, PRIMARY KEY (kind, entity, name)
    );
    CREATE TABLE instance_profiles (
        name TEXT COLLATE NOCASE PRIMARY KEY, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, created REAL NOT NULL,
        tags TEXT NOT NULL
    );
    CREATE TABLE profile_roles (
        profile TEXT COLLATE NOCASE NOT NULL, role TEXT COLLATE NOCASE NOT NULL, PRIMARY KEY (profile, role)
    );
    CREATE INDEX profile_roles_role ON profile_roles (role);
    -- user is NULL for keys of the account's root user.
    CREATE TABLE access_keys (
        id TEXT PRIMARY KEY, secret TEXT NOT NULL, user_name TEXT COLLATE NOCASE, status TEXT NOT NULL,
        created REAL NOT NULL, last_used REAL, last_service TEXT, last_region TEXT
    );
    CREATE INDEX access_keys_user ON access_keys (user_name)
    """,
]

_TABLES = ("meta", "users", "groups", "group_members", "roles", "policies", "policy_versions", "attachments",
           "inline_policies", "instance_profiles", "profile_roles", "access_keys")
_USER = "name, path, id, created, boundary, tags"
_ROLE = "name, path, id, created, trust, description, max_session, boundary, tags, last_used, last_used_region"
_POLICY = "name, path, id, arn, created, updated, default_version, description, tags"
_KEY = "id, secret, user_name, status, created, last_used, last_service, last_region"


def _tags(text: str) -> Tags:
    loaded: Tags = json.loads(text)
    return loaded


def _user(row: sqlite3.Row | tuple[Any, ...]) -> User:
    name, path, id_, created, boundary, tags = row
    return User(name, path, id_, created, boundary, _tags(tags))


def _role(row: sqlite3.Row | tuple[Any, ...]) -> Role:
    name, path, id_, created, trust, description, max_session, boundary, tags, last_used, region = row
    return Role(name, path, id_, created, trust, description, max_session, boundary, _tags(tags), last_used, region)


def _policy(row: sqlite3.Row | tuple[Any, ...]) -> ManagedPolicy:
    name, path, id_, arn, created, updated, default_version, description, tags = row
    return ManagedPolicy(name, path, id_, arn, created, updated, default_version, description, _tags(tags))


def _profile(row: sqlite3.Row | tuple[Any, ...]) -> InstanceProfile:
    name, path, id_, created, tags = row
    return InstanceProfile(name, path, id_, created, _tags(tags))


def _key(row: sqlite3.Row | tuple[Any, ...]) -> AccessKey:
    return AccessKey(*row)


class IamStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        # The shared disk guard: on a full disk IAM refuses what would store more, keeping the room
        # every service's deletes need (conveyor.storage.disk).
        self.db = Database(path, MIGRATIONS, disk)
        # Bumped after every write: whoever keeps something derived from IAM's data (the enforcer's
        # compiled policies) knows when to derive it again.
        self.generation = 0

    def close(self) -> None:
        self.db.close()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.db.query(sql, params)
        return rows[0] if rows else None

    async def _run(self, sql: str, params: Sequence[Any] = (), *, grows: bool = True) -> None:
        """`grows=False`: a delete or a change in place, which runs even on a full disk."""
        try:
            await self.db.execute(sql, params, grows=grows)
        finally:
            self.generation += 1

    async def _script(self, statements: Sequence[tuple[str, Sequence[Any]]], *, grows: bool = True) -> None:
        """Several statements in one transaction (one savepoint of a group commit)."""
        def run(conn: sqlite3.Connection) -> None:
            for sql, params in statements:
                conn.execute(sql, params)
        try:
            await self.db.write(run, grows=grows)
        finally:
            self.generation += 1

    async def wipe(self) -> None:
        await self._script([(f"DELETE FROM {table}", ()) for table in _TABLES], grows=False)

    # -- meta ------------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        await self._run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- users -----------------------------------------------------------------------------------
    def user(self, name: str) -> User | None:
        row = self._one(f"SELECT {_USER} FROM users WHERE name = ?", (name,))
        return _user(row) if row else None

    def users(self) -> list[User]:
        return [_user(r) for r in self.db.query(f"SELECT {_USER} FROM users ORDER BY name")]

    async def put_user(self, user: User) -> None:
        await self._run(f"INSERT OR REPLACE INTO users ({_USER}) VALUES (?, ?, ?, ?, ?, ?)",
                        (user.name, user.path, user.id, user.created, user.boundary, json.dumps(user.tags)))

    async def rename_user(self, old: str, user: User) -> None:
        await self._script([
            ("DELETE FROM users WHERE name = ?", (old,)),
            (f"INSERT INTO users ({_USER}) VALUES (?, ?, ?, ?, ?, ?)",
             (user.name, user.path, user.id, user.created, user.boundary, json.dumps(user.tags))),
            ("UPDATE group_members SET user_name = ? WHERE user_name = ?", (user.name, old)),
            ("UPDATE attachments SET entity = ? WHERE kind = 'user' AND entity = ?", (user.name, old)),
            ("UPDATE inline_policies SET entity = ? WHERE kind = 'user' AND entity = ?", (user.name, old)),
            ("UPDATE access_keys SET user_name = ? WHERE user_name = ?", (user.name, old)),
        ])

    async def delete_user(self, name: str) -> None:
        await self._run("DELETE FROM users WHERE name = ?", (name,), grows=False)

    # -- groups ----------------------------------------------------------------------------------
    def group(self, name: str) -> Group | None:
        row = self._one("SELECT name, path, id, created FROM groups WHERE name = ?", (name,))
        return Group(*row) if row else None

    def groups(self) -> list[Group]:
        return [Group(*r) for r in self.db.query("SELECT name, path, id, created FROM groups ORDER BY name")]

    async def put_group(self, group: Group) -> None:
        await self._run("INSERT OR REPLACE INTO groups (name, path, id, created) VALUES (?, ?, ?, ?)",
                        (group.name, group.path, group.id, group.created))

    async def rename_group(self, old: str, group: Group) -> None:
        await self._script([
            ("DELETE FROM groups WHERE name = ?", (old,)),
            ("INSERT INTO groups (name, path, id, created) VALUES (?, ?, ?, ?)",
             (group.name, group.path, group.id, group.created)),
            ("UPDATE group_members SET group_name = ? WHERE group_name = ?", (group.name, old)),
            ("UPDATE attachments SET entity = ? WHERE kind = 'group' AND entity = ?", (group.name, old)),
            ("UPDATE inline_policies SET entity = ? WHERE kind = 'group' AND entity = ?", (group.name, old)),
        ])

    async def delete_group(self, name: str) -> None:
        await self._run("DELETE FROM groups WHERE name = ?", (name,), grows=False)

    def members(self, group: str) -> list[str]:
        return [r[0] for r in self.db.query(
            "SELECT user_name FROM group_members WHERE group_name = ? ORDER BY user_name", (group,))]

    def groups_of(self, user: str) -> list[str]:
        return [r[0] for r in self.db.query(
            "SELECT group_name FROM group_members WHERE user_name = ? ORDER BY group_name", (user,))]

    async def add_member(self, group: str, user: str) -> None:
        await self._run("INSERT OR IGNORE INTO group_members (group_name, user_name) VALUES (?, ?)", (group, user))

    async def remove_member(self, group: str, user: str) -> None:
        await self._run("DELETE FROM group_members WHERE group_name = ? AND user_name = ?", (group, user), grows=False)

    # -- roles -----------------------------------------------------------------------------------
    def role(self, name: str) -> Role | None:
        row = self._one(f"SELECT {_ROLE} FROM roles WHERE name = ?", (name,))
        return _role(row) if row else None

    def roles(self) -> list[Role]:
        return [_role(r) for r in self.db.query(f"SELECT {_ROLE} FROM roles ORDER BY name")]

    async def put_role(self, role: Role) -> None:
        await self._run(f"INSERT OR REPLACE INTO roles ({_ROLE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (role.name, role.path, role.id, role.created, role.trust, role.description,
                         role.max_session, role.boundary, json.dumps(role.tags), role.last_used,
                         role.last_used_region))

    async def delete_role(self, name: str) -> None:
        await self._run("DELETE FROM roles WHERE name = ?", (name,), grows=False)

    # -- customer managed policies ---------------------------------------------------------------
    def policy(self, arn: str) -> ManagedPolicy | None:
        row = self._one(f"SELECT {_POLICY} FROM policies WHERE arn = ?", (arn,))
        return _policy(row) if row else None

    def policy_named(self, name: str) -> ManagedPolicy | None:
        row = self._one(f"SELECT {_POLICY} FROM policies WHERE name = ?", (name,))
        return _policy(row) if row else None

    def policies(self) -> list[ManagedPolicy]:
        return [_policy(r) for r in self.db.query(f"SELECT {_POLICY} FROM policies ORDER BY name")]

    async def create_policy(self, policy: ManagedPolicy, document: str) -> None:
        await self._script([
            (f"INSERT INTO policies ({_POLICY}, next_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 2)",
             (policy.name, policy.path, policy.id, policy.arn, policy.created, policy.updated,
              policy.default_version, policy.description, json.dumps(policy.tags))),
            ("INSERT INTO policy_versions (policy_arn, version, document, created) VALUES (?, 'v1', ?, ?)",
             (policy.arn, document, policy.created)),
        ])

    async def set_policy_tags(self, arn: str, tags: Tags) -> None:
        await self._run("UPDATE policies SET tags = ? WHERE arn = ?", (json.dumps(tags), arn))

    async def delete_policy(self, arn: str) -> None:
        await self._script([("DELETE FROM policy_versions WHERE policy_arn = ?", (arn,)),
                            ("DELETE FROM policies WHERE arn = ?", (arn,))], grows=False)

    def next_version(self, arn: str) -> int:
        row = self._one("SELECT next_version FROM policies WHERE arn = ?", (arn,))
        return int(row[0]) if row else 1

    def versions(self, arn: str) -> list[PolicyVersion]:
        rows = self.db.query("SELECT version, document, created FROM policy_versions WHERE policy_arn = ? "
                             "ORDER BY CAST(substr(version, 2) AS INTEGER) DESC", (arn,))
        return [PolicyVersion(*r) for r in rows]

    def version(self, arn: str, version: str) -> PolicyVersion | None:
        row = self._one("SELECT version, document, created FROM policy_versions WHERE policy_arn = ? AND version = ?",
                        (arn, version))
        return PolicyVersion(*row) if row else None

    async def add_version(self, arn: str, version: PolicyVersion, make_default: bool, now: float) -> None:
        statements: list[tuple[str, Sequence[Any]]] = [
            ("INSERT INTO policy_versions (policy_arn, version, document, created) VALUES (?, ?, ?, ?)",
             (arn, version.version, version.document, version.created)),
            ("UPDATE policies SET next_version = next_version + 1 WHERE arn = ?", (arn,)),
        ]
        if make_default:
            statements.append(("UPDATE policies SET default_version = ?, updated = ? WHERE arn = ?",
                               (version.version, now, arn)))
        await self._script(statements)

    async def set_default_version(self, arn: str, version: str, now: float) -> None:
        await self._run("UPDATE policies SET default_version = ?, updated = ? WHERE arn = ?", (version, now, arn), grows=False)

    async def delete_version(self, arn: str, version: str) -> None:
        await self._run("DELETE FROM policy_versions WHERE policy_arn = ? AND version = ?", (arn, version), grows=False)

    # -- attachments -----------------------------------------------------------------------------
    def attached(self, kind: str, entity: str) -> list[str]:
        return [r[0] for r in self.db.query(
            "SELECT policy_arn FROM attachments WHERE kind = ? AND entity = ? ORDER BY seq", (kind, entity))]

    def attachments_of(self, arn: str) -> list[tuple[str, str]]:
        """(kind, entity) pairs the policy is attached to."""
        return [(r[0], r[1]) for r in self.db.query(
            "SELECT kind, entity FROM attachments WHERE policy_arn = ? ORDER BY kind, entity", (arn,))]

    def attachment_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.query(
            "SELECT policy_arn, count(*) FROM attachments GROUP BY policy_arn")}

    async def attach(self, kind: str, entity: str, arn: str) -> None:
        await self._run("INSERT OR IGNORE INTO attachments (kind, entity, policy_arn, seq) VALUES (?, ?, ?, "
                        "(SELECT coalesce(max(seq), 0) + 1 FROM attachments))", (kind, entity, arn))

    async def detach(self, kind: str, entity: str, arn: str) -> None:
        await self._run("DELETE FROM attachments WHERE kind = ? AND entity = ? AND policy_arn = ?", (kind, entity, arn), grows=False)

    def boundary_counts(self) -> dict[str, int]:
        rows = self.db.query("SELECT boundary, count(*) FROM (SELECT boundary FROM users UNION ALL "
                             "SELECT boundary FROM roles) WHERE boundary IS NOT NULL GROUP BY boundary")
        return {r[0]: r[1] for r in rows}

    # -- inline policies -------------------------------------------------------------------------
    def inline(self, kind: str, entity: str, name: str) -> tuple[str, str] | None:
        """(stored name, document)."""
        row = self._one("SELECT name, document FROM inline_policies WHERE kind = ? AND entity = ? AND name = ?",
                        (kind, entity, name))
        return (row[0], row[1]) if row else None

    def inline_all(self, kind: str, entity: str) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.query(
            "SELECT name, document FROM inline_policies WHERE kind = ? AND entity = ? ORDER BY name", (kind, entity))]

    async def put_inline(self, kind: str, entity: str, name: str, document: str) -> None:
        await self._run("INSERT OR REPLACE INTO inline_policies (kind, entity, name, document) VALUES (?, ?, ?, ?)",
                        (kind, entity, name, document))

    async def delete_inline(self, kind: str, entity: str, name: str) -> None:
        await self._run("DELETE FROM inline_policies WHERE kind = ? AND entity = ? AND name = ?", (kind, entity, name), grows=False)

    # -- instance profiles -----------------------------------------------------------------------
    def profile(self, name: str) -> InstanceProfile | None:
        row = self._one("SELECT name, path, id, created, tags FROM instance_profiles WHERE name = ?", (name,))
        return _profile(row) if row else None

    def profiles(self) -> list[InstanceProfile]:
        rows = self.db.query("SELECT name, path, id, created, tags FROM instance_profiles ORDER BY name")
        return [_profile(r) for r in rows]

    async def put_profile(self, profile: InstanceProfile) -> None:
        await self._run("INSERT OR REPLACE INTO instance_profiles (name, path, id, created, tags) VALUES (?, ?, ?, ?, ?)",
                        (profile.name, profile.path, profile.id, profile.created, json.dumps(profile.tags)))

    async def delete_profile(self, name: str) -> None:
        await self._run("DELETE FROM instance_profiles WHERE name = ?", (name,), grows=False)

    def profile_roles(self, profile: str) -> list[str]:
        return [r[0] for r in self.db.query("SELECT role FROM profile_roles WHERE profile = ? ORDER BY role", (profile,))]

    def profiles_of(self, role: str) -> list[str]:
        return [r[0] for r in self.db.query("SELECT profile FROM profile_roles WHERE role = ? ORDER BY profile", (role,))]

    async def add_profile_role(self, profile: str, role: str) -> None:
        await self._run("INSERT OR IGNORE INTO profile_roles (profile, role) VALUES (?, ?)", (profile, role))

    async def remove_profile_role(self, profile: str, role: str) -> None:
        await self._run("DELETE FROM profile_roles WHERE profile = ? AND role = ?", (profile, role), grows=False)

    # -- access keys -----------------------------------------------------------------------------
    def key(self, key_id: str) -> AccessKey | None:
        row = self._one(f"SELECT {_KEY} FROM access_keys WHERE id = ?", (key_id,))
        return _key(row) if row else None

    def keys_of(self, user: str | None) -> list[AccessKey]:
        if user is None:
            rows = self.db.query(f"SELECT {_KEY} FROM access_keys WHERE user_name IS NULL ORDER BY created")
        else:
            rows = self.db.query(f"SELECT {_KEY} FROM access_keys WHERE user_name = ? ORDER BY created", (user,))
        return [_key(r) for r in rows]

    async def put_key(self, key: AccessKey) -> None:
        await self._run(f"INSERT INTO access_keys ({_KEY}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (key.id, key.secret, key.user, key.status, key.created, key.last_used, key.last_service,
                         key.last_region))

    async def set_key_status(self, key_id: str, status: str) -> None:
        await self._run("UPDATE access_keys SET status = ? WHERE id = ?", (status, key_id), grows=False)

    async def delete_key(self, key_id: str) -> None:
        await self._run("DELETE FROM access_keys WHERE id = ?", (key_id,), grows=False)

    async def key_used(self, key_id: str, when: float, service: str, region: str) -> None:
        await self._run("UPDATE access_keys SET last_used = ?, last_service = ?, last_region = ? WHERE id = ?",
                        (when, service, region, key_id), grows=False)

    def note_key_used(self, key_id: str, when: float, service: str, region: str) -> asyncio.Future[Any]:
        """Record a key's last use without waiting for the commit (the gateway does not wait on it)."""
        return self.db.execute("UPDATE access_keys SET last_used = ?, last_service = ?, last_region = ? WHERE id = ?",
                               (when, service, region, key_id), grows=False)
