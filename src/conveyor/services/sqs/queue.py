"""One queue in memory: its messages, the indexes receives use, its timers and its parked receivers.

Each message costs memory by its index entry, not its bytes (its content is in SQLite). Most of a backlog
is messages nobody has received yet: they wait packed in columns (conveyor.services.sqs.backlog, ~45 bytes
each), and a message becomes an object (Message) when a receive takes it, or when it does not fit there
(delayed, received before, or out of send order). Object-held available messages of a standard queue
wait in a deque in the order they became available, and a ticket drawn when each joins the line (packed
or not) decides which of the deque's front and the backlog's front goes first; a message leaving the deque
by other means than a receive (a delete, a purge, expiry) is skipped lazily when it reaches the front, and
the deque is compacted when such stale entries outnumber the live ones. FIFO queues keep a heap per
message group ordered by sequence number beside the backlog's line of that group, plus the groups that
are ready (have available messages and nothing in flight). Delays and visibility timeouts share one heap
keyed by the time the message becomes visible. Retention goes by send time, which is the order messages
arrive in: object-held ones wait in a deque (8 bytes each), and only those that arrive out of that order
(dead-lettered ones keep their original send time) go to a heap. All are invalidated lazily, and one clock
timer per queue is armed for the earliest due entry. Nothing here knows about HTTP or SQLite.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import json
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.services.sqs.backlog import Backlog

if TYPE_CHECKING:
    from conveyor.clock import Clock, TimerHandle
    from conveyor.services.sqs.store import IndexRow

# PACKED: the message waits in its queue's backlog, and this object (the one that was sent) is detached.
DELAYED, AVAILABLE, INFLIGHT, GONE, PACKED = range(5)
_tiebreak = itertools.count()


# SQS's MessageAttributes shape: name -> {"DataType", "StringValue" or "BinaryValue" (bytes)}.
AttributeMap = dict[str, dict[str, Any]]


class Content:
    """What a message carries besides its place in the queue: kept in SQLite only, read when it is received
    (one query per receive batch), so a backlog costs memory by its count, not by its bytes."""

    __slots__ = ("body", "md5_body", "attrs", "md5_attrs", "sys_attrs", "md5_sys", "sender_id", "dedup_id",
                 "source_arn", "size", "packed_id")

    def __init__(self, body: str, md5_body: str, attrs: AttributeMap | None, md5_attrs: str | None,
                 sys_attrs: AttributeMap | None, md5_sys: str | None, sender_id: str, dedup_id: str | None,
                 source_arn: str | None, size: int = 0, packed_id: bytes | None = None) -> None:
        self.body = body
        self.md5_body = md5_body
        self.attrs = attrs
        self.md5_attrs = md5_attrs
        self.sys_attrs = sys_attrs
        self.md5_sys = md5_sys
        self.sender_id = sender_id
        self.dedup_id = dedup_id
        self.source_arn = source_arn
        self.size = size  # the body's bytes (known while it is being sent)
        # The message id's 16 bytes, made with it (conveyor.services.sqs.message_ids), while it is being sent:
        # the backlog packs them as they are rather than parsing the id string again.
        self.packed_id = packed_id


class ContentNotLoaded(RuntimeError):
    """A message's body or attributes were asked for while only its index entry is in memory."""


class Message:
    """One message's index entry (what receive, delete and visibility changes need), wherever it is, and
    its content while it is being sent or received (`content`, else None: then it is in SQLite only)."""

    __slots__ = ("id", "key", "queue", "seq", "sent", "group_id", "receive_count", "first_receive", "visible_at",
                 "receipt", "state", "content", "ticket")

    def __init__(self, *, id: str, seq: int, sent: float, visible_at: float, group_id: str | None = None,
                 receive_count: int = 0, first_receive: float | None = None, receipt: str | None = None,
                 content: Content | None = None, queue: Queue | None = None, key: int | None = None) -> None:
        self.id = id
        # Its rows' key in SQLite (conveyor.services.sqs.store): the sequence number it was sent with, kept
        # when a move to a FIFO dead-letter queue gives it a new one. A packed message's key is its seq.
        self.key = seq if key is None else key
        self.seq = seq
        self.sent = sent
        self.group_id = group_id
        self.receive_count = receive_count
        self.first_receive = first_receive
        self.visible_at = visible_at
        self.receipt = receipt
        self.content = content
        self.queue = queue
        self.state = GONE
        self.ticket = 0  # its place in a standard queue's line of available messages

    @property
    def group(self) -> str:
        """The message group (FIFO queues; every FIFO message has one)."""
        return self.group_id or ""

    def loaded(self) -> Content:
        if self.content is None:
            raise ContentNotLoaded(self.id)
        return self.content

    # The content's fields, for a message whose content is in memory (being sent, or just received).
    @property
    def body(self) -> str:
        return self.loaded().body

    @property
    def md5_body(self) -> str:
        return self.loaded().md5_body

    @property
    def attrs(self) -> AttributeMap | None:
        return self.loaded().attrs

    @property
    def md5_attrs(self) -> str | None:
        return self.loaded().md5_attrs

    @property
    def sys_attrs(self) -> AttributeMap | None:
        return self.loaded().sys_attrs

    @property
    def md5_sys(self) -> str | None:
        return self.loaded().md5_sys

    @property
    def sender_id(self) -> str:
        return self.loaded().sender_id

    @property
    def dedup_id(self) -> str | None:
        return self.loaded().dedup_id

    @property
    def source_arn(self) -> str | None:
        return self.loaded().source_arn


class Queue:
    def __init__(self, clock: Clock, qid: int, account: str, region: str, name: str,
                 attrs: dict[str, str], tags: dict[str, str], created: float, modified: float) -> None:
        self.clock = clock
        self.id = qid
        self.account = account
        self.region = region
        self.name = name
        self.attrs = attrs
        self.tags = tags
        self.created = created
        self.modified = modified
        self.fifo = name.endswith(".fifo")
        self.arn = f"arn:aws:sqs:{region}:{account}:{name}"
        self.last_purge = -1e18
        # Messages sequenced up to here may have lost their rows to a purge or to the queue's deletion, being
        # committed now: their contents are read from SQLite only (conveyor.services.sqs.recent).
        self.content_fence = -1
        self.backlog = Backlog(by_group=self.fifo)  # never-received waiting messages, packed
        self.messages: dict[str, Message] = {}  # the others, by id (those a receipt handle can name)
        self.available: deque[Message] = deque()  # standard queues; may hold stale entries (see _stale)
        self._stale = 0  # entries of `available` whose message is no longer available
        self.groups: dict[str, list[tuple[int, int, Message]]] = {}
        self.ready: OrderedDict[str, None] = OrderedDict()
        self.group_inflight: dict[str, int] = {}
        self.n_available = self.n_inflight = self.n_delayed = 0
        self._timers: list[tuple[float, int, Message]] = []
        self._by_sent: deque[Message] = deque()  # in send order: most messages
        self._expiry: list[tuple[float, int, Message]] = []  # those that arrived out of send order
        self._handle: TimerHandle | None = None
        self._handle_at = float("inf")
        self.waiters: deque[asyncio.Future[None]] = deque()
        # FIFO: dedup key -> (expires, message id, seq); insertion order == expiry order
        self.dedup: OrderedDict[tuple[str, str], tuple[float, str, int]] = OrderedDict()
        # FIFO: ReceiveRequestAttemptId -> (expires, [(message, receipt)])
        self.attempts: dict[str, tuple[float, list[tuple[Message, str]]]] = {}
        self.on_expired: Callable[[Queue, list[int]], None] | None = None  # keys of expired messages
        self.refresh()

    # -- attributes ------------------------------------------------------------------------------------
    def refresh(self) -> None:
        a = self.attrs
        self.visibility = int(a.get("VisibilityTimeout", 30))
        self.delay = int(a.get("DelaySeconds", 0))
        self.retention = int(a.get("MessageRetentionPeriod", 345600))
        self.max_size = int(a.get("MaximumMessageSize", 1048576))
        self.wait = int(a.get("ReceiveMessageWaitTimeSeconds", 0))
        self.content_dedup = a.get("ContentBasedDeduplication") == "true"
        self.dedup_by_group = a.get("DeduplicationScope") == "messageGroup"
        rp = a.get("RedrivePolicy")
        self.redrive: dict[str, Any] | None = json.loads(rp) if rp else None
        if self._expiry or self._by_sent or self.backlog.count:
            self._arm()

    @property
    def held(self) -> int:
        """How many messages the queue holds, whatever their state."""
        return self.n_available + self.n_inflight + self.n_delayed

    # -- state transitions -----------------------------------------------------------------------------
    def add(self, msg: Message, now: float) -> None:
        """A new (or restored, or moved-in) message: delayed, in flight or available by its visible_at.
        One never received that is available at once joins the packed backlog, and `msg` is detached."""
        msg.queue = self
        msg.content = None  # committed: its content is read back from SQLite when it is received
        if msg.key == msg.seq and self._pack(msg.id, msg.seq, msg.sent, msg.visible_at, msg.group_id,
                                             msg.receive_count, msg.receipt, now):
            msg.state = PACKED
            self.wake()
            self._arm()
            return
        self._hold(msg, now)

    def add_many(self, msgs: list[Message], now: float) -> None:
        """`add` for new messages sent together. The queue's timer is armed again only when one of them is
        due before it (a packed message is due at its retention's end, which the queue's oldest message
        reaches first unless the queue held none): finding the oldest message per send was a list and a
        min() each."""
        pack = self._pack
        first_packed = float("inf")
        for msg in msgs:
            c = msg.content
            packed_id = None
            if c is not None:  # (used once: the content may stay a while in conveyor.services.sqs.recent)
                packed_id, c.packed_id = c.packed_id, None
            msg.queue = self
            msg.content = None
            if msg.key == msg.seq and pack(msg.id, msg.seq, msg.sent, msg.visible_at, msg.group_id, msg.receive_count,
                                           msg.receipt, now, packed_id):
                msg.state = PACKED
                if msg.sent < first_packed:
                    first_packed = msg.sent
                self.wake()
            else:
                self._hold(msg, now)  # (which arms the timer for it)
        if self._handle is None or first_packed + self.retention < self._handle_at:
            self._arm()

    def restore(self, rows: Sequence[IndexRow], now: float, expired: list[int]) -> None:
        """Stored messages of this queue, in key order (the order they were sent in), at a restart, maybe in
        several calls; the keys of those past retention go to `expired`. `settle` follows, once every row
        is in."""
        before = len(self.backlog)

        def hold(row: IndexRow) -> None:
            _, mid, seq, sent, visible_at, group_id, receive_count, first_receive, receipt, key = row
            self._hold(Message(id=mid, seq=seq, sent=sent, visible_at=visible_at, group_id=group_id,
                               receive_count=receive_count, first_receive=first_receive, receipt=receipt,
                               queue=self, key=key), now)

        self.backlog.restore(rows, now, self.retention, functools.partial(next, _tiebreak), hold, expired)
        self.n_available += len(self.backlog) - before

    def _pack(self, mid: str, seq: int, sent: float, visible_at: float, group_id: str | None,
              receive_count: int, receipt: str | None, now: float, packed_id: bytes | None = None) -> bool:
        if (visible_at > now or receipt is not None or receive_count
                or not self.backlog.append(mid, seq, sent, next(_tiebreak), group_id, packed_id)):
            return False
        self.n_available += 1
        if self.fifo:
            g = group_id or ""
            if not self.group_inflight.get(g):
                self.ready[g] = None
        return True

    def settle(self) -> None:
        """After a restart's `restore` calls: the FIFO groups with packed messages and none in flight are
        ready, and the timer is armed for what is due first."""
        if self.fifo:
            for g in self.backlog.groups():
                if not self.group_inflight.get(g):
                    self.ready[g] = None
        self._arm()

    def _track_sent(self, msg: Message) -> None:
        by_sent = self._by_sent
        if not by_sent or by_sent[-1].sent <= msg.sent:
            by_sent.append(msg)
        else:
            heapq.heappush(self._expiry, (msg.sent, next(_tiebreak), msg))

    def _unpack(self, slot: int) -> Message:
        """Take a packed message out of the backlog as an object (to be received)."""
        mid, seq, sent, group_id = self.backlog.take(slot)
        msg = Message(id=mid, seq=seq, sent=sent, visible_at=sent, group_id=group_id, queue=self)
        self.messages[mid] = msg
        self._track_sent(msg)
        return msg

    def _hold(self, msg: Message, now: float) -> None:
        self.messages[msg.id] = msg
        self._track_sent(msg)
        if msg.visible_at > now:
            if msg.receipt is not None and msg.receive_count > 0:
                msg.state = INFLIGHT
                self.n_inflight += 1
                if self.fifo:
                    self.group_inflight[msg.group] = self.group_inflight.get(msg.group, 0) + 1
                    self.ready.pop(msg.group, None)
            else:
                msg.state = DELAYED
                self.n_delayed += 1
            self._push_timer(msg)
        else:
            self._make_available(msg)
        self._arm()

    def _make_available(self, msg: Message) -> None:
        msg.state = AVAILABLE
        msg.content = None
        msg.ticket = next(_tiebreak)
        self.n_available += 1
        if self.fifo:
            g = msg.group
            heapq.heappush(self.groups.setdefault(g, []), (msg.seq, next(_tiebreak), msg))
            if not self.group_inflight.get(g):
                self.ready[g] = None
        else:
            self.available.append(msg)
        self.wake()

    def _leave_inflight(self, msg: Message) -> None:
        self.n_inflight -= 1
        if self.fifo:
            g = msg.group
            left = self.group_inflight[g] - 1
            if left:
                self.group_inflight[g] = left
            else:
                del self.group_inflight[g]
                if self.groups.get(g) or self.backlog.has_group(g):
                    self.ready[g] = None
                    self.wake()
                elif g in self.groups:
                    del self.groups[g]

    def remove(self, msg: Message) -> None:
        """Take a message out of this queue (deleted, expired, purged or moved elsewhere)."""
        state = msg.state
        msg.state = GONE
        msg.content = None
        self.messages.pop(msg.id, None)
        if state == AVAILABLE:
            self.n_available -= 1
            if not self.fifo:
                self._stale += 1  # left in `available`, skipped when reached
                if self._stale > 1024 and self._stale > self.n_available:
                    self.available = deque(m for m in self.available if m.state == AVAILABLE and m.queue is self)
                    self._stale = 0
        elif state == INFLIGHT:
            self._leave_inflight(msg)
        elif state == DELAYED:
            self.n_delayed -= 1

    def take(self, max_n: int, now: float, visibility: int, divert: Callable[[Message], bool]) -> list[Message]:
        """Pop up to max_n receivable messages and put them in flight; `divert` may dead-letter one."""
        out: list[Message] = []
        backlog = self.backlog
        if not self.fifo:
            available = self.available
            while len(out) < max_n:
                while available and (available[0].state != AVAILABLE or available[0].queue is not self):
                    available.popleft()
                    self._stale = max(0, self._stale - 1)
                if not available:  # (the common case: the rest come from the backlog's front, in one step)
                    taken = backlog.take_front(max_n - len(out))
                    if not taken:
                        break
                    for mid, seq, sent, group_id in taken:
                        msg = Message(id=mid, seq=seq, sent=sent, visible_at=sent, group_id=group_id, queue=self)
                        self.messages[mid] = msg
                        self._track_sent(msg)
                        self.n_available -= 1
                        if divert(msg):
                            continue
                        self._to_inflight(msg, now + visibility)
                        out.append(msg)
                    continue
                slot = backlog.first()
                if available and (slot < 0 or available[0].ticket < backlog.ticket_at(slot)):
                    msg = available.popleft()
                elif slot >= 0:
                    msg = self._unpack(slot)
                else:
                    break
                self.n_available -= 1
                msg.state = GONE
                if divert(msg):
                    continue
                self._to_inflight(msg, now + visibility)
                out.append(msg)
            if out:
                self._arm()  # (once for the batch: each message's timer is pushed, the earliest armed)
            return out
        while len(out) < max_n and self.ready:
            g = next(iter(self.ready))
            heap = self.groups.get(g) or []
            took = False
            while len(out) < max_n:
                while heap and (heap[0][2].state != AVAILABLE or heap[0][2].queue is not self):
                    heapq.heappop(heap)
                slot = backlog.group_first(g)
                if heap and (slot < 0 or heap[0][0] < backlog.seq_at(slot)):
                    msg = heapq.heappop(heap)[2]
                elif slot >= 0:
                    msg = self._unpack(slot)
                else:
                    break
                self.n_available -= 1
                msg.state = GONE
                if divert(msg):
                    continue
                self._to_inflight(msg, now + visibility)
                out.append(msg)
                took = True
            if took or not (heap or backlog.has_group(g)):
                self.ready.pop(g, None)
            if not heap and not self.group_inflight.get(g):
                self.groups.pop(g, None)
        if out:
            self._arm()
        return out

    def _to_inflight(self, msg: Message, until: float) -> None:
        """(The caller arms the timer once it has taken its batch.)"""
        msg.state = INFLIGHT
        msg.visible_at = until
        self.n_inflight += 1
        if self.fifo:
            g = msg.group
            self.group_inflight[g] = self.group_inflight.get(g, 0) + 1
            self.ready.pop(g, None)
        heapq.heappush(self._timers, (until, next(_tiebreak), msg))

    def set_visibility(self, msg: Message, until: float, now: float) -> None:
        msg.visible_at = until
        if until <= now:
            self._leave_inflight(msg)
            self._make_available(msg)
        else:
            self._push_timer(msg)
            self._arm()

    # -- timers ----------------------------------------------------------------------------------------
    def _push_timer(self, msg: Message) -> None:
        heapq.heappush(self._timers, (msg.visible_at, next(_tiebreak), msg))

    def _next_due(self) -> float:
        due = float("inf")
        if self._timers:
            due = self._timers[0][0]
        oldest = self.oldest_sent()
        if oldest is not None:
            due = min(due, oldest + self.retention)
        return due

    def _arm(self) -> None:
        due = self._next_due()
        if due == float("inf") or (self._handle is not None and due >= self._handle_at):
            return
        if self._handle is not None:
            self._handle.cancel()
        self._handle_at = due
        self._handle = self.clock.call_at(due, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._handle_at = float("inf")
        now = self.clock.now()
        timers = self._timers
        while timers and timers[0][0] <= now:
            when, _, msg = heapq.heappop(timers)
            if msg.queue is not self or msg.visible_at != when:
                continue
            if msg.state == DELAYED:
                self.n_delayed -= 1
                self._make_available(msg)
            elif msg.state == INFLIGHT:
                self._leave_inflight(msg)
                self._make_available(msg)
        by_sent, exp, retention = self._by_sent, self._expiry, self.retention
        expired = self.backlog.expire(now, retention)
        self.n_available -= len(expired)
        while by_sent and by_sent[0].sent + retention <= now:
            msg = by_sent.popleft()
            if msg.queue is self and msg.state != GONE:
                self.remove(msg)
                expired.append(msg.key)
        while exp and exp[0][0] + retention <= now:
            _, _, msg = heapq.heappop(exp)
            if msg.queue is self and msg.state != GONE:
                self.remove(msg)
                expired.append(msg.key)
        if expired and self.on_expired is not None:
            self.on_expired(self, expired)
        self._arm()

    def oldest_sent(self) -> float | None:
        by_sent, exp = self._by_sent, self._expiry
        while by_sent and (by_sent[0].queue is not self or by_sent[0].state == GONE):
            by_sent.popleft()
        while exp and (exp[0][2].queue is not self or exp[0][2].state == GONE):
            heapq.heappop(exp)
        found = [t for t in (by_sent[0].sent if by_sent else None, exp[0][0] if exp else None,
                             self.backlog.oldest_sent()) if t is not None]
        return min(found) if found else None

    def purge_through(self, seq: int) -> None:
        """Remove the messages whose sequence number is at most `seq` (a purge, once it is committed)."""
        for msg in [m for m in self.messages.values() if m.seq <= seq]:
            self.remove(msg)
        self.n_available -= self.backlog.purge(seq)

    def discard_all(self) -> None:
        """Forget every message (the queue is deleted)."""
        for msg in list(self.messages.values()):
            self.remove(msg)
        self.n_available -= len(self.backlog)
        self.backlog.clear()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        for fut in self.waiters:
            if not fut.done():
                fut.set_result(None)
        self.waiters.clear()

    # -- long polling ----------------------------------------------------------------------------------
    def wake(self) -> None:
        waiters = self.waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def prune_waiters(self) -> None:
        """Drop finished waits (polls that ended by their deadline) so an idle queue does not keep them."""
        waiters = self.waiters
        while waiters and waiters[0].done():
            waiters.popleft()
        while waiters and waiters[-1].done():
            waiters.pop()

    # -- FIFO dedup --------------------------------------------------------------------------------------
    def dedup_lookup(self, key: tuple[str, str], now: float) -> tuple[float, str, int] | None:
        d = self.dedup
        while d:
            first = next(iter(d.values()))
            if first[0] > now:
                break
            d.popitem(last=False)
        hit = d.get(key)
        return hit if hit is not None and hit[0] > now else None
