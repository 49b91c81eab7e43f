"""Extras match the machines (issue 13): a kiosk installs nothing of headquarters'.

The Pi gets the base list and ``[device]``, pinned in deploy/requirements.lock, which is all
the install artifact holds. Headquarters' tools (fabric and what it pulls in: paramiko,
invoke; Playwright; the release build's Markdown) never go on a kiosk, and nothing the kiosk
runs imports them: the device's commands and modules are run here with those imports refused,
as on a Pi where they are not installed.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# Distributions that only headquarters (or the tests) use, and the modules they install.
HQ_ONLY = {"fabric", "paramiko", "invoke", "playwright", "markdown-it-py", "mdurl", "nh3"}
REFUSED_MODULES = ["fabric", "paramiko", "invoke", "playwright", "markdown_it", "mdurl", "nh3",
                   "pyttsx3"]  # fmt: skip
# Where releases are built and kiosks are managed (kiosk/content/, kiosk/hq/): their folders
# say they never run on a kiosk, and nothing a kiosk runs imports them.
HQ_MODULES = ("kiosk.content", "kiosk.hq")


def _artifact():
    spec = importlib.util.spec_from_file_location("artifact", ROOT / "deploy" / "artifact.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def _locked() -> set[str]:
    lines = (ROOT / "deploy" / "requirements.lock").read_text().splitlines()
    return {canonicalize_name(line.split("==")[0]) for line in lines if "==" in line}


def _closure(roots: set[str]) -> set[str]:
    """Every distribution ``roots`` pull in on this machine (Linux), from installed metadata."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for text in requires:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return seen


def test_each_extra_holds_what_its_machine_needs():
    base = _names(PROJECT["dependencies"])
    extras = {name: _names(reqs) for name, reqs in PROJECT["optional-dependencies"].items()}
    assert {"flask", "waitress", "click", "cryptography", "sqlite-utils"} <= base
    assert extras["device"] == {"gpiozero", "pywebview"}
    assert {"fabric", "playwright", "markdown-it-py", "nh3"} <= extras["hq"]
    for name in ("fabric", "paramiko", "invoke", "playwright", "gpiozero", "pywebview"):
        assert name not in base, f"{name} is in the base list: every machine would install it"
    assert not (extras["device"] & extras["hq"])
    everywhere = base.union(*extras.values())
    assert "pyttsx3" not in everywhere  # nothing speaks live (docs/device.md)


def test_the_artifact_installs_the_device_and_nothing_of_headquarters():
    artifact = _artifact()
    assert artifact.EXTRAS == ("device",)
    wanted = {canonicalize_name(n) for n in artifact.requirements()}
    assert wanted == _names(PROJECT["dependencies"]) | _names(
        PROJECT["optional-dependencies"]["device"]
    )
    locked = _locked()
    assert wanted <= locked, f"the lock misses {sorted(wanted - locked)}"
    never = HQ_ONLY | {"pyttsx3"}
    assert not (locked & never), sorted(locked & never)
    # Nor anything that only headquarters' packages pull in (paramiko's bcrypt and pynacl...).
    hq = _closure(never)
    device = _closure(wanted)
    assert not (locked & (hq - device)), sorted(locked & (hq - device))


DRIVER = r"""
import importlib, importlib.abc, json, pkgutil, sys

REFUSED, HQ_MODULES = set(sys.argv[1].split(",")), tuple(sys.argv[2].split(","))
tried = []


class NotOnAKiosk(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in REFUSED:
            tried.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (not on a kiosk)", name=name)
        return None


sys.meta_path.insert(0, NotOnAKiosk())
import click
from click.testing import CliRunner

import kiosk
from kiosk.cli import main

failed = {}


def walk(path, prefix):
    for info in pkgutil.iter_modules(path, prefix):
        if info.name.startswith(HQ_MODULES) or info.name.endswith(".__main__"):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception as exc:
            failed[info.name] = repr(exc)
            continue
        if info.ispkg:
            walk(module.__path__, info.name + ".")


walk(kiosk.__path__, "kiosk.")


def commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))


runs = {}
for args in [(), *commands(main)]:
    got = CliRunner().invoke(main, [*args, "--help"])
    runs[" ".join((*args, "--help"))] = [got.exit_code, got.output[-300:]]
for line in sys.stdin.read().splitlines():
    args = json.loads(line)
    got = CliRunner().invoke(main, args)
    runs[" ".join(args)] = [got.exit_code, got.output[-600:]]
loaded = sorted(m for m in sys.modules if m.partition(".")[0] in REFUSED)
loaded += sorted(m for m in sys.modules if m.startswith(HQ_MODULES))
device_tried = list(tried)
# Then headquarters' work, asked of a kiosk by mistake: a plain refusal, not a traceback.
for args in json.loads(sys.argv[3]):
    got = CliRunner().invoke(main, args)
    runs[" ".join(args)] = [got.exit_code, got.output[-600:]]
print(json.dumps({"failed": failed, "tried": device_tried, "loaded": loaded, "runs": runs}))
"""


def test_the_device_path_never_imports_headquarters_packages(tmp_path, keypair):
    with socket.socket() as s:  # a port nothing listens on: headquarters unreachable
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "known_hosts").write_text("")
    stick = tmp_path / "stick"
    stick.mkdir()
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "KIOSK_DATA_DIR": str(tmp_path / "data"),
        "KIOSK_DEVICE_NAME": "kiosk-1",
        "KIOSK_TRUSTED_KEYS": f"{keypair[0]}.pub",
        "KIOSK_HQ_HOST": "127.0.0.1",
        "KIOSK_HQ_PORT": str(port),
        "KIOSK_HQ_READ_KEY": str(tmp_path / "read_key"),
        "KIOSK_HQ_WRITE_KEY": str(tmp_path / "write_key"),
        "KIOSK_HQ_KNOWN_HOSTS": str(tmp_path / "known_hosts"),
        "KIOSK_SYNC_TIMEOUT": "10",
    }
    device_commands = [
        ["settings"],
        ["doctor", "--json"],
        ["services", "render", "--out", str(tmp_path / "root")],
        ["release", "status"],
        ["sync", "--now"],
        ["sync", "--usb", str(stick)],
    ]
    build = ["release", "build", str(ROOT / "tests" / "fixtures" / "content"),
             str(tmp_path / "release"), "--key", str(keypair[0])]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, ",".join(REFUSED_MODULES), ",".join(HQ_MODULES),
         json.dumps([build])],
        input="\n".join(json.dumps(c) for c in device_commands), capture_output=True,
        text=True, env=env, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}, report["failed"]
    assert report["tried"] == [] and report["loaded"] == [], report
    runs = report["runs"]
    assert all(code == 0 for key, (code, _) in runs.items() if key.endswith("--help")), runs
    for key in ("settings", "doctor --json", f"services render --out {tmp_path / 'root'}",
                "release status"):  # fmt: skip
        assert runs[key][0] == 0, (key, runs[key])
    # Sync over SSH runs rsync and ssh for a Peer, without fabric: the refusal is ssh's own.
    code, output = runs["sync --now"]
    assert code == 6 and "could not be reached" in output and "refused" in output, output
    code, output = runs[f"sync --usb {stick}"]
    assert code != 0 and "does not look like a kiosk stick" in output, output
    code, output = runs[" ".join(build)]
    assert code == 5 and "headquarters' work" in output and "Traceback" not in output, output
