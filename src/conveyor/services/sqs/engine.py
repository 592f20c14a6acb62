"""The SQS engine: the messages of the catalog's queues, with no HTTP in sight.

Other services (S3 notifications, SNS fan-out, functions, workers) call it in-process. Every change a
caller is told about is committed to SQLite before the call returns, and the in-memory queues change only
once that commit has succeeded: a write that fails (a full disk) leaves them as they were. Messages a
receive takes are held in flight while its commit runs (so no other receive takes them too) and put back
if it fails.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import itertools
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from conveyor import builtin_metrics, ids, waiting
from conveyor.clock import Clock, TimerHandle
from conveyor.ports import MetricsSink
from conveyor.services.sqs import messages as checks
from conveyor.services.sqs.catalog import QueueCatalog
from conveyor.services.sqs.errors import invalid_param, missing_param, sqs_error
from conveyor.services.sqs.md5 import md5_of_attributes
from conveyor.services.sqs.message_ids import new_packed_message_id
from conveyor.services.sqs.messages import GivenAttributes, GivenSystemAttributes
from conveyor.services.sqs.queue import AVAILABLE, GONE, INFLIGHT, Content, Message, Queue
from conveyor.services.sqs.recent import RecentContents
from conveyor.services.sqs.store import DeadLetterMove, DedupRecord, IndexRow, SqsStore
from conveyor.wire import ServiceError

DEDUP_WINDOW = 300.0
MAX_VISIBILITY = 43200
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _keep(msg: Message) -> bool:
    return False


def _queue_of(row: IndexRow) -> int:
    return row[0]


def _seq_of(row: IndexRow) -> int:
    return row[2]


class _Poll:
    """The deadline of one long poll.

    The deadline timer firing is what ends the poll, not a comparison with the clock afterwards: an
    event loop may run a timer a few milliseconds before `clock.now()` reaches its due time (uvloop
    rounds delays to whole milliseconds against a loop time cached at the start of each iteration), and
    a poll that then found "not yet" and parked again had no timer left, so it waited for a message
    that might never come.
    """

    __slots__ = ("expired", "fut", "timer")

    def __init__(self) -> None:
        self.expired = False
        self.fut: asyncio.Future[None] | None = None
        self.timer: TimerHandle | None = None

    def park(self, fut: asyncio.Future[None]) -> None:
        self.fut = fut

    def expire(self) -> None:
        self.expired = True
        self.timer = None
        if self.fut is not None and not self.fut.done():
            self.fut.set_result(None)  # only this poll: the queue's other waiters keep their own deadlines

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class SqsEngine:
    """The messages of the catalog's queues: send, receive, delete, visibility, purge."""

    def __init__(self, store: SqsStore, catalog: QueueCatalog, clock: Clock) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self._last_seq = 0
        self.recent = RecentContents()  # what was just sent, so a receive soon after need not read SQLite
        self.metrics: MetricsSink | None = None  # CloudWatch's AWS/SQS counts, set by the service at start

    def load(self) -> None:
        """Restore the messages and deduplication windows into the catalog's (loaded) queues, and forget
        what expired while the server was down."""
        now = self.clock.now()
        by_id = self.catalog.by_id
        expired: list[int] = []
        for block in self.store.index_blocks():
            for queue_id, rows in itertools.groupby(block, key=_queue_of):
                q = by_id.get(queue_id)
                if q is None:
                    expired += [row[9] for row in rows]
                    continue
                taken = list(rows)
                q.restore(taken, now, expired)
                # (in key order: a message moved to a FIFO dead-letter queue has a later sequence number)
                self._last_seq = max(self._last_seq, max(map(_seq_of, taken)))
        for q in by_id.values():
            q.settle()
        for entry in self.store.dedup_entries(now):
            q = by_id.get(entry.queue_id)
            if q is not None:
                q.dedup[(entry.scope, entry.dedup_id)] = (entry.expires, entry.message_id, entry.seq)
                self._last_seq = max(self._last_seq, entry.seq)
        self.store.drop_at_start(expired, now)

    # -- sending ---------------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        seq = max(self._last_seq + 1, int(self.clock.now() * 1_000_000))
        self._last_seq = seq
        return seq

    def prepare(self, q: Queue, body: str, attrs: GivenAttributes | None = None,
                sys_attrs: GivenSystemAttributes | None = None, group_id: str | None = None,
                dedup_id: str | None = None, delay: int | None = None, sender_id: str = "") -> Message:
        """Validate one message and build it (not yet in the queue)."""
        data = checks.checked_body(body)
        size = len(data)
        if attrs:
            size += checks.check_attributes(attrs)
        checks.check_size(size, q.max_size)
        if sys_attrs:
            checks.check_system_attributes(sys_attrs)
        if delay is not None and not 0 <= delay <= 900:
            raise invalid_param(f"Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must "
                                "be >= 0 and <= 900.")
        if group_id is not None and (len(group_id) > 128 or not all(33 <= ord(ch) <= 126 for ch in group_id)):
            raise invalid_param(f"Value {group_id} for parameter MessageGroupId is invalid. Reason: MessageGroupId "
                                "can only include alphanumeric and punctuation characters. 1 to 128 in length.")
        if q.fifo:
            if delay:
                raise invalid_param(f"Value {delay} for parameter DelaySeconds is invalid. Reason: The request "
                                    "include parameter that is not valid for this queue type.")
            if not group_id:
                raise missing_param("MessageGroupId")
            if not dedup_id:
                if not q.content_dedup:
                    raise invalid_param("The queue should either have ContentBasedDeduplication enabled or "
                                        "MessageDeduplicationId provided explicitly")
                dedup_id = hashlib.sha256(body.encode("utf-8")).hexdigest()
            elif len(dedup_id) > 128 or not all(33 <= ord(ch) <= 126 for ch in dedup_id):
                raise invalid_param(f"Value {dedup_id} for parameter MessageDeduplicationId is invalid. Reason: "
                                    "MessageDeduplicationId can only include alphanumeric and punctuation "
                                    "characters. 1 to 128 in length.")
        elif dedup_id:
            # AWS's own wording ("include"), as it answers a deduplication id sent to a standard queue.
            raise invalid_param(f"Value {dedup_id} for parameter MessageDeduplicationId is invalid. Reason: The "
                                "request include parameter that is not valid for this queue type.")
        kept = checks.clean_attrs(attrs) if attrs else None
        kept_sys = checks.clean_attrs(sys_attrs) if sys_attrs else None
        now = self.clock.now()
        wait = q.delay if delay is None else delay
        mid, packed_id = new_packed_message_id()
        content = Content(body, hashlib.md5(data).hexdigest(), kept, md5_of_attributes(kept) if kept else None,
                          kept_sys, md5_of_attributes(kept_sys) if kept_sys else None, sender_id, dedup_id, None,
                          len(data), packed_id)
        return Message(id=mid, seq=0, sent=now, visible_at=now + wait if wait else now,
                       group_id=group_id or None, content=content, queue=q)

    async def enqueue(self, q: Queue, msgs: list[Message]) -> list[dict[str, Any]]:
        """Persist and publish prepared messages; FIFO duplicates within the window are not re-added."""
        return (await self.enqueue_many([(q, msgs)]))[0]

    async def enqueue_many(self, batches: list[tuple[Queue, list[Message]]]) -> list[list[dict[str, Any]]]:
        """enqueue() into several queues in one write: an SNS fan-out costs one commit, not one per queue
        (separate writes issued together can still land in separate group commits)."""
        now = self.clock.now()
        results: list[list[dict[str, Any]]] = []
        fresh: list[tuple[Queue, Message]] = []
        fresh_by_batch: list[tuple[Queue, list[Message]]] = []
        dedup: list[DedupRecord] = []
        claimed: list[tuple[Queue, tuple[str, str]]] = []
        seq = max(self._last_seq, int(now * 1_000_000) - 1)  # (as _next_seq gives them, the clock read once)
        for q, msgs in batches:
            out: list[dict[str, Any]] = []
            kept: list[Message] = []
            fresh_by_batch.append((q, kept))
            for msg in msgs:
                seq += 1
                msg.seq = msg.key = seq
                if q.fifo:
                    key = (msg.group if q.dedup_by_group else "", msg.dedup_id or "")
                    hit = q.dedup_lookup(key, now)
                    if hit is not None:
                        out.append(self._send_result(msg, hit[1], hit[2], q.fifo))
                        continue
                    q.dedup[key] = (now + DEDUP_WINDOW, msg.id, msg.seq)
                    claimed.append((q, key))
                    dedup.append(DedupRecord(q.id, key[0], key[1], now + DEDUP_WINDOW, msg.id, msg.seq))
                fresh.append((q, msg))
                kept.append(msg)
                out.append(self._send_result(msg, msg.id, msg.seq, q.fifo))
            results.append(out)
        self._last_seq = seq  # (before the write: a purge asked for from now on covers these)
        try:
            await self.store.insert_messages(fresh, dedup)
        except Exception:
            for q, key in claimed:
                q.dedup.pop(key, None)
            raise
        now = self.clock.now()
        for q, added in fresh_by_batch:
            if not added or not self.catalog.holds(q):
                continue
            sizes = [m.loaded().size for m in added]
            self.recent.keep(q, added)
            q.add_many(added, now)  # (from here on their content is in SQLite only)
            builtin_metrics.sqs_sent(self.metrics, q.region, q.name, sizes)
        return results

    @staticmethod
    def _send_result(msg: Message, mid: str, seq: int, fifo: bool) -> dict[str, Any]:
        c = msg.loaded()  # (once: each of Message's content properties checks it again)
        out: dict[str, Any] = {"MessageId": mid, "MD5OfMessageBody": c.md5_body}
        if c.md5_attrs:
            out["MD5OfMessageAttributes"] = c.md5_attrs
        if c.md5_sys:
            out["MD5OfMessageSystemAttributes"] = c.md5_sys
        if fifo:
            out["SequenceNumber"] = f"{seq:020d}"
        return out

    async def send(self, queue: str | Queue, body: str, message_attributes: GivenAttributes | None = None,
                   message_system_attributes: GivenSystemAttributes | None = None, group_id: str | None = None,
                   dedup_id: str | None = None, delay: int | None = None, sender_id: str = "",
                   account: str = "", region: str = "") -> dict[str, Any]:
        """In-process send (by Queue, ARN or URL); returns the SendMessage result dict."""
        q = queue if isinstance(queue, Queue) else self.catalog.queue_from_url(queue, account, region)
        msg = self.prepare(q, body, message_attributes, message_system_attributes, group_id, dedup_id, delay,
                           sender_id or q.account)
        return (await self.enqueue(q, [msg]))[0]

    # -- receiving -------------------------------------------------------------------------------------
    def _divert(self, q: Queue, moved: list[tuple[Message, Queue]]) -> Callable[[Message], bool]:
        """Whether a message taken from `q` goes to its dead-letter queue instead (noting it in `moved`)."""
        policy = q.redrive
        if not policy:
            return _keep
        dlq = self.catalog.get(policy["deadLetterTargetArn"])
        limit = policy["maxReceiveCount"]
        if dlq is q:
            # AWS lets a queue name itself as its dead-letter queue; moving a message to where it already
            # is changes nothing, so it is received as usual (re-adding it here would loop forever).
            return lambda msg: False

        def divert(msg: Message) -> bool:
            if dlq is None or msg.receive_count < limit:
                return False
            q.remove(msg)  # it enters the dead-letter queue once the move is committed
            moved.append((msg, dlq))
            return True

        return divert

    async def receive(self, q: Queue, max_n: int = 1, visibility: int | None = None, wait: float = 0,
                      attempt_id: str | None = None, admit: Callable[[], bool] | None = None) -> list[Message]:
        """Receive up to max_n messages, parking up to `wait` seconds for one to arrive; `admit` False (asked
        before each try) ends it with none."""
        if attempt_id and q.fifo:
            cached = q.attempts.get(attempt_id)
            if (cached and cached[0] > self.clock.now()
                    and all(m.state == INFLIGHT and m.receipt == r for m, r in cached[1])):
                return self.with_content([m for m, _ in cached[1]])
        deadline = self.clock.now() + wait
        poll = _Poll()
        try:
            while True:
                if admit is not None and not admit():
                    msgs = []
                    break
                msgs = await self._receive_now(q, max_n, visibility)
                if (msgs or wait <= 0 or poll.expired or self.clock.now() >= deadline
                        or not self.catalog.holds(q)):
                    break
                with waiting.parked():  # a receive whose client has gone away ends here
                    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    q.waiters.append(fut)
                    poll.park(fut)
                    if poll.timer is None:
                        poll.timer = self.clock.call_at(deadline, poll.expire)
                    try:
                        await fut
                    except asyncio.CancelledError:
                        if fut.done() and not fut.cancelled() and not poll.expired:
                            q.wake()  # woken for a message this receive will not take: pass the wake on
                        raise
        finally:
            poll.cancel()
            q.prune_waiters()
        if attempt_id and q.fifo and msgs:
            now = self.clock.now()
            q.attempts = {k: v for k, v in q.attempts.items() if v[0] > now}
            q.attempts[attempt_id] = (now + 300, [(m, m.receipt or "") for m in msgs])
        msgs = self.with_content(msgs)
        builtin_metrics.sqs_received(self.metrics, q.region, q.name, len(msgs))
        return msgs

    def with_content(self, msgs: list[Message]) -> list[Message]:
        """The messages with their bodies and attributes: those sent lately from memory (self.recent), the
        others read from SQLite (one query, on the loop: no await between taking them and answering). A
        message whose row is gone (a purge or a queue deletion committed while it was taken) is left out:
        it is being removed."""
        missing: list[int] = []
        take = self.recent.take
        for m in msgs:
            if m.content is None:
                m.content = take(m)
                if m.content is None:
                    missing.append(m.key)
        if not missing:
            return msgs
        found = self.store.contents(missing)
        for m in msgs:
            if m.content is None:
                m.content = found.get(m.key)
        return [m for m in msgs if m.content is not None]

    @staticmethod
    def release(msgs: list[Message]) -> None:
        """Answered: their content goes back to living in SQLite only."""
        for m in msgs:
            m.content = None

    async def _receive_now(self, q: Queue, max_n: int, visibility: int | None) -> list[Message]:
        moved: list[tuple[Message, Queue]] = []
        now = self.clock.now()
        vis = q.visibility if visibility is None else visibility
        msgs = q.take(max_n, now, vis, self._divert(q, moved))  # held in flight while the commit runs
        if not msgs and not moved:
            return msgs
        before = [(m, m.receive_count, m.first_receive, m.receipt, m.visible_at) for m in msgs] if moved else []
        # One fresh token for the whole receive: a handle also names its message, so each is still unique
        # to one message and one receive of it.
        receipt = ids.token_hex(16)
        for m in msgs:
            m.receive_count += 1
            if m.first_receive is None:
                m.first_receive = now
            m.receipt = receipt
        # A FIFO dead-letter queue orders what it receives by its own sequence.
        dead = [(m, dlq, self._next_seq() if dlq.fifo else m.seq) for m, dlq in moved]
        if not dead:
            self.store.record_receive_behind(msgs)
            return self._visible_again_at_once(q, msgs, vis, now)
        try:
            await self.store.record_receive(msgs, [DeadLetterMove(m.key, dlq.id, q.arn, now, seq)
                                                   for m, dlq, seq in dead])
        except Exception:
            self._undo_receive(q, before, moved)
            raise
        now = self.clock.now()
        for m, dlq, seq in dead:
            m.receipt, m.visible_at, m.seq = None, now, seq  # (its DeadLetterQueueSourceArn is stored)
            dlq.add(m, now)
        return self._visible_again_at_once(q, msgs, vis, now)

    @staticmethod
    def _visible_again_at_once(q: Queue, msgs: list[Message], vis: int, now: float) -> list[Message]:
        if vis <= 0:  # visible again at once; do not wait for a timer tick
            for m in msgs:
                if m.state == INFLIGHT and m.queue is q:
                    q.set_visibility(m, now, now)
        return msgs

    def _undo_receive(self, q: Queue, before: list[tuple[Message, int, float | None, str | None, float]],
                      moved: list[tuple[Message, Queue]]) -> None:
        """The receive's commit failed: what it took is receivable again, exactly as it was."""
        now = self.clock.now()
        for m, receive_count, first_receive, receipt, visible_at in before:
            if m.queue is not q or m.state != INFLIGHT:
                continue
            m.receive_count, m.first_receive, m.receipt = receive_count, first_receive, receipt
            q.set_visibility(m, min(visible_at, now), now)
        for m, _ in moved:
            if m.queue is q and m.state == GONE and m.id not in q.messages:
                q.add(m, now)

    # -- receipt handles -------------------------------------------------------------------------------
    @staticmethod
    def receipt_handle(q: Queue, msg: Message) -> str:
        """URL-safe base64 of "queue id:message id:receipt" (binascii directly: base64's wrappers cost more
        than the encoding)."""
        raw = f"{q.id}:{msg.id}:{msg.receipt}".encode()
        return binascii.b2a_base64(raw, newline=False).translate(_TO_URLSAFE).decode()

    def _parse_handle(self, q: Queue, handle: str) -> tuple[Message | None, str]:
        try:
            # (as base64.urlsafe_b64decode reads it: characters outside the alphabet are skipped)
            qid, mid, token = binascii.a2b_base64(handle.encode().translate(_FROM_URLSAFE)).decode().split(":")
            if int(qid) == q.id:
                return q.messages.get(mid), token
        except (ValueError, UnicodeError, binascii.Error):
            pass
        raise sqs_error("ReceiptHandleIsInvalid", f'The input receipt handle "{handle}" is not a valid receipt handle.')

    def check_handle(self, q: Queue, handle: str) -> None:
        self._parse_handle(q, handle)

    async def delete(self, q: Queue, handle: str) -> None:
        msg = self._to_delete(q, handle)
        if msg is None:
            return
        await self.store.delete_message(msg.key)
        if msg.queue is q and msg.state != GONE:
            q.remove(msg)
            builtin_metrics.sqs_deleted(self.metrics, q.region, q.name, 1)

    async def delete_batch(self, q: Queue, handles: list[str]) -> list[ServiceError | None]:
        """DeleteMessageBatch: each handle is judged as DeleteMessage judges it, and every deletion rides
        one commit (not one commit each, queued one behind the other behind producers' writes). Per
        handle: None, or the error that entry fails with."""
        outcomes: list[ServiceError | None] = []
        doomed: dict[str, Message] = {}
        for handle in handles:
            try:
                msg = self._to_delete(q, handle)
            except ServiceError as err:
                outcomes.append(err)
                continue
            outcomes.append(None)
            if msg is not None:
                doomed[msg.id] = msg
        if doomed:
            await self.store.delete_messages([m.key for m in doomed.values()])
            gone = [m for m in doomed.values() if m.queue is q and m.state != GONE]
            for m in gone:
                q.remove(m)
            builtin_metrics.sqs_deleted(self.metrics, q.region, q.name, len(gone))
        return outcomes

    def _to_delete(self, q: Queue, handle: str) -> Message | None:
        """The message a delete by `handle` removes, None when it succeeds without removing anything, or
        the error it fails with."""
        msg, token = self._parse_handle(q, handle)
        if msg is None:
            return None  # deleted already: deleting again succeeds
        if msg.receipt != token or (q.fifo and msg.state != INFLIGHT):
            if q.fifo:
                # A FIFO handle expires with its visibility timeout; AWS refuses it.
                # https://repost.aws/knowledge-center/sqs-receipt-handle-error
                raise invalid_param(f"Value {handle} for parameter ReceiptHandle is invalid. Reason: The receipt "
                                    "handle has expired.")
            # A standard queue's stale handle (the message was received again since) succeeds without
            # deleting: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html
            return None
        return msg

    async def delete_many(self, q: Queue, msgs: list[Message]) -> None:
        await self.store.delete_messages([m.key for m in msgs])
        for m in msgs:
            if m.queue is q and m.state != GONE:
                q.remove(m)
        builtin_metrics.sqs_deleted(self.metrics, q.region, q.name, len(msgs))

    async def change_visibility(self, q: Queue, handle: str, timeout: int) -> None:
        msg, receipt, until = self._visibility_change(q, handle, timeout)
        await self.store.set_visible_at(msg.key, until)
        if msg.receipt == receipt and msg.state == INFLIGHT and msg.queue is q:
            q.set_visibility(msg, until, self.clock.now())

    async def change_visibility_batch(self, q: Queue,
                                      entries: list[tuple[str, int | None]]) -> list[ServiceError | None]:
        """ChangeMessageVisibilityBatch: (handle, timeout) entries judged one by one as
        ChangeMessageVisibility judges them, committed together. Per entry: None, or its error."""
        outcomes: list[ServiceError | None] = []
        changes: dict[str, tuple[Message, str | None, float]] = {}
        for handle, timeout in entries:
            try:
                if timeout is None:
                    raise missing_param("VisibilityTimeout")
                msg, receipt, until = self._visibility_change(q, handle, timeout)
            except ServiceError as err:
                outcomes.append(err)
                continue
            outcomes.append(None)
            changes[msg.id] = (msg, receipt, until)  # (the last entry about a message wins, as in sequence)
        if changes:
            await self.store.set_visible_at_many([(msg.key, until) for msg, _, until in changes.values()])
            now = self.clock.now()
            for msg, receipt, until in changes.values():
                if msg.receipt == receipt and msg.state == INFLIGHT and msg.queue is q:
                    q.set_visibility(msg, until, now)
        return outcomes

    def _visibility_change(self, q: Queue, handle: str, timeout: int) -> tuple[Message, str | None, float]:
        """The message a visibility change by `handle` applies to, its receipt now, and its new visible-at
        time; or the error the change fails with."""
        msg, token = self._parse_handle(q, handle)
        gone = invalid_param(f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does not "
                             "exist or is not available for visibility timeout change.")
        if msg is None:
            raise gone
        if msg.receipt != token and (q.fifo or msg.state != INFLIGHT):
            # On a standard queue a handle of an earlier receive still changes the message while it is in
            # flight, as AWS answers (older handles "might succeed" on standard queues:
            # https://repost.aws/knowledge-center/sqs-receipt-handle-error); a FIFO handle expires.
            raise gone
        if msg.state != INFLIGHT:
            raise sqs_error("MessageNotInflight", "The message referred to isn't in flight.")
        if not 0 <= timeout <= MAX_VISIBILITY:
            raise invalid_param(f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Must be "
                                "between 0 and 43200.")
        now = self.clock.now()
        if msg.first_receive is not None and now + timeout - msg.first_receive > MAX_VISIBILITY + 1:
            raise invalid_param(f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                                "VisibilityTimeout for the message is beyond the limit [43200 seconds]")
        return msg, msg.receipt, now + timeout

    async def purge(self, q: Queue) -> None:
        now = self.clock.now()
        if now - q.last_purge < 60:
            raise sqs_error("PurgeQueueInProgress", f"Only one PurgeQueue operation on {q.name} is allowed "
                            "every 60 seconds.", 403)
        previous, q.last_purge = q.last_purge, now  # (held while the purge commits: one at a time)
        # What was sent before the purge: every message committed so far has a sequence number at most
        # this, and a send still committing got its number before the purge was asked for.
        through = self._last_seq
        q.content_fence = max(q.content_fence, through)  # (their contents: from SQLite, where rows may be gone)
        try:
            await self.store.purge(q.id, through, now)
        except Exception:
            q.last_purge = previous
            raise
        q.purge_through(through)
        # The window forgets the ids of what was purged; a send asked for while the purge committed keeps its
        # id, as the store does (the purge's DELETE there spares sequence numbers after `through`).
        q.dedup = OrderedDict((k, v) for k, v in q.dedup.items() if v[2] > through)
        q.attempts = {k: v for k, v in q.attempts.items() if all(m.seq > through for m, _ in v[1])}

    # -- counters for autoscaling and pollers ----------------------------------------------------------
    def counters(self, q: Queue) -> dict[str, float]:
        oldest = q.oldest_sent()
        return {
            "visible": q.n_available,
            "inflight": q.n_inflight,
            "delayed": q.n_delayed,
            "oldest_age": 0.0 if oldest is None else max(0.0, self.clock.now() - oldest),
        }

    def is_available(self, msg: Message) -> bool:
        return msg.state == AVAILABLE

    def is_gone(self, msg: Message) -> bool:
        return msg.state == GONE
