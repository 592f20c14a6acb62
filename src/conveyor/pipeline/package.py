"""The code a pipeline runs, packaged for a CloudFormation template: one zip per function and worker pool,
built byte for byte the same from the same files (fixed timestamps and order), and named by its content
(`conveyor/NAME-SHA.zip`), so a template names exactly the code it was exported with and a changed file
becomes a changed S3 key, which CloudFormation updates the function for.
https://docs.aws.amazon.com/lambda/latest/dg/configuration-function-zip.html
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from conveyor.pipeline.spec import BUILTIN_MOVER, BUILTIN_PRESIGN
from conveyor.runtime import mover, presign

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
KEY_PREFIX = "conveyor/"


@dataclass(frozen=True)
class Artifact:
    """A zip and the key it goes under in the code bucket."""

    name: str
    body: bytes

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}{self.name}-{hashlib.sha256(self.body).hexdigest()[:16]}.zip"


def _zip(files: Iterable[tuple[str, Path]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(files):
            entry = zipfile.ZipInfo(name, date_time=_EPOCH)
            # An executable (a layer's bin/ script) stays one; nothing else of the file's state goes in.
            entry.external_attr = (0o755 if path.stat().st_mode & 0o111 else 0o644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    return buffer.getvalue()


def code_files(code: str, base_dir: Path) -> list[tuple[str, Path]]:
    """The files of a function's `code:`: the built-in mover or presign module, a directory's files, or one
    .py file (relative to the pipeline file)."""
    if code == BUILTIN_MOVER:
        return [("mover.py", Path(mover.__file__))]
    if code == BUILTIN_PRESIGN:
        return [("presign.py", Path(presign.__file__))]
    path = base_dir / code
    if path.is_dir():
        return [(file.relative_to(path).as_posix(), file) for file in path.rglob("*")
                if file.is_file() and "__pycache__" not in file.parts]
    if path.is_file():
        return [(path.name, path)]
    raise FileNotFoundError(f"function code {path} does not exist")


def command_files(command: list[str], base_dir: Path) -> list[tuple[str, Path]]:
    """A pool's package: the built-in mover, or the files its command line names that are next to the pipeline
    file (`python3 worker.py` packs worker.py; the command runs in the unpacked directory), with the Python
    modules beside a script it names (`functions/worker.py` imports `functions/thumbnail.py`: the script's
    directory is the first on its sys.path)."""
    if command == [BUILTIN_MOVER]:
        return [("mover.py", Path(mover.__file__))]
    files: dict[str, Path] = {}
    for part in command:
        path = base_dir / part
        if Path(part).is_absolute() or not path.is_file():
            continue
        files[Path(part).as_posix()] = path
        if path.suffix == ".py":
            for module in path.parent.glob("*.py"):
                files.setdefault(module.relative_to(base_dir).as_posix(), module)
    return sorted(files.items())


def artifact(name: str, files: list[tuple[str, Path]]) -> Artifact:
    return Artifact(name, _zip(files))
