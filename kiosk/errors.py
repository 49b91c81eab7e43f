"""One exception hierarchy: every failure a person can meet, with a plain message and exit code.

Each subclass also inherits the builtin it resembles, so callers that only know Python's own
exceptions still catch it sensibly (as gpiozero does with ``BadPinFactory(..., ImportError)``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass


class KioskError(Exception):
    """Base of every error the kiosk reports to a person."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class SettingsError(KioskError, ValueError):
    """A setting in kiosk.toml or the environment cannot be used."""

    exit_code = 4


class ToolMissing(KioskError, FileNotFoundError):
    """A program the kiosk needs (espeak-ng, lame, sox) is not installed."""

    exit_code = 5


@dataclass(frozen=True, order=True)
class Problem:
    """One finding about the content source, located as ``file:line``."""

    path: str
    line: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return f"{where}: {prefix}{self.message}"


class ContentInvalid(KioskError, ValueError):
    """The content source has errors; nothing was built."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{lines}\n{len(errors)} error(s); nothing was written.")


class ReleaseRejected(KioskError, ValueError):
    """A release failed verification; the live release was not touched."""

    exit_code = 3


class ReleaseNotFound(KioskError, FileNotFoundError):
    """There is no release where one was expected."""

    exit_code = 3


def require_tool(tool: str, package: str) -> str:
    """The path of a program the kiosk needs, or ToolMissing naming the package to install."""
    path = shutil.which(tool)
    if path is None:
        raise ToolMissing(
            f"{tool} is not installed. Install it with: sudo apt-get install {package}"
        )
    return path
