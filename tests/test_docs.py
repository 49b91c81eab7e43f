"""The docs say only what is true (issue 13), checked against the code they describe.

- Every `kiosk ...` command line in README.md and docs/*.md names a real command of the click
  CLI, and each flag on it is an option of that command; every `./dev X` is an arm of the dev
  script's `case` (its flags handled there or by what the arm runs); every `fab TASK` is a
  task of deploy/fabfile.py with that task's options (all those it needs, on a whole command
  line), found with `-r deploy` (`-f` is fab's config file, not the fabfile).
- Every setting in kiosk/config.py is in README's settings table with its default, and the
  table names no setting that does not exist.
- Every figure in README's "Figures" section names the benchmark that prints it: a table of
  figures is introduced by a paragraph (the one right before it) that names
  `benchmarks/<name>.py`, and a paragraph that states a measurement names one itself. Each
  named script exists and prints.
- The exit codes README lists are those the code gives, and each screenshot the docs show is
  written by a script (or named in README's "No script makes ...:" sentence).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click
import pytest

from kiosk import config
from kiosk.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^\s*```")
DRAWING = "│├└┌┐┘┬┴┼─▼▲ \t"
# Where a command ends inside a code block's prose or a diagram.
ENDS = ("`", "→", ": ", " (", " #")


def snippets(path: Path) -> list[tuple[int, str]]:
    """Every piece of code in a Markdown file: inline spans, and code-block lines (a line
    ending in a backslash joined with the next), each with its line number."""
    out: list[tuple[int, str]] = []
    in_block = indented = False
    carried = ""
    before = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            in_block, carried = not in_block, ""
            continue
        # An indented code block: four spaces in, after a blank line (not in a list item).
        indented = not in_block and line.startswith("    ") and (indented or not before.strip())
        before = line
        out.extend((number, span) for span in re.findall(r"`([^`\n]+)`", line))
        if not in_block and not indented:
            continue
        line = carried + line.lstrip(DRAWING)
        if line.endswith("\\"):
            carried = line[:-1]
            continue
        carried = ""
        out.append((number, line))
    return out


def commands(program: str, files=DOCS) -> list[tuple[str, str]]:
    """Each use of ``program`` in the docs' code: (where, the command line without it)."""
    start = re.compile(rf"^(?:[\w.~/-]*/)?{re.escape(program)}(?=\s|$)")
    found = []
    for path in files:
        for number, text in snippets(path):
            text = text.strip()
            if not start.match(text):
                continue
            text = start.sub("", text)
            for end in ENDS:
                text = text.split(end)[0]
            found.append((f"{path.relative_to(ROOT)}:{number}", text.strip()))
    return found


def options(command: click.Command) -> dict[str, click.Option]:
    found = {"--help": click.Option(["--help"], is_flag=True)}
    for param in command.params:
        if isinstance(param, click.Option):
            for name in param.opts + param.secondary_opts:
                found[name] = param
    return found


def kiosk_problems(words: list[str]) -> tuple[list[str], list[str]]:
    """The command path ``words`` walk down the click group, and what is wrong with it."""
    command: click.Command = main
    path: list[str] = []
    problems = []
    takes_value = False
    arguments = False
    for raw in words:
        word = raw.strip("[]").rstrip(",.;:")
        if takes_value:
            takes_value = False
            continue
        if word.startswith("-"):
            flag = re.match(r"--?[A-Za-z][\w-]*", word)
            option = options(command).get(flag.group() if flag else word)
            if option is None:
                problems.append(f"`kiosk {' '.join(path)}` has no option {word}")
            else:
                takes_value = not option.is_flag and "=" not in word and not raw.endswith("]")
            continue
        if arguments or not isinstance(command, click.Group):
            arguments = True  # an argument or a placeholder: SRC, DIR, …
            continue
        if word in command.commands:
            command = command.commands[word]
            path.append(word)
        elif re.fullmatch(r"[a-z][a-z-]*", word):
            problems.append(f"`kiosk {' '.join(path)}` has no command {word!r}")
            arguments = True
        else:
            arguments = True
    return path, problems


def check_kiosk_line(text: str) -> list[str]:
    """A command line, with ``a / b / c`` read as a command and its siblings."""
    first, *siblings = text.split(" / ")
    path, problems = kiosk_problems(first.split())
    for sibling in siblings:
        problems += kiosk_problems([*path[:-1], *sibling.split()])[1]
    return problems


def test_every_kiosk_command_and_flag_in_the_docs_exists():
    found = commands("kiosk")
    assert len(found) > 40  # the reader found the commands table
    problems = [f"{where}: {p}" for where, text in found for p in check_kiosk_line(text)]
    assert not problems, "\n".join(problems)


def dev_arms() -> dict[str, str]:
    """The ./dev script's commands, each with the text of its `case` arm and of the script's
    functions that arm calls."""
    script = (ROOT / "dev").read_text(encoding="utf-8")
    functions = dict(re.findall(r"^(\w+)\(\) \{\n(.*?)^\}", script, re.M | re.S))
    body = script.split('case "$cmd" in', 1)[1].split("\nesac", 1)[0]
    arms = {}
    for match in re.finditer(r"^ {4}([\w|-]+)\)(.*?);;", body, re.M | re.S):
        arm = match.group(2)
        arm += "".join(code for name, code in functions.items() if re.search(rf"\b{name}\b", arm))
        for name in match.group(1).split("|"):
            arms[name] = arm
    return arms


def test_every_dev_command_in_the_docs_is_one_the_script_handles():
    arms = dev_arms()
    assert {"demo", "test", "bench"} <= set(arms)
    found = commands("./dev")
    assert len(found) > 5
    problems = []
    for where, text in found:
        if not text:
            continue  # ./dev itself
        name, *rest = text.split()
        if name not in arms:
            problems.append(f"{where}: ./dev has no command {name!r} (it has {sorted(arms)})")
            continue
        arm = arms[name]
        scripts = [ROOT / p for p in re.findall(r"[\w/]+\.py", arm)]
        passed_on = '"$@"' in arm
        for flag in re.findall(r"(?<![\w-])--?[a-z][\w-]*", " ".join(rest)):
            if flag in arm or (passed_on and "pytest" in arm):
                continue
            if passed_on and any(flag in p.read_text(encoding="utf-8") for p in scripts):
                continue
            problems.append(f"{where}: ./dev {name} does not handle {flag}")
    assert not problems, "\n".join(problems)


def fab_tasks() -> dict[str, tuple[set[str], set[str]]]:
    """deploy/fabfile.py's tasks, each with its options (invoke's --name for each parameter)
    and those of them it cannot run without (parameters with no default)."""
    tree = ast.parse((ROOT / "deploy" / "fabfile.py").read_text(encoding="utf-8"))
    tasks = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        names = {
            (d.func if isinstance(d, ast.Call) else d).id
            for d in node.decorator_list
            if isinstance(d.func if isinstance(d, ast.Call) else d, ast.Name)
        }
        if "task" in names:
            args = node.args.args[1:]  # the first is the context
            flags = ["--" + a.arg.replace("_", "-") for a in args]
            required = set(flags[: len(flags) - len(node.args.defaults)])
            tasks[node.name] = ({"--help", *flags}, required)
    return tasks


FAB_CORE = {"-r": "--search-root", "-c": "--collection"}


def test_every_fab_task_in_the_docs_is_a_task_of_the_fabfile():
    tasks = fab_tasks()
    assert {"provision", "deploy", "rollout", "status"} <= set(tasks)
    fabfile_doc = ast.get_docstring(ast.parse((ROOT / "deploy/fabfile.py").read_text()))
    found = commands("fab", [*DOCS, ROOT / "deploy" / "README.md"])
    found += [("deploy/fabfile.py", t) for t in re.findall(r"`fab ([^`]+)`", fabfile_doc)]
    assert len(found) > 5
    problems = []
    for where, text in found:
        words = text.split()
        core = []
        while words and words[0].startswith("-"):
            core.append(words.pop(0))
            if core[-1] in FAB_CORE or core[-1] in FAB_CORE.values():
                core.append(words.pop(0) if words else "")
        for i in range(0, len(core), 2):
            if core[i] not in FAB_CORE and core[i] not in FAB_CORE.values():
                problems.append(
                    f"{where}: fab {core[i]} is not how the fabfile is found "
                    "(that is -r deploy, as tests/system/conftest.py's fab() does)"
                )
            elif core[i] in ("-r", "--search-root") and core[i + 1] != "deploy":
                problems.append(f"{where}: the fabfile is in deploy/, not {core[i + 1]}")
        if not words:
            continue
        task = words[0]
        if task not in tasks and not task.startswith("<"):
            problems.append(f"{where}: fab has no task {task!r} (it has {sorted(tasks)})")
            continue
        given = set(re.findall(r"(?<![\w-])--[a-z][\w-]*", " ".join(words[1:])))
        known, required = tasks.get(task, (given, set()))
        problems += [f"{where}: fab {task} has no option {flag}" for flag in given - known]
        if given and required - given:  # a whole command line, not a task named in prose
            problems.append(f"{where}: fab {task} needs {sorted(required - given)}")
    assert not problems, "\n".join(problems)


def readme_section(title: str) -> str:
    """README's ``## title`` section, up to the next ``## `` heading."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def settings_table() -> dict[str, str]:
    """README's settings table: each setting named in its first column, and its default."""
    documented = {}
    for row in readme_section("Settings").splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if not row.startswith("|") or len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([^`]+)`", cells[0])
        defaults = [d.strip() for d in cells[1].split(",")] if len(names) > 1 else [cells[1]]
        assert len(defaults) == len(names), row
        documented.update(zip(names, defaults, strict=True))
    return documented


def shown(default) -> str:
    """A default as the settings table writes it."""
    if default in ("", []):
        return "none"
    if isinstance(default, bool):
        return str(default).lower()
    return str(default)


def test_every_setting_is_documented_with_its_default(monkeypatch):
    documented = settings_table()
    declared = {s.name: s for s in config.SETTINGS}
    assert not set(declared) - set(documented), "settings not in README's Settings table"
    assert not set(documented) - set(declared), "README documents settings that do not exist"
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    home = str(Path.home())
    computed = {
        "data_dir": config._default_data_dir(),
        "speech_cache_dir": config._default_cache_dir(),
    }
    for name, setting in declared.items():
        default = computed.get(name, setting.default)
        want = shown(default).replace(home, "~")
        assert documented[name].strip("`") == want, f"{name}: README says {documented[name]}"
    section = readme_section("Settings")
    assert "`KIOSK_<NAME>`" in section
    assert all(s.env == "KIOSK_" + s.name.upper() for s in config.SETTINGS)
    # What the librarian may save, in the words of the paragraph above the table.
    words = {
        "wifi_ssid": "Wi-Fi name",
        "idle_seconds": "idle timeout",
        "language_order": "language order",
        "k_anonymity": "k",
        "admin_over_hotspot": "admin over the hotspot",
    }
    saved = re.search(r"device-settings\.json`: ([^)]*)\)", " ".join(section.split()))
    assert saved, "README does not say what the librarian's page saves"
    assert saved.group(1).split(", ") == [words[n] for n in config.LIBRARIAN_SETTINGS]


BENCHMARK = re.compile(r"benchmarks/(\w+)\.py")
# A measurement: a number and its unit (ms, s, MB, KiB, req/s, requests a second, …).
MEASURE = re.compile(
    r"\d[\d,.]*\s?(?:µs|ms|s|min|MB|KB|GB|KiB|MiB|kHz|LUFS|LU|req/s|requests(?:/s| a second))"
    r"(?![\w/])"
)


def figure_blocks() -> list[tuple[str, str]]:
    """README's Figures section as blocks: ("table", rows) or ("text", a paragraph)."""
    blocks: list[tuple[str, str]] = []
    for chunk in re.split(r"\n\s*\n", readme_section("Figures")):
        chunk = chunk.strip()
        if not chunk or chunk.startswith("#") or chunk.startswith("!["):
            continue
        blocks.append(("table" if chunk.startswith("|") else "text", chunk))
    return blocks


def test_every_figure_names_the_benchmark_that_prints_it():
    blocks = figure_blocks()
    tables = [b for kind, b in blocks if kind == "table"]
    assert len(tables) >= 10
    problems = []
    for i, (kind, block) in enumerate(blocks):
        head = block.splitlines()[0][:70]
        if kind == "table":
            before = blocks[i - 1] if i else ("table", "")
            if before[0] != "text" or not BENCHMARK.search(before[1]):
                problems.append(f"table {head!r}: the paragraph before it names no benchmark")
        elif MEASURE.search(block) and not BENCHMARK.search(block):
            problems.append(f"paragraph {head!r}: a figure with no benchmarks/<name>.py")
    named = set(BENCHMARK.findall(readme_section("Figures")))
    for name in sorted(named):
        script = ROOT / "benchmarks" / f"{name}.py"
        if not script.is_file():
            problems.append(f"benchmarks/{name}.py is named but does not exist")
        elif "print(" not in script.read_text(encoding="utf-8"):
            problems.append(f"benchmarks/{name}.py prints nothing")
    assert not problems, "\n".join(problems)


def exit_codes() -> set[int]:
    """Every exit code the kiosk's code gives: each ``exit_code = N`` of an exception class,
    each ``exit_code=N`` passed to one, each ``sys.exit(N)``, and click's 2 for wrong usage."""
    codes = {0, 2}
    for module in (ROOT / "kiosk").rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.keyword) and node.arg == "exit_code") or (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "exit_code" for t in node.targets)
            ):
                value = node.value
            elif isinstance(node, ast.Call) and ast.unparse(node.func) == "sys.exit" and node.args:
                value = node.args[0]
            else:
                continue
            if isinstance(value, ast.Constant) and isinstance(value.value, int):
                codes.add(value.value)
    return codes


def test_the_exit_codes_readme_lists_are_the_codes_the_kiosk_exits_with():
    listed = re.search(r"Exit codes: (.*?)(?:\n\n|$)", readme_section("Commands"), re.S)
    assert listed, "README's Commands section lists no exit codes"
    said = {int(n) for n in re.findall(r"(?:^|, )(\d+) ", " ".join(listed.group(1).split()))}
    codes = exit_codes()
    assert {1, 3, 4, 5, 6, 7} <= codes  # the reader found the exception classes
    assert said == codes, f"README lists {sorted(said)}, the code exits with {sorted(codes)}"


def test_every_screenshot_in_the_docs_is_made_by_a_script_or_said_to_be_made_by_none():
    sources = [p.read_text(encoding="utf-8") for p in ROOT.glob("benchmarks/*.py")]
    sources += [
        p.read_text(encoding="utf-8")
        for p in ROOT.glob("tests/**/*.py")
        if p.name != "test_docs.py"
    ]
    made_by_none = re.search(r"No script makes ([^:]*):", README.read_text(encoding="utf-8"))
    by_hand = set(re.findall(r"`([\w-]+)\.png`", made_by_none.group(1))) if made_by_none else set()
    problems = []
    for path in DOCS:
        for name in sorted(set(re.findall(r"screenshots/([\w-]+)\.png", path.read_text()))):
            made = any(f'"{name}"' in s or f'"{name}.png"' in s for s in sources)
            if not made and name not in by_hand:
                problems.append(f"{path.relative_to(ROOT)}: no script makes {name}.png")
            if made and name in by_hand:
                problems.append(f"README says no script makes {name}.png, but one does")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "line",
    ["release frobnicate", "serve --frobnicate", "--frobnicate serve", "hq user add A --rol R"],
)
def test_the_command_check_finds_what_is_false(line):
    assert check_kiosk_line(line)


def test_the_command_check_reads_the_commands_table_as_written():
    assert not check_kiosk_line("release build / verify / install / rollback")
    assert not check_kiosk_line("content status [SRC] [--format text\\|html\\|json] [--out FILE]")
    assert check_kiosk_line("release build / frobnicate")
