"""The package layout follows the flow, and imports keep to it (docs/architecture.md).

Each module's imports of the service are read from its source (not executed) and checked
against who may import whom: the stages (speech, matching, answers) never import the turn or
a channel, and nothing the server runs imports the offline tools. Imports under
`if TYPE_CHECKING:` are left out: they are annotations only and run nothing.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parent.parent / "service"

# Layer of each top-level part; a module may import its own layer or a lower one.
LAYERS: dict[str, int] = {
    "config": 0,
    "params": 0,
    "corpus": 0,
    "names": 0,
    "threads": 0,
    "speech": 1,
    "matching": 1,
    "answers": 2,  # answers say what matching found and play audio: they may import both
    "lookup": 3,
    "reload": 3,
    "ops": 3,  # bookkeeping and reports, which read the stages' records
    "turn": 4,
    "runtime": 4,
    "channels": 5,
    "server": 6,
    "app": 6,
    "offline": 7,
    "cli": 7,
}
# Within layer 1 the two parts do not import each other: audio never depends on matching.
INDEPENDENT = {"speech", "matching"}


def _part(module: str) -> str:
    """service.matching.matcher -> matching; service.turn -> turn."""
    return module.split(".")[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(SERVICE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST, *, annotations: bool = False) -> set[str]:
    """The `service.*` modules a tree imports, function-level imports included; type-only ones
    (under `if TYPE_CHECKING:`) only with `annotations`."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking_block(child) and not annotations:
                continue
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                if child.module.startswith("service."):
                    found.add(child.module)
            elif isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("service."))
            visit(child)

    visit(tree)
    return found


@functools.cache
def _modules() -> dict[str, set[str]]:
    out = {}
    for path in sorted(SERVICE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        out[_module_name(path)] = _imports(ast.parse(path.read_text(encoding="utf-8")))
    return out


def test_every_module_belongs_to_a_part_of_the_flow() -> None:
    parts = {_part(m) for m in _modules() if m != "service"}
    assert parts <= set(LAYERS), f"modules outside the layout: {sorted(parts - set(LAYERS))}"
    assert {"speech", "matching", "answers", "channels", "ops", "offline"} <= parts


@pytest.mark.parametrize("module", sorted(m for m in _modules() if m != "service"))
def test_imports_follow_the_flow(module: str) -> None:
    mine = _part(module)
    wrong = []
    for imported in sorted(_modules()[module]):
        theirs = _part(imported)
        if theirs == mine:
            continue
        if LAYERS[theirs] > LAYERS[mine] or (mine in INDEPENDENT and theirs in INDEPENDENT):
            wrong.append(imported)
    assert not wrong, f"{module} ({mine}) must not import {wrong}"


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    """The check itself: matching importing a channel, or the server importing offline tools, is caught."""
    tree = ast.parse("from service.channels.schemas import SearchOut\nimport service.offline.importer\n")
    imported = _imports(tree)
    assert imported == {"service.channels.schemas", "service.offline.importer"}
    assert all(LAYERS[_part(m)] > LAYERS["matching"] for m in imported)
    hidden = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from service.app import x\n")
    assert _imports(hidden) == set()


def test_nothing_the_server_runs_imports_the_offline_tools() -> None:
    for module, imported in _modules().items():
        if module == "service" or _part(module) in ("offline", "cli"):
            continue
        offline = sorted(m for m in imported if _part(m) == "offline")
        assert not offline, f"{module} imports offline tools {offline}"


def test_every_service_import_names_a_module_that_exists() -> None:
    """mypy skips modules it cannot find (ignore_missing_imports), so a stale path after a move would pass it."""
    root = SERVICE.parent
    files = [*SERVICE.rglob("*.py"), *(root / "tests").glob("*.py"), *(root / "bench").glob("*.py")]
    files += [*(root / "scripts").glob("*.py")]
    missing = {}
    for path in files:
        for module in _imports(ast.parse(path.read_text(encoding="utf-8")), annotations=True):
            base = root.joinpath(*module.split("."))
            if not (base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()):
                missing.setdefault(module, []).append(str(path.relative_to(root)))
    assert not missing, f"imports of modules that do not exist: {missing}"
