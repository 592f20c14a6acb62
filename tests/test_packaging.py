"""What `pip install .` (not editable) copies: every file the package reads at run time."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_data_file_is_declared_as_package_data() -> None:
    package = ROOT / "src" / "conveyor"
    data_files = {str(p.relative_to(package)) for p in package.rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["conveyor"])
    assert data_files <= declared, f"missing from [tool.setuptools.package-data]: {sorted(data_files - declared)}"


def test_every_stub_package_the_source_imports_is_a_test_extra() -> None:
    """`mypy` in CI runs on a clean install of the test extras: a mypy_boto3_X the handlers import for their
    request types must be installed by them (as a `mypy-boto3-x` package or a `boto3-stubs[x]` extra)."""
    imported = {m.group(1) for path in (ROOT / "src").rglob("*.py")
                for m in re.finditer(r"\bmypy_boto3_([a-z0-9_]+)", path.read_text())}
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["test"]
    installed: set[str] = set()
    for requirement in extras:
        if (single := re.match(r"mypy-boto3-([a-z0-9-]+)", requirement)) is not None:
            installed.add(single.group(1).replace("-", "_"))
        elif (bundle := re.match(r"boto3-stubs\[([^\]]*)\]", requirement)) is not None:
            installed |= {name.strip().replace("-", "_") for name in bundle.group(1).split(",")}
    assert imported <= installed, f"add to the test extras: {sorted(imported - installed)}"
