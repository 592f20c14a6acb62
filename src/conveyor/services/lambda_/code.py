"""Deployment packages: content-addressed zips (`code/<sha256>.zip`) and the trees execution environments
run from (`code/<sha256>/`).

A package is checked and extracted before anything refers to it, so a zip Lambda would refuse never
becomes a function and a failed extraction leaves nothing behind. Archives are hostile until proven
otherwise: names that climb out (`../x`, `/etc/x`), a file that is also a directory (`a` and `a/b`),
symbolic links that point out of the package, encrypted or exotic compression, and more than Lambda's
250 MB once unzipped (declared sizes are binding: Python's zipfile stops each member at its declared
size and checks its CRC, so a member cannot inflate past what the directory says).

Limits and messages: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (50 MB zipped
for a direct upload, 250 MB unzipped) and the InvalidParameterValueException texts Lambda answers with,
"Unzipped size must be smaller than 262144000 bytes" and "Could not unzip uploaded file. Please check
your file, then try to upload again."
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import io
import lzma
import os
import shutil
import stat
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from conveyor.storage.disk import DiskFull, DiskGuard, is_disk_full
from conveyor.wire import ServiceError

MAX_ZIP = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024
UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."
_CHUNK = 64 * 1024
# Deflate decompresses at most one chunk's worth of output per read; bzip2 and LZMA decompress a whole
# input chunk at once, which a crafted member can make gigabytes large in memory. Every zip tool
# writes stored or deflated members by default.
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# Failures the archive's names cause (not the machine's): refused, not internal errors.
_ARCHIVE_FAULTS = {errno.ENAMETOOLONG, errno.ELOOP, errno.EISDIR, errno.ENOTDIR, errno.EEXIST}
_UNIX = 3  # ZipInfo.create_system of archives made on Unix, the only ones whose mode bits mean anything


def _invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValueException", message, 400)


def _refused(reason: str) -> ServiceError:
    """An archive AWS would not unzip either, or one Conveyor will not (the reason says which)."""
    return _invalid(f"{UNZIP_FAILED} ({reason})" if reason else UNZIP_FAILED)


def _mode(info: zipfile.ZipInfo) -> int:
    return (info.external_attr >> 16) if info.create_system == _UNIX else 0


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(_mode(info))


def _parts(name: str) -> tuple[str, ...]:
    """The path of a member inside the package, refusing any that would land outside it."""
    if not name or name.startswith(("/", "\\")):
        raise _refused(f"the entry {name!r} has an absolute path")
    parts = PurePosixPath(name).parts
    if not parts or ".." in parts or ":" in parts[0]:
        raise _refused(f"the entry {name!r} is outside the package")
    return parts


class Package:
    """One uploaded zip, checked: which members become files, directories and links."""

    def __init__(self, data: bytes) -> None:
        if len(data) > MAX_ZIP:
            raise ServiceError("RequestEntityTooLargeException",
                               f"Request must be smaller than {MAX_ZIP} bytes for the CreateFunction operation", 413)
        self.data = data
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                self.members = zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
            raise _refused("")
        self._check()

    def _check(self) -> None:
        if sum(info.file_size for info in self.members) > MAX_UNZIPPED:
            raise _invalid(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")
        files: set[tuple[str, ...]] = set()
        directories: set[tuple[str, ...]] = set()
        for info in self.members:
            parts = _parts(info.filename)
            directories.update(parts[:i] for i in range(1, len(parts)))
            if info.is_dir():
                directories.add(parts)
                continue
            if info.flag_bits & 0x1:
                raise _refused(f"the entry {info.filename!r} is encrypted")
            if info.compress_type not in _COMPRESSIONS:
                raise _refused(f"the entry {info.filename!r} is compressed with method {info.compress_type}; "
                               "Conveyor unzips stored and deflated entries")
            files.add(parts)
        clash = files & directories
        if clash:
            name = "/".join(sorted(clash)[0])
            raise _refused(f"{name!r} is both a file and a directory")

    def extract(self, target: Path) -> None:
        """Write the tree to `target` (a new directory); on any failure nothing is left behind."""
        try:
            target.mkdir(parents=True)
            links: list[tuple[Path, str]] = []
            with zipfile.ZipFile(io.BytesIO(self.data)) as zf:
                for info in self.members:
                    dest = target.joinpath(*_parts(info.filename))
                    if info.is_dir():
                        dest.mkdir(parents=True, exist_ok=True)
                    elif _is_link(info):
                        links.append((dest, zf.read(info).decode("utf-8")))
                    else:
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        _write_member(zf, info, dest)
            # Links last, so that no member is ever written through one.
            for dest, pointee in links:
                _link(target, dest, pointee)
        except ServiceError:
            shutil.rmtree(target, ignore_errors=True)
            raise
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, RuntimeError, NotImplementedError,
                UnicodeDecodeError, ValueError):
            shutil.rmtree(target, ignore_errors=True)
            raise _refused("")
        except OSError as exc:
            shutil.rmtree(target, ignore_errors=True)
            if exc.errno in _ARCHIVE_FAULTS:  # e.g. a name longer than the file system allows
                raise _refused(f"an entry cannot be written here: {exc.strerror}")
            raise
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise


def _write_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path) -> None:
    # Never through a link (O_NOFOLLOW); a repeated name overwrites the earlier one, as `unzip -o` does.
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as out, zf.open(info) as source:
        while chunk := source.read(_CHUNK):
            out.write(chunk)
    mode = _mode(info)
    if mode:
        # Keep the executable bits (bootstrap scripts need them), never setuid/setgid, always readable.
        os.chmod(dest, mode & 0o755 | 0o400)


def _link(root: Path, dest: Path, pointee: str) -> None:
    """A symbolic link from the package (node_modules/.bin has them). On AWS an absolute or climbing link
    points into the function's own sandbox; here it would point into this machine, so it is refused."""
    if not pointee or "\0" in pointee or pointee.startswith("/"):
        raise _refused(f"the symbolic link {dest.relative_to(root).as_posix()!r} points outside the package")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink() or dest.exists():
        dest.unlink()
    os.symlink(pointee, dest)
    # Resolve physically (links through links): the lexical path can stay inside while the real one leaves.
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(dest)]) != real_root:
        raise _refused(f"the symbolic link {dest.relative_to(root).as_posix()!r} points outside the package")


class CodeStore:
    """Content-addressed zips (`<sha256>.zip`) and their extracted trees (`<sha256>/`)."""

    def __init__(self, root: Path, disk: DiskGuard | None = None) -> None:
        self.root = root
        self.disk = disk
        root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> tuple[str, str, int]:
        """Check, extract and store a zip; returns (hex digest, base64 CodeSha256, CodeSize).

        Blocking (up to 250 MB of extraction): call it off the event loop."""
        digest = hashlib.sha256(data)
        hexd = digest.hexdigest()
        result = hexd, base64.b64encode(digest.digest()).decode(), len(data)
        zip_path, tree = self.root / f"{hexd}.zip", self.root / hexd
        if zip_path.exists() and tree.is_dir():
            return result  # these very bytes were checked when they were first stored
        package = Package(data)
        if self.disk is not None:
            self.disk.check_room()  # a package stores more: never in the room kept for deletes
        with self._space():
            self._extract(package, tree)
            if not zip_path.exists():
                tmp = self.root / f"{hexd}.{uuid.uuid4().hex}.tmp"
                try:
                    with open(tmp, "wb") as fh:
                        fh.write(data)
                        fh.flush()
                        os.fsync(fh.fileno())
                    os.replace(tmp, zip_path)
                except BaseException:
                    tmp.unlink(missing_ok=True)
                    raise
        return result

    @contextlib.contextmanager
    def _space(self) -> Iterator[None]:
        """A write that runs out of disk becomes DiskFull (a retryable refusal), and releases the reserve."""
        try:
            yield
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            if self.disk is not None:
                self.disk.ran_out()
            raise DiskFull(str(exc)) from exc

    def path(self, hexd: str) -> Path:
        return self.root / f"{hexd}.zip"

    def read(self, hexd: str) -> bytes:
        return self.path(hexd).read_bytes()

    def extracted(self, hexd: str) -> Path:
        """The code tree for a digest, extracted again from its zip if it is missing."""
        tree = self.root / hexd
        if not tree.is_dir():
            with self._space():
                self._extract(Package(self.read(hexd)), tree)
        return tree

    def _extract(self, package: Package, tree: Path) -> None:
        if tree.is_dir():
            return
        # Extract beside the final name and rename, so a crash or a refusal never leaves a half tree.
        tmp = self.root / f"{tree.name}.{uuid.uuid4().hex}.extract"
        package.extract(tmp)
        try:
            os.replace(tmp, tree)
        except OSError:  # another extraction of the same digest won the race
            shutil.rmtree(tmp, ignore_errors=True)

    def wipe(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
