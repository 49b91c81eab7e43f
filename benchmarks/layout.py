"""Figures of the code's shape (issue 13): lines per module, import cycles, private imports.

Run: .venv/bin/python benchmarks/layout.py   (also part of ./dev bench)

Imports are read with ast, those inside functions included (a cycle hidden in a function is
still a cycle). A private import is ``from kiosk.x import _name`` of a name defined there.
A module's folder says where it runs (README, Architecture): kiosk/content/ and kiosk/hq/
where releases are built and kiosks managed, kiosk/device/ on a kiosk, kiosk/formats/ and
the modules at the top on both. "Device imports of headquarters code" counts the imports
from anything that runs on a kiosk into kiosk/content/ or kiosk/hq/ (kiosk/cli/ excepted:
it imports its headquarters commands' modules only when one of them runs).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 400


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / "kiosk").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> tuple[set[str], list[str]]:
    """The kiosk modules a module imports, and the private names it imports from them."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found, private = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module in known:
            found.add(node.module)
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in known:
                    found.add(sub)
                elif alias.name.startswith("_") and alias.name != "__version__":
                    private.append(f"{node.module}.{alias.name}")
    return found, private


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def package_of(name: str, known: dict[str, Path]) -> set[str]:
    """A package's own __init__ imports its submodules: not a cycle with them."""
    return (
        {m for m in known if m.startswith(name + ".")}
        if known[name].name == "__init__.py"
        else set()
    )


def figures() -> dict:
    known = modules()
    graph, private = {}, []
    for name, path in known.items():
        found, names = imports(path, known)
        graph[name] = found - {name} - package_of(name, known)
        private += [f"{name}: {n}" for n in names]
    lines = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in known.items()
    }
    off_device = ("kiosk.content", "kiosk.hq")
    crossing = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        if not name.startswith((*off_device, "kiosk.cli"))
        for target in targets
        if target.startswith(off_device)
    )
    return {"lines": lines, "cycles": cycles(graph), "private": private, "crossing": crossing}


def main() -> None:
    found = figures()
    over = {n: c for n, c in found["lines"].items() if c > LIMIT}
    print(f"modules: {len(found['lines'])}, over {LIMIT} lines: {len(over)}")
    for name, count in sorted(over.items(), key=lambda x: -x[1]):
        print(f"  {name}: {count}")
    print(f"import cycles: {len(found['cycles'])}")
    for group in found["cycles"]:
        print("  " + " ↔ ".join(group))
    print(f"private cross-module imports: {len(found['private'])}")
    for item in found["private"]:
        print("  " + item)
    print(f"device imports of headquarters code: {len(found['crossing'])}")
    for item in found["crossing"]:
        print("  " + item)
    folders: dict[str, int] = {}
    for name in found["lines"]:
        parts = name.split(".")
        package = any(m.startswith(name + ".") for m in found["lines"])
        folder = parts[1] if len(parts) > 2 or (len(parts) == 2 and package) else "top"
        folders[folder] = folders.get(folder, 0) + 1
    print("modules per folder: " + ", ".join(f"{k} {v}" for k, v in sorted(folders.items())))


if __name__ == "__main__":
    main()
