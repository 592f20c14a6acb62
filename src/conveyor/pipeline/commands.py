"""A pool's command, checked where the pipeline file is: workers run in the file's directory, so
`command: python worker.py` means the worker.py next to the file, and a command that cannot start is
refused at apply (with its line), not discovered later as a crash loop."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

# Interpreters whose first non-option argument is a script file. For each: the short options that take
# a value, the long ones that do, and the options after which there is no script (code or a module).
_INTERPRETERS: list[tuple[re.Pattern[str], str, set[str], str, set[str]]] = [
    (re.compile(r"^(python|pypy)[0-9.]*$"), "WX", {"--check-hash-based-pycs"}, "cm", set()),
    (re.compile(r"^(node|nodejs)$"), "r", {"--require", "--import", "--loader"}, "ep", {"--eval", "--print"}),
    (re.compile(r"^(ba|z|da)?sh$"), "oO", set(), "cs", set()),
    (re.compile(r"^(ruby|perl)$"), "Ir", set(), "eE", set()),
    (re.compile(r"^php$"), "dc", set(), "r", set()),
]


def script_of(command: list[str]) -> str | None:
    """The script file an interpreter command runs (`python worker.py` -> worker.py), if any. Short
    options combine as getopt reads them (`-uc CODE` runs code, `-Wignore` carries its value)."""
    name = os.path.basename(command[0])
    for pattern, short_value, long_value, short_stop, long_stop in _INTERPRETERS:
        if not pattern.match(name):
            continue
        args = iter(command[1:])
        for arg in args:
            if arg == "-" or arg in long_stop:
                return None  # the program comes from stdin or the command line
            if arg.startswith("--"):
                if arg in long_value:
                    next(args, None)
                continue
            if arg.startswith("-"):
                for index, letter in enumerate(arg[1:], start=1):
                    if letter in short_stop:
                        return None
                    if letter in short_value:
                        if index == len(arg) - 1:
                            next(args, None)  # the value is the next argument
                        break
                continue
            return arg
        return None
    return None


def command_problem(command: list[str], base_dir: Path, path: str | None = None) -> str | None:
    """Why `command` cannot start from `base_dir` (the pipeline file's directory), or None."""
    program = command[0]
    if os.sep in program:
        resolved = Path(program) if os.path.isabs(program) else base_dir / program
        if not resolved.is_file():
            return f"{program} does not exist (looked for {resolved})"
        if not os.access(resolved, os.X_OK):
            return f"{program} is not executable (chmod +x {resolved})"
    elif shutil.which(program, path=path) is None:
        return f"{program!r} is not a program on this machine's PATH"
    script = script_of(command)
    if script is not None:
        resolved = Path(script) if os.path.isabs(script) else base_dir / script
        if not resolved.is_file():
            return f"the script {script} does not exist (looked for {resolved}, next to the pipeline file)"
    return None
