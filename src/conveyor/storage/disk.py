"""A full data disk: refuse what cannot be stored, and keep room to delete.

When the disk fills, a write fails midway (SQLite reports SQLITE_FULL, a file write ENOSPC). The request
that hit it is refused with a retryable error and changes nothing. But deletes need a little space too
(SQLite writes every change, deletes included, to its write-ahead log first), so a disk filled to the
last byte could never be emptied through the API. Hence a reserve: a file of RESERVE_BYTES allocated
up front in the data directory and released the moment the disk fills. From then on (full mode):

- writes that free space (deletes, purges) and writes that change rows in place (receives, visibility
  changes) always run, in the released reserve;
- writes that store more are attempted only while at least half the reserve is still free, so they
  can never take the deletes' room; below that they are refused up front;
- once deletes have freed twice the reserve, the reserve is allocated again and full mode ends.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("conveyor.disk")

RESERVE_BYTES = 8 * 1024 * 1024
RESERVE_NAME = ".reserve"
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13


class DiskFull(Exception):
    """A write could not be stored because the data disk is full; nothing of it was kept."""


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, sqlite3.Error):
        return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == _SQLITE_FULL
    return isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS


class DiskGuard:
    """Watches one data directory's disk; shared by every service's database and blob store."""

    def __init__(self, root: Path, reserve_bytes: int = RESERVE_BYTES) -> None:
        self.root = root
        self.reserve_bytes = reserve_bytes
        self.reserve_path = root / RESERVE_NAME
        self.full = False
        self._lock = threading.Lock()  # writes fail on the database writer threads and blob threads

    def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not self._allocate_reserve():
            self.full = True
            log.warning("the data disk of %s is full: only deletes are served until space is freed", self.root)

    # -- the two events -----------------------------------------------------------------------------
    def ran_out(self) -> None:
        """A write failed for want of space: release the reserve so that deletes can still run."""
        with self._lock:
            if self.full:
                return
            self.full = True
            self.reserve_path.unlink(missing_ok=True)
        log.warning("the data disk of %s is full: writes are refused (503) until deletes free space",
                    self.root)

    def check_room(self) -> None:
        """Before a write that stores more: raise DiskFull if it would eat into the room kept for deletes."""
        if not self.full:
            return
        free = self.free_bytes()
        if self._recover(free):
            return
        if free < self.reserve_bytes // 2:
            raise DiskFull("the data disk is full")

    def _recover(self, free: int) -> bool:
        """Leave full mode once there is room for the reserve and as much again; whether it did."""
        if free < 2 * self.reserve_bytes:
            return False
        with self._lock:
            if self.full and self._allocate_reserve():
                self.full = False
                log.warning("the data disk of %s has room again: writes are served", self.root)
        return not self.full

    # -- plumbing -------------------------------------------------------------------------------------
    def free_bytes(self) -> int:
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    def _allocate_reserve(self) -> bool:
        """Make sure the reserve file holds real blocks (not a sparse file); False if there is no room."""
        try:
            if self.reserve_path.exists() and self.reserve_path.stat().st_blocks * 512 >= self.reserve_bytes:
                return True
            fd = os.open(self.reserve_path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                try:
                    os.posix_fallocate(fd, 0, self.reserve_bytes)
                except (AttributeError, OSError) as exc:  # no fallocate here (macOS, some file systems)
                    if is_disk_full(exc):
                        raise
                    _write_zeros(fd, self.reserve_bytes)
                os.fsync(fd)
            finally:
                os.close(fd)
            return True
        except OSError as exc:
            with contextlib.suppress(OSError):
                self.reserve_path.unlink(missing_ok=True)
            if is_disk_full(exc):
                return False
            raise

    def health(self) -> dict[str, Any]:
        try:
            free: int | None = self.free_bytes()
        except OSError:
            free = None
        if self.full and free is not None:
            self._recover(free)
        return {"full": self.full, "free_bytes": free, "reserve_bytes": self.reserve_bytes}


def _write_zeros(fd: int, size: int) -> None:
    block = bytes(1 << 20)
    os.lseek(fd, 0, os.SEEK_SET)
    left = size
    while left > 0:
        left -= os.write(fd, block[:min(left, len(block))])
