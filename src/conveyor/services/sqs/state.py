"""Everything SQS holds, put together once: the store, the queue catalog over it, the message engine over
both, and the move tasks. The service and the engine tests (which need no socket) build it alike."""

from __future__ import annotations

from pathlib import Path

from conveyor.clock import Clock
from conveyor.services.sqs.catalog import QueueCatalog
from conveyor.services.sqs.engine import SqsEngine
from conveyor.services.sqs.moves import MoveTasks
from conveyor.services.sqs.store import SqsStore
from conveyor.storage.disk import DiskGuard


class SqsState:
    def __init__(self, clock: Clock, path: Path, disk: DiskGuard | None = None) -> None:
        self.store = SqsStore(path, disk)
        self.catalog = QueueCatalog(self.store, clock)
        self.engine = SqsEngine(self.store, self.catalog, clock)
        self.moves = MoveTasks(self.store, self.catalog, self.engine, clock)

    def open(self) -> None:
        """Open the store and restore from it: queues, then their messages, then the move tasks (which
        resume, so this runs inside the event loop)."""
        self.store.open()
        self.catalog.load()
        self.engine.load()
        self.moves.load()

    def close(self) -> None:
        self.moves.clear()
        self.catalog.close()
        self.store.close()

    async def reset(self) -> None:
        """Forget every queue, message and task (POST /_conveyor/reset)."""
        self.catalog.clear()
        self.engine.recent.clear()
        self.moves.clear()
        await self.store.wipe()
