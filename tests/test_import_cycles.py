"""Imports between the packages under app/ point one way: no package may reach itself through its imports.

Every module under app/ is parsed (not imported) and each `import app.x` / `from app.x import y`, at module level or
inside a function, becomes an edge between two nodes: a domain package (`app.gates.service` is `gates`) or a top-level
module (`app/errors.py` is `errors`).

Two kinds of module sit on top and are no part of the graph; they may import anything and nothing imports them:
- the composition root: `app/__init__.py`, `app/api.py` (registers every blueprint), `app/cli.py` (every command);
- a package's entry points, its `routes.py` / `*_routes.py` and `cli.py`: `routes → use cases → models`. Every
  route needs `auth`'s guard, and the guard needs the users and the audit trail; counted as part of their package,
  the routes of `users`, `audit` and `auth` itself would make a cycle that no placement of the use cases can undo.
"""

from __future__ import annotations

import ast
import itertools
from collections import deque
from dataclasses import dataclass
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent.parent / "app"
ROOT = "app"
# The composition root: the factory, the module that registers every blueprint and the one that registers commands.
COMPOSITION_ROOT = {"app", "app.api", "app.cli"}


def is_entry_point(module: str) -> bool:
    """A domain's routes and commands: app.gates.routes, app.auth.key_routes, app.risk.cli."""
    parts = module.split(".")
    return len(parts) > 2 and (parts[-1] in ("routes", "cli") or parts[-1].endswith("_routes"))


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. app.gates.service
    target: str  # the imported module, e.g. app.risk.schemas
    where: str  # file:line, e.g. app/gates/service.py:12


def module_name(path: Path) -> str:
    parts = list(path.relative_to(APP_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(APP_DIR.rglob("*.py"))}


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """Every import of an app module in `path`, wherever in the file it is written."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    shown = path.relative_to(APP_DIR.parent).as_posix() if path.is_relative_to(APP_DIR.parent) else path.name
    for node in ast.walk(tree):
        where = f"{shown}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from app.x import y` imports the module app.x.y when there is one, else a name from app.x.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        found += [Import(module, target, where) for target in targets if target.split(".")[0] == ROOT]
    return found


def node_of(module: str) -> str:
    """The package a module belongs to: app.gates.service -> gates, app.errors -> errors, app -> app."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def package_graph() -> tuple[dict[str, dict[str, Import]], list[Import]]:
    """Edges between packages (with the first import that makes each) and the imports of a module on top."""
    modules = app_modules()
    edges: dict[str, dict[str, Import]] = {}
    into_top = []
    for module, path in modules.items():
        if module in COMPOSITION_ROOT:
            continue
        for imp in imports_of(module, path, modules):
            if imp.target in COMPOSITION_ROOT or is_entry_point(imp.target):
                into_top.append(imp)
                continue
            if is_entry_point(module):
                continue
            source, target = node_of(imp.source), node_of(imp.target)
            if source != target:
                edges.setdefault(source, {}).setdefault(target, imp)
    return edges, into_top


def strongly_connected(edges: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's algorithm; only the components that hold a cycle (two or more packages)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in edges.get(node, {}):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def shortest_path(edges: dict[str, dict[str, Import]], start: str, goal: str, within: set[str]) -> list[str]:
    previous: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            break
        for succ in sorted(edges.get(node, {})):
            if succ in within and succ not in previous:
                previous[succ] = node
                queue.append(succ)
    path = [goal]
    while previous[path[-1]] is not None:
        path.append(previous[path[-1]])  # type: ignore[arg-type]
    return path[::-1]


def cycles(edges: dict[str, dict[str, Import]]) -> list[str]:
    """One spelled-out cycle through every edge that lies on a cycle, e.g.
    'auth → users → auth, via app/auth/service.py:12 and app/users/service.py:40'."""
    spelled = []
    seen: set[tuple[str, ...]] = set()
    for component in strongly_connected(edges):
        for source in sorted(component):
            for target in sorted(set(edges[source]) & component):
                ring = [source, *shortest_path(edges, target, source, component)]
                start = ring.index(min(ring[:-1]))  # one rotation per cycle, so each is reported once
                key = tuple(ring[start:-1] + ring[:start])
                if key in seen:
                    continue
                seen.add(key)
                nodes = [*key, key[0]]
                via = [edges[a][b].where for a, b in itertools.pairwise(nodes)]
                spelled.append(f"{' → '.join(nodes)}, via {', '.join(via[:-1])} and {via[-1]}")
    return spelled


def test_app_packages_import_each_other_without_cycles():
    edges, _ = package_graph()
    found = cycles(edges)
    assert not found, "Package import cycles under app/:\n  " + "\n  ".join(found)


def test_only_the_composition_root_imports_routes_commands_and_itself():
    _, into_top = package_graph()
    assert not into_top, "Only app/__init__.py, app/api.py and app/cli.py may import these:\n  " + "\n  ".join(
        f"{imp.where} imports {imp.target}" for imp in into_top
    )


def test_entry_points_are_routes_and_commands_of_a_domain():
    assert is_entry_point("app.gates.routes")
    assert is_entry_point("app.auth.key_routes")
    assert is_entry_point("app.risk.cli")
    assert not is_entry_point("app.gates.service")
    assert not is_entry_point("app.cli")


def test_the_checker_reports_a_cycle_with_where_it_is():
    a_to_b = Import("app.auth.service", "app.users.service", "app/auth/service.py:12")
    b_to_a = Import("app.users.service", "app.auth.models", "app/users/service.py:40")
    edges = {"auth": {"users": a_to_b}, "users": {"auth": b_to_a}, "common": {}}
    assert cycles(edges) == ["auth → users → auth, via app/auth/service.py:12 and app/users/service.py:40"]


def test_the_checker_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "service.py"
    source.write_text("def f():\n    from app.users import service\n    import app.errors\n")
    modules = {"app.users.service": source, "app.errors": source}
    targets = [(imp.target, imp.where.rsplit(":", 1)[1]) for imp in imports_of("app.auth.service", source, modules)]
    assert targets == [("app.users.service", "2"), ("app.errors", "3")]
