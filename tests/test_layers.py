"""Dependencies run one way: cli/review/scheduler -> app (recipes) -> stages -> domain and config.

Every import in src/vaern is read (at the top of a module, inside a function, or for type checking
only: each is a dependency) and held to the layers below. A part may import a part of a lower
layer, never one of its own layer or above, and no modules import each other in a circle. The
alerts have a public surface: outside vaern/alerts, only `vaern.alerts` itself is imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import vaern

SRC = Path(vaern.__file__).parent

# Lowest first. A part is a package under vaern (vaern.config) or a top-level module (vaern.app).
LAYERS: list[tuple[str, set[str]]] = [
    ("records, errors, ids, the clock and the words", {"vaern", "domain", "errors", "ids", "clock", "words"}),
    ("the config", {"config"}),
    ("stages others build on: matching (pure), storage", {"matchers", "storage"}),
    ("stages", {"crawler", "alerts", "pipeline", "retention", "discovery"}),
    ("the crawl supervisor", {"supervisor"}),
    ("the recipes, the crawl queue, and the local stand-ins tests and the demo run against",
     {"app", "crawlqueue", "testing"}),
    ("recipes built on the recipes: a one-off capture", {"oneoff"}),
    ("entry points", {"review", "scheduler", "status"}),
    ("the queue's worker (it logs as the service does)", {"worker"}),
    ("the demo", {"demo"}),
    ("the command line", {"cli"}),
    ("python -m vaern", {"__main__"}),
]
RANK = {part: rank for rank, (_, parts) in enumerate(LAYERS) for part in parts}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = SRC.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """(module imported, line) for every import of a vaern module in the file."""
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "vaern":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "vaern":
                continue
            for alias in node.names:  # `from vaern import clock` imports the module vaern.clock
                sub = f"{base}.{alias.name}"
                yield (sub if _is_module(sub) else base), node.lineno


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "vaern"


def _graph() -> dict[str, list[tuple[str, int]]]:
    return {_module_name(p): sorted(set(_imports(p))) for p in sorted(SRC.rglob("*.py"))}


Graph = dict[str, list[tuple[str, int]]]


def against_the_direction(graph: Graph) -> list[str]:
    """Each import of a part of the importer's own layer or a higher one."""
    wrong = []
    for module, imports in graph.items():
        mine = _part(module)
        for target, line in imports:
            theirs = _part(target)
            if theirs != mine and RANK[theirs] >= RANK[mine]:
                layer = "its own layer" if RANK[theirs] == RANK[mine] else f"a higher layer ({LAYERS[RANK[theirs]][0]})"
                wrong.append(f"{module}:{line} imports {target}, of {layer}")
    return wrong


def circles(graph: Graph) -> list[list[str]]:
    """Each circle of modules importing each other (a package's own __init__ is no edge: it is
    imported on the way to any of its modules)."""
    edges = {
        m: sorted({t for t, _ in imports if t != m and not m.startswith(t + ".")}) for m, imports in graph.items()
    }
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    path: list[str] = []

    def walk(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in edges.get(module, []):
            if state.get(target) == 1:
                found.append([*path[path.index(target):], target])
            elif target not in state:
                walk(target)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            walk(module)
    return found


def test_every_part_is_in_a_layer() -> None:
    parts = {_part(m) for m in _graph()}
    assert sorted(parts - set(RANK)) == []


def test_imports_run_down_the_layers() -> None:
    assert against_the_direction(_graph()) == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert circles(_graph()) == []


def test_outside_the_alerts_only_their_public_surface_is_imported() -> None:
    import vaern.alerts

    reaching_in = [
        f"{module}:{line} imports {target}"
        for module, imports in _graph().items()
        if _part(module) != "alerts"
        for target, line in imports
        if target.startswith("vaern.alerts.")
    ]
    assert reaching_in == []
    assert all(getattr(vaern.alerts, name) is not None for name in vaern.alerts.__all__)


def test_an_import_up_the_layers_or_a_circle_is_found() -> None:
    """The checks themselves: storage importing the review app, matchers importing storage (one
    layer), and the CLI and the demo importing each other are each caught."""
    graph: Graph = {
        "vaern.storage.export": [("vaern.review.i18n", 3), ("vaern.config", 4)],
        "vaern.matchers.names": [("vaern.storage.tables", 7)],
        "vaern.cli": [("vaern.demo.run", 9)],
        "vaern.demo.run": [("vaern.cli", 11)],
    }
    assert against_the_direction(graph) == [
        "vaern.storage.export:3 imports vaern.review.i18n, of a higher layer (entry points)",
        "vaern.matchers.names:7 imports vaern.storage.tables, of its own layer",
        "vaern.demo.run:11 imports vaern.cli, of a higher layer (the command line)",
    ]
    assert circles(graph) == [["vaern.cli", "vaern.demo.run", "vaern.cli"]]
    # What the real code imports is read from every kind of import statement.
    found = {t for t, _ in _imports(SRC / "app.py")}
    assert {"vaern.config", "vaern.supervisor", "vaern.alerts", "vaern.storage.queries"} <= found
