"""The import rules of ARCHITECTURE.md, checked on the code: layers, no cycles, clean edges.

The layer table is read from ARCHITECTURE.md itself (the one place it is written), and every
import of every module is found with ``ast`` — including imports inside functions, which is
where a cycle hides from Python's own import machinery.
"""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def layer_table() -> list[tuple[str, tuple[str, ...]]]:
    """(layer, package prefixes) from the table under ``## Layers``, top layer first."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8").split("## Layers", 1)[1]
    layers = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("layer", "") and not set(cells[0]) <= set("-"):
            layers.append((cells[0], tuple(re.findall(r"`([\w.]+)`", cells[1]))))
    return layers


def module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(base: Path, *packages: str) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in (base / package).rglob("*.py") if (base / package).is_dir() else [base / f"{package}.py"]:
            if "__pycache__" not in path.parts:
                found[module_name(path, base)] = path
    return found


def imports(path: Path, name: str) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in the file, relative ones resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            yield base, node.lineno
            for alias in node.names:  # "from pkg import module" names a module too
                yield f"{base}.{alias.name}", node.lineno


def resolve(target: str, known: dict[str, Path]) -> str | None:
    """The known module an import names (``a.b.c`` of ``from a.b import c`` may be a function of a.b)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


SRC_MODULES = modules(SRC, "entry", "edgenotify")
GRAPH = {
    name: {
        (resolved, line)
        for target, line in imports(path, name)
        if (resolved := resolve(target, SRC_MODULES)) and resolved != name
    }
    for name, path in SRC_MODULES.items()
}


def layer_of(module: str, layers: list[tuple[str, tuple[str, ...]]]) -> int:
    best, best_len = None, -1
    for index, (_, prefixes) in enumerate(layers):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best is not None, f"{module} is in no layer of ARCHITECTURE.md"
    return best


def test_the_layer_table_is_read_and_covers_the_code():
    layers = layer_table()
    assert [name for name, _ in layers][:2] == ["entry", "handlers"] and len(layers) >= 6
    assert all(prefixes for _, prefixes in layers)
    for module in SRC_MODULES:
        layer_of(module, layers)


def test_no_module_imports_from_a_layer_above_its_own():
    layers = layer_table()
    upward = [
        f"{module}:{line} imports {target} ({layers[layer_of(target, layers)][0]} is above "
        f"{layers[layer_of(module, layers)][0]})"
        for module, targets in GRAPH.items()
        for target, line in targets
        if layer_of(target, layers) < layer_of(module, layers)
    ]
    assert not upward, "\n".join(sorted(upward))


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, or None (iterative depth-first search, white/grey/black)."""
    state: dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                return path[path.index(child) :] + [child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    return None


def test_no_import_cycles_not_even_inside_functions():
    graph = {module: {target for target, _ in targets} for module, targets in GRAPH.items()}
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import():
    """The detector is not vacuous: the cycle this repository once had is found."""
    graph = {"app": {"routes", "db"}, "routes": {"api.openapi"}, "api.openapi": {"app", "db"}, "db": set()}
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and set(cycle) == {"app", "routes", "api.openapi"}
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def outside_imports(base: Path, packages: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{name}:{line} imports {target}"
        for name, path in modules(base, *packages).items()
        for target, line in imports(path, name)
        if target.split(".")[0] in forbidden
    ]


def test_src_never_imports_development_code():
    assert not outside_imports(SRC, ("entry", "edgenotify"), ("devkit", "tests", "bench", "scripts"))


def test_devkit_never_imports_tests_or_benchmarks():
    """The one exception: the parity harness loads the contract suite it runs under Pyodide."""
    found = outside_imports(ROOT, ("devkit",), ("tests", "bench"))
    assert [f for f in found if not re.match(r"devkit\.parity\.\S+ imports tests\.contract\b", f)] == []


def test_the_workers_sdk_and_its_private_attributes_appear_only_in_entry():
    sdk = outside_imports(SRC, ("edgenotify",), ("workers",))
    private = [
        f"{name}:{node.lineno}"
        for name, path in modules(SRC, "edgenotify").items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (isinstance(node, ast.Attribute) and node.attr == "_binding")
        or (isinstance(node, ast.Constant) and node.value in ("_binding", "js_id"))
    ]
    assert not sdk and not private, sdk + private
