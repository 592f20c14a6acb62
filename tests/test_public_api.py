"""The public API: `conveyor.__all__`, what a program embedding Conveyor imports, and the README's example
of it run as written."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import conveyor
from conveyor.app import App
from conveyor.clock import Clock, ManualClock
from conveyor.config import Config
from conveyor.control import ControlClient, ControlError, Credentials
from conveyor.pipeline.apply import Applier, Report
from conveyor.pipeline.spec import Pipeline, PipelineError, load
from conveyor.server import serve, serve_in_thread

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {
    "App": App, "Config": Config, "Clock": Clock, "ManualClock": ManualClock, "serve": serve,
    "serve_in_thread": serve_in_thread, "ControlClient": ControlClient, "ControlError": ControlError,
    "Credentials": Credentials, "Pipeline": Pipeline, "PipelineError": PipelineError, "load_pipeline": load,
    "Applier": Applier, "Report": Report,
}


def test_all_names_the_public_api_and_each_name_is_the_real_object() -> None:
    assert set(conveyor.__all__) == {*EXPECTED, "__version__"}
    for name, expected in EXPECTED.items():
        assert getattr(conveyor, name) is expected, name
    assert set(EXPECTED) <= set(dir(conveyor))


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from conveyor import *", namespace)
    assert {k for k in namespace if k != "__builtins__"} == set(conveyor.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Gateway'"):
        conveyor.Gateway  # noqa: B018 - the lookup is the test
    with pytest.raises(ImportError):
        exec("from conveyor import Gateway", {})


def test_version_is_the_packaged_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert conveyor.__version__ == project["version"]


def test_importing_the_package_does_not_load_the_server() -> None:
    """Workers and functions import conveyor.runtime.mover: the package must not drag the App in."""
    code = ("import sys, conveyor, conveyor.runtime.mover; "
            "print(sorted(m for m in sys.modules if m in ('conveyor.app', 'conveyor.gateway.chain', 'conveyor.server')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_readme_embedding_example_runs_as_written(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Embedding Conveyor in Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1
    script = tmp_path / "embed.py"
    script.write_text(blocks[0])
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello"
