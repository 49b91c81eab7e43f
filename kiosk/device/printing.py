"""Leaflets on the library's printer, through CUPS's own commands (``lp`` and ``lpstat``).

The kiosk never talks to a printer itself: a technician sets one up in CUPS (docs/printing.md)
and the librarian's page hands CUPS a leaflet from the live, verified release. Nothing about a
visitor is in a print job: the kiosk prints what the librarian chose, under the kiosk's user.
With no CUPS (``lp`` missing, no scheduler, no printer) the page says so and offers the PDFs.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.errors import KioskError

PAPERS = ("a4", "a5")
MAX_COPIES = 100
TIMEOUT = 20  # seconds; CUPS answers in milliseconds when it is there at all


class PrintError(KioskError):
    """The printer could not take the leaflet; the message says why in the librarian's terms."""


@dataclass
class Printers:
    """What CUPS offers now: the printers' names, the default one, and each one's state."""

    names: list[str] = field(default_factory=list)
    default: str | None = None
    states: dict[str, str] = field(default_factory=dict)  # name → lpstat's own sentence
    waiting: dict[str, int] = field(default_factory=dict)  # name → jobs not printed yet

    @property
    def chosen(self) -> str | None:
        """The printer a leaflet goes to unless the librarian picks another."""
        return self.default if self.default in self.names else (self.names or [None])[0]


def _lpstat(*args: str) -> str | None:
    """lpstat's output, or None when CUPS is not there (no command, no scheduler, no answer)."""
    try:
        done = subprocess.run(
            ["lpstat", *args], capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def printers() -> Printers:
    """The printers CUPS has set up, or an empty list when there are none or no CUPS."""
    listed = _lpstat("-e")
    if not listed:
        return Printers()
    found = Printers(names=sorted(set(listed.split())))
    default = _lpstat("-d") or ""
    match = re.search(r"system default destination: (\S+)", default)
    found.default = match.group(1) if match else None
    for line in (_lpstat("-p") or "").splitlines():
        # "printer leaflets is idle.  enabled since …", "printer x disabled since … -"
        match = re.match(r"printer (\S+) (.*)", line)
        if match and match.group(1) in found.names:
            found.states[match.group(1)] = match.group(2).split("  ")[0].rstrip(" .-")
    for line in (_lpstat("-o") or "").splitlines():
        job = line.split(maxsplit=1)[0] if line.strip() else ""
        printer = job.rsplit("-", 1)[0]
        if printer in found.names:
            found.waiting[printer] = found.waiting.get(printer, 0) + 1
    return found


def print_leaflet(pdf: Path, printer: str, *, copies: int, paper: str, title: str) -> str:
    """Send a leaflet to a printer CUPS has; return CUPS's job id ("leaflets-12").

    Every argument is checked before lp sees it: the printer must be one CUPS lists now, the
    copies a number from 1 to MAX_COPIES, the paper A4 or A5.
    """
    if printer not in printers().names:
        raise PrintError(f"There is no printer called {printer!r}.")
    if not 1 <= copies <= MAX_COPIES:
        raise PrintError(f"Copies must be from 1 to {MAX_COPIES}.")
    if paper not in PAPERS:
        raise PrintError("The paper must be A4 or A5.")
    title = re.sub(r"[\x00-\x1f\x7f]", " ", title)[:120]
    command = ["lp", "-d", printer, "-n", str(copies), "-t", title,
               "-o", f"media={paper.upper()}", "--", str(pdf)]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    except FileNotFoundError as exc:
        raise PrintError("This kiosk has no printing commands (CUPS) installed.") from exc
    except subprocess.TimeoutExpired as exc:
        raise PrintError("The printing system did not answer. Try again in a minute.") from exc
    match = re.search(r"request id is (\S+)", done.stdout)
    if done.returncode != 0 or not match:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise PrintError(f"The printer did not take the leaflet: {said[-1] if said else '?'}")
    return match.group(1)
