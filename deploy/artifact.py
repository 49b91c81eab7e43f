"""The one file a kiosk is installed from: the kiosk and every Python package it needs, pinned.

    python deploy/artifact.py lock                      resolve deploy/requirements.lock anew
    python deploy/artifact.py build [--arch A] [--out DIR]   write the artifact, print its path

Headquarters builds the artifact once per code version and architecture; every kiosk installs
the same bytes with ``pip install --no-index --require-hashes``, so a village Pi needs no
package registry and no two kiosks run different versions. A kiosk gets the kiosk's base
dependencies and its ``[device]`` extra (pyproject.toml), never ``[hq]`` (fabric, Playwright,
the release build's Markdown) or ``[test]``: the lock is resolved from exactly those, and the
artifact holds the lock's packages. The artifact is a plain tar
(sorted, zero times, so the same inputs give the same bytes):

    wheels/*.whl     the kiosk's wheel and one wheel per locked dependency, for the target
    install.lock     name==version --hash=sha256:... for each wheel (pip checks every hash)
    artifact.json    the kiosk's version, the target architecture and Python, the lock's hash

Debian's own packages (GTK WebKit, espeak-ng...) come from apt at provisioning, not from here.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "deploy" / "requirements.lock"
PYTHON = "3.11"  # Debian 12 and Raspberry Pi OS Bookworm
MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}
# Installed by Debian in every venv; not the kiosk's to pin.
NOT_LOCKED = {"first-mile-kiosk", "pip", "setuptools"}
# The kiosk's extras that go on a kiosk (pyproject.toml): the Pi's, never headquarters'.
EXTRAS = ("device",)


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def requirements() -> list[str]:
    """The names of what the kiosk itself asks for on a Pi: its base list and EXTRAS."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})
    wanted = [*project["dependencies"], *(r for extra in EXTRAS for r in extras[extra])]
    return sorted({_name(r) for r in wanted})


# Wheels built here (the kiosk's, and pure-Python packages published only as source) carry
# this time instead of now, so the same inputs give the same artifact bytes.
REPRODUCIBLE = {**os.environ, "SOURCE_DATE_EPOCH": "315532800"}


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          check=True, env=REPRODUCIBLE)  # fmt: skip


def lock() -> Path:
    """Resolve what a kiosk runs (the base list and EXTRAS) into pinned name==version lines."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        _pip("install", "-q", "--dry-run", "--ignore-installed", "--report", str(report),
             f"{ROOT}[{','.join(EXTRAS)}]")  # fmt: skip
        resolved = json.loads(report.read_text())["install"]
    pins = sorted(
        f"{item['metadata']['name'].lower().replace('_', '-')}=={item['metadata']['version']}"
        for item in resolved
        if item["metadata"]["name"].lower() not in NOT_LOCKED
    )
    LOCK.write_text(
        "# The kiosk's Python dependencies, pinned: every kiosk installs exactly these.\n"
        "# Made by `./dev lock` (python deploy/artifact.py lock); review the diff, commit it.\n"
        + "\n".join(pins)
        + "\n"
    )
    return LOCK


def _platforms(arch: str) -> list[str]:
    machine = MACHINE[arch]
    # glibc 2.36 on Bookworm: any manylinux wheel up to 2.36 runs there.
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(36, 16, -1)]
    return [*tags, f"manylinux2014_{machine}"]


def _pins() -> list[str]:
    return [line.split()[0] for line in LOCK.read_text().splitlines() if "==" in line]


def _check_lock() -> None:
    """A lock older than pyproject.toml must not ship a kiosk that misses a package."""
    locked = {pin.split("==")[0] for pin in _pins()}
    missing = [name for name in requirements() if name not in locked]
    if missing:
        raise SystemExit(f"{LOCK.name} lacks {', '.join(missing)}: run ./dev lock.")


def _fetch_wheels(arch: str, wheels: Path) -> None:
    """Binary wheels for the target; pure-Python packages that ship only a source are built."""
    platform_args = [a for tag in _platforms(arch) for a in ("--platform", tag)]

    def download(pin: str) -> str | None:
        got = subprocess.run(
            [sys.executable, "-m", "pip", "--disable-pip-version-check", "download", "-q",
             "--no-deps", "--only-binary=:all:", *platform_args, "--python-version", PYTHON,
             "--implementation", "cp", "--abi", "cp" + PYTHON.replace(".", ""),
             "-d", str(wheels), pin],
            capture_output=True, text=True,
        )  # fmt: skip
        return None if got.returncode == 0 else pin

    with ThreadPoolExecutor(4) as pool:
        missing = [pin for pin in pool.map(download, _pins()) if pin]
    for pin in missing:
        _pip("wheel", "-q", "--no-deps", "--no-binary=:all:", "--no-cache-dir", "-w",
             str(wheels), pin)  # fmt: skip
    for wheel in wheels.glob("*.whl"):
        tag = wheel.stem.split("-")[-1]
        if tag != "any" and not tag.endswith(MACHINE[arch]):
            raise SystemExit(f"{wheel.name} is not for {arch}: it cannot go on the kiosk.")


def _wheel_pin(wheel: Path) -> str:
    name, version = wheel.name.split("-")[:2]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return f"{name.lower().replace('_', '-')}=={version} --hash=sha256:{digest}"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def build(arch: str, out: Path) -> Path:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    _check_lock()
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Path(tmp) / "wheels"
        wheels.mkdir()
        build_dir = Path(tmp) / "src"
        shutil.copytree(ROOT, build_dir, ignore=shutil.ignore_patterns(
            ".git", ".venv", ".demo", "dist", "node_modules", "__pycache__", "*.egg-info",
            "build", ".pytest_cache", ".ruff_cache"))  # fmt: skip
        _pip("wheel", "-q", "--no-deps", "-w", str(wheels), str(build_dir))
        _fetch_wheels(arch, wheels)
        files = sorted(wheels.glob("*.whl"))
        install_lock = "".join(_wheel_pin(w) + "\n" for w in files).encode()
        meta = {
            "name": "first-mile-kiosk",
            "version": version,
            "arch": arch,
            "python": PYTHON,
            "lock_sha256": hashlib.sha256(LOCK.read_bytes()).hexdigest(),
        }
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"first-mile-kiosk-{version}-{arch}.tar"
        partial = path.with_suffix(".tar.partial")
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            _add(tar, "artifact.json", (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode())
            _add(tar, "install.lock", install_lock)
            for wheel in files:
                _add(tar, f"wheels/{wheel.name}", wheel.read_bytes())
        partial.rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("lock", help="resolve deploy/requirements.lock anew")
    b = sub.add_parser("build", help="write the artifact and print its path")
    b.add_argument("--arch", choices=sorted(MACHINE), default="amd64")
    b.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    if args.command == "lock":
        print(lock())
    else:
        print(build(args.arch, args.out))


if __name__ == "__main__":
    main()
