"""The queue catalog: which queues exist, and their creation, deletion, attributes, tags and redrive rules.

It holds the in-memory index of queues (by account/region/name, ARN and id) over the store. As
everywhere in SQS, a queue changes in memory only once its change is committed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from conveyor.clock import Clock
from conveyor.services.sqs import attributes as qattrs
from conveyor.services.sqs import urls
from conveyor.services.sqs.errors import invalid_attr_value, invalid_param, no_queue, sqs_error
from conveyor.services.sqs.queue import Queue
from conveyor.services.sqs.store import QueueNameTaken, SqsStore

if TYPE_CHECKING:
    from conveyor.services.sqs.attributes import GivenQueueAttributes

QueueKey = tuple[str, str, str]  # account, region, name


class QueueCatalog:
    def __init__(self, store: SqsStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.queues: dict[QueueKey, Queue] = {}
        self.by_arn: dict[str, Queue] = {}
        self.by_id: dict[int, Queue] = {}
        self.deleted_at: dict[QueueKey, float] = {}  # for QueueDeletedRecently
        self._next_qid = 1

    # -- lifecycle ---------------------------------------------------------------------------------
    def load(self) -> None:
        """Restore the queues (without their messages) from the store."""
        for rec in self.store.queues():
            q = Queue(self.clock, rec.id, rec.account, rec.region, rec.name, rec.attrs, rec.tags, rec.created,
                      rec.modified)
            q.last_purge = rec.last_purge if rec.last_purge is not None else -1e18
            self._register(q)
            self._next_qid = max(self._next_qid, q.id + 1)

    def close(self) -> None:
        for q in self.queues.values():
            q.close()

    def clear(self) -> None:
        self.close()
        self.queues.clear()
        self.by_arn.clear()
        self.by_id.clear()
        self.deleted_at.clear()

    def _register(self, q: Queue) -> None:
        self.queues[(q.account, q.region, q.name)] = q
        self.by_arn[q.arn] = q
        self.by_id[q.id] = q
        q.on_expired = self._expired

    def _unregister(self, q: Queue) -> None:
        self.queues.pop((q.account, q.region, q.name), None)
        self.by_arn.pop(q.arn, None)
        self.by_id.pop(q.id, None)
        q.close()

    def _expired(self, q: Queue, keys: list[int]) -> None:
        self.store.forget_expired(keys)

    # -- lookups -----------------------------------------------------------------------------------
    def holds(self, q: Queue) -> bool:
        """Whether `q` is still in the catalog (not deleted meanwhile)."""
        return self.by_id.get(q.id) is q

    def get(self, arn: str) -> Queue | None:
        return self.by_arn.get(arn)

    def named(self, account: str, region: str, name: str) -> Queue | None:
        return self.queues.get((account, region, name))

    def queue_from_url(self, url: str, account: str, region: str) -> Queue:
        """The queue a QueueUrl (any form `urls` accepts) or ARN names. `account` and `region` are the
        caller's: they apply when the URL does not say (a region-bearing URL names its own region)."""
        if url.startswith("arn:"):
            q = self.by_arn.get(url)
        else:
            address = urls.parse_cached(url)
            q = self.queues.get((address.account or account, address.region or region, address.name))
        if q is None:
            raise no_queue()
        return q

    @staticmethod
    def queue_url(q: Queue, base_url: str) -> str:
        return urls.queue_url(base_url, q.region, q.account, q.name)

    def list_queues(self, account: str, region: str, prefix: str = "") -> list[Queue]:
        return sorted(
            (q for (a, r, n), q in self.queues.items() if a == account and r == region and n.startswith(prefix)),
            key=lambda q: q.name,
        )

    def dead_letter_sources(self, dlq: Queue) -> list[Queue]:
        return sorted((q for q in self.queues.values() if q.redrive and q.redrive["deadLetterTargetArn"] == dlq.arn),
                      key=lambda q: q.name)

    # -- create and delete -------------------------------------------------------------------------
    async def create_queue(self, account: str, region: str, name: str, attrs: GivenQueueAttributes | None,
                           tags: Mapping[str, str] | None) -> Queue:
        wanted = attrs or {}
        fifo_flag = wanted.get("FifoQueue", "false").lower() == "true"
        base = name[:-5] if name.endswith(".fifo") else name
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", base) or len(name) > 80:
            raise invalid_param("Can only include alphanumeric characters, hyphens, or underscores. "
                                "1 to 80 in length")
        if fifo_flag != name.endswith(".fifo"):
            raise invalid_param("The name of a FIFO queue can only include alphanumeric characters, hyphens, "
                                "or underscores, must end with .fifo suffix and be 1 to 80 in length."
                                if fifo_flag or name.endswith(".fifo") else "Invalid queue name.")
        given = qattrs.normalize(wanted, fifo_flag, creating=True)
        if tags and len(tags) > 50:
            raise invalid_param(f"Too many tags added for queue {name}.")
        _check_tags(tags or {})
        key = (account, region, name)
        existing = self.queues.get(key)
        now = self.clock.now()
        if existing is not None:
            return self._same_queue(existing, given, fifo_flag)
        deleted = self.deleted_at.get(key)
        if deleted is not None and now - deleted < 60:
            raise sqs_error("QueueDeletedRecently", "You must wait 60 seconds after deleting a queue before "
                            "you can create another queue with the same name.")
        full = qattrs.defaults(fifo_flag)
        full.update(given)
        qattrs.settle_encryption(full, given)
        arn = f"arn:aws:sqs:{region}:{account}:{name}"
        self._check_redrive(full, fifo_flag, arn)
        q = Queue(self.clock, self._next_qid, account, region, name, full, dict(tags or {}),
                  float(int(now)), float(int(now)))
        self._next_qid += 1
        try:
            await self.store.insert_queue(q)
        except QueueNameTaken:
            # The same name was created concurrently and committed first (the name is unique).
            existing = self.queues.get(key)
            if existing is None:
                raise
            return self._same_queue(existing, given, fifo_flag)
        self._register(q)
        return q

    @staticmethod
    def _same_queue(existing: Queue, given: dict[str, str], fifo: bool) -> Queue:
        """CreateQueue of a name that exists: the queue itself if the attributes asked for match."""
        for k, v in given.items():
            if existing.attrs.get(k, qattrs.defaults(fifo).get(k)) != v:
                raise sqs_error("QueueNameExists", "A queue already exists with the same name and a different "
                                f"value for attribute {k}")
        return existing

    def _check_redrive(self, attrs: dict[str, str], fifo: bool, arn: str) -> None:
        if attrs.get("FifoThroughputLimit") == "perMessageGroupId" and attrs.get("DeduplicationScope") != "messageGroup":
            raise invalid_attr_value("FifoThroughputLimit", "perMessageGroupId is allowed only when "
                                     "DeduplicationScope is messageGroup.")
        rp = attrs.get("RedrivePolicy")
        if not rp:
            return
        target = self.by_arn.get(json.loads(rp)["deadLetterTargetArn"])
        if target is None:
            raise invalid_attr_value("RedrivePolicy", "Dead letter target does not exist.")
        if target.fifo != fifo:
            raise invalid_attr_value("RedrivePolicy", "Dead-letter queue must be of the same type as the "
                                     "source queue (FIFO or standard).")
        allow = target.attrs.get("RedriveAllowPolicy")
        if allow:
            policy = json.loads(allow)
            perm = policy["redrivePermission"]
            if perm == "denyAll" or (perm == "byQueue" and arn not in policy.get("sourceQueueArns", [])):
                raise invalid_attr_value("RedrivePolicy", "Queue is not allowed to use the dead-letter "
                                         "queue by its RedriveAllowPolicy.")

    async def delete_queue(self, q: Queue) -> None:
        q.content_fence = 2**63  # (a receive while the deletion commits finds no row: it takes nothing)
        await self.store.delete_queue(q.id)
        if not self.holds(q):
            return  # deleted concurrently
        self._unregister(q)
        self.deleted_at[(q.account, q.region, q.name)] = self.clock.now()
        q.discard_all()

    # -- attributes and tags -----------------------------------------------------------------------
    async def set_attributes(self, q: Queue, attrs: GivenQueueAttributes) -> None:
        given = qattrs.normalize(attrs, q.fifo, creating=False)
        merged = dict(q.attrs)
        for k, v in given.items():
            if v == "" and k in ("RedrivePolicy", "RedriveAllowPolicy", "Policy", "KmsMasterKeyId"):
                merged.pop(k, None)
            else:
                merged[k] = v
        qattrs.settle_encryption(merged, given)
        self._check_redrive(merged, q.fifo, q.arn)
        await self.save_attrs(q, merged)

    async def save_attrs(self, q: Queue, attrs: dict[str, str]) -> None:
        """Replace a queue's attributes (validated already; AddPermission and RemovePermission edit its
        Policy)."""
        modified = float(int(self.clock.now()))
        await self.store.update_queue(q.id, attrs, q.tags, modified)
        q.attrs, q.modified = attrs, modified
        q.refresh()

    def get_attributes(self, q: Queue, names: Sequence[str] | None) -> dict[str, str]:
        wanted = set(names or [])
        for n in wanted:
            if n != "All" and n not in qattrs.ALL_NAMES:
                raise sqs_error("InvalidAttributeName", f"Unknown Attribute {n}.")
        if "All" in wanted:
            wanted = qattrs.ALL_NAMES
        out: dict[str, str] = {}
        live = {
            "QueueArn": q.arn,
            "ApproximateNumberOfMessages": str(q.n_available),
            "ApproximateNumberOfMessagesNotVisible": str(q.n_inflight),
            "ApproximateNumberOfMessagesDelayed": str(q.n_delayed),
            "CreatedTimestamp": str(int(q.created)),
            "LastModifiedTimestamp": str(int(q.modified)),
        }
        for n in sorted(wanted):
            if n in live:
                out[n] = live[n]
            elif n in q.attrs:
                out[n] = q.attrs[n]
        return out

    async def tag(self, q: Queue, tags: Mapping[str, str]) -> None:
        _check_tags(tags)
        merged = {**q.tags, **tags}
        if len(merged) > 50:
            raise invalid_param(f"Too many tags added for queue {q.name}.")
        await self.store.update_queue(q.id, q.attrs, merged, q.modified)
        q.tags = merged

    async def untag(self, q: Queue, keys: Sequence[str]) -> None:
        kept = {k: v for k, v in q.tags.items() if k not in keys}
        await self.store.update_queue(q.id, q.attrs, kept, q.modified)
        q.tags = kept


def _check_tags(tags: Mapping[str, str]) -> None:
    """A tag key of 1 to 128 characters, with AWS's message (as UntagQueue says it too), and a value of up to
    256 (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html: "The
    maximum tag Value length is 256 Unicode characters"), refused in the same words: no recorded AWS answer
    for a value was found."""
    if any(not 1 <= len(key) <= 128 for key in tags):
        raise invalid_param("Tag keys must be between 1 and 128 characters in length.")
    if any(len(value) > 256 for value in tags.values()):
        raise invalid_param("Tag values must be between 0 and 256 characters in length.")
