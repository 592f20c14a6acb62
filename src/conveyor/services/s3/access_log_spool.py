"""Access-log records waiting for delivery, kept on disk so that a crash does not lose them.

Each record is appended to the spool file (one JSON line: the logged bucket and the record) while its
request is answered, before the answer is sent: a write(2) the kernel holds once it returns, so a
kill -9 of the server cannot lose it. Delivery first cuts the spool into a batch file (a rename), then
writes the batch's log objects, then removes the batch: a crash in between delivers the batch again
after the restart, into the same keys (the batch's name decides them), so a record is delivered once.
The file left by a crash becomes a batch when S3 starts.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path

_CURRENT = "current.jsonl"


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd: int | None = None

    def open(self, now: float) -> None:
        """Start a new spool file; the one a crash left (records not yet cut) becomes a batch."""
        self.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._cut_current(now)
        self._fd = os.open(self.directory / _CURRENT, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def wipe(self, now: float) -> None:
        """Forget every record (a reset)."""
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)
        self.open(now)

    def append(self, bucket: str, record: str) -> None:
        """One record, in the kernel's hands when this returns (an OSError, e.g. a full disk, is the caller's)."""
        if self._fd is None:
            return
        os.write(self._fd, json.dumps([bucket, record]).encode() + b"\n")

    def cut(self, now: float) -> list[Path]:
        """Close the records so far into a batch, and return every batch waiting, oldest first."""
        if self._fd is not None:
            self.close()
            self._cut_current(now)
            self._fd = os.open(self.directory / _CURRENT, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return sorted(self.directory.glob("batch-*.jsonl"))

    def _cut_current(self, now: float) -> None:
        current = self.directory / _CURRENT
        if current.exists() and current.stat().st_size:
            # The name orders batches and carries the delivery's time and identity (the log objects' keys).
            os.replace(current, self.directory / f"batch-{int(now * 1000):015d}-{secrets.token_hex(8).upper()}.jsonl")

    @staticmethod
    def read(batch: Path) -> dict[str, list[str]]:
        """A batch's records by logged bucket, in the order they were written."""
        records: dict[str, list[str]] = {}
        for line in batch.read_bytes().splitlines():
            try:
                bucket, record = json.loads(line)
            except ValueError:
                continue  # a record cut short by the machine stopping mid-write
            records.setdefault(str(bucket), []).append(str(record))
        return records

    @staticmethod
    def identity(batch: Path) -> tuple[float, str]:
        """(the time the batch was cut, its unique part), from its name."""
        _, millis, unique = batch.stem.split("-")
        return int(millis) / 1000, unique

    @staticmethod
    def done(batch: Path) -> None:
        batch.unlink(missing_ok=True)
