"""Carrying out one replication job from the outbox (conveyor.services.s3.replication): the replica stored
in the destination, then the source version's ReplicationStatus completed.

A job can run twice (the outbox delivers at least once, and again after kill -9 between the replica's
commit and the row's removal): the second run finds the replica by its version id and only completes the
source's status. A role S3 may not replicate as (conveyor.services.s3.replication), a destination deleted, no longer versioned, or without the Object Lock a locked version
needs fails the replication (FAILED), as S3 does for DstBucketNotFound, DstBucketUnversioned and
DstBucketObjectLockConfigMissing
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-failure-codes.html).
"""

from __future__ import annotations

import json
import logging

from conveyor.ports import Ports
from conveyor.services.s3 import objectlock, replication
from conveyor.services.s3.core import Core
from conveyor.services.s3.versions import Versions

log = logging.getLogger(__name__)
_ATTEMPTS = 8
S3_PRINCIPAL = "s3.amazonaws.com"


class Replicator:
    def __init__(self, core: Core, versions: Versions, ports: Ports) -> None:
        self.core = core
        self.store = core.store
        self.versions = versions
        self.ports = ports

    async def run(self, body: str) -> None:
        job = json.loads(body)
        source, key, version_id, destination = job["source"], job["key"], job["version"], job["destination"]
        found = self.store.object(source, key, version_id, with_body=True)
        if found is None:
            return  # the version was deleted before it could replicate
        action = "s3:ReplicateTags" if "meta" in job else (
            "s3:ReplicateDelete" if found.delete_marker else "s3:ReplicateObject")
        refused = self._role_refusal(str(job.get("role") or ""), source, destination, key, action)
        if "meta" in job:
            if refused is None:
                await self._copy_meta(source, key, version_id, destination, job["meta"])
            return
        target = self.store.bucket(destination)
        locked = any(found.meta.get(name) for name in objectlock.MEMBERS)
        # AssumeRoleNotPermitted, DstBucketNotFound, DstBucketUnversioned, DstBucketObjectLockConfigMissing
        failed = (refused is not None or target is None or target.versioning != "Enabled"
                  or (locked and not objectlock.enabled(target)))
        if failed:
            log.warning("replication of %s/%s (%s) to %s failed: %s", source, key, version_id, destination,
                        refused or "the destination is gone, not versioned, or without the Object Lock its "
                        "version needs")
        elif self.store.object(destination, key, version_id) is None:
            await self.versions.put_replica(destination, found, job.get("storage_class"))
        await self._settle(source, key, version_id, destination, failed)

    def _role_refusal(self, role: str, source: str, destination: str, key: str, action: str) -> str | None:
        """Why S3 may not replicate as `role`, or None: the role must trust s3.amazonaws.com, and with
        `--iam enforce` allow reading the source version and writing the replica."""
        sessions = self.ports.role_sessions
        if sessions is not None and not sessions.assumable_by(role, S3_PRINCIPAL):
            return f"S3 cannot assume the replication role {role!r}"
        access = self.ports.access
        if access is None:
            return None
        needs = [("s3:GetObjectVersionForReplication", f"arn:aws:s3:::{source}/{key}"),
                 (action, f"arn:aws:s3:::{destination}/{key}")]
        refusal = access.role_refusal(role, "s3-replication", needs, f"s3.Replication {source} -> {destination}")
        return refusal.message if refusal is not None else None

    async def _copy_meta(self, source: str, key: str, version_id: str, destination: str, name: str) -> None:
        """One item of the source version's metadata (as it is now) onto its replica, if there is one (a
        replica stored after the change already carries it)."""
        for _ in range(_ATTEMPTS):
            found = self.store.object(source, key, version_id)
            replica = self.store.object(destination, key, version_id)
            if found is None or replica is None:
                return
            meta = {k: v for k, v in replica.meta.items() if k != name}
            if name in found.meta:
                meta[name] = found.meta[name]
            if await self.store.replace_object_meta(destination, key, version_id, replica.meta_json,
                                                    json.dumps(meta)):
                return
        raise RuntimeError(f"the metadata of {destination}/{key} kept changing")

    async def _settle(self, source: str, key: str, version_id: str, destination: str, failed: bool) -> None:
        """The source version no longer waits for `destination`: COMPLETED when it waits for none, FAILED
        as soon as one failed."""
        for _ in range(_ATTEMPTS):
            found = self.store.object(source, key, version_id)
            if found is None:
                return
            meta = dict(found.meta)
            waiting = [name for name in meta.get(replication.PENDING) or [] if name != destination]
            if failed:
                meta[replication.STATUS] = "FAILED"
            elif not waiting and meta.get(replication.STATUS) == "PENDING":
                meta[replication.STATUS] = "COMPLETED"
            if waiting:
                meta[replication.PENDING] = waiting
            else:
                meta.pop(replication.PENDING, None)
            if await self.store.replace_object_meta(source, key, version_id, found.meta_json, json.dumps(meta)):
                return
        raise RuntimeError(f"the metadata of {source}/{key} kept changing")  # the outbox retries the job
