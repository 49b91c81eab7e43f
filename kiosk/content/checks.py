"""What every content check shares: the report of problems, and reading TOML with lines."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from kiosk.errors import Problem

ID = re.compile(r"^[a-z0-9][a-z0-9-]*\Z")  # \Z: "$" allows a final newline
COUNTRY = re.compile(r"^[A-Z]{2}\Z")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


class Report:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def add(self, path: Path | str, line: int, message: str, severity: str = "error") -> None:
        rel = Path(path).relative_to(self.root) if Path(path).is_absolute() else Path(path)
        self.problems.append(Problem(f"{self.root.name}/{rel}", line, message, severity))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def line_of(text: str, pattern: str, after: int = 0) -> int:
    """Line number (1-based) of the first line at or after ``after`` matching a regex."""
    rx = re.compile(pattern)
    for n, line in enumerate(text.splitlines()[after:], start=after + 1):
        if rx.search(line):
            return n
    return after + 1 if after else 1


def read_toml(path: Path, report: Report) -> tuple[dict[str, Any], str] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        report.add(path, 0, "file is missing")
        return None
    except UnicodeDecodeError:
        report.add(path, 0, "file is not UTF-8 text; save it as UTF-8")
        return None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", 0) or int(re.search(r"line (\d+)", str(exc)).group(1))
        report.add(path, line, f"not valid TOML: {exc.msg if hasattr(exc, 'msg') else exc}")
        return None


def check_words(report, path, text, key, values, allowed, after=0, required=True) -> list[str]:
    line = line_of(text, rf"^\s*{re.escape(key)}\s*=", after)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        if values is not None or required:
            report.add(path, line, f'{key} must be a list of words, like {key} = ["{allowed[0]}"]')
        return []
    if required and not values:
        report.add(path, line, f"{key} is empty; choose from: {', '.join(allowed)}")
    for word in values:
        if word not in allowed:
            report.add(path, line, f"unknown {key} word {word!r}; allowed: {', '.join(allowed)}")
    return [v for v in values if v in allowed]
