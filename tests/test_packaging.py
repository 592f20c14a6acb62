"""What `pip install .` (not editable) copies: every file the package reads at run time."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_data_file_is_declared_as_package_data() -> None:
    package = ROOT / "src" / "conveyor"
    data_files = {str(p.relative_to(package)) for p in package.rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["conveyor"])
    assert data_files <= declared, f"missing from [tool.setuptools.package-data]: {sorted(data_files - declared)}"
