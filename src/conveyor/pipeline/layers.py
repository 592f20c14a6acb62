"""A function's `requirements:` as a Lambda layer for `conveyor export`: the packages pip installs for the
function's runtime on Lambda's platform (Amazon Linux, x86_64 manylinux wheels), zipped under
`python/lib/python3.X/site-packages/`, one of the paths Lambda puts on a Python runtime's sys.path
(https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html#packaging-layers-paths; the pip options
are those of https://docs.aws.amazon.com/lambda/latest/dg/python-layers.html).

That path names its Python version, so here too (conveyor/services/lambda_/invoke.py adds it for the
interpreter functions run with) the layer serves only the runtime it was built for: on a server whose
Python differs, a function uses that Python's own packages (`pip install` them beside Conveyor, as the
`photo` extra does for the photo app) rather than binaries built for another interpreter.

The zip is the same bytes for the same installed files (fixed times, sorted names, no byte code). A built
layer is kept in the user's cache, keyed by the requirements, runtime and architecture, so exporting again
gives the same layer without asking the package index; pin versions (`pillow==12.2.0`) for a layer that is
the same on every machine. pip reads its usual configuration (PIP_INDEX_URL, PIP_FIND_LINKS, pip.conf).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from conveyor.pipeline import package
from conveyor.pipeline.package import Artifact
from conveyor.pipeline.spec import PipelineError

# The wheels' platforms for each of Lambda's architectures, newest manylinux first (the Python runtimes run on
# Amazon Linux 2023, whose glibc is 2.34).
PLATFORMS = {"x86_64": ("manylinux_2_28_x86_64", "manylinux2014_x86_64"),
             "arm64": ("manylinux_2_28_aarch64", "manylinux2014_aarch64")}
ARCHITECTURE = "x86_64"  # what the exported functions run on (Lambda's default)


class LayerError(PipelineError):
    """The layer could not be built (a runtime that is not Python's, pip's failure)."""


def python_version(runtime: str) -> str:
    """`python3.12` -> `3.12`."""
    found = re.fullmatch(r"python(3\.\d+)", runtime)
    if found is None:
        raise LayerError(f"requirements are installed for Python runtimes, not {runtime}")
    return found.group(1)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "conveyor" / "layers"


def site_packages(runtime: str) -> str:
    return f"python/lib/python{python_version(runtime)}/site-packages"


def layer(name: str, requirements: list[str], runtime: str, architecture: str = ARCHITECTURE) -> Artifact:
    """The layer zip for `requirements` on `runtime`, from the cache or built now."""
    version = python_version(runtime)
    key = hashlib.sha256(json.dumps([sorted(requirements), runtime, architecture, PLATFORMS[architecture]])
                         .encode()).hexdigest()[:32]
    cached = cache_dir() / f"{key}.zip"
    if cached.is_file():
        return Artifact(name, cached.read_bytes())
    with tempfile.TemporaryDirectory(prefix="conveyor-layer-") as work:
        target = Path(work) / site_packages(runtime)
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                   "--target", str(target), "--implementation", "cp", "--python-version", version,
                   "--only-binary=:all:"]
        for platform in PLATFORMS[architecture]:
            command += ["--platform", platform]
        try:
            installed = subprocess.run([*command, *requirements], capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            raise LayerError(f"pip did not install {' '.join(requirements)} for {runtime} within 600 seconds") from None
        if installed.returncode != 0:
            said = (installed.stderr or installed.stdout).strip().splitlines()
            raise LayerError(f"pip could not install {' '.join(requirements)} for {runtime} ({architecture}): "
                             + (said[-1] if said else f"exit status {installed.returncode}"))
        root = Path(work)
        files = [(path.relative_to(root).as_posix(), path) for path in root.rglob("*")
                 if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"]
        made = package.artifact(name, files)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(made.body)
    partial.replace(cached)
    return made
