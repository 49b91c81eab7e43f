"""A small mutation runner for the modules issue 13 names (not part of the test suite).

Each mutant is one change to one module's syntax tree (a comparison flipped, ``and`` made
``or``, a ``not`` dropped, a number moved by one, True made False, a returned value made
None, a call statement removed). The mutated source is written over the module, the module's
fast tests run with ``-x -q``, and the original bytes are put back, also on Ctrl-C. A mutant
the tests fail on is killed; one they pass is a survivor, listed with its line.

    .venv/bin/python benchmarks/mutation.py                 # every module, every mutant
    .venv/bin/python benchmarks/mutation.py usage --sample 40
    .venv/bin/python benchmarks/mutation.py manifest --only 120,134  # re-run some lines
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"

# module: (file, fast tests covering it). Slow tests are left out so a mutant takes seconds:
# in test_usage.py those that build a release or serve pages, and the kill -9 rounds; in
# test_admin.py those that reach into app.extensions (being reworked) or take many requests.
MODULES = {
    "manifest": (
        "kiosk/formats/manifest.py",
        ["tests/test_release_attacks.py"],
    ),
    "usage": (
        "kiosk/device/usage.py",
        [
            "tests/test_usage.py",
            "-k",
            "microseconds or snapshots_keep or capped or k_visits",
        ],
    ),
    "sign_in": (
        "kiosk/device/web/admin/sign_in.py",
        [
            "tests/test_admin.py",
            "-k",
            "sign_in_works or renewed or sign_out or speak_the_language "
            "or answers_a_wrong_password",
        ],
    ),
    "admin_sessions": (
        "kiosk/device/web/admin_sessions.py",
        [
            "tests/test_admin.py",
            "-k",
            "sign_in_works or renewed or sign_out or channel_it_was "
            "or sessions_keep_the_cap or ending_a_session or post_from_another",
        ],
    ),
}

FLIP = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.BitOr: ast.BitAnd}


def _in_function(tree: ast.AST) -> set[int]:
    """ids of nodes inside a function body (module constants and docstrings are left alone)."""
    inside: set[int] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            body = fn.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            for stmt in body:
                inside.update(id(n) for n in ast.walk(stmt))
    return inside


def _candidates(tree: ast.AST) -> list[tuple[ast.AST, str, str]]:
    """(node, kind, description) for every mutation of ``tree``, in source order."""
    inside = _in_function(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) not in inside:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in FLIP:
                    new = FLIP[type(op)].__name__
                    found.append((node, f"cmp{i}", f"{type(op).__name__} -> {new}"))
        elif isinstance(node, ast.BoolOp):
            what = "and -> or" if isinstance(node.op, ast.And) else "or -> and"
            found.append((node, "bool", what))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            found.append((node, "not", "not x -> x"))
        elif isinstance(node, ast.BinOp) and type(node.op) in BINOP:
            new = BINOP[type(node.op)].__name__
            found.append((node, "binop", f"{type(node.op).__name__} -> {new}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            found.append((node, "bool_const", f"{node.value} -> {not node.value}"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            found.append((node, "int", f"{node.value} -> {node.value + 1}"))
        elif isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                found.append((node, "return", "return x -> return None"))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            found.append((node, "drop", "call statement removed"))
    found.sort(key=lambda c: (c[0].lineno, c[0].col_offset, c[1]))
    return found


def _mutate(node: ast.AST, kind: str) -> ast.AST:
    if kind.startswith("cmp"):
        i = int(kind[3:])
        node.ops[i] = FLIP[type(node.ops[i])]()
    elif kind == "bool":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "not":
        return node.operand
    elif kind == "binop":
        node.op = BINOP[type(node.op)]()
    elif kind == "bool_const":
        node.value = not node.value
    elif kind == "int":
        node.value = node.value + 1
    elif kind == "return":
        node.value = ast.Constant(None)
    elif kind == "drop":
        return ast.Pass()
    return node


class _Swap(ast.NodeTransformer):
    def __init__(self, target: int, kind: str) -> None:
        self.target, self.kind = target, kind

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if id(node) == self.target:
            return _mutate(node, self.kind)
        return super().generic_visit(node)


def mutants(source: str) -> list[tuple[int, str, str]]:
    """(line, description, mutated source) for each mutant of ``source``."""
    tree = ast.parse(source)
    out = []
    for index, (node, kind, what) in enumerate(_candidates(tree)):
        fresh = copy.deepcopy(tree)
        target = _candidates(fresh)[index][0]
        mutated = ast.fix_missing_locations(_Swap(id(target), kind).visit(fresh))
        out.append((node.lineno, what, ast.unparse(mutated)))
    return out


def _survivors(log: Path, rel: str) -> list[tuple[int, str]]:
    """(line, mutation) of each "survived" line an earlier run of this script printed."""
    out = []
    for text in log.read_text().splitlines():
        head, _, what = text.strip().partition(" ")[2].partition(" ")
        if text.strip().startswith("survived ") and head.startswith(f"{rel}:"):
            out.append((int(head.rsplit(":", 1)[1]), what))
    return out


def run_module(
    name: str,
    sample: int | None,
    only: set[int] | None,
    timeout: float,
    picked: list[tuple[int, str]] | None = None,
) -> dict:
    rel, tests = MODULES[name]
    path = ROOT / rel
    original = path.read_bytes()
    # A second copy outside the tree, should this process be killed outright (kill -9).
    backup = Path(tempfile.gettempdir()) / f"mutation-original-{name}.py"
    backup.write_bytes(original)
    todo = mutants(original.decode())
    total = len(todo)
    if only:
        todo = [m for m in todo if m[0] in only]
    if picked is not None:  # exactly the survivors of an earlier run, once each
        wanted = list(picked)
        chosen = []
        for mutant in todo:
            if (mutant[0], mutant[1]) in wanted:
                wanted.remove((mutant[0], mutant[1]))
                chosen.append(mutant)
        todo = chosen
    if sample and len(todo) > sample:
        step = len(todo) / sample  # spread evenly over the file, the same each run
        todo = [todo[int(i * step)] for i in range(sample)]
    killed, survived = 0, []
    cmd = [str(PYTHON), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    baseline = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if baseline.returncode != 0:  # every mutant would look killed: no score at all
        tail = baseline.stdout.strip().splitlines()[-3:]
        print(f"  the tests fail without any mutant, so nothing is run: {tail}", flush=True)
        return {"total": total, "run": 0, "killed": 0, "survived": [], "broken": True}
    try:
        for n, (line, what, source) in enumerate(todo, 1):
            path.write_text(source)
            started = time.monotonic()
            try:
                result = subprocess.run(
                    cmd,
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    timeout=timeout,
                    start_new_session=True,
                )
                dead = result.returncode != 0
            except subprocess.TimeoutExpired:
                dead = True  # a mutant that hangs the tests is caught by them
            finally:
                path.write_bytes(original)
            took = time.monotonic() - started
            print(
                f"  [{n}/{len(todo)}] {name}:{line} {what}: {'killed' if dead else 'SURVIVED'}"
                f" ({took:.1f}s)",
                flush=True,
            )
            if dead:
                killed += 1
            else:
                survived.append((line, what))
    finally:
        path.write_bytes(original)
        assert path.read_bytes() == original
    return {"total": total, "run": len(todo), "killed": killed, "survived": survived}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=", ".join(MODULES))
    parser.add_argument("--sample", type=int, help="run at most this many, spread evenly")
    parser.add_argument("--only", help="only mutants on these lines, e.g. 120,134")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--from-log", type=Path, help="re-run the survivors this log lists")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    args = parser.parse_args()
    args.modules = args.modules or list(MODULES)
    if unknown := set(args.modules) - set(MODULES):
        parser.error(f"unknown module: {', '.join(sorted(unknown))}")
    only = {int(x) for x in args.only.split(",")} if args.only else None
    # Ctrl-C or a TERM: the finally in run_module restores the module before we exit.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    if args.list:
        for name in args.modules:
            for line, what, _ in mutants((ROOT / MODULES[name][0]).read_text()):
                print(f"{name}:{line} {what}")
        return 0
    results = {}
    try:
        for name in args.modules:
            print(f"{name} ({MODULES[name][0]})", flush=True)
            picked = _survivors(args.from_log, MODULES[name][0]) if args.from_log else None
            results[name] = run_module(name, args.sample, only, args.timeout, picked)
    except KeyboardInterrupt:
        print("interrupted: the modules are restored", file=sys.stderr)
    print()
    print(f"{'module':16} {'mutants':>7} {'run':>5} {'killed':>6} {'survived':>8} {'score':>6}")
    for name, r in results.items():
        score = r["killed"] / r["run"] if r["run"] else 0.0
        print(
            f"{name:16} {r['total']:7} {r['run']:5} {r['killed']:6} {len(r['survived']):8}"
            f" {score:6.0%}"
        )
        for line, what in r["survived"]:
            print(f"    survived {MODULES[name][0]}:{line} {what}")
    for name in results:
        if shutil.which("git"):
            subprocess.run(["git", "diff", "--stat", MODULES[name][0]], cwd=ROOT, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
