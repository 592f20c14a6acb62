"""The contents of the most recently sent messages, kept in memory for a while so a consumer that keeps up
receives them without reading SQLite.

The pipeline's steady state is a queue its consumers keep up with: a message is received milliseconds
after it was sent. Its body and attributes are in SQLite (conveyor.services.sqs.queue.Content), and
reading them back costs the event loop a read transaction, the B-tree descents and, on a shared
machine, the GIL handed to the database's writer thread at every row SQLite steps over. So the contents
of the last few MiB of committed sends stay here, oldest dropped first, and a receive takes (and forgets)
the ones it finds; the others are read from SQLite as before. What a backlog costs in memory stays bounded
by its count (the budget is fixed), and nothing here is the only copy: a restart starts empty.

A content kept here must be what SQLite holds for its message: a move to a dead-letter queue (which
notes the source queue) forgets it, and a message a purge or a queue deletion may have removed is read
from SQLite, so one whose row is gone stays left out (Queue.content_fence).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from conveyor.services.sqs.queue import AttributeMap, Content, Message, Queue

BUDGET = 8 * 1024 * 1024  # bytes of bodies and their bookkeeping kept at most
_OVERHEAD = 328  # what a kept content costs besides its body: the object, its strings, its two entries


class RecentContents:
    def __init__(self, budget: int = BUDGET) -> None:
        self.budget = budget
        self.bytes = 0
        # message id -> (queue, content, bytes)
        self._kept: dict[str, tuple[Queue, Content, int]] = {}
        # The ids in the order they were kept, oldest first, with those taken since (skipped when reached,
        # and squeezed out once they outnumber the kept): eviction takes from its front. (Finding the oldest
        # as the dict's first key stepped over every slot earlier evictions had left empty: with the budget
        # full, a backlog that grows, each send paid 4-7 us a message for it.)
        self._order: deque[str] = deque()

    def __len__(self) -> int:
        return len(self._kept)

    def keep(self, q: Queue, msgs: Iterable[Message]) -> None:
        """Keep the contents of messages just committed to `q` (before the queue detaches them)."""
        kept, order = self._kept, self._order
        for m in msgs:
            c = m.content
            if c is None or m.id in kept:
                continue
            cost = c.size + _OVERHEAD
            if c.attrs or c.sys_attrs:
                cost += _attributes_cost(c.attrs) + _attributes_cost(c.sys_attrs)
            kept[m.id] = (q, c, cost)
            order.append(m.id)
            self.bytes += cost
        while self.bytes > self.budget and order:
            item = kept.pop(order.popleft(), None)
            if item is not None:
                self.bytes -= item[2]
        if len(order) > 2 * len(kept) + 1024:
            self._order = deque(mid for mid in order if mid in kept)

    def take(self, m: Message) -> Content | None:
        """The content of `m` if it is kept and still what SQLite holds for it; it is forgotten either way
        (a received message is rarely received again: that one reads SQLite)."""
        item = self._kept.pop(m.id, None)
        if item is None:
            return None
        q, c, cost = item
        self.bytes -= cost
        if m.queue is not q or m.seq <= q.content_fence:
            return None
        return c

    def forget(self, message_ids: Iterable[str]) -> None:
        kept = self._kept
        for mid in message_ids:
            item = kept.pop(mid, None)
            if item is not None:
                self.bytes -= item[2]

    def clear(self) -> None:
        self._kept.clear()
        self._order.clear()
        self.bytes = 0


def _attributes_cost(attrs: AttributeMap | None) -> int:
    """About what a message's attributes hold in memory (their values' lengths and each entry's dicts)."""
    if not attrs:
        return 0
    cost = 0
    for name, value in attrs.items():
        cost += 200 + len(name) + sum(len(v) for v in value.values() if isinstance(v, str | bytes))
    return cost
