"""`conveyor demo` runs the whole story and verifies every step itself."""

from __future__ import annotations

import subprocess
import sys


def test_demo_passes() -> None:
    result = subprocess.run([sys.executable, "-m", "conveyor.cli", "demo"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[5/5]" in result.stdout and "Demo passed" in result.stdout
    assert "scaled out to" in result.stdout and "redrove it" in result.stdout
