"""pipeline/lib's architecture, held: each folder imports only from the layers below it (or
from itself), and nothing in lib imports the Dagster wiring above it. Every import counts,
those inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

LIB = Path(__file__).parents[2] / "pipeline" / "lib"
# Bottom to top. A name is a folder (or a module) directly under pipeline/lib.
LAYERS: list[set[str]] = [
    {"core"},  # the clock, HTTP, images, the object store
    {"measures", "db", "sources"},
    {"failures"},  # the one table of what a failure means, for the photo and for money
    {"billing"},  # the ledger, prices, the daily budget, sending a billable request
    {"generators"},
    {"day", "settings", "findings"},  # findings: the judge and the findings table
    {"votes"},  # the vote service: what a vote is, storing it, the daily tally
    {"site", "observability"},
    {"orchestration", "settings_docs"},
]
LAYER = {name: depth for depth, names in enumerate(LAYERS) for name in names}
ABOVE_LIB = ("pipeline.defs", "pipeline.definitions", "pipeline.cli", "pipeline.runner")


def lib_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, name) for line, name in found if name.startswith("pipeline")]


def part_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["pipeline", "lib"] else None


def test_every_lib_folder_has_a_layer() -> None:
    names = {p.stem if p.suffix == ".py" else p.name for p in LIB.iterdir()}
    names -= {"__init__", "__pycache__"}
    assert names == set(LAYER), names ^ set(LAYER)


def test_no_import_runs_back_up() -> None:
    wrong = []
    for path in LIB.rglob("*.py"):
        relative = path.relative_to(LIB)
        home = relative.parts[0].removesuffix(".py")
        if home == "__init__":
            continue
        for line, module in lib_imports(path):
            target = part_of(module)
            where = f"{relative}:{line} imports {module}"
            if module.startswith(ABOVE_LIB):
                wrong.append(f"{where} (Dagster wiring, above lib)")
            elif target and target != home and LAYER[target] >= LAYER[home]:
                wrong.append(f"{where} (layer {LAYER[target]} from layer {LAYER[home]})")
    assert wrong == []
