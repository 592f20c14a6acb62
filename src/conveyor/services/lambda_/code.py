"""Deployment packages: content-addressed zips under `code/<sha256>.zip` and the trees extracted from them.

A zip is checked before it is kept (size, unzipped size, no path escaping its tree), written to a
temporary name, fsynced and renamed; each digest is extracted once, atomically, for the execution
environments that run it. https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import uuid
import zipfile
from pathlib import Path

from conveyor.services.lambda_.functions import invalid
from conveyor.storage.disk import DiskFull, DiskGuard, is_disk_full
from conveyor.wire import ServiceError

MAX_ZIP = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024


class CodeStore:
    """Content-addressed zips and their extracted trees."""

    def __init__(self, root: Path, disk: DiskGuard | None = None) -> None:
        self.root = root
        self.disk = disk
        root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> tuple[str, str, int]:
        """Store a zip; returns (hex digest, base64 CodeSha256, CodeSize)."""
        if len(data) > MAX_ZIP:
            raise ServiceError("RequestEntityTooLargeException",
                               f"Request must be smaller than {MAX_ZIP} bytes for the CreateFunction operation", 413)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                total = sum(i.file_size for i in zf.infolist())
                names = zf.namelist()
        except (zipfile.BadZipFile, ValueError, OSError):
            raise invalid("Could not unzip uploaded file. Please check your file, then try to upload again.")
        if total > MAX_UNZIPPED:
            raise invalid(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")
        for name in names:
            parts = Path(name).parts
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise invalid(f"Could not unzip uploaded file: unsafe path {name!r} in the archive.")
        digest = hashlib.sha256(data)
        hexd = digest.hexdigest()
        path = self.root / f"{hexd}.zip"
        if not path.exists():
            if self.disk is not None:
                self.disk.check_room()
            tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
            try:
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                if not is_disk_full(exc):
                    raise
                if self.disk is not None:
                    self.disk.ran_out()
                raise DiskFull(str(exc)) from exc
        return hexd, base64.b64encode(digest.digest()).decode(), len(data)

    def read(self, hexd: str) -> bytes:
        return (self.root / f"{hexd}.zip").read_bytes()

    def extracted(self, hexd: str) -> Path:
        """The code tree for a digest, extracted on first use (atomically, so a crash leaves no half tree)."""
        target = self.root / hexd
        if target.is_dir():
            return target
        tmp = self.root / f"{hexd}.{uuid.uuid4().hex}.extract"
        try:
            with zipfile.ZipFile(self.root / f"{hexd}.zip") as zf:
                for info in zf.infolist():
                    dest = (tmp / info.filename).resolve()
                    if not str(dest).startswith(str(tmp.resolve())):
                        continue  # refused at upload already; never escape the tree
                    zf.extract(info, tmp)
                    mode = info.external_attr >> 16
                    if mode and not info.is_dir():
                        os.chmod(dest, mode & 0o755 | 0o400)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)  # no half tree left behind
            if isinstance(exc, OSError) and is_disk_full(exc):
                if self.disk is not None:
                    self.disk.ran_out()
                raise DiskFull(str(exc)) from exc
            raise
        try:
            os.replace(tmp, target)
        except OSError:  # another extraction won the race
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    def wipe(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
