"""The package's shape: no import circle, no private name used across modules, short modules.

Read with ``ast`` from the source files (nothing is imported), so a circle that only shows on
some import order, or inside a function body, is still found.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "kgan"
#: Modules allowed past ~400 lines, with the reason (the closing note repeats it).
LONG_MODULES = {}
MAX_LINES = 400


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def resolve(module, node):
    """The absolute module a ``from ... import`` refers to."""
    if not node.level:
        return node.module
    package = module.split(".")
    if not MODULES[module].name == "__init__.py":
        package = package[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join(package + ([node.module] if node.module else []))


def imports(module):
    """Yield ``(imported module, imported name or None)`` for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, node)
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:
                    yield f"{target}.{alias.name}", None
                else:
                    yield target, alias.name


def kgan_edges():
    edges = {}
    for module in MODULES:
        targets = set()
        for target, _ in imports(module):
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != module:
                targets.add(target)
        edges[module] = targets
    return edges


def find_cycle(edges):
    """One import circle as a list of modules, or None (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_circle():
    cycle = find_cycle(kgan_edges())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def is_private(name):
    return name.startswith("_") and not name.startswith("__")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_imported_from_another_module(module):
    used = []
    for target, name in imports(module):
        if not target.startswith("kgan"):
            continue
        private_parts = [part for part in target.split(".") if is_private(part)]
        if name is not None and is_private(name) or private_parts:
            used.append(f"{target}.{name}" if name else target)
    assert not used, f"{module} imports private names of other modules: {used}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_short(module):
    lines = len(MODULES[module].read_text().splitlines())
    limit = LONG_MODULES.get(module, (MAX_LINES, ""))[0]
    assert lines <= limit, (
        f"{module} has {lines} lines (limit {limit}): split it by concern")
