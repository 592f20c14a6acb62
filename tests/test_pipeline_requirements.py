"""A function's `requirements:` as a Lambda layer, without the package index: pip installs from a folder of
wheels (PIP_FIND_LINKS, PIP_NO_INDEX), as it would from PyPI. `conveyor export` puts the layer in the
template and its zip among the artifacts (the same bytes from two builds); deployed to Conveyor, a function
of the server's own Python version imports the package from the layer; pip's failure is told in a line;
`conveyor apply` says which requirements the server's Python lacks."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import CLI_ENV

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"  # Conveyor runs functions with this Python
PIPELINE = f"""
functions:
  - name: layered
    code: code
    handler: handler.main
    runtime: {RUNTIME}
    requirements: ["tinydep==1.0"]
"""
HANDLER = """
import tinydep

def main(event, context):
    return {"value": tinydep.VALUE, "from": tinydep.__file__}
"""


def wheel(folder: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """A pure-Python wheel, made by hand (a zip with its dist-info and a RECORD of hashes)."""
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": 'VALUE = "from the layer"\n',
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(text.encode())}" for path, text in files.items()] + [f"{dist}/RECORD,,"]
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name_in_zip, text in files.items():
            archive.writestr(name_in_zip, text)
    return path


def conveyor(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conveyor.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **CLI_ENV, **env}, timeout=300)


def project(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "handler.py").write_text(HANDLER)
    (tmp_path / "conveyor.yaml").write_text(PIPELINE)
    wheel(tmp_path / "wheels")
    return {"PIP_FIND_LINKS": str(tmp_path / "wheels"), "PIP_NO_INDEX": "1",
            "XDG_CACHE_HOME": str(tmp_path / "cache")}


def exported(tmp_path: Path, out: str, env: dict[str, str]) -> tuple[dict[str, Any], bytes]:
    done = conveyor("export", "-o", f"{out}/template.yaml", "--artifacts", f"{out}/code", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    template = yaml.safe_load((tmp_path / out / "template.yaml").read_text())
    layer = template["Resources"]["LayeredLayer"]
    return template, (tmp_path / out / "code" / layer["Properties"]["Content"]["S3Key"]).read_bytes()


def test_requirements_become_a_layer_the_deployed_function_imports(tmp_path: Path, endpoint: str,
                                                                    client: Any) -> None:
    env = project(tmp_path)
    template, layer = exported(tmp_path, "out", env)
    resources = template["Resources"]
    assert resources["LayeredLayer"]["Type"] == "AWS::Lambda::LayerVersion"
    assert resources["LayeredLayer"]["Properties"]["CompatibleRuntimes"] == [RUNTIME]
    assert resources["LayeredFunction"]["Properties"]["Layers"] == [{"Ref": "LayeredLayer"}]
    site_packages = f"python/lib/{RUNTIME}/site-packages/"
    names = zipfile.ZipFile(io.BytesIO(layer)).namelist()
    assert f"{site_packages}tinydep/__init__.py" in names and f"{site_packages}tinydep-1.0.dist-info/METADATA" in names
    assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in zipfile.ZipFile(io.BytesIO(layer)).infolist())
    # Another build, from nothing (another cache, later): the same bytes.
    assert exported(tmp_path, "again", {**env, "XDG_CACHE_HOME": str(tmp_path / "cache-2")})[1] == layer

    deployed = conveyor("deploy", "out/template.yaml", "--stack", "layered", "--code-bucket", "layered-code",
                        "--endpoint", endpoint, cwd=tmp_path, env=env)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "Stack layered: CREATE_COMPLETE" in deployed.stdout
    answer = client("lambda").invoke(FunctionName="layered", Payload=b"{}")
    assert "FunctionError" not in answer, answer["Payload"].read()
    result = json.loads(answer["Payload"].read())
    assert result["value"] == "from the layer" and f"/{site_packages}tinydep/" in result["from"]


def test_a_requirement_pip_cannot_install_fails_the_export_in_a_line(tmp_path: Path) -> None:
    env = project(tmp_path)
    (tmp_path / "conveyor.yaml").write_text(PIPELINE.replace("tinydep==1.0", "tinydep==9.9"))
    done = conveyor("export", cwd=tmp_path, env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"conveyor: pip could not install tinydep==9.9 for {RUNTIME} (x86_64): "), done.stderr


def test_apply_says_which_requirements_this_python_lacks(tmp_path: Path, endpoint: str) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "handler.py").write_text(HANDLER)
    (tmp_path / "conveyor.yaml").write_text(PIPELINE.replace('["tinydep==1.0"]', '["tinydep==1.0", "pyyaml>=5"]'))
    done = conveyor("apply", "--endpoint", endpoint, cwd=tmp_path, env={})
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stdout.splitlines() if line.startswith("note:")]
    assert notes, done.stdout + done.stderr
    assert notes == ["note: function layered requires tinydep==1.0, which this Python lacks; its code runs with "
                     "the server's Python here: pip install 'tinydep==1.0'"]  # PyYAML is there
