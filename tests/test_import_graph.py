"""The import graph of src/conveyor, read with ast: no cycle among the imports that run when a module loads,
and the App reached only from the top (it is wired there, never fetched from below)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "conveyor"

# Cycles inside service packages, which their owners are taking apart: each as its modules, sorted. An added
# cycle fails the test; one that is gone fails it too, to say this list must shrink.
KNOWN_CYCLES: set[tuple[str, ...]] = set()

# The modules that may import conveyor.app: those above it (serving, the command, the demo), Conveyor's
# own API (whose endpoints act on the whole App) and the package's public names.
MAY_IMPORT_APP = {"conveyor", "conveyor.server", "conveyor.cli", "conveyor.demo", "conveyor.internal_api"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports_at_load(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module loads: not in functions, not under `if TYPE_CHECKING:`."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _imports_at_load(node.body)
            yield from _imports_at_load(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _imports_at_load(block)
        elif isinstance(node, ast.With | ast.ClassDef | ast.For | ast.While):
            yield from _imports_at_load(node.body)


def _imports(tree: ast.Module, *, at_load: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """With `at_load`, the imports that run when the module loads; else every one, wherever it is."""
    if at_load:
        yield from _imports_at_load(tree.body)
    else:
        yield from (node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom))


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool, modules: set[str]) -> Iterator[str]:
    """The modules of ours an import statement loads: the one it names and the packages above it (whose
    __init__ runs first), except the importer's own packages, which are loading already (a package's
    __init__ importing its modules is no cycle; a module taking names from its package's __init__ is)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = importer.split(".") if is_package else importer.split(".")[:-1]
            base = base[:len(base) - node.level + 1]
            origin = ".".join(base + ([node.module] if node.module else []))
        else:
            origin = node.module or ""
        # `from package import module` loads the module; `from module import name`, the module.
        names = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin for alias in node.names]
    own_packages = {".".join(importer.split(".")[:i]) for i in range(1, importer.count(".") + 1)}
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            implicit = i < len(parts)
            if prefix in modules and prefix != importer and not (implicit and prefix in own_packages):
                yield prefix


def import_graph(*, at_load: bool) -> dict[str, set[str]]:
    modules = all_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == "__init__.py"
        graph[name] = {target for node in _imports(tree, at_load=at_load)
                       for target in _targets(node, name, is_package, set(modules))}
    return graph


def cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components with more than one module (or a module importing itself), each as
    its sorted module names (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.add(tuple(sorted(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_runs_when_modules_load() -> None:
    found = cycles(import_graph(at_load=True))
    added = found - KNOWN_CYCLES
    gone = KNOWN_CYCLES - found
    assert not added, f"new import cycles: {sorted(added)}"
    assert not gone, f"cycles gone, shrink KNOWN_CYCLES: {sorted(gone)}"


def test_the_app_is_imported_only_from_the_top() -> None:
    importers = {name for name, targets in import_graph(at_load=False).items() if "conveyor.app" in targets}
    assert importers <= MAY_IMPORT_APP, f"reach the App through ports instead: {sorted(importers - MAY_IMPORT_APP)}"


def test_the_graph_sees_imports_of_every_kind() -> None:
    """The reader itself: relative and absolute imports, packages above a module, and what it leaves out."""
    graph = import_graph(at_load=True)
    assert "conveyor.wire.http" in graph["conveyor.wire"]  # `from conveyor.wire.http import ...` in a package
    assert "conveyor.gateway.access" in graph["conveyor.gateway.chain"]  # `from conveyor.gateway import access`
    assert "conveyor.gateway" not in graph["conveyor.gateway.chain"]  # its own package, loaded first
    assert "conveyor.gateway" in graph["conveyor.app"]  # the package above conveyor.gateway.chain
    modules = set(all_modules())
    taking_names = ast.parse("from conveyor.wire import ServiceError").body[0]
    assert isinstance(taking_names, ast.ImportFrom)
    assert set(_targets(taking_names, "conveyor.wire.http", False, modules)) == {"conveyor.wire"}
    relative = ast.parse("from .errors import ServiceError").body[0]
    assert isinstance(relative, ast.ImportFrom)
    assert set(_targets(relative, "conveyor.wire.http", False, modules)) == {"conveyor.wire.errors"}
    assert "conveyor.app" in graph["conveyor.server"]
    assert "conveyor.app" not in graph["conveyor.internal_api"]  # only under TYPE_CHECKING
    assert "conveyor.app" in import_graph(at_load=False)["conveyor.internal_api"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {("a", "b", "c")}
