"""The shape of agentlib/, read from its source with `ast`: no import circle (between modules
or between packages, counting lazy and TYPE_CHECKING imports too), the layers of DESIGN.md,
short files, and only the CLI printing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "agentlib"


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str:
    """The agentlib module `name` lives in (`agentlib.code.calls.accepts` -> its module)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _imports(path: Path) -> set[str]:
    """Every agentlib module `path` imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {_owner(a.name) for a in node.names if a.name.startswith("agentlib")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.split(".")[0] == "agentlib":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in MODULES else _owner(node.module))
    return found


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "agentlib"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_scan_sees_a_circle_when_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert "agentlib.code" in GRAPH["agentlib.library.reads"]  # the scan reads imports


def test_no_module_imports_itself_through_others():
    assert _cycles(GRAPH) == []


def test_no_package_imports_itself_through_others():
    packages: dict[str, set[str]] = {}
    for module, imported in GRAPH.items():
        packages.setdefault(_package(module), set()).update(
            _package(i) for i in imported if _package(i) != _package(module))
    assert _cycles(packages) == []


LAYERS = {  # what each package may import besides model, errors and version (DESIGN.md)
    "model": set(),
    "code": set(),
    "sandbox": set(),
    "verify": {"sandbox"},
    "config": set(),
    "llm": {"config"},
    "library": {"code", "sandbox", "verify"},
    "plugins": {"library", "llm", "verify"},
    "refactor": {"code", "library", "llm", "sandbox", "verify"},
    "runtime": {"config", "library", "llm", "plugins", "sandbox", "verify"},
    "agent": {"code", "config", "library", "llm", "refactor", "runtime", "sandbox", "verify"},
}


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_each_package_imports_only_the_layers_below_it(package):
    allowed = LAYERS[package] | {package, "model", "errors", "version"}
    imported = {_package(i) for m, found in GRAPH.items() if _package(m) == package
                for i in found}
    assert imported <= allowed, f"{package} imports {sorted(imported - allowed)}"


def test_no_file_outside_the_sandbox_is_over_400_lines():
    # sandbox/ is being split by its own change; every other file is read in one sitting.
    long = {str(p.relative_to(ROOT)): n for p in ROOT.rglob("*.py")
            if p.relative_to(ROOT).parts[0] != "sandbox"
            and (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def test_only_the_cli_prints_or_exits():
    # bench/ writes its figures through a `report` callback; its sandbox benchmark still
    # prints when run as a script (bench/sandbox.py, to be changed with the benchmarks).
    found = []
    for path in ROOT.rglob("*.py"):
        if path.relative_to(ROOT).parts[0] in ("cli", "bench"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and (
                    (isinstance(node.func, ast.Name) and node.func.id in ("print", "exit"))
                    or (isinstance(node.func, ast.Attribute) and node.func.attr == "exit"
                        and isinstance(node.func.value, ast.Name)
                        and node.func.value.id in ("sys", "os"))):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
