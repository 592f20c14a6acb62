"""The queue catalog side of the SQS engine: create, delete, attributes, tags, listings, redrive rules.

As everywhere in the engine, a queue changes in memory only once its change is committed.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import TYPE_CHECKING

from conveyor.services.sqs import attributes as qattrs
from conveyor.services.sqs.errors import invalid_attr_value, invalid_param, sqs_error
from conveyor.services.sqs.queue import Queue

if TYPE_CHECKING:
    from conveyor.services.sqs.engine import SqsEngine


class QueueCatalog:
    async def create_queue(self: SqsEngine, account: str, region: str, name: str, attrs: dict[str, str] | None,
                           tags: dict[str, str] | None) -> Queue:
        attrs = dict(attrs or {})
        fifo_flag = attrs.get("FifoQueue", "false").lower() == "true"
        base = name[:-5] if name.endswith(".fifo") else name
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", base) or len(name) > 80:
            raise invalid_param("Can only include alphanumeric characters, hyphens, or underscores. "
                                "1 to 80 in length")
        if fifo_flag != name.endswith(".fifo"):
            raise invalid_param("The name of a FIFO queue can only include alphanumeric characters, hyphens, "
                                "or underscores, must end with .fifo suffix and be 1 to 80 in length."
                                if fifo_flag or name.endswith(".fifo") else "Invalid queue name.")
        given = qattrs.normalize(attrs, fifo_flag, creating=True)
        if tags and len(tags) > 50:
            raise invalid_param("Too many tags added for queue (maximum 50).")
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
        arn = f"arn:aws:sqs:{region}:{account}:{name}"
        self._check_redrive(full, fifo_flag, arn, account, region)
        q = Queue(self.clock, self._next_qid, account, region, name, full, dict(tags or {}),
                  float(int(now)), float(int(now)))
        self._next_qid += 1
        try:
            await self._write(lambda c: c.execute(
                "INSERT INTO queues (id, account, region, name, attrs, tags, created, modified) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (q.id, account, region, name, json.dumps(q.attrs), json.dumps(q.tags), q.created, q.modified)))
        except sqlite3.IntegrityError:
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

    def _check_redrive(self: SqsEngine, attrs: dict[str, str], fifo: bool, arn: str, account: str, region: str) -> None:
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

    def _unregister(self: SqsEngine, q: Queue) -> None:
        self.queues.pop((q.account, q.region, q.name), None)
        self.by_arn.pop(q.arn, None)
        self.by_id.pop(q.id, None)
        q.close()

    async def delete_queue(self: SqsEngine, q: Queue) -> None:
        def run(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM messages WHERE queue_id = ?", (q.id,))
            c.execute("DELETE FROM dedup WHERE queue_id = ?", (q.id,))
            c.execute("DELETE FROM queues WHERE id = ?", (q.id,))

        await self._write(run, grows=False)
        if self.by_id.get(q.id) is not q:
            return  # deleted concurrently
        self._unregister(q)
        self.deleted_at[(q.account, q.region, q.name)] = self.clock.now()
        for msg in list(q.messages.values()):
            q.remove(msg)

    async def set_attributes(self: SqsEngine, q: Queue, attrs: dict[str, str]) -> None:
        given = qattrs.normalize(attrs, q.fifo, creating=False)
        merged = dict(q.attrs)
        for k, v in given.items():
            if v == "" and k in ("RedrivePolicy", "RedriveAllowPolicy", "Policy", "KmsMasterKeyId"):
                merged.pop(k, None)
            else:
                merged[k] = v
        self._check_redrive(merged, q.fifo, q.arn, q.account, q.region)
        modified = float(int(self.clock.now()))
        await self._save_queue(q, merged, q.tags, modified)
        q.attrs, q.modified = merged, modified
        q.refresh()

    async def _save_queue(self: SqsEngine, q: Queue, attrs: dict[str, str], tags: dict[str, str],
                          modified: float) -> None:
        args = (json.dumps(attrs), json.dumps(tags), modified, q.id)
        await self._write(lambda c: c.execute(
            "UPDATE queues SET attrs = ?, tags = ?, modified = ? WHERE id = ?", args))

    def get_attributes(self: SqsEngine, q: Queue, names: list[str] | None) -> dict[str, str]:
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

    async def tag(self: SqsEngine, q: Queue, tags: dict[str, str]) -> None:
        merged = {**q.tags, **tags}
        if len(merged) > 50:
            raise invalid_param("Too many tags added for queue (maximum 50).")
        await self._save_queue(q, q.attrs, merged, q.modified)
        q.tags = merged

    async def save_attrs(self: SqsEngine, q: Queue, attrs: dict[str, str]) -> None:
        """Replace a queue's attributes (AddPermission, RemovePermission edit its Policy)."""
        modified = float(int(self.clock.now()))
        await self._save_queue(q, attrs, q.tags, modified)
        q.attrs, q.modified = attrs, modified
        q.refresh()

    async def untag(self: SqsEngine, q: Queue, keys: list[str]) -> None:
        kept = {k: v for k, v in q.tags.items() if k not in keys}
        await self._save_queue(q, q.attrs, kept, q.modified)
        q.tags = kept

    def list_queues(self: SqsEngine, account: str, region: str, prefix: str = "") -> list[Queue]:
        return sorted(
            (q for (a, r, n), q in self.queues.items() if a == account and r == region and n.startswith(prefix)),
            key=lambda q: q.name,
        )

    def dead_letter_sources(self: SqsEngine, dlq: Queue) -> list[Queue]:
        return sorted((q for q in self.queues.values() if q.redrive and q.redrive["deadLetterTargetArn"] == dlq.arn),
                      key=lambda q: q.name)
