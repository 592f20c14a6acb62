"""What Route 53 holds, in memory after each commit: hosted zones with their record sets, changes, health
checks, reusable delegation sets and tags. The store has it all too (conveyor.services.route53.store); the
catalog is loaded from it at start and changed only once a write has committed.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

from conveyor.services.route53.store import Batch, RecordKey, Route53Store

# Route 53's ids: upper-case letters and digits after a one-letter prefix (Z for zones, C for changes,
# N for delegation sets). https://docs.aws.amazon.com/Route53/latest/APIReference/API_HostedZone.html
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_CHARS) for _ in range(20))


def record_key(zone_id: str, rrset: dict[str, Any]) -> RecordKey:
    return (zone_id, str(rrset["Name"]), str(rrset["Type"]), str(rrset.get("SetIdentifier") or ""))


@dataclass
class Zone:
    doc: dict[str, Any]  # Id, Name, CallerReference, Comment, Private, VPCs, DelegationSetId, NameServers, Created
    records: dict[RecordKey, dict[str, Any]] = field(default_factory=dict)
    # The record sets by name, and every name that has records below it, for the DNS server; rebuilt on
    # the first query after a change.
    _by_name: dict[str, list[dict[str, Any]]] | None = None
    _parents: frozenset[str] = frozenset()

    def by_name(self) -> dict[str, list[dict[str, Any]]]:
        if self._by_name is None:
            index: dict[str, list[dict[str, Any]]] = {}
            parents: set[str] = set()
            for rrset in self.records.values():
                name = rrset["Name"]
                index.setdefault(name, []).append(rrset)
                while "." in name.rstrip(".") and name != self.name:
                    name = name.split(".", 1)[1]
                    parents.add(name)
            self._by_name, self._parents = index, frozenset(parents)
        return self._by_name

    def has_descendants(self, name: str) -> bool:
        """Whether some record's name lies below `name` (an empty non-terminal exists)."""
        self.by_name()
        return name in self._parents

    def changed(self) -> None:
        self._by_name = None

    @property
    def id(self) -> str:
        return str(self.doc["Id"])

    @property
    def name(self) -> str:
        return str(self.doc["Name"])

    @property
    def private(self) -> bool:
        return bool(self.doc.get("Private"))


class Catalog:
    def __init__(self, store: Route53Store) -> None:
        self.store = store
        self.zones: dict[str, Zone] = {}
        self.changes: dict[str, dict[str, Any]] = {}
        self.health_checks: dict[str, dict[str, Any]] = {}
        self.delegation_sets: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, str]] = {}  # "hostedzone/ID" or "healthcheck/ID" -> tags
        self.query_logs: dict[str, dict[str, Any]] = {}
        # Caller references of deleted zones: Route 53 never takes one again.
        self.spent_references: dict[str, dict[str, Any]] = {}
        # Caller references of deleted health checks: HealthCheckAlreadyExists, whatever the settings.
        self.spent_check_references: dict[str, dict[str, Any]] = {}
        self._zones_by_name: dict[str, list[Zone]] | None = None
        # One change at a time: a batch is judged against the records as the previous one left them.
        self.mutex = asyncio.Lock()
        self.load()

    def clear(self) -> None:
        self._zones_by_name = None
        self.zones.clear()
        self.changes.clear()
        self.health_checks.clear()
        self.delegation_sets.clear()
        self.tags.clear()
        self.query_logs.clear()
        self.spent_references.clear()
        self.spent_check_references.clear()

    def load(self) -> None:
        self.clear()
        for kind, resource_id, doc in self.store.resources():
            if kind == "zone":
                self.zones[resource_id] = Zone(doc)
            elif kind == "change":
                self.changes[resource_id] = doc
            elif kind == "healthcheck":
                self.health_checks[resource_id] = doc
            elif kind == "delegationset":
                self.delegation_sets[resource_id] = doc
            elif kind == "tags":
                self.tags[resource_id] = doc
            elif kind == "querylog":
                self.query_logs[resource_id] = doc
            elif kind == "spentref":
                self.spent_references[resource_id] = doc
            elif kind == "spentcheckref":
                self.spent_check_references[resource_id] = doc
        for zone_id, rrset in self.store.records():
            zone = self.zones.get(zone_id)
            if zone is not None:
                zone.records[record_key(zone_id, rrset)] = rrset

    def zones_named(self, name: str) -> list[Zone]:
        """The zones of one name (a public one and private ones may share it)."""
        if self._zones_by_name is None:
            index: dict[str, list[Zone]] = {}
            for zone in self.zones.values():
                index.setdefault(zone.name, []).append(zone)
            self._zones_by_name = index
        return self._zones_by_name.get(name, [])

    async def commit(self, batch: Batch) -> None:
        """Write the batch; once it is committed, apply it to memory."""
        await self.store.commit(batch)
        for kind, resource_id in batch.removed:
            self._table(kind).pop(resource_id, None)
        for zone_id in batch.zones_emptied:
            if zone_id in self.zones:
                self.zones[zone_id].records.clear()
        for key in batch.records_removed:
            zone = self.zones.get(key[0])
            if zone is not None:
                zone.records.pop(key, None)
        for kind, resource_id, doc in batch.written:
            if kind == "zone":
                existing = self.zones.get(resource_id)
                if existing is not None:
                    existing.doc = doc
                else:
                    self.zones[resource_id] = Zone(doc)
            else:
                self._table(kind)[resource_id] = doc
        for key, rrset in batch.records_written:
            zone = self.zones.get(key[0])
            if zone is not None:
                zone.records[key] = rrset
        for zone in self.zones.values():
            zone.changed()
        self._zones_by_name = None

    def _table(self, kind: str) -> dict[str, Any]:
        tables: dict[str, dict[str, Any]] = {"zone": self.zones, "change": self.changes,
                                             "healthcheck": self.health_checks,
                                             "delegationset": self.delegation_sets, "tags": self.tags,
                                             "querylog": self.query_logs, "spentref": self.spent_references,
                                             "spentcheckref": self.spent_check_references}
        return tables[kind]
