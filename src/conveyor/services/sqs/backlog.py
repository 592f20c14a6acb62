"""The messages of one queue that wait to be received for the first time, packed in columns.

A queue's backlog is mostly messages nobody has received yet. Each of them needs only its id, sequence
number, send time, message group and its place in line until a receive takes it: here those live in flat
arrays (16 bytes of packed UUID, 8 + 8 + 8 bytes of sequence, send time and ticket, 4 bytes of group, 1
byte of liveness: ~45 bytes a message, 8 more for a FIFO queue's per-group line), not in a Python object
each (~370 bytes). A message gets an object (conveyor.services.sqs.queue.Message) once a receive takes it,
and keeps it while it has a receipt handle: the in-flight set is small, the backlog is not.

Slots are appended in sequence order (which is send order: a message that arrives out of it, such as
one dead-lettered with its original send time, stays an object), so retention and purges remove a prefix.
A standard queue takes from the front; a FIFO queue takes each group's first slot, so it leaves holes,
which are squeezed out once they outnumber the live slots. Slot numbers are valid until the next call
that removes something.
"""

from __future__ import annotations

import itertools
import re
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conveyor.services.sqs.store import IndexRow

_COMPACT_AT = 4096  # dead slots kept before the arrays are squeezed (amortized: at least as many live)
# The form conveyor.ids.uuid4 writes, which unpack_id gives back exactly.
_CANONICAL_UUID = re.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch


def pack_id(message_id: str) -> bytes | None:
    """The 16 bytes of a message id in canonical UUID form, or None for any other id (kept as an object)."""
    if _CANONICAL_UUID(message_id) is None:
        return None
    return bytes.fromhex(message_id.replace("-", ""))


_NOT_HEX = str.maketrans("", "", "0123456789abcdef-")


def all_canonical(message_ids: Sequence[str]) -> bool:
    """Whether every id is in canonical UUID form, checked over all of them at once (a restart's block of
    rows): each 36 characters, lower-case hex digits with a dash at each of the four places and nowhere
    else. One regex match per id was a third of a restart's work per packed message."""
    n = len(message_ids)
    joined = "".join(message_ids)
    return (set(map(len, message_ids)) <= {36} and not joined.translate(_NOT_HEX) and joined.count("-") == 4 * n
            and all(joined[at::36] == "-" * n for at in (8, 13, 18, 23)))


def unpack_id(raw: bytes | bytearray) -> str:
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Backlog:
    """Never-received waiting messages of one queue; `by_group` (FIFO) keeps each group's line too."""

    def __init__(self, by_group: bool) -> None:
        self.by_group = by_group
        self._reset()

    def _reset(self) -> None:
        self.count = 0
        self._head = 0  # every slot before it is dead
        self._ids = bytearray()
        self._seq: array[int] = array("q")
        self._sent: array[float] = array("d")
        self._ticket: array[int] = array("q")  # place in line against the queue's object-held messages
        self._group: array[int] = array("i")  # index into _group_names, -1 for none
        self._live = bytearray()
        self._group_index: dict[str, int] = {}
        self._group_names: list[str | None] = []
        self._group_refs: list[int] = []  # live slots of each group
        self._free_groups: list[int] = []
        self._lines: dict[int, array[int]] = {}  # FIFO: group -> its slots, in sequence order
        self._line_pos: dict[int, int] = {}  # FIFO: group -> first slot of its line not yet passed

    def __len__(self) -> int:
        return self.count

    @property
    def slots(self) -> int:
        """Slots held, live or dead (what the columns cost)."""
        return len(self._live)

    # -- adding --------------------------------------------------------------------------------------
    def append(self, message_id: str, seq: int, sent: float, ticket: int, group: str | None,
               packed_id: bytes | None = None) -> bool:
        """Add a waiting message at the end; False (nothing added) when it does not fit there: its id is
        not a UUID, or it comes before the last one in sequence or send time. `packed_id`: the id's 16 bytes
        when the caller made them with it (conveyor.services.sqs.message_ids.new_packed_message_id)."""
        if self._seq and (seq <= self._seq[-1] or sent < self._sent[-1]):
            return False
        raw = pack_id(message_id) if packed_id is None else packed_id
        if raw is None:
            return False
        slot = len(self._seq)
        gi = -1 if group is None else self._intern(group)
        self._ids += raw
        self._seq.append(seq)
        self._sent.append(sent)
        self._ticket.append(ticket)
        self._group.append(gi)
        self._live.append(1)
        self.count += 1
        if gi >= 0 and self.by_group:
            line = self._lines.get(gi)
            if line is None:
                self._lines[gi] = line = array("q")
                self._line_pos[gi] = 0
            line.append(slot)
        return True

    def restore(self, rows: Sequence[IndexRow], now: float, retention: float, ticket: Callable[[], int],
                hold: Callable[[IndexRow], None], expired: list[int]) -> None:
        """A restart's bulk `append`: the stored index rows of this queue in key order (which is sequence
        order for every row keyed by its sequence number). The key of a row past retention goes to
        `expired`, one that does not fit the backlog (delayed, received before, out of order, keyed by other
        than its sequence number) to `hold`, in turn, so the queue's line keeps the stored order."""
        ids, seqs, sents, tickets, groups, live = (self._ids, self._seq, self._sent, self._ticket, self._group,
                                                   self._live)
        last_seq = seqs[-1] if seqs else -1
        last_sent = sents[-1] if sents else float("-inf")
        intern, by_group = self._intern, self.by_group
        # Their ids checked together (else one by one), and those packed turned into bytes together.
        check_each, canonical = not all_canonical([row[1] for row in rows]), _CANONICAL_UUID
        packed: list[str] = []
        added = 0
        for row in rows:
            _, mid, seq, sent, visible_at, group, receive_count, _, receipt, key = row
            if sent + retention <= now:
                expired.append(key)
                continue
            if (visible_at > now or receipt is not None or receive_count or seq <= last_seq or sent < last_sent
                    or key != seq or (check_each and canonical(mid) is None)):
                hold(row)
                continue
            slot = len(seqs)
            packed.append(mid)
            seqs.append(seq)
            sents.append(sent)
            tickets.append(ticket())
            live.append(1)
            last_seq, last_sent = seq, sent
            added += 1
            if group is None:
                groups.append(-1)
                continue
            gi = intern(group)
            groups.append(gi)
            if by_group:
                line = self._lines.get(gi)
                if line is None:
                    self._lines[gi] = line = array("q")
                    self._line_pos[gi] = 0
                line.append(slot)
        ids += bytes.fromhex("".join(packed).replace("-", ""))
        self.count += added

    def groups(self) -> list[str]:
        """The groups with messages here, in the order they first came."""
        return list(self._group_index)

    def _intern(self, group: str) -> int:
        gi = self._group_index.get(group)
        if gi is None:
            if self._free_groups:
                gi = self._free_groups.pop()
                self._group_names[gi] = group
                self._group_refs[gi] = 0
            else:
                gi = len(self._group_names)
                self._group_names.append(group)
                self._group_refs.append(0)
            self._group_index[group] = gi
        self._group_refs[gi] += 1
        return gi

    def _release(self, gi: int, n: int = 1) -> None:
        left = self._group_refs[gi] - n
        self._group_refs[gi] = left
        if left == 0:
            name = self._group_names[gi]
            if name is not None:
                del self._group_index[name]
            self._group_names[gi] = None
            self._free_groups.append(gi)
            self._lines.pop(gi, None)
            self._line_pos.pop(gi, None)

    # -- reading -------------------------------------------------------------------------------------
    def first(self) -> int:
        """The first live slot, or -1."""
        if not self.count:
            return -1
        head = self._live.find(1, self._head)
        self._head = head
        return head

    def group_first(self, group: str) -> int:
        """A FIFO group's first live slot, or -1."""
        gi = self._group_index.get(group)
        if gi is None:
            return -1
        line, live = self._lines[gi], self._live
        pos = self._line_pos[gi]
        while not live[line[pos]]:  # (a group with live slots has one in its line)
            pos += 1
        if pos > 1024 and pos * 2 > len(line):
            del line[:pos]
            pos = 0
        self._line_pos[gi] = pos
        return line[pos]

    def has_group(self, group: str) -> bool:
        return group in self._group_index

    def seq_at(self, slot: int) -> int:
        return self._seq[slot]

    def ticket_at(self, slot: int) -> int:
        return self._ticket[slot]

    def oldest_sent(self) -> float | None:
        slot = self.first()
        return None if slot < 0 else self._sent[slot]

    # -- removing ------------------------------------------------------------------------------------
    def take(self, slot: int) -> tuple[str, int, float, str | None]:
        """Remove a live slot; its (message id, sequence number, send time, group)."""
        gi = self._group[slot]
        out = (unpack_id(self._ids[slot * 16:slot * 16 + 16]), self._seq[slot], self._sent[slot],
               None if gi < 0 else self._group_names[gi])
        self._kill(slot)
        self._maybe_compact()
        return out

    def take_front(self, n: int) -> list[tuple[str, int, float, str | None]]:
        """Remove up to `n` live slots from the front (a standard queue's receive when no object-held
        message is in line before them), as `take` would one by one."""
        out: list[tuple[str, int, float, str | None]] = []
        slot = self.first()
        if slot < 0:
            return out
        ids, seqs, sents, groups, names, live = (self._ids, self._seq, self._sent, self._group, self._group_names,
                                                 self._live)
        while slot >= 0 and len(out) < n:
            gi = groups[slot]
            h = ids[slot * 16:slot * 16 + 16].hex()
            out.append((f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", seqs[slot], sents[slot],
                        None if gi < 0 else names[gi]))
            self._kill(slot)
            slot = live.find(1, slot + 1)
        self._maybe_compact()
        return out

    def _kill(self, slot: int) -> None:
        self._live[slot] = 0
        self.count -= 1
        gi = self._group[slot]
        if gi >= 0:
            self._release(gi)

    def expire(self, now: float, retention: float) -> list[int]:
        """Remove the messages sent `retention` seconds or more before `now`; their keys (a packed message's
        key is its sequence number)."""
        gone: list[int] = []
        sent, live = self._sent, self._live
        slot = self.first()
        while slot >= 0 and sent[slot] + retention <= now:
            if live[slot]:
                gone.append(self._seq[slot])
                self._kill(slot)
            slot += 1
            if slot == len(sent):
                break
        self._maybe_compact()
        return gone

    def purge(self, through_seq: int) -> int:
        """Remove the messages whose sequence number is at most `through_seq`; how many."""
        head = self.first()
        if head < 0:
            return 0
        end = bisect_right(self._seq, through_seq, head)
        live = self._live[head:end]
        n = live.count(1)
        for gi, k in Counter(itertools.compress(self._group[head:end], live)).items():
            if gi >= 0:
                self._release(gi, k)
        self._live[head:end] = bytes(end - head)
        self.count -= n
        self._head = end
        self._maybe_compact()
        return n

    def clear(self) -> None:
        self._reset()

    # -- compaction ----------------------------------------------------------------------------------
    def _maybe_compact(self) -> None:
        total = len(self._live)
        if total - self.count <= max(_COMPACT_AT, self.count):
            return
        head = self.first()
        if head < 0:
            self.clear()
        elif not self.by_group and total - head == self.count:
            self._drop_prefix(head)  # (a standard queue takes from the front: holes only before the head)
        else:
            self._squeeze()

    def _drop_prefix(self, n: int) -> None:
        del self._ids[:n * 16]
        del self._seq[:n]
        del self._sent[:n]
        del self._ticket[:n]
        del self._group[:n]
        del self._live[:n]
        self._head = 0

    def _squeeze(self) -> None:
        """Keep the live slots only, renumbered, with each group's line renumbered alike."""
        live = self._live
        keep = list(itertools.compress(range(len(live)), live))
        ids = self._ids
        self._ids = bytearray(b"".join(ids[i * 16:i * 16 + 16] for i in keep))
        self._seq = array("q", itertools.compress(self._seq, live))
        self._sent = array("d", itertools.compress(self._sent, live))
        self._ticket = array("q", itertools.compress(self._ticket, live))
        self._group = array("i", itertools.compress(self._group, live))
        self._live = bytearray(b"\1" * len(keep))
        self._head = 0
        if self.by_group:
            lines: dict[int, array[int]] = {}
            for slot, gi in enumerate(self._group):
                if gi >= 0:
                    line = lines.get(gi)
                    if line is None:
                        lines[gi] = line = array("q")
                    line.append(slot)
            self._lines = lines
            self._line_pos = dict.fromkeys(lines, 0)
