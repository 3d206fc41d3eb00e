"""The import graph of `sportello`, read from the source with `ast` (no module is imported).

- No import cycle among its modules, counting every import statement — at the top of a module
  and inside functions — except those under `if TYPE_CHECKING:` (annotations only).
- No private name (`_name`) crosses modules: neither `from sportello.x import _y` nor `x._y` on
  an imported sportello module, from another module.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "sportello"

pytestmark = pytest.mark.django_db(databases=[])


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def _modules() -> dict[str, Module]:
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        found[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return found


MODULES = _modules()


def _typing_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under `node`, skipping the bodies of `if TYPE_CHECKING:`."""
    if isinstance(node, ast.If) and _typing_only(node):
        for statement in node.orelse:
            yield from _import_nodes(statement)
        return
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    for child in ast.iter_child_nodes(node):
        yield from _import_nodes(child)


def _source(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom reads from."""
    if not node.level:
        return node.module or ""
    base = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _known(name: str) -> str | None:
    """The longest sportello module that `name` names (a module, or a name in one)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module in MODULES.values():
        for node in _import_nodes(module.tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                source = _source(module, node)
                targets = [source, *(f"{source}.{a.name}" for a in node.names)]
            for target in targets:
                found = _known(target)
                if (
                    found is not None
                    and found != module.name
                    and found != PACKAGE
                    and not module.name.startswith(found + ".")  # a package's own __init__
                ):
                    graph[module.name].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):  # a module that imports nothing of ours is in no cycle
        if v not in index:
            visit(v)
    return found


def _path_within(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One concrete cycle through the component's first module, for the failure message."""
    members, start = set(component), component[0]
    parents: dict[str, str] = {}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, set()) & members):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if w not in parents:
                parents[w] = v
                queue.append(w)
    return component  # pragma: no cover - a component always holds a cycle


def test_no_import_cycle_among_sportello_modules() -> None:
    graph = import_graph()
    found = cycles(graph)
    message = "\n".join(
        f"cycle of {len(c)} modules: {' -> '.join(_path_within(graph, c))}\n  all: {', '.join(c)}"
        for c in found
    )
    assert not found, f"import cycles (imports inside functions count; TYPE_CHECKING ones do not):\n{message}"


def private_crossings() -> list[str]:
    found = []
    for module in MODULES.values():
        aliases: dict[str, str] = {}  # local name -> the sportello module it is bound to
        for node in ast.walk(module.tree):
            if isinstance(node, ast.ImportFrom):
                source = _source(module, node)
                if source != PACKAGE and not source.startswith(PACKAGE + "."):
                    continue
                for alias in node.names:
                    full = f"{source}.{alias.name}"
                    if full in MODULES:
                        aliases[alias.asname or alias.name] = full
                    elif alias.name.startswith("_") and source != module.name:
                        found.append(f"{module.name}:{node.lineno} imports {source}.{alias.name}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in MODULES:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and aliases[node.value.id] != module.name
            ):
                found.append(f"{module.name}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    return sorted(found)


def test_no_private_name_crosses_modules() -> None:
    assert private_crossings() == []


def test_the_checks_see_a_cycle_and_a_private_import() -> None:
    # Given a graph with a cycle through a function-level import
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    # Then it is found, and a path through it is named
    assert [c for c in cycles(graph) if set(c) <= {"a", "b", "c"}] == [["a", "b", "c"]]
    assert _path_within(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    # And imports under TYPE_CHECKING are skipped, those inside functions are not
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x\ndef f():\n    import y\n"
    )
    assert sorted(a.name for n in _import_nodes(tree) if isinstance(n, ast.Import) for a in n.names) == ["y"]
