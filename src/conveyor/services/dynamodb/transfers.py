"""Exports to S3 and imports from S3: their descriptions, kept durably, and the jobs that run them.

A transfer's description is the API's (ExportDescription, ImportTableDescription) with its times in epoch
seconds, stored as JSON in the `transfers` table at each change of state; what the API does not show
(the table's id, the request's digest) rides along under names starting with "_". A job runs in the
background; one still IN_PROGRESS when the server stopped (or was killed) is started again from the
beginning when the server starts: its output is the same (an export's objects are written under the
same keys; an import puts the same items), so nothing is lost or half-done silently.

S3 is reached only through its ports: the served API (conveyor.ports.ApiCaller) to list and put objects,
as the service principal would, and conveyor.ports.Objects to read them: S3's own checks and errors
(NoSuchBucket, AccessDenied) are what the job sees.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from conveyor.background import spawn
from conveyor.ports import ApiCaller, Objects
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.history_store import TransferRow
from conveyor.wire import ServiceError

log = logging.getLogger(__name__)
Out = dict[str, Any]
Job = Callable[[Out], Awaitable[None]]
TIMES = ("StartTime", "EndTime", "ExportTime")
PAGE_MAX = 25  # ListExports' MaxResults and ListImports' PageSize allow 1 to 25


def public(description: Mapping[str, Any]) -> Out:
    """A stored description as the API answers it: private members dropped, times as datetimes."""
    out: Out = {}
    for name, value in description.items():
        if name.startswith("_"):
            continue
        if name in TIMES and isinstance(value, (int, float)):
            value = dt.datetime.fromtimestamp(value, dt.UTC)
        elif name == "IncrementalExportSpecification":
            value = {k: dt.datetime.fromtimestamp(v, dt.UTC) if isinstance(v, (int, float)) else v
                     for k, v in value.items()}
        out[name] = value
    return out


def iso(seconds: float) -> str:
    """A time as the export manifests write it: 2020-11-04T07:28:34.028Z."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def s3_failure(error: ServiceError) -> tuple[str, str]:
    """An S3 error as a transfer's FailureCode and FailureMessage (S3NoSuchBucket, S3AccessDenied...)."""
    known = {"NoSuchBucket": ("S3NoSuchBucket", "The specified bucket does not exist"),
             "AccessDenied": ("S3AccessDenied", "Access Denied")}
    return known.get(error.code, ("UNKNOWN", f"{error.code}: {error.message}"))


class Transfers:
    """Every export and import, by ARN; `jobs` maps a kind ("export", "import") to the coroutine that
    runs one."""

    def __init__(self, backend: Backend, api: Callable[[], ApiCaller | None],
                 objects: Callable[[], Objects | None]) -> None:
        self.backend = backend
        self._api = api
        self._objects = objects
        self.descriptions: dict[str, Out] = {}
        self.jobs: dict[str, Job] = {}
        # Each reset starts a new generation: a job of an older one stores nothing more (its transfer and its
        # table were wiped; a new table may even have its table's id).
        self.generation = 0

    @property
    def api(self) -> ApiCaller:
        api = self._api()
        if api is None:
            raise ServiceError("InternalServerError", "S3 is not reachable from DynamoDB in this server", 500)
        return api

    async def read(self, bucket: str, key: str) -> bytes:
        """An object's bytes (the served API's parser would decode a binary body as text)."""
        objects = self._objects()
        if objects is None:
            raise ServiceError("InternalServerError", "S3 is not reachable from DynamoDB in this server", 500)
        return await objects.read_object(bucket, key)

    def load(self) -> None:
        """At start: every transfer stored, and the jobs of those still in progress run again."""
        self.descriptions = {row.arn: {**json.loads(row.description), "_generation": self.generation}
                             for row in self.backend.store.history.transfers()}
        for description in self.descriptions.values():
            if self._status(description) == "IN_PROGRESS":
                self.start(description)

    def clear(self) -> None:
        self.descriptions.clear()
        self.generation += 1

    def current(self, description: Mapping[str, Any]) -> bool:
        """Whether the transfer is of this generation (not one a reset wiped) and the server runs."""
        return self.backend.running and description.get("_generation", self.generation) == self.generation

    @staticmethod
    def _status(description: Mapping[str, Any]) -> str:
        return str(description.get("ExportStatus") or description.get("ImportStatus") or "")

    async def save(self, description: Out) -> None:
        """Store a description (a new transfer, or its new state), then show it."""
        arn = description.get("ExportArn") or description.get("ImportArn")
        assert isinstance(arn, str)
        description.setdefault("_generation", self.generation)
        if not self.current(description):
            return  # a job of a wiped generation
        row = TransferRow(arn, str(description["_kind"]), str(description["_region"]),
                          float(description["StartTime"]), json.dumps(description, separators=(",", ":")))
        await self.backend.store.history.save_transfer(row)
        self.descriptions[arn] = description

    def start(self, description: Out) -> None:
        spawn(self._run(description))

    async def _run(self, description: Out) -> None:
        job = self.jobs[str(description["_kind"])]
        try:
            await job(description)
        except Exception as exc:  # a failure of ours, not of the request: the transfer says so
            log.exception("dynamodb %s %s failed", description["_kind"], description.get("ExportArn") or
                          description.get("ImportArn"))
            await self.fail(description, "UNKNOWN", str(exc) or type(exc).__name__)

    async def fail(self, description: Out, code: str, message: str) -> None:
        if not self.current(description):
            return  # stopping (the job runs again at the next start), or wiped
        status = "ExportStatus" if "ExportArn" in description else "ImportStatus"
        await self.save({**description, status: "FAILED", "FailureCode": code, "FailureMessage": message,
                         "EndTime": self.backend.now()})

    def listed(self, kind: str, region: str, table_arn: str | None, size: int | None, token: str | None
               ) -> tuple[list[Out], str | None]:
        """One page of a region's transfers of a kind (of one table, if named), in the order they were made;
        the next page's token."""
        found = [d for d in self.descriptions.values()
                 if d["_kind"] == kind and d["_region"] == region and (not table_arn or d["TableArn"] == table_arn)]
        start = int(token) if token and token.isdigit() else 0
        limit = min(size or PAGE_MAX, PAGE_MAX)
        page = found[start:start + limit]
        return page, str(start + limit) if start + limit < len(found) else None
