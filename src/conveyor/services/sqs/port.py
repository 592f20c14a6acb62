"""SQS as the other services use it (conveyor.ports.Queues): SNS and Lambda send, Lambda's mappings poll,
S3 checks a destination's policy, the pools read backlogs, `conveyor status` lists the queues."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.ports import Delivery
from conveyor.services.sqs.catalog import QueueCatalog
from conveyor.services.sqs.engine import SqsEngine
from conveyor.services.sqs.moves import MoveTasks
from conveyor.services.sqs.queue import Message, Queue

if TYPE_CHECKING:
    from conveyor.config import Config

SYSTEM_NAMES = ("SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp",
                "SequenceNumber", "MessageDeduplicationId", "MessageGroupId", "AWSTraceHeader",
                "DeadLetterQueueSourceArn")


class QueuePort:
    def __init__(self, catalog: QueueCatalog, engine: SqsEngine, config: Config, moves: MoveTasks) -> None:
        self.catalog = catalog
        self.engine = engine
        self.config = config
        self.moves = moves

    def _queue(self, queue: str, region: str | None = None) -> Queue:
        return self.catalog.queue_from_url(queue, self.config.account_id, region or self.config.region)

    async def send(self, queue: str, body: str, message_attributes: dict[str, Any] | None = None,
                   message_system_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                   dedup_id: str | None = None, delay: int | None = None) -> dict[str, Any]:
        return await self.engine.send(queue, body, message_attributes, message_system_attributes, group_id,
                                      dedup_id, delay, account=self.config.account_id,
                                      region=self.config.region)

    async def send_batch(self, deliveries: Sequence[Delivery]) -> list[str | None]:
        """Store every delivery that can be stored in one write (an SNS fan-out costs one commit); for
        each delivery: None when stored, else why its queue refused it (it does not exist, the message
        is too large...). A failed write raises: then nothing was stored."""
        outcomes: list[str | None] = []
        per_queue: dict[int, tuple[Queue, list[Message]]] = {}
        for d in deliveries:
            q = self.catalog.get(d.queue_arn)
            if q is None:
                outcomes.append(f"queue {d.queue_arn} does not exist")
                continue
            try:
                # A standard queue keeps the group id too: it names a fair queue's tenant.
                prepared = self.engine.prepare(q, d.body, d.message_attributes, group_id=d.group_id,
                                               dedup_id=d.dedup_id if q.fifo else None, sender_id=d.sender_id)
            except Exception as exc:  # the queue refuses this message (size, attributes...): a client error
                outcomes.append(str(exc) or type(exc).__name__)
                continue
            per_queue.setdefault(q.id, (q, []))[1].append(prepared)
            outcomes.append(None)
        if per_queue:
            await self.engine.enqueue_many(list(per_queue.values()))
        return outcomes

    def is_fifo(self, arn: str) -> bool | None:
        q = self.catalog.get(arn)
        return None if q is None else q.fifo

    async def deliver_from_s3(self, arn: str, bodies: Sequence[str]) -> None:
        """S3 events, one write for all of them (a queue that refuses them raises: S3 retries them)."""
        q = self.catalog.get(arn)
        sender = q.account if q is not None else ""  # (as an in-process send names its sender)
        refusals = await self.send_batch([Delivery(arn, body, sender_id=sender) for body in bodies])
        refused = next((r for r in refusals if r is not None), None)
        if refused is not None:
            raise RuntimeError(refused)

    # conveyor.ports.PolicyHolder: S3 checks a queue's policy before it sends bucket events there.
    def resource_exists(self, arn: str) -> bool:
        return self.catalog.get(arn) is not None

    def resource_policy(self, arn: str) -> str | None:
        q = self.catalog.get(arn)
        return q.attrs.get("Policy") or None if q is not None else None

    def queue_attributes(self, arn: str) -> dict[str, str] | None:
        q = self.catalog.get(arn)
        if q is None:
            return None
        return {**q.attrs, "VisibilityTimeout": str(q.visibility), "FifoQueue": "true" if q.fifo else "false"}

    async def receive(self, queue: str, max_messages: int = 1, visibility: int | None = None,
                      wait: float = 0, admit: Callable[[], bool] | None = None) -> list[dict[str, Any]]:
        q = self._queue(queue)
        msgs = await self.engine.receive(q, max_messages, visibility, wait, admit=admit)
        out = [render_message(q, m, set(SYSTEM_NAMES), ["All"]) for m in msgs]
        self.engine.release(msgs)
        return out

    async def delete(self, queue: str, receipt_handle: str) -> None:
        await self.engine.delete(self._queue(queue), receipt_handle)

    def counters(self, queue: str, region: str | None = None) -> dict[str, float]:
        return self.engine.counters(self._queue(queue, region))

    def queue_summaries(self) -> list[dict[str, Any]]:
        return queue_summaries(self.catalog, self.engine)

    async def redrive(self, dead_letter_arn: str) -> str:
        task = await self.moves.start(dead_letter_arn, None, None)
        return str(task.handle)


def queue_summaries(catalog: QueueCatalog, engine: SqsEngine) -> list[dict[str, Any]]:
    """Every queue with its region, counters and whether it is some queue's dead-letter queue."""
    dead_letter_targets = set()
    for q in catalog.queues.values():
        policy = q.attrs.get("RedrivePolicy")
        if policy:
            with contextlib.suppress(ValueError, AttributeError):
                dead_letter_targets.add(json.loads(policy).get("deadLetterTargetArn"))
    queues = [{"name": q.name, "arn": q.arn, "region": q.arn.split(":")[3], "dlq": q.arn in dead_letter_targets,
               **engine.counters(q)} for q in catalog.queues.values()]
    return sorted(queues, key=lambda q: (q["region"], q["name"]))


def render_message(q: Queue, m: Message, names: set[str], mnames: Sequence[str]) -> dict[str, Any]:
    """A message as ReceiveMessage answers it, with the system (`names`) and message (`mnames`) attributes
    asked for."""
    c = m.loaded()  # (once: each of Message's content properties checks it again)
    item: dict[str, Any] = {"MessageId": m.id, "ReceiptHandle": SqsEngine.receipt_handle(q, m),
                            "MD5OfBody": c.md5_body, "Body": c.body}
    if names:
        every = "All" in names
        values: dict[str, str | None] = {
            "SenderId": c.sender_id, "SentTimestamp": str(int(m.sent * 1000)),
            "ApproximateReceiveCount": str(m.receive_count),
            "ApproximateFirstReceiveTimestamp": str(int((m.first_receive or m.sent) * 1000)),
        }
        if q.fifo:
            values.update(SequenceNumber=f"{m.seq:020d}", MessageDeduplicationId=c.dedup_id,
                          MessageGroupId=m.group_id)
        elif m.group_id:  # a fair queue's tenant
            values["MessageGroupId"] = m.group_id
        if c.sys_attrs and "AWSTraceHeader" in c.sys_attrs:
            values["AWSTraceHeader"] = c.sys_attrs["AWSTraceHeader"]["StringValue"]
        if c.source_arn:
            values["DeadLetterQueueSourceArn"] = c.source_arn
        attrs = {k: v for k, v in values.items() if v is not None and (every or k in names)}
        if attrs:
            item["Attributes"] = attrs
    if mnames and c.attrs:
        chosen = chosen_attributes(c.attrs, mnames)
        if chosen:
            item["MessageAttributes"] = chosen
            item["MD5OfMessageAttributes"] = c.md5_attrs
        elif chosen is not None:
            item["MessageAttributes"] = {}
    return item


def chosen_attributes(attrs: dict[str, Any], names: Sequence[str]) -> dict[str, Any] | None:
    """The message attributes ReceiveMessage's MessageAttributeNames asks for: "All" or ".*" for every one,
    "prefix.*" for those whose names start with the prefix, else exact names. None when no name asked for
    could name an attribute at all ("AWS.", "..x"): AWS then leaves MessageAttributes out, where names that
    match nothing give an empty map.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html"""
    if "All" in names or ".*" in names:
        return dict(attrs)
    prefixes = tuple(n[:-2] for n in names if n.endswith(".*"))
    exact = {n for n in names if not n.endswith(".*")}
    chosen = {k: v for k, v in attrs.items() if k in exact or (prefixes and k.startswith(prefixes))}
    if chosen or prefixes or any(_could_name(n) for n in exact):
        return chosen
    return None


def _could_name(name: str) -> bool:
    low = name.lower()
    return not (name.startswith(".") or name.endswith(".") or ".." in name or low.startswith("aws.")
                or low.startswith("amazon."))
