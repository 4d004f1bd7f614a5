"""The parts table of ARCHITECTURE.md holds, and no module imports itself back through others.

Arrows point down the table: a part imports only the parts it may. The pure parts (model, learn, policy,
ledger) import no sqlite, no settings and no typer; sqlite3 lives in the store's package (io/store) and typer
in the CLI (cli/, demo/) alone. Imports under `if TYPE_CHECKING:` are for the type checker and do not count.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import edgeloop

ROOT = Path(edgeloop.__file__).parent
EVERYTHING = {"model", "learn", "policy", "ledger", "audit", "io", "sim", "fleet", "agent", "bench", "api", "settings"}
#: part -> the parts it may import (ARCHITECTURE.md's table; `settings` is the top-level settings module)
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "learn": {"model"},
    "policy": {"model"},
    "ledger": {"model"},
    "audit": {"model"},
    "io": {"model"},
    "sim": {"model", "io"},
    "fleet": {"model", "learn", "io", "settings"},
    "agent": {"model", "learn", "policy", "ledger", "audit", "io", "settings"},
    "bench": {"model", "learn", "policy", "ledger", "audit", "io", "sim", "agent", "fleet", "settings"},
    "api": EVERYTHING - {"bench", "api"} | {"web"},
    "web": EVERYTHING - {"bench", "api"},
    "settings": {"model", "learn"},  # it checks learner names against the catalog
    "cli": EVERYTHING | {"demo", "web"},
    "demo": EVERYTHING | {"web"},
    "__main__": {"cli"},
}
#: third-party modules that only some parts may import
ONLY_IN = {"sqlite3": ("io/store/",), "typer": ("cli/", "demo/")}


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module `path` imports (absolute names), with its line; skips `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _modules() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        modules[".".join(parts)] = path
    return modules


def _part(module: str) -> str:
    """The part a module belongs to ("" for the package itself, which any part may import for its version)."""
    return module.split(".")[1] if "." in module else ""


def test_every_part_imports_only_the_parts_the_table_allows() -> None:
    modules = _modules()
    broken = []
    for module, path in modules.items():
        part = _part(module)
        for target, line in _imports(path):
            other = _part(target)
            if target in modules and other not in (part, "") and other not in ALLOWED.get(part, set()):
                broken.append(f"{path.relative_to(ROOT)}:{line} imports {target} ({part} -> {other})")
    assert broken == [], "\n".join(broken)


def test_sqlite_and_typer_are_imported_only_where_they_belong() -> None:
    broken = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        for target, line in _imports(path):
            allowed = ONLY_IN.get(target.split(".")[0])
            if allowed is not None and not rel.startswith(allowed):
                broken.append(f"{rel}:{line} imports {target}")
    assert broken == [], "\n".join(broken)


def test_no_module_imports_itself_back_through_others() -> None:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for target, _ in _imports(path):
            # a package's __init__ re-exporting its own modules is not a cycle; importing the package is a dependency
            # on its __init__ only from outside the package
            if target in modules and target != module and not (target == package or package.startswith(target + ".")):
                graph[module].add(target)
    cycles = _cycles(graph)
    assert cycles == [], "\n".join(" <-> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


#: a module a newcomer can read in one sitting; the agent a thin conductor of parts that have rooms of their own
MAX_MODULE_LINES = 400
MAX_AGENT_LINES = 250


def test_no_module_grows_past_what_one_reads_in_a_sitting() -> None:
    long = {str(p.relative_to(ROOT)): n for p in ROOT.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}  # fmt: skip
    assert long == {}, f"split these (at most {MAX_MODULE_LINES} lines): {long}"


def test_the_site_agent_stays_a_conductor() -> None:
    lines = (ROOT / "agent" / "site.py").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("class SiteAgent"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i][0].isspace()), len(lines))
    assert end - start < MAX_AGENT_LINES, f"SiteAgent is {end - start} lines: give a part its own room"
