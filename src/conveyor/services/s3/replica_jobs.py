"""Carrying out one replication job from the outbox (conveyor.services.s3.replication): the replica stored
in the destination, then the source version's ReplicationStatus completed.

A job can run twice (the outbox delivers at least once, and again after kill -9 between the replica's
commit and the row's removal): the second run finds the replica by its version id and only completes the
source's status. A destination deleted, no longer versioned, or without the Object Lock a locked version
needs fails the replication (FAILED), as S3 does for DstBucketNotFound, DstBucketUnversioned and
DstBucketObjectLockConfigMissing
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-failure-codes.html).
"""

from __future__ import annotations

import json
import logging

from conveyor.services.s3 import objectlock, replication
from conveyor.services.s3.core import Core
from conveyor.services.s3.versions import Versions

log = logging.getLogger(__name__)
_ATTEMPTS = 8


class Replicator:
    def __init__(self, core: Core, versions: Versions) -> None:
        self.core = core
        self.store = core.store
        self.versions = versions

    async def run(self, body: str) -> None:
        job = json.loads(body)
        source, key, version_id, destination = job["source"], job["key"], job["version"], job["destination"]
        if "meta" in job:
            await self._copy_meta(source, key, version_id, destination, job["meta"])
            return
        found = self.store.object(source, key, version_id, with_body=True)
        if found is None:
            return  # the version was deleted before it could replicate
        target = self.store.bucket(destination)
        locked = any(found.meta.get(name) for name in objectlock.MEMBERS)
        # DstBucketNotFound, DstBucketUnversioned, DstBucketObjectLockConfigMissing
        failed = (target is None or target.versioning != "Enabled"
                  or (locked and not objectlock.enabled(target)))
        if failed:
            log.warning("replication of %s/%s (%s) to %s failed: the destination is gone, not versioned, or "
                        "without the Object Lock its version needs", source, key, version_id, destination)
        elif self.store.object(destination, key, version_id) is None:
            await self.versions.put_replica(destination, found, job.get("storage_class"))
        await self._settle(source, key, version_id, destination, failed)

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
