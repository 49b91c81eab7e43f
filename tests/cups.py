"""A real CUPS scheduler (Debian's cupsd) in a test's folder, with printers that keep their jobs.

The printers' device is a backend written for the test, ``capture:FOLDER``: CUPS runs it for
each job, as it runs a USB or network printer's backend, and it writes what the printer would
have received (FOLDER/<job>.data) and the job's title, copies and options (FOLDER/<job>.meta).
Clients reach this scheduler through ``CUPS_SERVER`` (its socket), which lp and lpstat read.
cupsd needs root (it starts its jobs' programs as root and as ``lp``); CI runs as root.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

CUPS_LIB = Path("/usr/lib/cups")
BACKEND = """#!/bin/sh
# capture:FOLDER keeps every job as FOLDER/<job>.data, with title, copies and options in .meta
if [ $# -eq 0 ]; then echo 'direct capture "Unknown" "Test printer that keeps its jobs"'; exit 0; fi
dir=${DEVICE_URI#capture:}
if [ -n "$6" ]; then cat "$6"; else cat; fi > "$dir/$1.part" || exit 1
printf '%s\\n%s\\n%s\\n' "$3" "$4" "$5" > "$dir/$1.meta"
mv "$dir/$1.part" "$dir/$1.data"
"""


class CupsServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for sub in ("root", "bin/backend", "spool", "cache", "state", "log"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        for tool in CUPS_LIB.iterdir():  # the filters and daemons Debian ships; our backend
            if tool.name != "backend":
                (folder / "bin" / tool.name).symlink_to(tool)
        backend = folder / "bin/backend/capture"
        backend.write_text(BACKEND)
        # Owned by root and 0700: CUPS runs it as root, as it runs Debian's usb and ipp backends
        # (as lp it could not pass pytest's own 0700 folders).
        backend.chmod(0o700)
        self.socket = folder / "cups.sock"
        (folder / "cups-files.conf").write_text(
            f"ServerRoot {folder / 'root'}\nServerBin {folder / 'bin'}\n"
            f"RequestRoot {folder / 'spool'}\nTempDir {folder / 'spool'}\n"
            f"CacheDir {folder / 'cache'}\nStateDir {folder / 'state'}\n"
            f"AccessLog {folder / 'log/access_log'}\nErrorLog {folder / 'log/error_log'}\n"
            f"PageLog {folder / 'log/page_log'}\nPrintcap {folder / 'printcap'}\n"
            "DataDir /usr/share/cups\n"
            "User lp\nGroup lp\n"
        )
        (folder / "cupsd.conf").write_text(
            f"Listen {self.socket}\nLogLevel info\nBrowsing No\nWebInterface No\n"
            "<Policy default>\n<Limit All>\nOrder allow,deny\nAllow all\n</Limit>\n</Policy>\n"
        )
        self.env = {**os.environ, "CUPS_SERVER": str(self.socket)}
        self._log = (folder / "log/stderr").open("wb")
        self.proc = subprocess.Popen(
            ["/usr/sbin/cupsd", "-f", "-c", str(folder / "cupsd.conf"),
             "-s", str(folder / "cups-files.conf")],
            stdout=subprocess.DEVNULL, stderr=self._log,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while self.lpstat("-r").returncode != 0 or "not running" in self.lpstat("-r").stdout:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("cupsd did not start: " + self.log())
            time.sleep(0.05)

    def log(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in (self.folder / "log").iterdir() if p.is_file()
        )

    def lpstat(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["lpstat", *args], env=self.env, capture_output=True, text=True)

    def add_printer(self, name: str, *, default: bool = False) -> Path:
        """A printer whose jobs land in the returned folder."""
        jobs = self.folder / "jobs" / name
        jobs.mkdir(parents=True)
        subprocess.run(["lpadmin", "-p", name, "-E", "-v", f"capture:{jobs}", "-m", "raw"],
                       env=self.env, check=True, capture_output=True)  # fmt: skip
        if default:
            subprocess.run(["lpadmin", "-d", name], env=self.env, check=True)
        return jobs

    def stop_printer(self, name: str, reason: str) -> None:
        subprocess.run(["cupsdisable", "-r", reason, name], env=self.env, check=True)

    def jobs(self) -> list[str]:
        """Every job the scheduler has had, printed or not ("leaflets-1", …)."""
        out = self.lpstat("-W", "all", "-o").stdout
        return [line.split()[0] for line in out.splitlines() if line.strip()]

    def printed(self, jobs: Path, job_id: str, timeout: float = 15) -> tuple[bytes, list[str]]:
        """What the printer received for a job, and the job's title, copies and options."""
        number = job_id.rsplit("-", 1)[1]
        data = jobs / f"{number}.data"
        deadline = time.monotonic() + timeout
        while not data.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} never reached the printer:\n{self.log()}")
            time.sleep(0.05)
        return data.read_bytes(), (jobs / f"{number}.meta").read_text().splitlines()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
